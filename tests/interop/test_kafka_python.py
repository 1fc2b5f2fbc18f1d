"""kafka-python against the broker: version inference, producer, consumer."""
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic


def test_infers_kafka_4_0(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
    try:
        assert admin._client.check_version(timeout_ms=10000) == (4, 0)
    finally:
        admin.close()


def test_producer_and_consumer(broker):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
    admin.create_topics([NewTopic("kp", num_partitions=2, replication_factor=1)])
    admin.close()
    for codec in (None, "gzip", "snappy", "lz4", "zstd"):
        p = KafkaProducer(bootstrap_servers=broker.bootstrap, compression_type=codec,
                          acks="all", enable_idempotence=False)
        futures = [p.send("kp", key=b"k%d" % i, value=b"v%d" % i, partition=i % 2)
                   for i in range(100)]
        p.flush(30)
        for f in futures:
            f.get(timeout=10)
        p.close(10)
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                      enable_auto_commit=False, consumer_timeout_ms=10000)
    c.assign([TopicPartition("kp", 0), TopicPartition("kp", 1)])
    got = []
    deadline = time.time() + 30
    while len(got) < 500 and time.time() < deadline:
        for recs in c.poll(timeout_ms=1000).values():
            got.extend(recs)
    c.close()
    assert len(got) == 500
    assert sorted(r.value for r in got) == sorted([b"v%d" % i for i in range(100)] * 5)


def test_describe_metadata_quorum(broker):
    """kafka-python's DescribeQuorum (KIP-595/853): the one voter leads, is caught up, and
    committing metadata (a new topic) moves the high watermark."""
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10000)
    try:
        def partition():
            result = admin.describe_metadata_quorum()
            (topic,) = result["topics"]
            assert topic["topic_name"] == "__cluster_metadata"
            (p,) = topic["partitions"]
            assert p["error"] is None, p
            return result, p

        result, p = partition()
        assert p["partition_index"] == 0
        assert p["leader_id"] == 1 and p["leader_epoch"] >= 1
        (voter,) = p["current_voters"]
        assert voter["replica_id"] == 1
        assert voter["log_end_offset"] == p["high_watermark"] > 0
        now_ms = time.time() * 1000
        assert abs(voter["last_caught_up_timestamp"] - now_ms) < 60_000
        assert p["observers"] == []
        (node,) = result["nodes"]
        assert node["node_id"] == 1
        assert node["listeners"][0]["name"] == "CONTROLLER"

        admin.create_topics([NewTopic("quorum-moves", num_partitions=1, replication_factor=1)])
        _, after = partition()
        assert after["high_watermark"] > p["high_watermark"]
    finally:
        admin.close()
