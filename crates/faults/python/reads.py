"""What a confluent-kafka poll returned, as the history records reads."""

from confluent_kafka import KafkaException


def reads_of(msgs):
    """The records of `msgs` as history reads ({topic, partition, offset, value}); a fatal
    error raises KafkaException, other errors are skipped."""
    reads = []
    for m in msgs:
        if m.error() is not None:
            if m.error().fatal():
                raise KafkaException(m.error())
            continue
        reads.append({"topic": m.topic(), "partition": m.partition(), "offset": m.offset(),
                      "value": (m.value() or b"").decode()})
    return reads
