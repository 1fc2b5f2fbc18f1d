"""Self-checks for the capture harness and the committed goldens.

    .tools/venv/bin/python -m unittest discover -s tests/capture -v

1. FakeBroker answers every version it advertises for the APIs it serves in a
   form kafka-python's own (schema-generated) codec decodes and re-encodes to
   the identical bytes.
2. Every golden in testdata/captures is consistent with manifest.json: frame
   size prefix and request header match, the records are one valid v2 batch
   (CRC-32C checked) with the manifest's codec, and decompressing it yields
   exactly the manifest's messages.
"""

import gzip
import json
import os
import socket
import struct
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fake_broker  # noqa: E402

GOLDEN_DIR = os.path.join(HERE, "..", "..", "testdata", "captures")
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


# --- minimal RecordBatch v2 decoding (independent of both clients) ------------

def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(buf, pos):
    """Zig-zag varint, as used inside v2 records."""
    r = fake_broker.Reader(buf, pos)
    v = r.uvarint()
    return (v >> 1) ^ -(v & 1), r.pos


def decompress(codec, data):
    if codec == "none":
        return data
    if codec == "gzip":
        return gzip.decompress(data)
    if codec == "snappy":
        import cramjam
        if data.startswith(b"\x82SNAPPY\x00"):   # xerial framing (Java-style)
            out, pos = bytearray(), 16
            while pos < len(data):
                (n,) = struct.unpack_from(">i", data, pos)
                out += bytes(cramjam.snappy.decompress_raw(data[pos + 4:pos + 4 + n]))
                pos += 4 + n
            return bytes(out)
        return bytes(cramjam.snappy.decompress_raw(data))
    if codec == "lz4":
        import lz4.frame
        return lz4.frame.decompress(data)
    if codec == "zstd":
        import zstandard
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    raise ValueError(codec)


def decode_batch(records):
    """Decode exactly one v2 batch; return (header dict, [record dicts])."""
    (base_offset, length, leader_epoch, magic, crc, attrs, last_delta,
     first_ts, max_ts, pid, epoch, base_seq, count) = struct.unpack_from(
        ">qiibIhiqqqhii", records, 0)
    assert magic == 2, magic
    assert 12 + length == len(records), "exactly one batch expected"
    assert crc == crc32c(records[21:]), "bad CRC-32C"
    codec = {v: k for k, v in CODEC_IDS.items()}[attrs & 7]
    body = decompress(codec, records[61:])
    out, pos = [], 0
    for _ in range(count):
        size, pos = varint(body, pos)
        end = pos + size
        pos += 1                                   # record attributes
        ts_delta, pos = varint(body, pos)
        off_delta, pos = varint(body, pos)
        fields = []
        for _ in range(2):                         # key, value
            n, pos = varint(body, pos)
            fields.append(None if n < 0 else body[pos:pos + n].decode())
            pos += max(n, 0)
        hcount, pos = varint(body, pos)
        headers = []
        for _ in range(hcount):
            n, pos = varint(body, pos)
            hk = body[pos:pos + n].decode()
            pos += n
            n, pos = varint(body, pos)
            hv = None if n < 0 else body[pos:pos + n].decode()
            pos += max(n, 0)
            headers.append([hk, hv])
        assert pos == end, "record length mismatch"
        out.append({"key": fields[0], "value": fields[1], "headers": headers,
                    "timestamp": first_ts + ts_delta, "offset_delta": off_delta})
    assert pos == len(body), "trailing bytes after records"
    header = {"base_offset": base_offset, "codec": codec, "count": count,
              "last_offset_delta": last_delta, "first_ts": first_ts,
              "max_ts": max_ts, "producer_id": pid, "producer_epoch": epoch,
              "base_sequence": base_seq, "leader_epoch": leader_epoch}
    return header, out


# --- fake broker round trips through kafka-python's codec --------------------

class FakeBrokerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = fake_broker.FakeBroker(topics=["t"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def roundtrip(self, request, response_cls, version):
        request.with_header(correlation_id=version + 7, client_id="test")
        frame = request.encode(version=version, header=True, framed=True)
        with socket.create_connection(("127.0.0.1", self.broker.port), timeout=5) as s:
            s.sendall(frame)
            (size,) = struct.unpack(">i", self._read(s, 4))
            payload = self._read(s, size)
        resp = response_cls.decode(payload, version=version, header=True)
        self.assertEqual(resp.header.correlation_id, version + 7)
        resp.with_header(correlation_id=version + 7)
        self.assertEqual(resp.encode(header=True), payload,
                         f"{response_cls.__name__} v{version} does not re-encode identically")
        return resp

    @staticmethod
    def _read(s, n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf

    def test_api_versions(self):
        from kafka.protocol.metadata import ApiVersionsRequest, ApiVersionsResponse
        for v in range(0, 5):
            kw = {"client_software_name": "x", "client_software_version": "1"} if v >= 3 else {}
            resp = self.roundtrip(ApiVersionsRequest(**kw), ApiVersionsResponse, v)
            self.assertEqual(resp.error_code, 0)
            got = {k.api_key: (k.min_version, k.max_version) for k in resp.api_keys}
            self.assertEqual(got, fake_broker.ADVERTISED_VERSIONS)

    def test_api_versions_unsupported(self):
        req = (struct.pack(">hhih", 18, 9, 42, 4) + b"test" + b"\x00"
               + b"\x02x\x021\x00")
        with socket.create_connection(("127.0.0.1", self.broker.port), timeout=5) as s:
            s.sendall(struct.pack(">i", len(req)) + req)
            (size,) = struct.unpack(">i", self._read(s, 4))
            payload = self._read(s, size)
        # header v0, v0 body: error 35 and the ApiVersions range
        self.assertEqual(payload, struct.pack(">ihihhh", 42, 35, 1, 18, 0, 4))

    def test_metadata(self):
        from kafka.protocol.metadata import MetadataRequest, MetadataResponse
        for v in range(0, 13):
            req = MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name="capture-topic")])
            resp = self.roundtrip(req, MetadataResponse, v)
            self.assertEqual([(b.node_id, b.host, b.port) for b in resp.brokers],
                             [(1, "127.0.0.1", self.broker.port)])
            self.assertEqual([t.name for t in resp.topics], ["capture-topic"])
            part = resp.topics[0].partitions[0]
            self.assertEqual((part.partition_index, part.leader_id), (0, 1))
            if v >= 10:
                self.assertIsNotNone(resp.topics[0].topic_id)
        for v in (1, 9, 12):  # null topic list: all (default) topics
            resp = self.roundtrip(MetadataRequest(topics=None), MetadataResponse, v)
            self.assertEqual([t.name for t in resp.topics], ["t"])

    def test_init_producer_id(self):
        from kafka.protocol.producer.transaction import InitProducerIdRequest, InitProducerIdResponse
        for v in range(0, 6):
            req = InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=1000)
            resp = self.roundtrip(req, InitProducerIdResponse, v)
            self.assertEqual((resp.error_code, resp.producer_id, resp.producer_epoch), (0, 1000, 0))

    def test_find_coordinator(self):
        from kafka.protocol.metadata import FindCoordinatorRequest, FindCoordinatorResponse
        for v in range(0, 7):
            req = FindCoordinatorRequest(key="g", key_type=0, coordinator_keys=["g"])
            resp = self.roundtrip(req, FindCoordinatorResponse, v)
            node = resp.coordinators[0].node_id if v >= 4 else resp.node_id
            self.assertEqual(node, 1)

    def test_produce(self):
        from kafka.protocol.producer import ProduceRequest, ProduceResponse
        T, P = ProduceRequest.TopicProduceData, ProduceRequest.TopicProduceData.PartitionProduceData
        for v in range(0, 12):
            req = ProduceRequest(transactional_id=None, acks=-1, timeout_ms=1000,
                                 topic_data=[T(name=f"p{v}", partition_data=[P(index=0, records=b"")])])
            resp = self.roundtrip(req, ProduceResponse, v)
            part = resp.responses[0].partition_responses[0]
            self.assertEqual((resp.responses[0].name, part.error_code, part.base_offset), (f"p{v}", 0, 0))

    def test_parse_produce_v13_topic_id(self):
        from kafka.protocol.producer import ProduceRequest
        import uuid
        T, P = ProduceRequest.TopicProduceData, ProduceRequest.TopicProduceData.PartitionProduceData
        tid = uuid.uuid4()
        req = ProduceRequest(transactional_id="tx", acks=1, timeout_ms=5,
                             topic_data=[T(topic_id=tid, partition_data=[P(index=3, records=b"abc")])])
        req.with_header(correlation_id=1, client_id="c")
        parsed = fake_broker.parse_produce(req.encode(version=13, header=True, framed=True))
        self.assertEqual(parsed["transactional_id"], "tx")
        self.assertEqual(parsed["topics"], [(str(tid), [(3, b"abc")])])


# --- goldens --------------------------------------------------------------------

class GoldenTest(unittest.TestCase):
    def setUp(self):
        path = os.path.join(GOLDEN_DIR, "manifest.json")
        if not os.path.exists(path):
            self.skipTest("no goldens; run scripts/capture-golden.sh")
        with open(path) as f:
            self.manifest = json.load(f)

    def read(self, name):
        with open(os.path.join(GOLDEN_DIR, name), "rb") as f:
            return f.read()

    def test_manifest_files_and_headers(self):
        listed = set()
        for e in self.manifest:
            frame = self.read(e["frame"])
            listed.add(e["frame"])
            self.assertEqual(struct.unpack_from(">i", frame)[0], len(frame) - 4, e["frame"])
            key, ver, _, _, _ = fake_broker.parse_request_header(frame[4:])
            self.assertEqual((key, ver), (e["api_key"], e["api_version"]), e["frame"])
            if e["records"]:
                listed.add(e["records"])
        on_disk = {n for n in os.listdir(GOLDEN_DIR) if n not in ("manifest.json", "README.md")}
        self.assertEqual(on_disk, listed)

    def test_every_case_has_produce(self):
        cases = {(e["client"], e["codec"]) for e in self.manifest}
        produced = {(e["client"], e["codec"]) for e in self.manifest if e["api_key"] == 0}
        self.assertEqual(cases, produced)

    def test_metadata_names_the_topic(self):
        for e in self.manifest:
            if e["api_key"] == 3:
                self.assertEqual(fake_broker.metadata_topics(self.read(e["frame"])),
                                 ["capture-topic"], e["frame"])

    def test_produce_records_decode_to_messages(self):
        for e in self.manifest:
            if e["api_key"] != 0:
                continue
            with self.subTest(frame=e["frame"]):
                records = self.read(e["records"])
                parsed = fake_broker.parse_produce(self.read(e["frame"]))
                self.assertEqual(parsed["topics"][0][1][0][1], records)
                header, recs = decode_batch(records)
                self.assertEqual(header["codec"], e["codec"])
                self.assertEqual(header["count"], len(e["messages"]))
                self.assertEqual(header["first_ts"], e["messages"][0]["timestamp"])
                self.assertEqual(header["max_ts"], e["messages"][-1]["timestamp"])
                self.assertEqual([r["offset_delta"] for r in recs], list(range(len(recs))))
                for r in recs:
                    del r["offset_delta"]
                self.assertEqual(recs, e["messages"])


if __name__ == "__main__":
    unittest.main()
