//! The confluent-kafka workload: `python/queue_workload.py` (and, for transactions,
//! `python/txn_workload.py`) run with the project's Python
//! environment ([`vltava_testkit::python`]) as a child process whose supervisor and client
//! processes write their own JSONL histories (`python-history.jsonl` and
//! `python-history-<process>.jsonl`); it stops when the harness creates its stop file.

use crate::history::{HistoryError, Op, OpFn, OpType};

/// The process name of the workload as a whole, in the `stall` op of a killed workload.
pub const WORKLOAD_PROCESS: &str = "python-workload";
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why the Python workload could not run.
#[derive(Debug, thiserror::Error)]
pub enum PythonError {
    #[error("{0}")]
    NoPython(String),
    #[error("starting {python}: {source}")]
    Spawn {
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("waiting for the Python workload: {0}")]
    Wait(#[source] std::io::Error),
    #[error("the Python workload failed ({status}); see {stderr}")]
    Failed { status: String, stderr: PathBuf },
    #[error("its history: {0}")]
    History(#[from] HistoryError),
}

/// The script, next to this crate's sources.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/queue_workload.py")
}

/// A running Python workload.
#[derive(Debug)]
pub struct PythonWorkload {
    child: Child,
    out: PathBuf,
    stop_file: PathBuf,
    stderr: PathBuf,
}

impl PythonWorkload {
    /// Starts the script against `bootstrap`, writing into `dir`; it gives up by itself
    /// after `max` in any case.
    pub fn start(
        dir: &Path,
        bootstrap: &str,
        topic: &str,
        partitions: i32,
        max: Duration,
        consumer: bool,
        txn: bool,
    ) -> Result<PythonWorkload, PythonError> {
        let python = vltava_testkit::python().map_err(PythonError::NoPython)?;
        let out = dir.join("python-history.jsonl");
        let stop_file = dir.join("python-stop");
        let stderr = dir.join("python-stderr.log");
        let err_file = std::fs::File::create(&stderr).map_err(|source| PythonError::Spawn {
            python: python.clone(),
            source,
        })?;
        let mut command = Command::new(&python);
        command.arg(script());
        if !consumer {
            command.arg("--no-consumer");
        }
        if txn {
            command.arg("--txn");
        }
        let child = command
            .args(["--bootstrap", bootstrap, "--topic", topic])
            .args(["--partitions", &partitions.to_string()])
            .args(["--group", "py-group"])
            .arg("--out")
            .arg(&out)
            .arg("--stop-file")
            .arg(&stop_file)
            .args(["--max-seconds", &max.as_secs().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file)
            .spawn()
            .map_err(|source| PythonError::Spawn { python, source })?;
        Ok(PythonWorkload {
            child,
            out,
            stop_file,
            stderr,
        })
    }

    /// Asks it to stop, waits (at most `limit`) and reads its history. A workload that does
    /// not stop in time is stuck as a whole (a client call that holds Python's GIL while it
    /// waits inside a deadlocked librdkafka freezes every thread, the watchdog's too): its
    /// stacks are written, it is killed like a crashed client, and what it recorded is kept,
    /// with a `stall` op saying so; its open operations stay unknown.
    pub fn finish(mut self, limit: Duration) -> Result<Vec<Op>, PythonError> {
        let _ = std::fs::write(&self.stop_file, b"stop");
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().map_err(PythonError::Wait)? {
                break status;
            }
            if Instant::now() > deadline {
                let stacks = self.dump_stacks();
                let _ = self.child.kill();
                let _ = self.child.wait();
                let mut ops = self.histories()?;
                let mut stall = Op::new(WORKLOAD_PROCESS, OpType::Info, OpFn::Stall);
                stall.time = crate::history::now_ns();
                stall.error = Some(format!(
                    "the whole confluent-kafka workload did not stop within {limit:?} of its \
                     stop file and was killed (its last recorded operation at {}); stacks: \
                     {stacks}",
                    ops.iter().map(|o| o.time).max().unwrap_or(0)
                ));
                ops.push(stall);
                return Ok(ops);
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if !status.success() {
            return Err(PythonError::Failed {
                status: status.to_string(),
                stderr: self.stderr.clone(),
            });
        }
        self.histories()
    }

    /// The supervisor's history (`out`) and every client process's beside it
    /// (`python-history-<process>.jsonl`); a client killed mid-write may have left its last
    /// line cut off, which is dropped.
    fn histories(&self) -> Result<Vec<Op>, PythonError> {
        let mut ops = crate::history::read_file_of_killed_writer(&self.out)?;
        let dir = self.out.parent().unwrap_or(Path::new("."));
        let entries = std::fs::read_dir(dir).map_err(PythonError::Wait)?;
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("python-history-") && n.ends_with(".jsonl"))
            })
            .collect();
        paths.sort();
        for path in paths {
            ops.extend(crate::history::read_file_of_killed_writer(&path)?);
        }
        Ok(ops)
    }
}

impl PythonWorkload {
    /// Writes every thread's stack of the hung process (gdb, bounded by `timeout`) next to
    /// its history, for telling a client library's deadlock from a broker that stopped
    /// answering; returns where, or why not.
    fn dump_stacks(&self) -> String {
        let path = self.out.with_file_name("python-stacks.txt");
        let Ok(file) = std::fs::File::create(&path) else {
            return format!("cannot create {}", path.display());
        };
        let status = Command::new("timeout")
            .args(["60", "gdb", "-p", &self.child.id().to_string(), "-batch"])
            .args(["-ex", "thread apply all bt"])
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => path.display().to_string(),
            Ok(s) => format!("gdb {s}; see {}", path.display()),
            Err(e) => format!("no gdb ({e})"),
        }
    }
}

impl Drop for PythonWorkload {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A workload that ignores its stop file is killed, and what it wrote (whole lines)
    /// comes back with a `stall` op.
    #[test]
    fn a_workload_that_does_not_stop_is_killed_and_its_history_kept() {
        let dir = vltava_testkit::temp_dir("python-hung").expect("dir");
        let out = dir.join("python-history.jsonl");
        let child = Command::new("sh")
            .arg("-c")
            .arg(
                "printf '{\"process\":\"c\",\"type\":\"ok\",\"f\":\"poll\",\"time\":5}\\n{\"process\":' \
                 > \"$0\"; exec sleep 600",
            )
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh");
        std::thread::sleep(Duration::from_millis(300));
        let w = PythonWorkload {
            child,
            out: out.clone(),
            stop_file: dir.join("python-stop"),
            stderr: dir.join("python-stderr.log"),
        };
        let ops = w.finish(Duration::from_millis(500)).expect("kept history");
        assert_eq!(ops.len(), 2, "{ops:?}");
        assert_eq!(ops[0].process, "c");
        assert_eq!(ops[1].f, OpFn::Stall);
        assert_eq!(ops[1].process, WORKLOAD_PROCESS);
        assert!(
            ops[1]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("last recorded operation at 5")),
            "{ops:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
