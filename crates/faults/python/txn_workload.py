"""confluent-kafka transactions for the vltava-faults harness (imported by queue_workload.py).

transact(): one transactional producer; each transaction writes one value to each of three
consecutive partitions (led by different nodes with the harness's leader spread) and
commits, except every third one, which it aborts. The history gets an `f: txn` invoke with
the values, then `ok` (committed, with offsets), `fail` (aborted: never visible) or `info`
(outcome unknown: a commit or abort that failed without telling). After such an outcome the
producer starts over under a new process id with the same transactional.id, which fences
the old one and settles its open transaction. Each function runs one client incarnation;
queue_workload.py's supervisor (supervise.py) starts the next.

consume_committed(): a read_committed consumer assigned every partition from the start,
recording its polls with `read_committed` (the checker's aborted-read (G1a) and poll-skip
classes).
"""

import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from reads import reads_of

TXN_PARTITIONS = 3
# A transaction's turn waits up to 15 s (flush) and three commits or aborts of 20 s each:
# past this the producer is stuck and the watchdog (supervise.py) abandons it.
TXN_STALL_SECONDS = 120


def _sends(args, values, offsets=None):
    out = []
    for partition, value in values:
        s = {"topic": args.topic, "partition": partition, "value": value}
        if offsets is not None and value in offsets:
            s["offset"] = offsets[value]
        out.append(s)
    return out


def _finish(producer, commit):
    """Commits or aborts, retrying a retriable error; raises what it cannot settle."""
    for attempt in range(3):
        try:
            if commit:
                producer.commit_transaction(20)
            else:
                producer.abort_transaction(20)
            return
        except KafkaException as e:
            if not e.args[0].retriable() or attempt == 2:
                raise


def transact(args, history, stopped, process, progress):
    """One transactional producer incarnation, until the stop or an unknown outcome."""
    producer = Producer({
        "bootstrap.servers": args.bootstrap,
        "client.id": process,
        "transactional.id": "py-txn-0",
        "transaction.timeout.ms": 20000,
        "message.timeout.ms": 15000,
        "request.timeout.ms": 4000,
        "linger.ms": 5,
    })
    try:
        producer.init_transactions(30)
    except KafkaException:
        time.sleep(0.5)  # no transaction began: nothing to record
        return
    n = 0
    while not stopped():
        progress.beat()
        first = (n * TXN_PARTITIONS) % args.partitions
        values = [((first + k) % args.partitions, f"{process}-{n}-{k}")
                  for k in range(TXN_PARTITIONS)]
        commit = n % 3 != 2
        n += 1
        history.record({"process": process, "type": "invoke", "f": "txn",
                        "idempotent": True, "sends": _sends(args, values)})
        offsets = {}

        def report(err, msg, offsets=offsets):
            if err is None:
                offsets[msg.value().decode()] = msg.offset()

        outcome, error = "ok" if commit else "fail", None
        try:
            producer.begin_transaction()
            for partition, value in values:
                producer.produce(args.topic, value=value.encode(), partition=partition,
                                 on_delivery=report)
            producer.flush(15)  # serves the delivery reports (offsets)
            _finish(producer, commit)
        except KafkaException as e:
            err = e.args[0]
            error = str(err)
            if err.txn_requires_abort():
                try:
                    _finish(producer, False)
                    outcome = "fail"
                except KafkaException as e2:
                    outcome, error = "info", f"{error}; abort: {e2}"
            else:
                outcome = "info"
        except BufferError as e:
            outcome, error = "info", str(e)
        op = {"process": process, "type": outcome, "f": "txn", "idempotent": True,
              "sends": _sends(args, values, offsets if outcome == "ok" else None)}
        if error is not None:
            op["error"] = error
        history.record(op)
        if outcome == "info":
            break  # start over: a new producer fences this one and settles its txn
    time.sleep(0.2)


def consume_committed(args, history, stopped, process, progress):
    """One read_committed consumer incarnation, until the stop or a fatal error."""
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "client.id": process,
        "group.id": "py-rc-unused",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "fetch.wait.max.ms": 200,
    })
    consumer.assign([TopicPartition(args.topic, p, 0) for p in range(args.partitions)])
    history.record({"process": process, "type": "ok", "f": "assign"})
    try:
        while not stopped():
            progress.beat()
            reads = reads_of(consumer.consume(num_messages=200, timeout=0.5))
            if reads:
                history.record({"process": process, "type": "ok", "f": "poll",
                                "read_committed": True, "reads": reads})
    except KafkaException as e:
        history.record({"process": process, "type": "fail", "f": "poll",
                        "read_committed": True, "error": str(e)})
        time.sleep(0.5)
    finally:
        try:
            consumer.close()
        except Exception:  # noqa: BLE001 - closing after a fault may fail; start over
            pass
