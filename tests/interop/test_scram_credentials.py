"""SCRAM credentials through real clients' admin APIs: confluent-kafka's (librdkafka)
AdminClient.alter_user_scram_credentials / describe_user_scram_credentials, and
kafka-python's KafkaAdminClient, against the `vltava` binary; Kafka's error codes, and
the credentials still there after a restart (they are records in the metadata log)."""
import time

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialDeletion, UserScramCredentialUpsertion)

from conftest import Broker

SHA256 = ScramMechanism.SCRAM_SHA_256
SHA512 = ScramMechanism.SCRAM_SHA_512


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def upsert(user, mechanism, iterations, password=b"secret"):
    return UserScramCredentialUpsertion(user, ScramCredentialInfo(mechanism, iterations), password)


def alter(a, changes):
    """Each user's outcome: None, or the Kafka error name."""
    out = {}
    for user, f in a.alter_user_scram_credentials(changes).items():
        try:
            f.result(15)
            out[user] = None
        except KafkaException as e:
            out[user] = e.args[0].name()
    return out


def described(a, users):
    """user -> sorted [(mechanism, iterations)], or the Kafka error name."""
    out = {}
    for user, f in a.describe_user_scram_credentials(users).items():
        try:
            d = f.result(15)
            out[user] = sorted((i.mechanism, i.iterations) for i in d.scram_credential_infos)
        except KafkaException as e:
            out[user] = e.args[0].name()
    return out


def wait_for(fn, expected, timeout=10):
    deadline = time.time() + timeout
    got = fn()
    while got != expected and time.time() < deadline:
        time.sleep(0.2)
        got = fn()
    return got


def test_confluent_kafka_alters_and_describes_with_kafkas_errors(broker, data_dir):
    a = admin(broker.bootstrap)
    assert alter(a, [upsert("alice", SHA256, 8192)]) == {"alice": None}
    assert alter(a, [upsert("alice", SHA512, 4096), upsert("bob", SHA512, 16384)]) == {
        "alice": None, "bob": None}
    # Kafka's controller: the same user twice in one request, too few or too many
    # iterations, deleting what does not exist.
    assert alter(a, [upsert("carol", SHA256, 4096), upsert("carol", SHA512, 4096)]) == {
        "carol": "DUPLICATE_RESOURCE"}
    assert alter(a, [UserScramCredentialDeletion("dave", SHA256)]) == {
        "dave": "RESOURCE_NOT_FOUND"}
    assert alter(a, [upsert("erin", SHA256, 20000)]) == {"erin": "UNACCEPTABLE_CREDENTIAL"}

    alice = sorted([(SHA256, 8192), (SHA512, 4096)])
    expected = {"alice": alice, "bob": [(SHA512, 16384)], "carol": "RESOURCE_NOT_FOUND"}
    assert wait_for(lambda: described(a, ["alice", "bob", "carol"]), expected) == expected
    everyone = a.describe_user_scram_credentials().result(15)
    assert sorted(everyone) == ["alice", "bob"]
    assert sorted((i.mechanism, i.iterations)
                  for i in everyone["alice"].scram_credential_infos) == alice

    assert alter(a, [UserScramCredentialDeletion("bob", SHA512)]) == {"bob": None}
    assert wait_for(lambda: described(a, ["bob"]), {"bob": "RESOURCE_NOT_FOUND"}) == {
        "bob": "RESOURCE_NOT_FOUND"}

    # The credentials are records in the metadata log: a restart keeps them.
    assert broker.stop() == 0
    again = Broker(data_dir).start()
    try:
        b = admin(again.bootstrap)
        assert described(b, ["alice", "bob"]) == {"alice": alice, "bob": "RESOURCE_NOT_FOUND"}
    finally:
        again.stop()
        again.kill()


def test_kafka_python_admin_sees_and_changes_the_same_credentials(broker):
    from kafka.admin import KafkaAdminClient
    from kafka.admin._users import (ScramMechanism as KpMechanism, UserScramCredentialDeletion
                                    as KpDeletion, UserScramCredentialUpsertion as KpUpsertion)

    a = admin(broker.bootstrap)
    assert alter(a, [upsert("alice", SHA256, 8192)]) == {"alice": None}
    k = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=15000)
    try:
        got = k.describe_user_scram_credentials(["alice", "zoe"])
        assert got["alice"] == {"error": None, "credential_infos": [
            {"mechanism": KpMechanism.SCRAM_SHA_256, "iterations": 8192}]}
        assert got["zoe"]["error"].startswith("Attempt to describe a user credential that does not exist")
        # kafka-python's own salt and PBKDF2; confluent-kafka sees the result.
        assert k.alter_user_scram_credentials([
            KpUpsertion("zoe", "SCRAM-SHA-512", "zoe-secret", iterations=5000),
            KpDeletion("alice", KpMechanism.SCRAM_SHA_256),
        ]) == {"zoe": None, "alice": None}
        expected = {"zoe": [(SHA512, 5000)], "alice": "RESOURCE_NOT_FOUND"}
        assert wait_for(lambda: described(a, ["zoe", "alice"]), expected) == expected
        failed = k.alter_user_scram_credentials([KpUpsertion("x", "SCRAM-SHA-256", "p", iterations=100)])
        assert failed == {"x": "Too few iterations"}
    finally:
        k.close()
