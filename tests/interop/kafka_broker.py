"""Apache Kafka 4.x itself, the reference broker: one KRaft node in combined mode
(broker and controller) started from the kafka_2.13 / kafka-server jars that
scripts/java-env.sh resolved, on free loopback ports, its storage formatted with Kafka's
own storage tool. Used by the Java suites to run the same scenarios against Kafka and
Vltava. Start and stop are bounded in time."""
import base64
import os
import signal
import socket
import subprocess
import time
import uuid

from free_ports import free_port
from javatools import KAFKA_SERVER_JVM_OPTS, java_cmd

START_TIMEOUT = 90


def random_cluster_id():
    """A cluster id as Kafka's `Uuid.randomUuid()` makes them: never starting with '-' (an id
    like that passed as a separate argument reads as an option to kafka-storage)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


class KafkaBroker:
    """A running Apache Kafka node; `bootstrap` is its PLAINTEXT address."""

    def __init__(self, data_dir, extra=(), kafka_jvm=False):
        """`extra`: more server.properties lines, key=value. `kafka_jvm`: run with Kafka's
        own JVM settings (1 GiB heap, G1, full JIT) instead of the tests' small ones."""
        self.data_dir = data_dir
        self.extra = list(extra)
        self.kafka_jvm = kafka_jvm
        self.spawned_at = None
        self.proc = None
        self.bootstrap = None
        self.log_path = os.path.join(data_dir, "kafka.log")

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        port, cport = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{port}"
        props = os.path.join(self.data_dir, "server.properties")
        with open(props, "w") as f:
            f.write("\n".join([
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{cport}",
                f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={os.path.join(self.data_dir, 'logs')}",
                # As Kafka's single-node config/server.properties sets them.
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "num.partitions=1",
                *self.extra,
                "",
            ]))
        fmt = subprocess.run(java_cmd("kafka.tools.StorageTool", "format",
                                      f"--cluster-id={random_cluster_id()}", "-c", props),
                             capture_output=True, text=True, timeout=120)
        assert fmt.returncode == 0, f"kafka-storage format failed:\n{fmt.stdout}\n{fmt.stderr}"
        log = open(self.log_path, "w")
        cmd = (java_cmd("kafka.Kafka", props, base_opts=KAFKA_SERVER_JVM_OPTS)
               if self.kafka_jvm else java_cmd("kafka.Kafka", props, jvm_opts=["-Xmx768m"]))
        self.spawned_at = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + START_TIMEOUT
        while not self._ready():
            if self.proc.poll() is not None or time.time() > deadline:
                self.kill()
                raise RuntimeError("Apache Kafka did not start:\n" + self.log()[-6000:])
            time.sleep(0.05)
        return self

    def _ready(self):
        """Ready once a client sees the broker in Metadata."""
        from confluent_kafka.admin import AdminClient
        try:
            with socket.create_connection(("127.0.0.1", int(self.bootstrap.split(":")[1])), 1):
                pass
        except OSError:
            return False
        try:
            md = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=3)
            return len(md.brokers) == 1
        except Exception:
            return False

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise RuntimeError("Apache Kafka did not stop on SIGTERM")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except OSError:
            return ""
