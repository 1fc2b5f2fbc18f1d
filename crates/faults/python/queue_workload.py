"""confluent-kafka (librdkafka) queue workload for the vltava-faults harness.

Runs one idempotent producer and one group consumer that commits after every poll
that returned records (with --txn also txn_workload's transactional producer and
read_committed consumer), until the stop file exists (or --max-seconds pass), and writes
the history as JSONL in the format of vltava_faults::history (one op per line, times
in wall-clock nanoseconds): each client process its own file, python-history-<process>.jsonl
beside --out, which gets the supervisor's own ops. A client that fails fatally starts over
under a new process id, and so does one stuck inside librdkafka (supervise.py). VLTAVA_FAULTS_RDKAFKA_DEBUG (e.g. "cgrp,broker,metadata") turns on
librdkafka's debug log for the consumer (to stderr, python-stderr.log in the run's
directory).
"""

import argparse
import os
import time

from confluent_kafka import Consumer, KafkaException, Producer

import txn_workload
from history import History
from reads import reads_of
from supervise import Supervisor

# A producer turn or a consumer turn (poll 0.5 s, a synchronous commit) that takes this
# long is stuck: the watchdog (supervise.py) abandons the client and starts a new one.
STALL_SECONDS = 60


def stopped(args, started):
    return os.path.exists(args.stop_file) or time.time() - started > args.max_seconds


def produce(args, history, is_stopped, process, progress):
    """One idempotent producer incarnation, until the stop or a fatal error."""
    fatal = []

    def on_error(err, fatal=fatal):
        if err.fatal():
            fatal.append(str(err))

    producer = Producer({
        "error_cb": on_error,
        "bootstrap.servers": args.bootstrap,
        "client.id": process,
        "enable.idempotence": True,
        "acks": "all",
        "message.timeout.ms": 12000,
        "request.timeout.ms": 4000,
        "linger.ms": 5,
        "queue.buffering.max.messages": 2000,
    })
    producer.poll(0)
    n = 0
    while not is_stopped() and not fatal:
        progress.beat()
        partition = n % args.partitions
        value = f"{process}-{n}"
        n += 1
        history.record({"process": process, "type": "invoke", "f": "send",
                        "idempotent": True,
                        "sends": [{"topic": args.topic, "partition": partition,
                                   "value": value}]})

        def report(err, msg, value=value, partition=partition, process=process):
            op = {"process": process, "f": "send", "idempotent": True}
            if err is None:
                op["type"] = "ok"
                op["sends"] = [{"topic": args.topic, "partition": msg.partition(),
                                "offset": msg.offset(), "value": value}]
            else:
                op["type"] = "info"
                op["error"] = str(err)
                op["sends"] = [{"topic": args.topic, "partition": partition,
                                "value": value}]
            history.record(op)

        try:
            producer.produce(args.topic, value=value.encode(), partition=partition,
                             on_delivery=report)
        except BufferError as e:
            history.record({"process": process, "type": "fail", "f": "send",
                            "idempotent": True, "error": str(e),
                            "sends": [{"topic": args.topic, "partition": partition,
                                       "value": value}]})
            producer.poll(0.5)
        except KafkaException as e:
            history.record({"process": process, "type": "info", "f": "send",
                            "idempotent": True, "error": str(e),
                            "sends": [{"topic": args.topic, "partition": partition,
                                       "value": value}]})
            fatal.append(str(e))
        producer.poll(0)
        time.sleep(0.01)
    producer.flush(20)


def consume(args, history, is_stopped, process, progress):
    """One group consumer incarnation, committing after every poll that returned records,
    until the stop or a fatal error."""
    def rebalanced(consumer, partitions, process=process):
        history.record({"process": process, "type": "ok", "f": "assign"})

    consumer = Consumer({
        "bootstrap.servers": args.bootstrap,
        "client.id": process,
        "group.id": args.group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 1000,
        "fetch.wait.max.ms": 200,
        # librdkafka's default, stated: its polls are recorded as read_committed.
        "isolation.level": "read_committed",
        **({"debug": os.environ["VLTAVA_FAULTS_RDKAFKA_DEBUG"]}
           if os.environ.get("VLTAVA_FAULTS_RDKAFKA_DEBUG") else {}),
    })
    consumer.subscribe([args.topic], on_assign=rebalanced, on_revoke=rebalanced,
                       on_lost=rebalanced)
    try:
        while not is_stopped():
            progress.beat()
            reads = reads_of(consumer.consume(num_messages=200, timeout=0.5))
            if not reads:
                continue
            history.record({"process": process, "type": "ok", "f": "poll",
                            "read_committed": True, "reads": reads})
            positions = consumer.position(consumer.assignment())
            commits = [{"topic": tp.topic, "partition": tp.partition,
                        "offset": tp.offset} for tp in positions if tp.offset >= 0]
            history.record({"process": process, "type": "invoke", "f": "commit",
                            "commits": commits})
            try:
                consumer.commit(asynchronous=False)
                history.record({"process": process, "type": "ok", "f": "commit",
                                "commits": commits})
            except KafkaException as e:
                history.record({"process": process, "type": "info", "f": "commit",
                                "commits": commits, "error": str(e)})
    except KafkaException as e:
        history.record({"process": process, "type": "fail", "f": "poll",
                        "error": str(e)})
        time.sleep(0.5)
    finally:
        try:
            consumer.close()
        except Exception:  # noqa: BLE001 - closing after a fault may fail; start over
            pass


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--partitions", type=int, required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--stop-file", required=True)
    p.add_argument("--max-seconds", type=float, required=True)
    p.add_argument("--no-consumer", action="store_true",
                   help="leave out the group consumer")
    p.add_argument("--txn", action="store_true",
                   help="also a transactional producer and a read_committed consumer")
    args = p.parse_args()
    history = History(args.out)
    started = time.time()

    def is_stopped():
        return stopped(args, started)

    def role(f):
        return lambda process, progress, own: f(args, own, is_stopped, process, progress)

    supervisor = Supervisor(history, args.out, is_stopped)
    roles = [supervisor.role("py-idem-0", role(produce), STALL_SECONDS)]
    if not args.no_consumer:
        roles.append(supervisor.role("py-group-0", role(consume), STALL_SECONDS))
    if args.txn:
        roles += [supervisor.role("py-txn-0", role(txn_workload.transact),
                                  txn_workload.TXN_STALL_SECONDS),
                  supervisor.role("py-rc-0", role(txn_workload.consume_committed),
                                  STALL_SECONDS)]
    for t in roles:
        t.start()
    for t in roles:
        t.join()
    history.close()


if __name__ == "__main__":
    main()
