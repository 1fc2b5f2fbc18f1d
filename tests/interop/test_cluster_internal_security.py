"""A three-node cluster whose internal links are all secured: the controller listener (raft
between the voters, and every broker-to-controller request) is SSL with mutual TLS, or
SASL_SSL with PLAIN; the inter-broker listener is SASL_SSL with SCRAM-SHA-512, whose only
credential was put there by `vltava storage format --add-scram` (KIP-900) before the first
start. Clients use a PLAINTEXT listener.

- The cluster forms, topics are created through any node, an RF=3 topic's ISR fills (the
  followers fetch over SCRAM), and an idempotent acks=all librdkafka producer goes on through
  SIGKILL of a partition leader; after the node comes back every acknowledged record is read
  once, in order.
- librdkafka logs in to the SCRAM listener with the bootstrapped credential, and is refused
  with a wrong password.
- A PLAINTEXT Kafka request to the TLS controller port gets no Kafka answer, and the node
  goes on serving (no panic in its log).
"""
import os
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import vltava_bin
from free_ports import free_port_block
from test_cluster import wait_for_topic
from tls_certs import make_certs

NODES = range(3)
SCRAM_USER, SCRAM_PASSWORD = "admin", "admin-secret"
SCRAM_JAAS = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
              f'username="{SCRAM_USER}" password="{SCRAM_PASSWORD}";')
PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="controller" password="controller-secret" '
              'user_controller="controller-secret";')


class SecureCluster:
    def __init__(self, directory, controller_protocol):
        self.dir = Path(directory)
        self.base = free_port_block(9, step=3)
        self.certs = make_certs(self.dir / "certs")
        self.controller_protocol = controller_protocol
        self.procs = {}

    def client(self, i):
        return f"127.0.0.1:{self.base + 3 * i}"

    def internal(self, i):
        return f"127.0.0.1:{self.base + 3 * i + 1}"

    def controller(self, i):
        return f"127.0.0.1:{self.base + 3 * i + 2}"

    def bootstrap(self):
        return ",".join(self.client(i) for i in NODES)

    def properties(self, i):
        voters = ",".join(f"{n}@{self.controller(n)}" for n in NODES)
        props = [
            "process.roles=broker,controller",
            f"node.id={i}",
            f"controller.quorum.voters={voters}",
            f"listeners=PLAINTEXT://{self.client(i)},INTERNAL://{self.internal(i)},"
            f"CONTROLLER://{self.controller(i)}",
            f"advertised.listeners=PLAINTEXT://{self.client(i)},INTERNAL://{self.internal(i)}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=INTERNAL",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:SASL_SSL,"
            f"CONTROLLER:{self.controller_protocol}",
            f"log.dirs={self.dir / f'node-{i}'}",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={self.certs['node_keystore']}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={self.certs['ca']}",
            # The inter-broker listener: SCRAM only, with the bootstrapped credential.
            "listener.name.internal.sasl.enabled.mechanisms=SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            f"listener.name.internal.scram-sha-512.sasl.jaas.config={SCRAM_JAAS}",
            "broker.session.timeout.ms=3000",
            "broker.heartbeat.interval.ms=500",
            "replica.lag.time.max.ms=5000",
        ]
        if self.controller_protocol == "SSL":
            props.append("listener.name.controller.ssl.client.auth=required")
        else:
            props += [
                "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
                "sasl.mechanism.controller.protocol=PLAIN",
                f"listener.name.controller.plain.sasl.jaas.config={PLAIN_JAAS}",
            ]
        path = self.dir / f"node{i}.properties"
        path.write_text("\n".join(props) + "\n")
        return path

    def format(self):
        cluster_id = subprocess.run([vltava_bin(), "storage", "random-uuid"], check=True,
                                    capture_output=True, text=True, timeout=30).stdout.strip()
        for i in NODES:
            out = subprocess.run(
                [vltava_bin(), "storage", "format", "-t", cluster_id,
                 "-c", str(self.properties(i)),
                 "--add-scram", f"SCRAM-SHA-512=[name={SCRAM_USER},password={SCRAM_PASSWORD}]"],
                capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stdout + out.stderr
            assert "SCRAM credential" in out.stdout, out.stdout

    def log(self, i):
        p = self.dir / f"node-{i}.log"
        return p.read_text() if p.exists() else ""

    def start(self, *nodes, timeout=90):
        nodes = nodes or tuple(NODES)
        for i in nodes:
            log = open(self.dir / f"node-{i}.log", "a")
            env = dict(os.environ, RUST_BACKTRACE="1")
            self.procs[i] = subprocess.Popen(
                [vltava_bin(), "server", "start", "-c", str(self.dir / f"node{i}.properties")],
                stdout=log, stderr=subprocess.STDOUT, env=env)
            log.close()
        deadline = time.time() + timeout
        for i in nodes:
            while "vltava: listening on" not in self.log(i):
                assert self.procs[i].poll() is None, f"node {i} exited:\n{self.log(i)[-4000:]}"
                assert time.time() < deadline, f"node {i} did not start:\n{self.log(i)[-4000:]}"
                time.sleep(0.2)

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait(timeout=10)

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)

    def logs(self):
        return "\n".join(f"---- node {i} ----\n{self.log(i)[-4000:]}" for i in NODES)


@pytest.fixture(params=["SSL", "SASL_SSL"])
def secure_cluster(request):
    with tempfile.TemporaryDirectory(prefix="vltava-secure-cluster-") as d:
        c = SecureCluster(d, request.param)
        c.format()
        try:
            c.start()
            yield c
        finally:
            c.stop()
            print(c.logs())


def plaintext_probe(addr):
    """Sends an ApiVersions v0 request in the clear; returns what came back before the
    connection closed (at most 64 bytes)."""
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(struct.pack(">ihhih", 10, 18, 0, 1, -1))
        s.settimeout(10)
        got = b""
        try:
            while len(got) < 64:
                chunk = s.recv(64)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        return got


def scram_conf(cluster, password):
    return {"bootstrap.servers": cluster.internal(0), "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": SCRAM_USER,
            "sasl.password": password, "ssl.ca.location": cluster.certs["ca"]}


def test_secured_internal_links_survive_a_leader_kill(secure_cluster):
    from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    cluster = secure_cluster
    # Topics created through any node: forwarded to the active controller over the secured
    # controller listener.
    for i, name in enumerate(["secure-a", "secure-b"]):
        node_admin = AdminClient({"bootstrap.servers": cluster.client(i)})
        node_admin.create_topics([NewTopic(name, 2, 3)])[name].result(timeout=30)
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    admin.create_topics([NewTopic("replicated", 3, 3, config={"min.insync.replicas": "2"})]
                        )["replicated"].result(timeout=30)
    topic = wait_for_topic(admin, "replicated", 3, timeout=30)
    deadline = time.time() + 30
    while any(sorted(p.isrs) != [0, 1, 2] for p in topic.partitions.values()):
        assert time.time() < deadline, {p: t.isrs for p, t in topic.partitions.items()}
        time.sleep(0.5)
        topic = admin.list_topics("replicated", timeout=5).topics["replicated"]
    for name in ["secure-a", "secure-b"]:
        wait_for_topic(admin, name, 2, timeout=30)

    # The bootstrapped SCRAM credential logs clients in too; a wrong password does not.
    # A node answers from the metadata it has applied, which may trail the node that
    # answered the waits above by a moment (Kafka's brokers too): wait for it here.
    ok = AdminClient(scram_conf(cluster, SCRAM_PASSWORD))
    deadline = time.time() + 30
    while "replicated" not in (seen := ok.list_topics(timeout=20).topics):
        assert time.time() < deadline, sorted(seen)
        time.sleep(0.5)
    bad = AdminClient(scram_conf(cluster, "wrong"))
    with pytest.raises(KafkaException):
        bad.list_topics(timeout=5)

    # A PLAINTEXT request to the TLS controller port: no Kafka answer (at most a TLS alert).
    for i in NODES:
        got = plaintext_probe(cluster.controller(i))
        assert got == b"" or got[0] == 0x15, got
    for i in NODES:
        assert cluster.procs[i].poll() is None, cluster.log(i)[-4000:]
    assert "replicated" in admin.list_topics(timeout=10).topics

    victim = topic.partitions[0].leader
    acked = {0: [], 1: [], 2: []}
    failed = []
    lock = threading.Lock()

    def on_delivery(err, msg):
        with lock:
            if err:
                failed.append(err)
            else:
                acked[msg.partition()].append((msg.offset(), int(msg.value())))

    producer = Producer({"bootstrap.servers": cluster.bootstrap(), "enable.idempotence": True,
                         "acks": "all", "linger.ms": 2, "message.timeout.ms": 60000})
    seq = 0

    def produce_for(seconds):
        nonlocal seq
        end = time.time() + seconds
        while time.time() < end:
            for part in range(3):
                producer.produce("replicated", value=str(seq).encode(), partition=part,
                                 on_delivery=on_delivery)
                seq += 1
            producer.poll(0)
            time.sleep(0.002)

    produce_for(3)
    cluster.kill(victim)
    produce_for(8)
    assert producer.flush(90) == 0
    total_acked = sum(len(v) for v in acked.values())
    assert total_acked > 500, (total_acked, failed[:3])

    # The killed node comes back: it rejoins the quorum and the ISR over the secured links.
    cluster.start(victim)
    c = Consumer({"bootstrap.servers": cluster.bootstrap(), "group.id": "secure-check",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.assign([TopicPartition("replicated", p, 0) for p in range(3)])
    read = {0: [], 1: [], 2: []}
    want = {p: max((o for o, _ in acked[p]), default=-1) for p in range(3)}
    deadline = time.time() + 60
    while time.time() < deadline and any(
            (read[p][-1][0] if read[p] else -1) < want[p] for p in range(3)):
        m = c.poll(1.0)
        if m is None or m.error():
            continue
        read[m.partition()].append((m.offset(), int(m.value())))
    c.close()
    for p in range(3):
        values = [v for _, v in read[p]]
        assert len(values) == len(set(values)), f"partition {p}: duplicates"
        assert values == sorted(values), f"partition {p}: send order not kept"
        stored = dict(read[p])
        for offset, value in acked[p]:
            assert stored.get(offset) == value, (
                f"partition {p}: acknowledged {value} at {offset}, read {stored.get(offset)}")
    deadline = time.time() + 30
    while True:
        topic = admin.list_topics("replicated", timeout=5).topics["replicated"]
        if all(victim in p.isrs for p in topic.partitions.values()):
            break
        assert time.time() < deadline, "the restarted node did not rejoin the ISR"
        time.sleep(0.5)
    for i in NODES:
        assert "panicked" not in cluster.log(i), cluster.log(i)[-4000:]
