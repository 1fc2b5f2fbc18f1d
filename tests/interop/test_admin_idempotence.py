"""Admin operations through confluent-kafka's AdminClient, and the idempotent
producer."""
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource,
                                   NewPartitions, NewTopic, OffsetSpec)

from conftest import create_topic


def admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def test_create_describe_alter_delete(broker):
    a = admin(broker)
    create_topic(broker.bootstrap, "adm", partitions=2, config={"retention.ms": "3600000"})
    # Creating it again fails with TOPIC_ALREADY_EXISTS.
    f = a.create_topics([NewTopic("adm", 1, 1)])["adm"]
    try:
        f.result(10)
        raise AssertionError("duplicate create succeeded")
    except Exception as e:  # KafkaException
        assert "TOPIC_ALREADY_EXISTS" in str(e) or "already exists" in str(e)
    # Invalid names are refused.
    f = a.create_topics([NewTopic("bad/name", 1, 1)])["bad/name"]
    try:
        f.result(10)
        raise AssertionError("invalid name accepted")
    except Exception as e:
        assert "TOPIC_EXCEPTION" in str(e) or "illegal" in str(e)

    res = ConfigResource(ConfigResource.Type.TOPIC, "adm")
    cfg = a.describe_configs([res])[res].result(10)
    assert cfg["retention.ms"].value == "3600000"
    assert cfg["cleanup.policy"].value == "delete"

    res2 = ConfigResource(ConfigResource.Type.TOPIC, "adm",
                          incremental_configs=[ConfigEntry("retention.ms", "7200000",
                                                           incremental_operation=AlterConfigOpType.SET)])
    a.incremental_alter_configs([res2])[res2].result(10)
    deadline = time.time() + 10
    while time.time() < deadline:
        cfg = a.describe_configs([res])[res].result(10)
        if cfg["retention.ms"].value == "7200000":
            break
        time.sleep(0.2)
    assert cfg["retention.ms"].value == "7200000"

    a.create_partitions([NewPartitions("adm", 5)])["adm"].result(10)
    deadline = time.time() + 10
    while time.time() < deadline and len(a.list_topics("adm", timeout=5).topics["adm"].partitions) != 5:
        time.sleep(0.2)
    assert len(a.list_topics("adm", timeout=5).topics["adm"].partitions) == 5

    a.delete_topics(["adm"])["adm"].result(10)
    deadline = time.time() + 10
    while time.time() < deadline and "adm" in a.list_topics(timeout=5).topics:
        time.sleep(0.2)
    assert "adm" not in a.list_topics(timeout=5).topics


def test_delete_records_and_list_offsets(broker):
    a = admin(broker)
    create_topic(broker.bootstrap, "dr")
    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(100):
        p.produce("dr", value=b"%d" % i)
    p.flush(10)
    tp = TopicPartition("dr", 0, 40)
    out = a.delete_records([tp])
    r = list(out.values())[0].result(10)
    assert r.low_watermark == 40
    offs = a.list_offsets({TopicPartition("dr", 0): OffsetSpec.earliest()})
    assert list(offs.values())[0].result(10).offset == 40
    offs = a.list_offsets({TopicPartition("dr", 0): OffsetSpec.latest()})
    assert list(offs.values())[0].result(10).offset == 100
    offs = a.list_offsets({TopicPartition("dr", 0): OffsetSpec.max_timestamp()})
    assert list(offs.values())[0].result(10).offset >= 40


def test_idempotent_producer(broker):
    create_topic(broker.bootstrap, "idem", partitions=2)
    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True,
                  "linger.ms": 5, "max.in.flight.requests.per.connection": 5})
    errs = []
    for i in range(2000):
        p.produce("idem", value=b"%d" % i, partition=i % 2,
                  on_delivery=lambda e, m: errs.append(e) if e else None)
    assert p.flush(30) == 0
    assert not errs, errs[:3]
    c = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "idem-check"})
    for part in (0, 1):
        assert c.get_watermark_offsets(TopicPartition("idem", part), timeout=10) == (0, 1000)
    c.close()
