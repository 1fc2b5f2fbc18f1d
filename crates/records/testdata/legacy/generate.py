"""Writes legacy (magic 0/1) message sets built by kafka-python's own legacy
builder, the golden inputs of tests/it/legacy.rs. Run with a Python that has
kafka-python 3.x, lz4 and python-snappy:  python generate.py
"""
import json
import os

from kafka.record.legacy_records import LegacyRecordBatchBuilder

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3}
RECORDS = [
    (b"key-0", b"value-0", 1_700_000_000_000),
    (None, b"value without key", 1_700_000_000_005),
    (b"key-2", None, 1_700_000_000_003),
    (b"k" * 300, b"v" * 2000, 1_700_000_000_010),
]

here = os.path.dirname(os.path.abspath(__file__))
expected = []
for magic in (0, 1):
    for name, codec in CODECS.items():
        b = LegacyRecordBatchBuilder(magic=magic, compression_type=codec, batch_size=1 << 20)
        for i, (k, v, ts) in enumerate(RECORDS):
            # kafka-python writes the relative offset i; the broker assigns absolute ones.
            b.append(i, timestamp=ts, key=k, value=v)
        data = bytes(b.build())
        fname = f"magic{magic}_{name}.bin"
        with open(os.path.join(here, fname), "wb") as f:
            f.write(data)
        expected.append({"file": fname, "magic": magic, "codec": name})
records = [
    {"key": k.decode() if k else None, "value": v.decode() if v else None, "timestamp": ts}
    for k, v, ts in RECORDS
]
with open(os.path.join(here, "expected.json"), "w") as f:
    json.dump({"sets": expected, "records": records}, f, indent=1)
