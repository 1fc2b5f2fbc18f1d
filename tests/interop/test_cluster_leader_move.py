"""kafkajs and aiokafka follow a partition leader move in a three-node cluster.

Each client produces (acks=all) to a replication-factor-3 partition and consumes it in a
group while the partition's leader goes away: kafkajs through SIGKILL of the leader,
aiokafka through SIGTERM (a controlled shutdown: the node moves its leaderships away before
it exits). Both clients find the new leader by themselves and go on; every acknowledged
record is consumed at the offset it was acknowledged at, acknowledged records keep their
send order, and a reader afterwards finds them all in the cluster.
"""
import asyncio
import json
import os
import queue
import subprocess
import threading
import time

from test_cluster import cluster, wait_for_topic  # noqa: F401  (the three-node cluster fixture)
from test_cluster_failures import read_back

HERE = os.path.dirname(os.path.abspath(__file__))
PRODUCE_SECONDS = 12


def create(cluster, name):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap()})
    admin.create_topics([NewTopic(name, 1, 3, config={"min.insync.replicas": "2"})]
                        )[name].result(timeout=30)
    deadline = time.time() + 30
    while time.time() < deadline:
        p = wait_for_topic(admin, name, 1).partitions[0]
        if p.leader >= 0 and sorted(p.isrs) == [0, 1, 2]:
            return p.leader
        time.sleep(0.2)
    raise AssertionError(f"{name}: no leader with a full ISR")


def leader_now(cluster, name, nodes):
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap(nodes)})
    return admin.list_topics(name, timeout=10).topics[name].partitions[0].leader


def check(acked, consumed, stored):
    """acked, consumed: [(partition, offset, value)]; stored: {offset: value} read back."""
    assert acked, "nothing acknowledged"
    at = {}
    for _, offset, value in consumed:
        assert at.setdefault(offset, value) == value, f"offset {offset} read as two values"
    for _, offset, value in acked:
        assert at.get(offset) == value, f"acknowledged {value} at {offset}, consumed {at.get(offset)}"
        assert stored.get(offset) == value, f"acknowledged {value} at {offset}, stored {stored.get(offset)}"
    values = [v for _, _, v in sorted(acked, key=lambda a: a[1])]
    assert values == sorted(values), "acknowledged records out of send order"
    assert len(values) == len(set(values)), "a value acknowledged twice"


def test_kafkajs_follows_a_leader_kill(cluster):
    node_dir = os.path.join(HERE, "node")
    assert os.path.isdir(os.path.join(node_dir, "node_modules", "kafkajs")), \
        "kafkajs is not installed: run `npm ci` in tests/interop/node (./test.sh does)"
    topic = "kjs-move"
    leader = create(cluster, topic)
    proc = subprocess.Popen(["node", "kafkajs_leader_move.js", cluster.bootstrap(), topic,
                             str(PRODUCE_SECONDS)], cwd=node_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout] and None,
                     daemon=True).start()
    try:
        first = lines.get(timeout=60)
        assert first.strip() == "ready", first
        cluster.kill(leader)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    assert proc.returncode == 0, stderr
    result = json.loads(lines.get(timeout=5))
    survivors = [i for i in range(3) if i != leader]
    assert leader_now(cluster, topic, survivors) in survivors
    assert len(result["acked"]) >= result["ackedAtReady"] + 100, (
        "little acknowledged after the leader moved", len(result["acked"]), result["errors"])
    stored = read_back(cluster.bootstrap(survivors), topic, [0])[0]
    check(result["acked"], result["consumed"], stored)


def test_aiokafka_follows_a_controlled_shutdown(cluster):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.errors import KafkaError

    topic = "aio-move"
    leader = create(cluster, topic)
    survivors = [i for i in range(3) if i != leader]

    async def scenario():
        acked, consumed, errors = [], [], []
        producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap(), acks="all",
                                    request_timeout_ms=10000, retry_backoff_ms=200)
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=cluster.bootstrap(),
                                    group_id=f"{topic}-group", auto_offset_reset="earliest",
                                    retry_backoff_ms=200, metadata_max_age_ms=5000)
        await asyncio.wait_for(producer.start(), 30)
        await asyncio.wait_for(consumer.start(), 30)
        stop = asyncio.Event()

        async def consume():
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500)
                for msgs in batches.values():
                    consumed.extend((m.partition, m.offset, int(m.value)) for m in msgs)

        reader = asyncio.create_task(consume())
        seq = 0

        async def send_one():
            nonlocal seq
            value = seq
            seq += 1
            try:
                md = await asyncio.wait_for(
                    producer.send_and_wait(topic, str(value).encode(), partition=0), 30)
                acked.append((0, md.offset, value))
            except (KafkaError, asyncio.TimeoutError) as e:
                errors.append(repr(e))

        try:
            deadline = time.time() + 60
            while not acked or not consumed:
                assert time.time() < deadline, "never ready"
                await send_one()
                await asyncio.sleep(0.05)
            at_move = len(acked)
            # SIGTERM in a thread: the node's controlled shutdown takes a moment, and the
            # clients keep running meanwhile.
            shutdown = asyncio.get_running_loop().run_in_executor(
                None, cluster.terminate, leader)
            end = time.time() + PRODUCE_SECONDS
            while time.time() < end:
                await send_one()
                await asyncio.sleep(0.01)
            await asyncio.wait_for(shutdown, 60)
            want = {v for _, _, v in acked}
            deadline = time.time() + 60
            while want - {v for _, _, v in consumed} and time.time() < deadline:
                await asyncio.sleep(0.2)
        finally:
            stop.set()
            await asyncio.wait_for(reader, 30)
            await asyncio.wait_for(producer.stop(), 30)
            await asyncio.wait_for(consumer.stop(), 30)
        return acked, consumed, errors, at_move

    acked, consumed, errors, at_move = asyncio.run(asyncio.wait_for(scenario(), 180))
    assert leader_now(cluster, topic, survivors) in survivors
    assert len(acked) > at_move + 50, ("little acknowledged after the move", len(acked), errors[:3])
    stored = read_back(cluster.bootstrap(survivors), topic, [0])[0]
    check(acked, consumed, stored)
