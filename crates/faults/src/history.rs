//! The operation history: one JSON object per line (JSONL), written by every workload
//! (the Rust workloads through [`Recorder`], the Python one by itself) and read by the
//! checker.
//!
//! An operation is recorded twice, Jepsen-style: an `invoke` line when a client starts it
//! and a completion line (`ok`, `fail` or `info`) when it learns the outcome. `fail` means
//! the operation certainly had no effect; `info` means the outcome is unknown (a timeout,
//! a crash, an error after the request may have been applied). The checker pairs a
//! completion with its invoke by process and value (sends) and otherwise reads completions
//! on their own, so a completion line repeats what the operation did.
//!
//! Fields (all but `process`, `type` and `f` optional):
//!
//! | field | meaning |
//! |---|---|
//! | `index` | position in the merged history (assigned when writing) |
//! | `time` | wall-clock nanoseconds since the Unix epoch |
//! | `process` | the client (one producer, one consumer), never reused after a crash |
//! | `type` | `invoke`, `ok`, `fail`, `info` |
//! | `f` | `send`, `poll`, `commit`, `txn`, `assign`, `fault`, `stall` |
//! | `sends` | records sent (`send`: one; `txn`: all of the transaction), offsets on `ok` |
//! | `reads` | records a `poll` returned, in the order returned (each with `producer`: [id, epoch] of its batch, when the reader knows it) |
//! | `commits` | `commit`: the positions committed |
//! | `idempotent` | the producer is idempotent (or transactional) |
//! | `read_committed` | the consumer reads with `isolation.level=read_committed` |
//! | `complete` | a final read of whole partitions from their start to `ends` |
//! | `ends` | for a complete read: the end offset reached per partition |
//! | `error` | why the operation failed or is unknown |
//! | `fault`, `node` | `f: fault` (process `nemesis`): the fault's kind and the node it hit |

use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether a line starts an operation or completes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// What the operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpFn {
    Send,
    Poll,
    Commit,
    Txn,
    /// The consumer's partitions changed (assign, subscribe, rebalance): its positions may
    /// legitimately jump.
    Assign,
    /// The nemesis (process `nemesis`): `invoke` when a fault starts, `ok` when it is healed.
    Fault,
    /// A client that made no progress for its workload's stall limit (stuck inside its
    /// client library) was abandoned, and the workload went on with a new one (`info`,
    /// `error` says where it was stuck). Its open operations stay unknown; not an anomaly,
    /// but counted in the report.
    Stall,
}

/// One record sent or read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub topic: String,
    /// Unknown for a send until the broker answered (the partitioner picks it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: String,
    /// For a read: the producer id and epoch of the batch it came in, when the reading
    /// client reports them (vltava-client does, confluent-kafka does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<(i64, i16)>,
}

/// A partition position (a commit, or where a complete read ended).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// One line of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    #[serde(default)]
    pub index: u64,
    #[serde(default)]
    pub time: u64,
    pub process: String,
    #[serde(rename = "type")]
    pub kind: OpType,
    pub f: OpFn,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sends: Vec<Record>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<Record>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<Position>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub idempotent: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_committed: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ends: Vec<Position>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `fault`: its kind, and the node it hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<i32>,
}

impl Op {
    /// An operation line with nothing but its process, type and function.
    pub fn new(process: impl Into<String>, kind: OpType, f: OpFn) -> Op {
        Op {
            index: 0,
            time: 0,
            process: process.into(),
            kind,
            f,
            sends: Vec::new(),
            reads: Vec::new(),
            commits: Vec::new(),
            idempotent: false,
            read_committed: false,
            complete: false,
            ends: Vec::new(),
            error: None,
            fault: None,
            node: None,
        }
    }
}

/// Why a history could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line}: {source}")]
    Parse {
        line: usize,
        #[source]
        source: serde_json::Error,
    },
}

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Parses JSONL (blank lines skipped).
pub fn parse(reader: impl BufRead) -> Result<Vec<Op>, HistoryError> {
    let mut ops = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| HistoryError::Io {
            path: "<history>".into(),
            source,
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let op = serde_json::from_str(&line).map_err(|source| HistoryError::Parse {
            line: n + 1,
            source,
        })?;
        ops.push(op);
    }
    Ok(ops)
}

/// Reads the history a killed writer left: whole lines only (its last line may be cut
/// off mid-write, and is then dropped).
pub fn read_file_of_killed_writer(path: &Path) -> Result<Vec<Op>, HistoryError> {
    let mut bytes = std::fs::read(path).map_err(|source| HistoryError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(whole);
    parse(std::io::Cursor::new(bytes))
}

/// Reads a JSONL history file.
pub fn read_file(path: &Path) -> Result<Vec<Op>, HistoryError> {
    let file = std::fs::File::open(path).map_err(|source| HistoryError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(std::io::BufReader::new(file))
}

/// Merges histories by time (stable: one process's lines keep their order) and numbers
/// the result.
pub fn merge(parts: Vec<Vec<Op>>) -> Vec<Op> {
    let mut all: Vec<Op> = parts.into_iter().flatten().collect();
    all.sort_by_key(|op| op.time);
    for (i, op) in all.iter_mut().enumerate() {
        op.index = i as u64;
    }
    all
}

/// Writes a history as JSONL.
pub fn write_file(path: &Path, ops: &[Op]) -> Result<(), HistoryError> {
    let io = |source| HistoryError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    for op in ops {
        let line = serde_json::to_string(op).map_err(|e| io(std::io::Error::other(e)))?;
        writeln!(out, "{line}").map_err(io)?;
    }
    out.flush().map_err(io)
}

/// Collects the operations of the in-process workloads (shared by their tasks), stamping
/// each with the current time.
#[derive(Debug, Default)]
pub struct Recorder {
    ops: Mutex<Vec<Op>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Appends `op`, stamped now.
    pub fn record(&self, mut op: Op) {
        op.time = now_ns();
        let mut ops = self.ops.lock().unwrap_or_else(|e| e.into_inner());
        op.index = ops.len() as u64;
        ops.push(op);
    }

    /// Every operation recorded so far.
    pub fn snapshot(&self) -> Vec<Op> {
        self.ops.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Number of operations recorded so far.
    pub fn len(&self) -> usize {
        self.ops.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_round_trips_and_defaults_apply() {
        let mut op = Op::new("p1", OpType::Ok, OpFn::Send);
        op.sends.push(Record {
            topic: "t".into(),
            partition: Some(2),
            offset: Some(7),
            key: Some("k".into()),
            value: "v".into(),
            producer: Some((5, 1)),
        });
        op.idempotent = true;
        let line = serde_json::to_string(&op).expect("encode");
        assert!(line.contains("\"type\":\"ok\""), "{line}");
        assert!(line.contains("\"f\":\"send\""), "{line}");
        let back: Op = serde_json::from_str(&line).expect("decode");
        assert_eq!(back, op);
        let minimal: Op =
            serde_json::from_str(r#"{"process":"c","type":"invoke","f":"poll"}"#).expect("min");
        assert!(minimal.reads.is_empty() && !minimal.complete);
    }

    #[test]
    fn parse_reports_the_bad_line() {
        let text = "{\"process\":\"c\",\"type\":\"ok\",\"f\":\"poll\"}\n\nnot json\n";
        match parse(text.as_bytes()) {
            Err(HistoryError::Parse { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn a_killed_writers_cut_off_last_line_is_dropped() {
        let dir = vltava_testkit::temp_dir("history-cut").expect("dir");
        let path = dir.join("h.jsonl");
        let whole = "{\"process\":\"c\",\"type\":\"ok\",\"f\":\"poll\"}\n";
        std::fs::write(&path, format!("{whole}{whole}{{\"process\":\"c\",\"ty")).expect("write");
        assert!(read_file(&path).is_err(), "a cut line is malformed");
        assert_eq!(read_file_of_killed_writer(&path).expect("read").len(), 2);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn merge_orders_by_time_and_renumbers() {
        let mut a = Op::new("a", OpType::Invoke, OpFn::Send);
        a.time = 20;
        let mut b = Op::new("b", OpType::Invoke, OpFn::Send);
        b.time = 10;
        let merged = merge(vec![vec![a], vec![b]]);
        assert_eq!(merged[0].process, "b");
        assert_eq!(merged[1].index, 1);
    }
}
