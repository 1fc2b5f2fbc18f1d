//! The confluent-kafka workload: `python/queue_workload.py` (and, for transactions,
//! `python/txn_workload.py`) run with the project's Python
//! environment ([`vltava_testkit::python`]) as a child process that writes its own JSONL
//! history; it stops when the harness creates its stop file.

use crate::history::{HistoryError, Op};
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
    #[error("the Python workload did not stop within {0:?} of its stop file (thread stacks: {1})")]
    Hung(Duration, String),
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

    /// Asks it to stop, waits (at most `limit`, then kills it) and reads its history.
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
                return Err(PythonError::Hung(limit, stacks));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if !status.success() {
            return Err(PythonError::Failed {
                status: status.to_string(),
                stderr: self.stderr.clone(),
            });
        }
        Ok(crate::history::read_file(&self.out)?)
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
