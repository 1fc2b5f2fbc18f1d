"""SASL/SCRAM logins against real clients: a broker with a PLAINTEXT listener (for the
admin that makes credentials) and a SASL_PLAINTEXT listener with
`sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512`. Credentials are made with
confluent-kafka's AdminClient (AlterUserScramCredentials, records in the metadata log).

- librdkafka (confluent-kafka) produces and consumes as alice over SCRAM-SHA-512;
- kafka-python produces and consumes as bob over SCRAM-SHA-256;
- a wrong password, an unknown user and a mechanism the user has no credential for are
  refused alike with an authentication error;
- a deleted credential no longer logs in, a changed password logs in with the new one;
- the `vltava` tools log in with SCRAM-SHA-256 and SCRAM-SHA-512 from a `--command-config`
  with Kafka's ScramLoginModule line, and a wrong password fails the tool.
Every client call is bounded in time.
"""
import subprocess
import time
import uuid

import pytest
from confluent_kafka import KafkaError
from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism,
                                   UserScramCredentialDeletion, UserScramCredentialUpsertion)

from conftest import Broker, running, vltava_bin

SHA256 = ScramMechanism.SCRAM_SHA_256
SHA512 = ScramMechanism.SCRAM_SHA_512


@pytest.fixture
def scram_broker(data_dir):
    with running(Broker(data_dir, extra=[
        "listeners=PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,"
        "CONTROLLER://127.0.0.1:0",
        "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512",
    ])) as b:
        yield b


def set_credentials(b, changes):
    admin = AdminClient({"bootstrap.servers": b.listeners["PLAINTEXT"]})
    for f in admin.alter_user_scram_credentials(changes).values():
        f.result(15)


def sasl_conf(b, mechanism, user, password):
    return {"bootstrap.servers": b.listeners["SASL_PLAINTEXT"],
            "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism,
            "sasl.username": user, "sasl.password": password}


def auth_errors(conf):
    """The authentication errors librdkafka reports when it cannot get metadata."""
    from confluent_kafka import KafkaException

    errors = []
    admin = AdminClient(dict(conf, error_cb=errors.append))
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
    admin.poll(1)
    return [e for e in errors if e.code() == KafkaError._AUTHENTICATION]


def logs_in(conf, timeout=10):
    md = AdminClient(conf).list_topics(timeout=timeout)
    return bool(md.brokers)


def test_librdkafka_scram_sha_512_produces_and_consumes(scram_broker):
    from confluent_kafka import Consumer, Producer

    b = scram_broker
    set_credentials(b, [UserScramCredentialUpsertion(
        "alice", ScramCredentialInfo(SHA512, 8192), b"alice-secret")])
    conf = sasl_conf(b, "SCRAM-SHA-512", "alice", "alice-secret")
    topic = f"scram-{uuid.uuid4().hex[:8]}"
    p = Producer(conf)
    delivered = []
    for i in range(20):
        p.produce(topic, f"m{i}".encode(), on_delivery=lambda e, m: delivered.append(e))
    assert p.flush(30) == 0
    assert len(delivered) == 20 and all(e is None for e in delivered), delivered[:3]

    c = Consumer(dict(conf, **{"group.id": "scram-g", "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got = []
    deadline = time.time() + 30
    while len(got) < 20 and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    assert got == [f"m{i}".encode() for i in range(20)]
    assert "Authentication failed" not in b.log()


def test_kafka_python_scram_sha_256_produces_and_consumes(scram_broker):
    from kafka import KafkaConsumer, KafkaProducer

    b = scram_broker
    set_credentials(b, [UserScramCredentialUpsertion(
        "bob", ScramCredentialInfo(SHA256, 4096), b"bob-secret")])
    common = dict(bootstrap_servers=b.listeners["SASL_PLAINTEXT"],
                  security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-256",
                  sasl_plain_username="bob", sasl_plain_password="bob-secret")
    topic = f"scram256-{uuid.uuid4().hex[:8]}"
    p = KafkaProducer(request_timeout_ms=15000, **common)
    for i in range(10):
        p.send(topic, f"k{i}".encode()).get(timeout=30)
    p.close(timeout=10)
    c = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=15000,
                      **common)
    got = []
    for m in c:
        got.append(m.value)
        if len(got) == 10:
            break
    c.close()
    assert got == [f"k{i}".encode() for i in range(10)]


def test_bad_logins_are_refused_alike_and_changes_take_effect(scram_broker):
    b = scram_broker
    set_credentials(b, [UserScramCredentialUpsertion(
        "carol", ScramCredentialInfo(SHA256, 4096), b"carol-secret")])
    assert logs_in(sasl_conf(b, "SCRAM-SHA-256", "carol", "carol-secret"))
    for mechanism, user, password in (
            ("SCRAM-SHA-256", "carol", "wrong"),        # wrong password
            ("SCRAM-SHA-256", "nobody", "carol-secret"),  # unknown user
            ("SCRAM-SHA-512", "carol", "carol-secret")):  # no SHA-512 credential
        errors = auth_errors(sasl_conf(b, mechanism, user, password))
        assert errors, (mechanism, user)
        assert "Invalid user credentials" in errors[0].str(), errors[0].str()

    # A new password replaces the old one; a deleted credential no longer logs in.
    set_credentials(b, [UserScramCredentialUpsertion(
        "carol", ScramCredentialInfo(SHA256, 4096), b"new-secret")])
    assert logs_in(sasl_conf(b, "SCRAM-SHA-256", "carol", "new-secret"))
    assert auth_errors(sasl_conf(b, "SCRAM-SHA-256", "carol", "carol-secret"))
    set_credentials(b, [UserScramCredentialDeletion("carol", SHA256)])
    assert auth_errors(sasl_conf(b, "SCRAM-SHA-256", "carol", "new-secret"))


def test_vltava_tools_log_in_with_scram(scram_broker, tmp_path):
    b = scram_broker
    set_credentials(b, [
        UserScramCredentialUpsertion("carol", ScramCredentialInfo(SHA256, 4096), b"carol-256"),
        UserScramCredentialUpsertion("dave", ScramCredentialInfo(SHA512, 4096), b"dave-512")])

    def topics(mechanism, user, password, *args):
        config = tmp_path / f"{user}-{password}.properties"
        config.write_text(
            "security.protocol=SASL_PLAINTEXT\n"
            f"sasl.mechanism={mechanism}\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{user}" password="{password}";\n')
        return subprocess.run([vltava_bin(), "topics", "--bootstrap-server",
                               b.listeners["SASL_PLAINTEXT"], "--command-config", str(config),
                               *args], capture_output=True, text=True, timeout=60)

    name = f"scram-tool-{uuid.uuid4().hex[:6]}"
    r = topics("SCRAM-SHA-256", "carol", "carol-256", "--create", "--topic", name)
    assert r.returncode == 0, r.stdout + r.stderr
    r = topics("SCRAM-SHA-512", "dave", "dave-512", "--list")
    assert r.returncode == 0, r.stdout + r.stderr
    assert name in r.stdout.split()
    for mechanism, user, password in [("SCRAM-SHA-512", "dave", "wrong"),
                                      ("SCRAM-SHA-512", "carol", "carol-256")]:
        r = topics(mechanism, user, password, "--list")
        assert r.returncode != 0, (mechanism, user)
        assert "authentication with" in r.stdout + r.stderr, r.stdout + r.stderr
