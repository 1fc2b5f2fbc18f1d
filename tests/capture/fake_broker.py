"""A tiny fake Kafka broker that records every request frame it receives.

It answers just enough of the protocol for a producer to get as far as sending
a Produce request: ApiVersions, Metadata, InitProducerId, FindCoordinator and
Produce.  Anything else is logged and the connection is closed.

Every frame is recorded verbatim (including the 4-byte size prefix) in
``FakeBroker.frames`` as ``Frame`` tuples, in arrival order.

Usage::

    with FakeBroker() as broker:
        ...  # point a client at f"127.0.0.1:{broker.port}"
        frame = broker.wait_for(api_key=0, timeout=10)
"""

import collections
import socket
import struct
import threading
import time
import uuid

# --- API keys we answer ----------------------------------------------------

PRODUCE = 0
METADATA = 3
FIND_COORDINATOR = 10
API_VERSIONS = 18
INIT_PRODUCER_ID = 22

API_NAMES = {
    PRODUCE: "produce",
    METADATA: "metadata",
    FIND_COORDINATOR: "findcoordinator",
    API_VERSIONS: "apiversions",
    INIT_PRODUCER_ID: "initproducerid",
}

# First flexible version of each API we parse (decides request header v1 vs
# v2 and response header v0 vs v1; ApiVersions responses always use v0).
FIRST_FLEXIBLE = {
    PRODUCE: 9,
    METADATA: 9,
    FIND_COORDINATOR: 3,
    API_VERSIONS: 3,
    INIT_PRODUCER_ID: 2,
}

# What we advertise in ApiVersions: {api_key: (min, max)}.
#
# Derived from validVersions in the message/*Request.json schemas shipped in
# /work/shared/kafka-spec, keeping the APIs whose "listeners" include "broker",
# dropping versions flagged latestVersionUnstable (a broker only advertises
# them with unstable.api.versions.enable), and leaving out the client
# telemetry APIs 71/72 (a broker only advertises them when a telemetry
# reporter is configured; advertising them makes librdkafka ask for a
# subscription we do not answer).  Hard-coded so this file needs no spec.
ADVERTISED_VERSIONS = {
    0: (0, 11),   # Produce
    1: (0, 17),   # Fetch
    2: (0, 10),   # ListOffsets
    3: (0, 12),   # Metadata
    8: (0, 9),    # OffsetCommit
    9: (0, 9),    # OffsetFetch
    10: (0, 6),   # FindCoordinator
    11: (0, 9),   # JoinGroup
    12: (0, 4),   # Heartbeat
    13: (0, 5),   # LeaveGroup
    14: (0, 5),   # SyncGroup
    15: (0, 5),   # DescribeGroups
    16: (0, 5),   # ListGroups
    17: (0, 1),   # SaslHandshake
    18: (0, 4),   # ApiVersions
    19: (0, 7),   # CreateTopics
    20: (0, 6),   # DeleteTopics
    21: (0, 2),   # DeleteRecords
    22: (0, 5),   # InitProducerId
    23: (0, 4),   # OffsetForLeaderEpoch
    24: (0, 5),   # AddPartitionsToTxn
    25: (0, 4),   # AddOffsetsToTxn
    26: (0, 4),   # EndTxn (v5 is unstable)
    27: (0, 1),   # WriteTxnMarkers
    28: (0, 4),   # TxnOffsetCommit
    29: (0, 3),   # DescribeAcls
    30: (0, 3),   # CreateAcls
    31: (0, 3),   # DeleteAcls
    32: (0, 4),   # DescribeConfigs
    33: (0, 2),   # AlterConfigs
    34: (0, 2),   # AlterReplicaLogDirs
    35: (0, 4),   # DescribeLogDirs
    36: (0, 2),   # SaslAuthenticate
    37: (0, 3),   # CreatePartitions
    38: (0, 3),   # CreateDelegationToken
    39: (0, 2),   # RenewDelegationToken
    40: (0, 2),   # ExpireDelegationToken
    41: (0, 3),   # DescribeDelegationToken
    42: (0, 2),   # DeleteGroups
    43: (0, 2),   # ElectLeaders
    44: (0, 1),   # IncrementalAlterConfigs
    45: (0, 0),   # AlterPartitionReassignments
    46: (0, 0),   # ListPartitionReassignments
    47: (0, 0),   # OffsetDelete
    48: (0, 1),   # DescribeClientQuotas
    49: (0, 1),   # AlterClientQuotas
    50: (0, 0),   # DescribeUserScramCredentials
    51: (0, 0),   # AlterUserScramCredentials
    55: (0, 2),   # DescribeQuorum
    57: (0, 2),   # UpdateFeatures
    60: (0, 1),   # DescribeCluster
    61: (0, 0),   # DescribeProducers
    64: (0, 0),   # UnregisterBroker
    65: (0, 0),   # DescribeTransactions
    66: (0, 1),   # ListTransactions
    68: (0, 0),   # ConsumerGroupHeartbeat (v1 is unstable)
    69: (0, 0),   # ConsumerGroupDescribe
    74: (0, 0),   # ListClientMetricsResources
    75: (0, 0),   # DescribeTopicPartitions
    80: (0, 0),   # AddRaftVoter
    81: (0, 0),   # RemoveRaftVoter
}

UNSUPPORTED_VERSION = 35
NODE_ID = 1
CLUSTER_ID = "vltava-capture-cluster"
PRODUCER_ID = 1000
PRODUCER_EPOCH = 0


# --- encoding helpers --------------------------------------------------------

def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def boolean(v):
    return b"\x01" if v else b"\x00"


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string(s, flexible):
    """STRING / NULLABLE_STRING, or their COMPACT_ forms when flexible."""
    if s is None:
        return uvarint(0) if flexible else i16(-1)
    data = s.encode("utf-8")
    return (uvarint(len(data) + 1) if flexible else i16(len(data))) + data


def array(items, flexible):
    """ARRAY / COMPACT_ARRAY of already-encoded items."""
    items = list(items)
    head = uvarint(len(items) + 1) if flexible else i32(len(items))
    return head + b"".join(items)


def tags(flexible):
    """An empty tagged-field section (only present in flexible versions)."""
    return uvarint(0) if flexible else b""


# --- decoding helper ---------------------------------------------------------

class Reader:
    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def _unpack(self, fmt, size):
        if self.pos + size > len(self.data):
            raise ValueError("truncated request")
        (v,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return v

    def i8(self):
        return self._unpack(">b", 1)

    def i16(self):
        return self._unpack(">h", 2)

    def i32(self):
        return self._unpack(">i", 4)

    def i64(self):
        return self._unpack(">q", 8)

    def uvarint(self):
        shift = value = 0
        while True:
            b = self._unpack(">B", 1)
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift > 35:
                raise ValueError("varint too long")

    def raw(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("truncated request")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def uuid(self):
        return uuid.UUID(bytes=bytes(self.raw(16)))

    def length(self, flexible, wide=False):
        """Length prefix of a string/bytes/array; -1 means null."""
        if flexible:
            return self.uvarint() - 1
        return self.i32() if wide else self.i16()

    def string(self, flexible):
        n = self.length(flexible)
        return None if n < 0 else self.raw(n).decode("utf-8")

    def bytes(self, flexible):
        n = self.length(flexible, wide=True)
        return None if n < 0 else self.raw(n)

    def array_len(self, flexible):
        return self.length(flexible, wide=True)

    def skip_tags(self, flexible):
        if not flexible:
            return
        for _ in range(self.uvarint()):
            self.uvarint()               # tag
            self.raw(self.uvarint())     # size + data


Frame = collections.namedtuple(
    "Frame", "api_key api_version correlation_id client_id data")


def parse_request_header(data):
    """Parse a request body (without size prefix).

    Returns (api_key, api_version, correlation_id, client_id, Reader at body).
    """
    r = Reader(data)
    api_key, api_version, correlation_id = r.i16(), r.i16(), r.i32()
    client_id = r.string(False)  # ClientId is never compact
    flexible = api_key in FIRST_FLEXIBLE and api_version >= FIRST_FLEXIBLE[api_key]
    r.skip_tags(flexible)
    return api_key, api_version, correlation_id, client_id, r


def parse_produce(data):
    """Parse a whole Produce request frame (with size prefix).

    Returns a dict with transactional_id, acks, timeout_ms and topics, a list of
    (name or topic_id, [(partition_index, records_bytes_or_None), ...]).
    v9+ is flexible; v13 identifies topics by topic_id instead of name.
    """
    api_key, version, _, _, r = parse_request_header(data[4:])
    if api_key != PRODUCE:
        raise ValueError("not a Produce request")
    flex = version >= 9
    out = {"version": version, "transactional_id": None}
    if version >= 3:
        out["transactional_id"] = r.string(flex)
    out["acks"] = r.i16()
    out["timeout_ms"] = r.i32()
    topics = []
    for _ in range(r.array_len(flex)):
        topic = str(r.uuid()) if version >= 13 else r.string(flex)
        partitions = []
        for _ in range(r.array_len(flex)):
            index = r.i32()
            records = r.bytes(flex)
            r.skip_tags(flex)
            partitions.append((index, None if records is None else bytes(records)))
        r.skip_tags(flex)
        topics.append((topic, partitions))
    r.skip_tags(flex)
    out["topics"] = topics
    return out


def parse_metadata_topics(version, r):
    """Topic names of a Metadata request body; None means "all topics"."""
    flex = version >= 9
    n = r.array_len(flex)
    if n < 0:
        return None
    names = []
    for _ in range(n):
        if version >= 10:
            r.uuid()
        name = r.string(flex)
        r.skip_tags(flex)
        if name is not None:
            names.append(name)
    return names


def metadata_topics(data):
    """Topic names of a whole Metadata request frame (with size prefix)."""
    api_key, version, _, _, r = parse_request_header(data[4:])
    if api_key != METADATA:
        raise ValueError("not a Metadata request")
    return parse_metadata_topics(version, r)


def count_records(records):
    """Number of records in a record set (v2 batches or legacy message sets)."""
    if not records:
        return 0
    count, pos = 0, 0
    while pos + 17 <= len(records):
        (size,) = struct.unpack_from(">i", records, pos + 8)
        magic = records[pos + 16]
        if magic >= 2 and pos + 61 <= len(records):
            count += struct.unpack_from(">i", records, pos + 57)[0]
        else:
            count += 1  # legacy message (a compressed wrapper counts as one)
        pos += 12 + size
    return count


# --- the broker ----------------------------------------------------------------

class FakeBroker:
    def __init__(self, topics=("capture-topic",), log=None):
        self.default_topics = list(topics)
        self.log = log or (lambda msg: None)
        self.frames = []
        self.next_offset = collections.Counter()   # (topic, partition) -> offset
        self.topic_ids = {}
        self._cond = threading.Condition()
        self._stopping = False
        self._conns = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    # lifecycle

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stopping = True
        try:
            self._sock.close()
        except OSError:
            pass
        for conn in list(self._conns):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._thread.join(timeout=2)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait_for(self, api_key, timeout):
        """Block until a frame with api_key has arrived; return it or None."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for f in self.frames:
                    if f.api_key == api_key:
                        return f
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def first(self, api_key):
        with self._cond:
            return next((f for f in self.frames if f.api_key == api_key), None)

    # networking

    def _accept_loop(self):
        while not self._stopping:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_exact(conn, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def _serve(self, conn):
        try:
            while True:
                prefix = self._read_exact(conn, 4)
                if prefix is None:
                    return
                (size,) = struct.unpack(">i", prefix)
                if size < 8 or size > 64 * 1024 * 1024:
                    self.log(f"bad frame size {size}; closing")
                    return
                body = self._read_exact(conn, size)
                if body is None:
                    return
                api_key, version, corr, client_id, reader = parse_request_header(body)
                with self._cond:
                    self.frames.append(Frame(api_key, version, corr, client_id, prefix + body))
                    self._cond.notify_all()
                name = API_NAMES.get(api_key, f"api_key={api_key}")
                self.log(f"request {name} v{version} corr={corr} client={client_id!r}")
                handler = self._handlers().get(api_key)
                if handler is None:
                    self.log(f"unhandled {name} v{version}; closing connection")
                    return
                response = handler(version, reader, prefix + body)
                if response is None:      # e.g. Produce with acks=0
                    continue
                header_flexible = (api_key != API_VERSIONS
                                   and version >= FIRST_FLEXIBLE[api_key])
                payload = i32(corr) + tags(header_flexible) + response
                conn.sendall(i32(len(payload)) + payload)
        except (OSError, ValueError, struct.error) as exc:
            if not self._stopping:
                self.log(f"connection error: {exc!r}")
        finally:
            conn.close()

    def _handlers(self):
        return {
            API_VERSIONS: self._api_versions,
            METADATA: self._metadata,
            INIT_PRODUCER_ID: self._init_producer_id,
            FIND_COORDINATOR: self._find_coordinator,
            PRODUCE: self._produce,
        }

    # handlers: each returns the response body (without header)

    def _api_versions(self, version, reader, frame):
        if version > 4:
            # Like Kafka: v0 body, UNSUPPORTED_VERSION, and our ApiVersions range
            # so that the client can retry with a version we understand.
            lo, hi = ADVERTISED_VERSIONS[API_VERSIONS]
            return i16(UNSUPPORTED_VERSION) + array([i16(API_VERSIONS) + i16(lo) + i16(hi)], False)
        flex = version >= 3
        keys = array((i16(k) + i16(lo) + i16(hi) + tags(flex)
                      for k, (lo, hi) in sorted(ADVERTISED_VERSIONS.items())), flex)
        body = i16(0) + keys
        if version >= 1:
            body += i32(0)  # throttle_time_ms
        return body + tags(flex)

    def _topic_id(self, name):
        if name not in self.topic_ids:
            self.topic_ids[name] = uuid.uuid4()
        return self.topic_ids[name]

    def _metadata(self, version, r, frame):
        flex = version >= 9
        requested = parse_metadata_topics(version, r)
        # null (v1+) or, in v0, empty means "all topics"
        if requested is None or (version == 0 and not requested):
            requested = list(self.default_topics)

        broker = i32(NODE_ID) + string("127.0.0.1", flex) + i32(self.port)
        if version >= 1:
            broker += string(None, flex)  # rack
        broker += tags(flex)

        def partition():
            p = i16(0) + i32(0) + i32(NODE_ID)          # error, index, leader
            if version >= 7:
                p += i32(0)                              # leader epoch
            p += array([i32(NODE_ID)], flex)             # replicas
            p += array([i32(NODE_ID)], flex)             # isr
            if version >= 5:
                p += array([], flex)                     # offline replicas
            return p + tags(flex)

        def topic(name):
            t = i16(0) + string(name, flex)
            if version >= 10:
                t += self._topic_id(name).bytes
            if version >= 1:
                t += boolean(False)                      # is_internal
            t += array([partition()], flex)
            if version >= 8:
                t += i32(-2147483648)                    # topic authorized ops
            return t + tags(flex)

        body = i32(0) if version >= 3 else b""           # throttle
        body += array([broker], flex)
        if version >= 2:
            body += string(CLUSTER_ID, flex)
        if version >= 1:
            body += i32(NODE_ID)                         # controller id
        body += array((topic(t) for t in requested), flex)
        if 8 <= version <= 10:
            body += i32(-2147483648)                     # cluster authorized ops
        return body + tags(flex)

    def _init_producer_id(self, version, r, frame):
        flex = version >= 2
        return i32(0) + i16(0) + i64(PRODUCER_ID) + i16(PRODUCER_EPOCH) + tags(flex)

    def _find_coordinator(self, version, r, frame):
        flex = version >= 3
        host, port = string("127.0.0.1", flex), i32(self.port)
        if version <= 3:
            key = r.string(flex)
            self.log(f"find coordinator for {key!r}")
            body = i32(0) if version >= 1 else b""
            body += i16(0)
            if version >= 1:
                body += string(None, flex)
            return body + i32(NODE_ID) + host + port + tags(flex)
        r.i8()  # key type
        keys = [r.string(flex) for _ in range(r.array_len(flex))]
        coords = (string(k, flex) + i32(NODE_ID) + host + port + i16(0)
                  + string(None, flex) + tags(flex) for k in keys)
        return i32(0) + array(coords, flex) + tags(flex)

    def _produce(self, version, r, frame):
        req = parse_produce(frame)
        if req["acks"] == 0:
            return None
        flex = version >= 9
        topics = []
        for name, partitions in req["topics"]:
            parts = []
            for index, records in partitions:
                with self._cond:
                    base = self.next_offset[(name, index)]
                    self.next_offset[(name, index)] += count_records(records)
                p = i32(index) + i16(0) + i64(base)
                if version >= 2:
                    p += i64(-1)                         # log append time
                if version >= 5:
                    p += i64(0)                          # log start offset
                if version >= 8:
                    p += array([], flex) + string(None, flex)  # record errors, message
                parts.append(p + tags(flex))
            tid = uuid.UUID(name).bytes if version >= 13 else string(name, flex)
            topics.append(tid + array(parts, flex) + tags(flex))
        throttle = i32(0) if version >= 1 else b""
        return array(topics, flex) + throttle + tags(flex)
