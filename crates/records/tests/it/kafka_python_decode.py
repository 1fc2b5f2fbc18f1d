"""Decodes record files with kafka-python's own record readers and prints what
it read as JSON: {file: [{"offset", "timestamp", "key", "value", "headers"}]}.
Used by tests/it/real_clients.rs to check that batches and legacy message sets
written by vltava-records read correctly in a real client.
"""
import json
import sys

from kafka.record.memory_records import MemoryRecords


def text(b):
    return None if b is None else bytes(b).decode("utf-8")


out = {}
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        records = MemoryRecords(f.read())
    got = []
    while records.has_next():
        batch = records.next_batch()
        batch.validate_crc() or sys.exit(f"{path}: CRC check failed in kafka-python")
        for r in batch:
            got.append({
                "offset": r.offset,
                "timestamp": r.timestamp,
                "key": text(r.key),
                "value": text(r.value),
                "headers": [[k, text(v)] for k, v in r.headers],
            })
    out[path] = got
print(json.dumps(out))
