"""TLS and SASL against real clients: one broker with PLAINTEXT, SSL (mutual TLS,
ssl.client.auth=required), SASL_SSL and SASL_PLAINTEXT listeners, PLAIN users from a
JAAS config, certificates made by the test with the openssl CLI.

- librdkafka (confluent-kafka) produces and consumes over mutual TLS; a client
  without a certificate, or with one the broker does not trust, is refused.
- kafka-python produces and consumes over SASL_SSL with PLAIN.
- aiokafka produces and consumes over SSL (with its client certificate).
- a wrong password is refused: librdkafka reports an authentication error.
- librdkafka re-authenticates (KIP-368) on a listener whose sessions last 2 s and
  keeps producing across several session ends.
- Metadata answers with the endpoints of the listener the client came in on.
- one `--command-config` file (SASL_SSL, PLAIN, PEM trust store) serves Kafka's
  kafka-topics and `vltava topics` alike.
Every client call is bounded in time.
"""
import asyncio
import ssl
import subprocess
import time
import uuid

import pytest

from conftest import Broker, running, vltava_bin
from javatools import run_java
from tls_certs import make_certs

JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" '
        'user_admin="admin-secret" user_alice="alice-secret";')


@pytest.fixture
def certs(tmp_path):
    return make_certs(tmp_path / "certs")


@pytest.fixture
def secure_broker(data_dir, certs, monkeypatch):
    # Re-authentications are logged at debug level.
    monkeypatch.setenv("RUST_LOG", "info,vltava_broker::connection=debug")
    with running(Broker(data_dir, extra=[
        "listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0,"
        "SASL_PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={certs['keystore']}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={certs['ca']}",
        "listener.name.ssl.ssl.client.auth=required",
        "ssl.principal.mapping.rules=RULE:^CN=([^,]*),.*$/$1/L,DEFAULT",
        "sasl.enabled.mechanisms=PLAIN",
        f"listener.name.sasl_ssl.plain.sasl.jaas.config={JAAS}",
        f"listener.name.sasl_plaintext.plain.sasl.jaas.config={JAAS}",
        # KIP-368 on one listener: sessions last 2 s unless the client re-authenticates.
        "listener.name.sasl_plaintext.plain.connections.max.reauth.ms=2000",
    ])) as b:
        yield b


def mtls_conf(b, certs, **extra):
    conf = {
        "bootstrap.servers": b.listeners["SSL"],
        "security.protocol": "SSL",
        "ssl.ca.location": certs["ca"],
        "ssl.certificate.location": certs["client_cert"],
        "ssl.key.location": certs["client_key"],
    }
    conf.update(extra)
    return conf


def test_librdkafka_mutual_tls_produces_and_consumes(secure_broker, certs):
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    b = secure_broker
    topic = f"mtls-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(mtls_conf(b, certs))
    admin.create_topics([NewTopic(topic, 1, 1)], request_timeout=15)[topic].result(timeout=20)
    # Metadata over SSL names the SSL endpoint, not the PLAINTEXT one.
    md = admin.list_topics(timeout=10)
    addrs = {f"{x.host}:{x.port}" for x in md.brokers.values()}
    assert addrs == {b.listeners["SSL"]}, (addrs, b.listeners)

    p = Producer(mtls_conf(b, certs))
    for i in range(50):
        p.produce(topic, key=str(i).encode(), value=f"v{i}".encode())
    assert p.flush(20) == 0
    c = Consumer(mtls_conf(b, certs, **{"group.id": "g-" + topic, "auto.offset.reset": "earliest"}))
    c.subscribe([topic])
    got = []
    deadline = time.time() + 30
    while len(got) < 50 and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            got.append(m.value())
    c.close()
    assert got == [f"v{i}".encode() for i in range(50)]


def refused(conf):
    """The errors librdkafka reports when it cannot get metadata with `conf`."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    errors = []
    conf = dict(conf, error_cb=errors.append)
    admin = AdminClient(conf)
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
    admin.poll(1)
    return errors


def test_mutual_tls_refuses_missing_and_untrusted_certificates(secure_broker, certs):
    b = secure_broker
    no_cert = {k: v for k, v in mtls_conf(b, certs).items()
               if k not in ("ssl.certificate.location", "ssl.key.location")}
    assert refused(no_cert), "no error reported"
    rogue = mtls_conf(b, certs, **{"ssl.certificate.location": certs["rogue_cert"],
                                   "ssl.key.location": certs["rogue_key"]})
    assert refused(rogue), "no error reported"
    # The broker is unaffected.
    from confluent_kafka.admin import AdminClient
    md = AdminClient(mtls_conf(b, certs)).list_topics(timeout=10)
    assert md.brokers


def test_kafka_python_sasl_ssl_plain(secure_broker, certs):
    from kafka import KafkaConsumer, KafkaProducer

    b = secure_broker
    topic = f"sasl-{uuid.uuid4().hex[:8]}"
    common = dict(bootstrap_servers=b.listeners["SASL_SSL"], security_protocol="SASL_SSL",
                  sasl_mechanism="PLAIN", sasl_plain_username="alice",
                  sasl_plain_password="alice-secret", ssl_cafile=certs["ca"],
                  request_timeout_ms=15000)
    p = KafkaProducer(**common)
    for i in range(20):
        p.send(topic, f"m{i}".encode()).get(timeout=20)
    p.close(timeout=10)
    c = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=10000,
                      group_id="g-" + topic, **common)
    got = [m.value for m in c]
    c.close()
    assert got == [f"m{i}".encode() for i in range(20)]


def test_aiokafka_ssl(secure_broker, certs):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    b = secure_broker
    topic = f"aio-{uuid.uuid4().hex[:8]}"
    ctx = ssl.create_default_context(cafile=certs["ca"])
    ctx.load_cert_chain(certs["client_cert"], certs["client_key"])

    async def body():
        p = AIOKafkaProducer(bootstrap_servers=b.listeners["SSL"], security_protocol="SSL",
                             ssl_context=ctx)
        await asyncio.wait_for(p.start(), 15)
        try:
            for i in range(10):
                await asyncio.wait_for(p.send_and_wait(topic, f"a{i}".encode()), 15)
        finally:
            await asyncio.wait_for(p.stop(), 15)
        c = AIOKafkaConsumer(topic, bootstrap_servers=b.listeners["SSL"], security_protocol="SSL",
                             ssl_context=ctx, auto_offset_reset="earliest")
        await asyncio.wait_for(c.start(), 15)
        got = []
        try:
            while len(got) < 10:
                m = await asyncio.wait_for(c.getone(), 15)
                got.append(m.value)
        finally:
            await asyncio.wait_for(c.stop(), 15)
        return got

    got = asyncio.run(asyncio.wait_for(body(), 90))
    assert got == [f"a{i}".encode() for i in range(10)]


def test_wrong_password_is_an_authentication_error(secure_broker, certs):
    from confluent_kafka import KafkaError

    b = secure_broker
    conf = {"bootstrap.servers": b.listeners["SASL_PLAINTEXT"],
            "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"}
    for user, password in (("alice", "wrong"), ("nobody", "alice-secret")):
        errors = refused(dict(conf, **{"sasl.username": user, "sasl.password": password}))
        auth = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
        assert auth, errors
        assert "Invalid username or password" in auth[0].str(), auth[0].str()
    # An unknown mechanism is refused too, naming the enabled ones.
    errors = refused(dict(conf, **{"sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "alice",
                                   "sasl.password": "alice-secret"}))
    assert any("PLAIN" in e.str() for e in errors), errors
    # The right password still works afterwards.
    from confluent_kafka.admin import AdminClient
    md = AdminClient(dict(conf, **{"sasl.username": "admin", "sasl.password": "admin-secret"}))\
        .list_topics(timeout=10)
    assert {f"{x.host}:{x.port}" for x in md.brokers.values()} == {b.listeners["SASL_PLAINTEXT"]}


def test_librdkafka_re_authenticates_when_sessions_expire(secure_broker):
    from confluent_kafka import Producer

    b = secure_broker
    conf = {"bootstrap.servers": b.listeners["SASL_PLAINTEXT"],
            "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
            "sasl.username": "alice", "sasl.password": "alice-secret"}
    errors = []
    topic = f"reauth-{uuid.uuid4().hex[:8]}"
    p = Producer(dict(conf, error_cb=errors.append))
    delivered = []
    deadline = time.time() + 7  # more than three 2 s sessions
    i = 0
    while time.time() < deadline:
        p.produce(topic, f"r{i}".encode(),
                  on_delivery=lambda e, m: delivered.append(e))
        i += 1
        p.poll(0.05)
    assert p.flush(20) == 0
    assert len(delivered) == i and all(e is None for e in delivered), \
        [e for e in delivered if e is not None][:3]
    assert not errors, errors
    assert "session expired" not in b.log(), "librdkafka did not re-authenticate in time"
    assert b.log().count("re-authenticated") >= 2, "no re-authentication seen"


def test_one_command_config_serves_kafka_topics_and_vltava_topics(secure_broker, certs, tmp_path):
    b = secure_broker
    config = tmp_path / "client.properties"
    config.write_text(
        "security.protocol=SASL_SSL\n"
        "ssl.truststore.type=PEM\n"
        f"ssl.truststore.location={certs['ca']}\n"
        "sasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="alice" password="alice-secret";\n')
    bootstrap = b.listeners["SASL_SSL"]

    def vltava_topics(*args, config=config):
        return subprocess.run([vltava_bin(), "topics", "--bootstrap-server", bootstrap,
                               "--command-config", str(config), *args],
                              capture_output=True, text=True, timeout=60)

    def kafka_topics(*args):
        return run_java("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", bootstrap,
                        "--command-config", str(config), *args).stdout

    kafka_made, vltava_made = f"by-kafka-{uuid.uuid4().hex[:6]}", f"by-vltava-{uuid.uuid4().hex[:6]}"
    kafka_topics("--create", "--topic", kafka_made, "--partitions", "1")
    r = vltava_topics("--create", "--topic", vltava_made, "--partitions", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    r = vltava_topics("--list")
    assert r.returncode == 0, r.stdout + r.stderr
    assert {kafka_made, vltava_made} <= set(r.stdout.split())
    assert {kafka_made, vltava_made} <= set(kafka_topics("--list").split())
    # The same file with a wrong password: refused with the broker's message.
    bad = tmp_path / "bad.properties"
    bad.write_text(config.read_text().replace("alice-secret", "wrong"))
    r = vltava_topics("--list", config=bad)
    assert r.returncode != 0
    assert "Invalid username or password" in r.stdout + r.stderr, r.stdout + r.stderr
