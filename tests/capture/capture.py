"""Capture the exact request bytes real Kafka producers send.

    python tests/capture/capture.py --out testdata/captures

For each case (client x compression codec) this starts a fresh FakeBroker on
an ephemeral 127.0.0.1 port, runs the real client in a subprocess against it
to produce the same 10 messages in one batch, and saves the first ApiVersions
request, the first Metadata request that names a topic, and the first Produce
request the client sent (whole frames, size prefix included), the raw records
bytes of the Produce request's first partition, and a manifest.json
describing everything.

The same file is the client runner: ``capture.py --client NAME --codec C
--bootstrap HOST:PORT`` runs one producer and prints a JSON status line.
"""

import argparse
import concurrent.futures
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_broker  # noqa: E402

TOPIC = "capture-topic"
CASES = [
    ("confluent-kafka", "none"),
    ("confluent-kafka", "gzip"),
    ("confluent-kafka", "snappy"),
    ("confluent-kafka", "lz4"),
    ("confluent-kafka", "zstd"),
    ("kafka-python", "none"),
    ("kafka-python", "gzip"),
    ("kafka-python", "snappy"),
    ("kafka-python", "lz4"),
    ("kafka-python", "zstd"),
]
CLIENT_TIMEOUT_S = 30     # per subprocess; cases run in parallel
CAPTURED_APIS = (fake_broker.API_VERSIONS, fake_broker.METADATA, fake_broker.PRODUCE)


def messages(client):
    """The 10 deterministic messages every case sends, as sent by `client`.

    kafka-python's KafkaProducer.send() only accepts (str, bytes) headers, so
    it cannot send a header with a null value; its messages omit "h-null".
    """
    out = []
    for i in range(10):
        headers = [["h1", f"v{i}"]]
        if client != "kafka-python":
            headers.append(["h-null", None])
        out.append({
            "key": f"key-{i}",
            "value": f"value-{i}-" * 12,
            "headers": headers,
            "timestamp": 1700000000000 + i,
        })
    return out


def _enc(s):
    return None if s is None else s.encode("utf-8")


# --- client runners (executed in a subprocess) ---------------------------------

def run_confluent(codec, bootstrap):
    import confluent_kafka
    producer = confluent_kafka.Producer({
        "bootstrap.servers": bootstrap,
        "client.id": f"capture-confluent-kafka-{codec}",
        "compression.type": codec,
        "linger.ms": 300,
        "batch.num.messages": 1000,
        "message.timeout.ms": 15000,
        "socket.timeout.ms": 10000,
    })
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(str(err))

    for m in messages("confluent-kafka"):
        producer.produce(
            TOPIC, key=_enc(m["key"]), value=_enc(m["value"]),
            headers=[(k, _enc(v)) for k, v in m["headers"]],
            timestamp=m["timestamp"], on_delivery=on_delivery)
    left = producer.flush(20)
    version = f"{confluent_kafka.__version__} (librdkafka {confluent_kafka.libversion()[0]})"
    return {"client_version": confluent_kafka.__version__, "detail": version,
            "undelivered": left, "errors": errors}


def run_kafka_python(codec, bootstrap):
    import kafka
    producer = kafka.KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=f"capture-kafka-python-{codec}",
        compression_type=None if codec == "none" else codec,
        linger_ms=300,
        batch_size=1 << 20,
        request_timeout_ms=10000,
        max_block_ms=10000,
    )
    futures = [
        producer.send(TOPIC, key=_enc(m["key"]), value=_enc(m["value"]),
                      headers=[(k, _enc(v)) for k, v in m["headers"]],
                      timestamp_ms=m["timestamp"])
        for m in messages("kafka-python")
    ]
    producer.flush(timeout=20)
    errors = []
    for f in futures:
        try:
            f.get(timeout=1)
        except Exception as exc:  # report, don't crash: the parent decides
            errors.append(repr(exc))
    producer.close(timeout=2)
    return {"client_version": kafka.__version__, "detail": kafka.__version__,
            "undelivered": 0, "errors": errors}


def client_version(client):
    if client == "confluent-kafka":
        import confluent_kafka
        return confluent_kafka.__version__
    import kafka
    return kafka.__version__


def client_main(client, codec, bootstrap):
    runner = {"confluent-kafka": run_confluent, "kafka-python": run_kafka_python}[client]
    try:
        status = runner(codec, bootstrap)
    except Exception as exc:
        status = {"client_version": client_version(client), "detail": None,
                  "undelivered": -1, "errors": [repr(exc)]}
    print("STATUS " + json.dumps(status), flush=True)
    return 0 if not status["errors"] and status["undelivered"] == 0 else 1


# --- capture driver ---------------------------------------------------------------

class CaseResult:
    def __init__(self, client, codec):
        self.client, self.codec = client, codec
        self.frames = {}          # api_key -> Frame saved as a golden
        self.all_frames = []      # every frame the fake broker received
        self.status = None
        self.error = None
        self.log = []


def run_case(client, codec):
    res = CaseResult(client, codec)
    name = f"{client}/{codec}"
    broker = fake_broker.FakeBroker(topics=[TOPIC], log=res.log.append)
    with broker:
        cmd = [sys.executable, os.path.abspath(__file__), "--client", client,
               "--codec", codec, "--bootstrap", f"127.0.0.1:{broker.port}"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S)
            out, err = proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            res.error = f"{name}: client did not finish within {CLIENT_TIMEOUT_S}s"
        for line in out.splitlines():
            if line.startswith("STATUS "):
                res.status = json.loads(line[len("STATUS "):])
        res.all_frames = list(broker.frames)
        for key in CAPTURED_APIS:
            frame = broker.first(key)
            if frame is not None:
                res.frames[key] = frame
        # Clients may first ask for brokers only (librdkafka does so when its
        # bootstrap refresh races the first produce() call, kafka-python
        # always); keep the first Metadata request that names a topic so the
        # golden is stable and exercises the topics array.
        for frame in res.all_frames:
            if frame.api_key == fake_broker.METADATA and fake_broker.metadata_topics(frame.data):
                res.frames[fake_broker.METADATA] = frame
                break
    if res.status is None and not res.error:
        res.error = f"{name}: client exited without a status line; stderr (tail): {err.strip()[-1500:]}"
    if res.status and res.status["errors"] and not res.error:
        res.error = f"{name}: client reported errors: {res.status['errors']}"
    if fake_broker.PRODUCE not in res.frames:
        res.error = (res.error or f"{name}: no Produce request captured") + \
            "\n  broker log: " + "; ".join(res.log[-15:]) + \
            "\n  client stderr (tail): " + err.strip()[-1500:]
        return res
    produce = fake_broker.parse_produce(res.frames[fake_broker.PRODUCE].data)
    records = produce["topics"][0][1][0][1]
    n = fake_broker.count_records(records)
    if n != 10:
        res.error = f"{name}: first Produce request holds {n} records, expected all 10 in one batch"
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="directory to write captures and manifest.json into")
    ap.add_argument("--client", help=argparse.SUPPRESS)
    ap.add_argument("--codec", help=argparse.SUPPRESS)
    ap.add_argument("--bootstrap", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        return client_main(args.client, args.codec, args.bootstrap)
    if not args.out:
        ap.error("--out DIR is required")

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        results = list(pool.map(lambda c: run_case(*c), CASES))

    failed = [r for r in results if r.error]
    for res in results:
        versions = ", ".join(f"{fake_broker.API_NAMES[k]} v{f.api_version}"
                             for k, f in sorted(res.frames.items()))
        detail = (res.status or {}).get("detail") or "?"
        mark = "FAIL" if res.error else "ok  "
        print(f"{mark} {res.client:16} {res.codec:6} [{detail}] {versions}")
    if failed:
        print(f"\nERROR: {len(failed)} case(s) did not capture a usable Produce request; "
              f"{args.out} left untouched:", file=sys.stderr)
        for res in failed:
            print("  " + res.error, file=sys.stderr)
        return 1

    os.makedirs(args.out, exist_ok=True)
    for old in glob.glob(os.path.join(args.out, "*.bin")) + \
            glob.glob(os.path.join(args.out, "*.records")):
        os.remove(old)
    manifest = []
    for res in results:
        for key in CAPTURED_APIS:
            frame = res.frames.get(key)
            if frame is None:
                continue
            base = f"{res.client}-{res.codec}-{fake_broker.API_NAMES[key]}-v{frame.api_version}"
            with open(os.path.join(args.out, base + ".bin"), "wb") as f:
                f.write(frame.data)
            entry = {
                "client": res.client,
                "client_version": res.status["client_version"],
                "codec": res.codec,
                "api_key": key,
                "api_version": frame.api_version,
                "frame": base + ".bin",
                "records": None,
                "messages": [],
            }
            if key == fake_broker.PRODUCE:
                req = fake_broker.parse_produce(frame.data)
                records = req["topics"][0][1][0][1]
                with open(os.path.join(args.out, base + ".records"), "wb") as f:
                    f.write(records or b"")
                entry["records"] = base + ".records"
                entry["messages"] = messages(res.client)
            manifest.append(entry)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"{len(manifest)} frames written to {args.out} in {time.monotonic() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
