"""aiokafka (asyncio client) against the broker: admin, producer with every
codec, group consumer with commit and resume (across a consumer and a broker
restart), a two-member group, the idempotent producer and the transactional
producer.

Every test body runs under `asyncio.run` with one overall `asyncio.wait_for`
bound, and every client call inside is bounded too, so nothing can hang.
"""
import asyncio
import uuid
from collections import defaultdict

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from conftest import Broker

CODECS = (None, "gzip", "snappy", "lz4", "zstd")
STEP = 15  # seconds: bound for one client call (start, send, commit, stop)


def run(coro, timeout):
    """Runs `coro` on a fresh event loop, failing if it takes over `timeout` s."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


async def bounded(aw, timeout=STEP):
    return await asyncio.wait_for(aw, timeout)


async def create_topics(bootstrap, topics):
    """Creates `{name: partitions}` with aiokafka's admin client, checks every
    per-topic error code, and waits until metadata shows each topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    await bounded(admin.start())
    try:
        resp = await bounded(admin.create_topics(
            [NewTopic(n, num_partitions=p, replication_factor=1) for n, p in topics.items()],
            timeout_ms=10000))
        errors = {t[0]: t[1] for t in resp.topic_errors}
        assert errors == {n: 0 for n in topics}, resp
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            described = await bounded(admin.describe_topics(list(topics)))
            seen = {d["topic"]: len(d["partitions"]) for d in described if d["error_code"] == 0}
            if seen == topics:
                return
            assert loop.time() < deadline, f"topics not in metadata: {described}"
            await asyncio.sleep(0.1)
    finally:
        await bounded(admin.close())


def record(i):
    """The i-th test record: key, value, headers."""
    return (b"k%d" % i, b"v%d" % i, [("idx", b"%d" % i), ("src", b"aiokafka")])


async def produce(bootstrap, topic, indices, **conf):
    """Sends the records `indices` (acks=all) and returns {index: RecordMetadata}."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=10000,
                         linger_ms=5, **conf)
    await bounded(p.start())
    try:
        futs = {}
        for i in indices:
            k, v, h = record(i)
            futs[i] = await bounded(p.send(topic, value=v, key=k, headers=h))
        await bounded(p.flush())
        metas = await bounded(asyncio.gather(*futs.values()))
        return dict(zip(futs, metas))
    finally:
        await bounded(p.stop())


def check_offsets(metas, topic, first_offsets=None):
    """Per partition, the returned offsets are consecutive in send order starting
    at `first_offsets[partition]` (0 for a new topic)."""
    by_part = defaultdict(list)
    for i in sorted(metas):
        m = metas[i]
        assert m.topic == topic
        by_part[m.partition].append(m.offset)
    for part, offsets in by_part.items():
        start = (first_offsets or {}).get(part, 0)
        assert offsets == list(range(start, start + len(offsets))), (part, offsets)
    return by_part


async def consume(consumer, want, timeout=25, settle=0.0):
    """Fetches with `getmany` until `want` records arrived (then `settle` more
    seconds, to catch extra deliveries); fails on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    got = []
    while len(got) < want:
        assert loop.time() < deadline, f"got {len(got)} of {want} records"
        for recs in (await bounded(consumer.getmany(timeout_ms=300))).values():
            got.extend(recs)
    end = loop.time() + settle
    while loop.time() < end:
        for recs in (await bounded(consumer.getmany(timeout_ms=200))).values():
            got.extend(recs)
    return got


def group_consumer(bootstrap, group, *topics):
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=group,
                            auto_offset_reset="earliest", enable_auto_commit=False,
                            session_timeout_ms=10000, heartbeat_interval_ms=500,
                            request_timeout_ms=10000)


def check_records(got, metas):
    """Every fetched record is exactly one of the produced ones, with the key,
    value, headers, partition and offset the producer was told."""
    seen = set()
    by_pos = {(m.topic, m.partition, m.offset): i for i, m in metas.items()}
    for r in got:
        i = by_pos.get((r.topic, r.partition, r.offset))
        assert i is not None, f"unexpected record {r}"
        assert i not in seen, f"record {i} delivered twice"
        seen.add(i)
        k, v, h = record(i)
        assert (r.key, r.value, list(r.headers)) == (k, v, h)
    assert seen == set(metas)


def test_produce_every_codec_then_group_consume_commit_and_resume(data_dir):
    b = Broker(data_dir).start()
    group = "aio-" + uuid.uuid4().hex[:6]
    topics = {f"aio-{c or 'none'}": 3 for c in CODECS}

    async def first_run():
        await create_topics(b.bootstrap, topics)
        metas = {}
        for codec, topic in zip(CODECS, topics):
            m = await produce(b.bootstrap, topic, range(100), compression_type=codec)
            assert len(m) == 100
            check_offsets(m, topic)
            metas[topic] = m
        c = group_consumer(b.bootstrap, group, *topics)
        await bounded(c.start())
        try:
            got = await consume(c, 500, settle=0.5)
            for topic in topics:
                check_records([r for r in got if r.topic == topic], metas[topic])
            await bounded(c.commit())
            ends = await bounded(c.end_offsets([TopicPartition(t, p) for t in topics
                                                for p in range(3)]))
            for tp, end in ends.items():
                assert await bounded(c.committed(tp)) == end
        finally:
            await bounded(c.stop())
        return ends

    async def resume(ends, start_index):
        topic = "aio-gzip"
        # The committed offsets are the log end offsets, so only new records arrive.
        new = await produce(b.bootstrap, topic, range(start_index, start_index + 10),
                            compression_type="gzip")
        check_offsets(new, topic, {tp.partition: off for tp, off in ends.items()
                                   if tp.topic == topic})
        c = group_consumer(b.bootstrap, group, *topics)
        await bounded(c.start())
        try:
            got = await consume(c, 10, settle=1.0)
            check_records(got, new)
            await bounded(c.commit())
            return {tp: await bounded(c.committed(tp)) for tp in ends}
        finally:
            await bounded(c.stop())

    try:
        ends = run(first_run(), 40)
        # A new consumer in the same group resumes from the committed offsets.
        ends = run(resume(ends, 100), 20)
        assert sum(ends.values()) == 510
        # So does one after a broker restart (offsets reloaded from disk).
        b.stop()
        b.start()
        ends = run(resume(ends, 110), 25)
        assert sum(ends.values()) == 520
    finally:
        b.stop()
        b.kill()


def test_two_member_group_splits_partitions_and_consumes_once(broker):
    topic = "aio-split"
    group = "aio-split-" + uuid.uuid4().hex[:6]

    async def main():
        await create_topics(broker.bootstrap, {topic: 4})
        c1 = group_consumer(broker.bootstrap, group, topic)
        c2 = group_consumer(broker.bootstrap, group, topic)
        await bounded(c1.start())
        await bounded(c2.start())
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 25
            while True:
                a1 = {tp.partition for tp in c1.assignment()}
                a2 = {tp.partition for tp in c2.assignment()}
                if a1 and a2 and len(a1) + len(a2) == 4:
                    break
                assert loop.time() < deadline, f"no split assignment: {a1} {a2}"
                # getmany drives the rebalance for each member.
                await bounded(c1.getmany(timeout_ms=100))
                await bounded(c2.getmany(timeout_ms=100))
            assert a1.isdisjoint(a2) and a1 | a2 == {0, 1, 2, 3}
            metas = await produce(broker.bootstrap, topic, range(200))
            check_offsets(metas, topic)
            assert {m.partition for m in metas.values()} == {0, 1, 2, 3}
            got1, got2 = [], []
            deadline = loop.time() + 25
            while len(got1) + len(got2) < 200:
                assert loop.time() < deadline, f"got {len(got1)} + {len(got2)} of 200"
                for c, got in ((c1, got1), (c2, got2)):
                    for recs in (await bounded(c.getmany(timeout_ms=100))).values():
                        got.extend(recs)
            for c, got in ((c1, got1), (c2, got2)):  # nothing more arrives
                for recs in (await bounded(c.getmany(timeout_ms=500))).values():
                    got.extend(recs)
            assert {r.partition for r in got1} <= a1 and {r.partition for r in got2} <= a2
            assert got1 and got2
            check_records(got1 + got2, metas)
        finally:
            await bounded(c1.stop())
            await bounded(c2.stop())

    run(main(), 55)


def test_idempotent_producer(broker):
    topic = "aio-idem"

    async def main():
        await create_topics(broker.bootstrap, {topic: 2})
        p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, enable_idempotence=True,
                             request_timeout_ms=10000, linger_ms=5)
        await bounded(p.start())
        try:
            metas = {}
            for rnd in range(3):  # several batches per partition, sequence numbers go on
                futs = {}
                for i in range(rnd * 50, rnd * 50 + 50):
                    k, v, h = record(i)
                    futs[i] = await bounded(p.send(topic, value=v, key=k, headers=h))
                metas.update(zip(futs, await bounded(asyncio.gather(*futs.values()))))
            pid = p._txn_manager.producer_id
            assert pid is not None and pid >= 0, pid
        finally:
            await bounded(p.stop())
        check_offsets(metas, topic)
        c = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, request_timeout_ms=10000)
        await bounded(c.start())
        try:
            c.assign([TopicPartition(topic, p) for p in range(2)])
            got = await consume(c, 150, settle=0.5)
        finally:
            await bounded(c.stop())
        check_records(got, metas)

    run(main(), 40)


def test_transactional_producer_and_read_committed_consumer(broker):
    """aiokafka's transactional producer: a committed and an aborted
    transaction; read_committed sees only the first, read_uncommitted both."""
    async def body():
        topic = "aiotx"
        await create_topics(broker.bootstrap, {topic: 2})
        p = AIOKafkaProducer(bootstrap_servers=broker.bootstrap,
                             transactional_id="aio-" + uuid.uuid4().hex[:6])
        await bounded(p.start())
        try:
            async with p.transaction():
                for i in range(6):
                    await bounded(p.send_and_wait(topic, b"c%d" % i, partition=i % 2))
            await bounded(p.begin_transaction())
            for i in range(4):
                await bounded(p.send_and_wait(topic, b"a%d" % i, partition=i % 2))
            await bounded(p.abort_transaction())
        finally:
            await bounded(p.stop())

        async def read(isolation, expected):
            c = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap, isolation_level=isolation,
                                 enable_auto_commit=False, auto_offset_reset="earliest")
            await bounded(c.start())
            try:
                c.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
                got = []
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 20
                while len(got) < expected and loop.time() < deadline:
                    batch = await bounded(c.getmany(timeout_ms=500))
                    for recs in batch.values():
                        got.extend(r.value for r in recs)
                # Nothing more arrives.
                batch = await bounded(c.getmany(timeout_ms=1000))
                for recs in batch.values():
                    got.extend(r.value for r in recs)
                return sorted(got)
            finally:
                await bounded(c.stop())

        committed = sorted(b"c%d" % i for i in range(6))
        assert await read("read_committed", 6) == committed
        assert await read("read_uncommitted", 10) == sorted(committed + [b"a%d" % i for i in range(4)])

    run(body(), 90)
