//! The real `vltava` broker binary as a child process, for tests that need a
//! whole broker: started on `127.0.0.1` with ephemeral ports and a fresh data
//! directory, ready once it accepts connections, killed (and its directory
//! removed) on drop.
//!
//! This crate never builds the binary and does not depend on the broker: the
//! caller names it (`env!("CARGO_BIN_EXE_vltava")` inside the broker crate) or
//! [`broker_bin`] finds it (`VLTAVA_BIN`, else `target/debug/vltava`, which
//! `cargo build -p vltava-broker` or `./test.sh` builds).
//!
//! ```no_run
//! use vltava_testkit::broker_process::BrokerProcess;
//! let broker = BrokerProcess::start().expect("vltava broker");
//! println!("bootstrap server {}", broker.addr());
//! ```

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a broker may take to print its address and accept a connection.
pub const STARTUP_LIMIT: Duration = Duration::from_secs(30);

/// The line `vltava server start` prints once its listener accepts connections.
const LISTENING_PREFIX: &str = "vltava: listening on ";

/// Why a broker process could not be started or stopped.
#[derive(Debug, thiserror::Error)]
pub enum BrokerProcessError {
    #[error(
        "broker binary {0} not found: run `cargo build -p vltava-broker` (./test.sh does) or set VLTAVA_BIN"
    )]
    MissingBinary(PathBuf),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("broker exited before it was ready ({status}); stderr:\n{stderr}")]
    ExitedEarly { status: ExitStatus, stderr: String },
    #[error("broker did not {0} within {1:?}")]
    Timeout(&'static str, Duration),
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BrokerProcessError {
    let what = what.into();
    move |source| BrokerProcessError::Io { what, source }
}

/// The broker binary: `VLTAVA_BIN`, else `<workspace>/target/debug/vltava`.
/// Errors when that file does not exist (a test then fails, it never skips).
pub fn broker_bin() -> Result<PathBuf, BrokerProcessError> {
    let path = std::env::var_os("VLTAVA_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target/debug/vltava"));
    if path.exists() {
        Ok(path)
    } else {
        Err(BrokerProcessError::MissingBinary(path))
    }
}

/// How to start a [`BrokerProcess`]; [`BrokerProcess::builder`] makes one.
#[derive(Debug, Default)]
pub struct BrokerProcessBuilder {
    bin: Option<PathBuf>,
    config_file: Option<PathBuf>,
    overrides: Vec<String>,
    env: Vec<(OsString, OsString)>,
    log_dirs_in_env: bool,
}

impl BrokerProcessBuilder {
    /// Runs this binary instead of [`broker_bin`]'s.
    pub fn bin(mut self, path: impl Into<PathBuf>) -> Self {
        self.bin = Some(path.into());
        self
    }

    /// Passes `--config <path>` (a `server.properties` file).
    pub fn config_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.config_file = Some(path.into());
        self
    }

    /// Adds `--override key=value` (after the listeners and log dirs).
    pub fn override_property(mut self, key_value: impl Into<String>) -> Self {
        self.overrides.push(key_value.into());
        self
    }

    /// Sets an environment variable of the broker process.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Gives the data directory as `KAFKA_LOG_DIRS` instead of `--override log.dirs=`.
    pub fn log_dirs_in_env(mut self) -> Self {
        self.log_dirs_in_env = true;
        self
    }

    /// Starts the broker and waits until it accepts connections (at most
    /// [`STARTUP_LIMIT`]).
    pub fn start(self) -> Result<BrokerProcess, BrokerProcessError> {
        let bin = match self.bin {
            Some(bin) if bin.exists() => bin,
            Some(bin) => return Err(BrokerProcessError::MissingBinary(bin)),
            None => broker_bin()?,
        };
        let temp_dir =
            crate::temp_dir("broker-process").map_err(io_error("creating a temp dir"))?;
        let log_dir = temp_dir.join("data");
        let stderr_path = temp_dir.join("stderr.log");
        let stderr = std::fs::File::create(&stderr_path)
            .map_err(io_error(format!("creating {}", stderr_path.display())))?;
        let mut cmd = Command::new(&bin);
        cmd.args(["server", "start"]);
        if let Some(config) = &self.config_file {
            cmd.arg("--config").arg(config);
        }
        cmd.args([
            "--override",
            "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
        ]);
        if self.log_dirs_in_env {
            cmd.env("KAFKA_LOG_DIRS", &log_dir);
        } else {
            cmd.arg("--override")
                .arg(format!("log.dirs={}", log_dir.display()));
        }
        for o in &self.overrides {
            cmd.arg("--override").arg(o);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::null()).stdout(Stdio::piped());
        let child = spawn_retrying_busy(&mut cmd, &stderr)
            .map_err(io_error(format!("spawning {}", bin.display())))?;
        let mut process = BrokerProcess {
            addr: String::new(),
            child,
            temp_dir,
            log_dir,
        };
        process.addr = process.wait_ready(&stderr_path)?;
        Ok(process)
    }
}

/// A running `vltava server start`; killed and its data removed on drop.
#[derive(Debug)]
pub struct BrokerProcess {
    addr: String,
    child: Child,
    temp_dir: PathBuf,
    log_dir: PathBuf,
}

impl BrokerProcess {
    /// Options for a broker other than the defaults.
    pub fn builder() -> BrokerProcessBuilder {
        BrokerProcessBuilder::default()
    }

    /// Starts [`broker_bin`] with a fresh data directory on ephemeral ports.
    pub fn start() -> Result<BrokerProcess, BrokerProcessError> {
        Self::builder().start()
    }

    /// The client listener's `host:port` (the bootstrap server).
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The broker's `log.dirs` directory.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// The broker's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `limit` for the exit; a broker still
    /// running then is killed and reported as a timeout.
    pub fn terminate(mut self, limit: Duration) -> Result<ExitStatus, BrokerProcessError> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(io_error("running kill -TERM"))?;
        if !sent.success() {
            return Err(BrokerProcessError::Io {
                what: "kill -TERM".into(),
                source: std::io::Error::other(format!("exited with {sent}")),
            });
        }
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(io_error("waiting for the broker"))?
            {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(BrokerProcessError::Timeout("stop on SIGTERM", limit));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Reads stdout until the listening line, then connects once to that address.
    fn wait_ready(&mut self, stderr_path: &Path) -> Result<String, BrokerProcessError> {
        let stdout = self
            .child
            .stdout
            .take()
            .ok_or_else(|| BrokerProcessError::Io {
                what: "taking the broker's stdout".into(),
                source: std::io::Error::other("no pipe"),
            })?;
        let (tx, rx) = mpsc::channel();
        // Keeps draining stdout for the broker's whole life, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(addr) = line.strip_prefix(LISTENING_PREFIX) {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let deadline = Instant::now() + STARTUP_LIMIT;
        let early_exit = |child: &mut Child| -> Result<(), BrokerProcessError> {
            match child
                .try_wait()
                .map_err(io_error("waiting for the broker"))?
            {
                Some(status) => Err(BrokerProcessError::ExitedEarly {
                    status,
                    stderr: std::fs::read_to_string(stderr_path).unwrap_or_default(),
                }),
                None => Ok(()),
            }
        };
        let addr = loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(addr) => break addr,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                // stdout closed without the line: the process is exiting.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(100))
                }
            }
            early_exit(&mut self.child)?;
            if Instant::now() > deadline {
                return Err(BrokerProcessError::Timeout(
                    "print its address",
                    STARTUP_LIMIT,
                ));
            }
        };
        loop {
            if TcpStream::connect(&addr).is_ok() {
                return Ok(addr);
            }
            early_exit(&mut self.child)?;
            if Instant::now() > deadline {
                return Err(BrokerProcessError::Timeout(
                    "accept a connection",
                    STARTUP_LIMIT,
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.temp_dir);
    }
}

/// Spawns `cmd` with stderr to `stderr`, retrying briefly on ETXTBSY: a binary just written
/// (a test's fake broker, a fresh build) can be "busy" while another thread's fork still
/// holds its write descriptor until that child execs.
fn spawn_retrying_busy(
    cmd: &mut Command,
    stderr: &std::fs::File,
) -> std::io::Result<std::process::Child> {
    const TEXT_FILE_BUSY: i32 = 26;
    let mut attempt = 0;
    loop {
        match cmd.stderr(stderr.try_clone()?).spawn() {
            Err(e) if e.raw_os_error() == Some(TEXT_FILE_BUSY) && attempt < 50 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A shell script standing in for the broker binary.
    fn fake_broker(body: &str) -> PathBuf {
        let dir = crate::temp_dir("fake-broker").unwrap();
        let path = dir.join("vltava");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn alive(pid: u32) -> bool {
        Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    #[test]
    fn a_missing_binary_is_an_error() {
        let err = BrokerProcess::builder()
            .bin("/nonexistent/vltava")
            .start()
            .unwrap_err();
        assert!(matches!(err, BrokerProcessError::MissingBinary(_)), "{err}");
    }

    #[test]
    fn an_exit_before_ready_is_reported_with_stderr() {
        let bin = fake_broker("echo 'bad config' >&2; exit 3");
        let err = BrokerProcess::builder().bin(bin).start().unwrap_err();
        match err {
            BrokerProcessError::ExitedEarly { status, stderr } => {
                assert_eq!(status.code(), Some(3));
                assert!(stderr.contains("bad config"), "{stderr}");
            }
            other => panic!("expected ExitedEarly, got {other}"),
        }
    }

    #[test]
    fn ready_when_the_printed_address_accepts_then_stops_on_sigterm() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let bin = fake_broker(
            "echo \"$@\" > \"$ARGS_FILE\"; trap 'exit 0' TERM; \
             echo \"vltava: listening on $FAKE_ADDR\"; while true; do sleep 0.05; done",
        );
        let args_file = bin.with_file_name("args");
        let broker = BrokerProcess::builder()
            .bin(&bin)
            .override_property("num.partitions=3")
            .env("FAKE_ADDR", &addr)
            .env("ARGS_FILE", &args_file)
            .start()
            .unwrap();
        assert_eq!(broker.addr(), addr);
        let args = std::fs::read_to_string(&args_file).unwrap();
        assert_eq!(
            args.trim_end(),
            format!(
                "server start --override listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0 \
                 --override log.dirs={} --override num.partitions=3",
                broker.log_dir().display()
            )
        );
        let status = broker.terminate(Duration::from_secs(10)).unwrap();
        assert!(status.success(), "{status}");
    }

    #[test]
    fn drop_kills_the_process_and_removes_its_directory() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let bin = fake_broker(
            "echo \"KAFKA_LOG_DIRS=$KAFKA_LOG_DIRS\" > \"$ARGS_FILE\"; \
             echo \"vltava: listening on $FAKE_ADDR\"; while true; do sleep 0.05; done",
        );
        let args_file = bin.with_file_name("args");
        let broker = BrokerProcess::builder()
            .bin(&bin)
            .log_dirs_in_env()
            .env("FAKE_ADDR", listener.local_addr().unwrap().to_string())
            .env("ARGS_FILE", &args_file)
            .start()
            .unwrap();
        let env = std::fs::read_to_string(&args_file).unwrap();
        assert_eq!(
            env.trim_end(),
            format!("KAFKA_LOG_DIRS={}", broker.log_dir().display())
        );
        let pid = broker.pid();
        let dir = broker.log_dir().parent().unwrap().to_path_buf();
        assert!(alive(pid));
        drop(broker);
        assert!(!alive(pid), "killed and reaped on drop");
        assert!(!dir.exists(), "temp dir removed");
    }
}
