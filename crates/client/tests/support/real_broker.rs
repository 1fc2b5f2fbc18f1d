//! Starts the real `vltava` broker binary ($VLTAVA_BIN, else
//! target/debug/vltava: `cargo build -p vltava-broker` or ./test.sh builds it)
//! on an ephemeral port with a fresh data directory; killed on drop. A missing
//! binary fails the test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RealBroker {
    pub addr: String,
    child: Child,
    pub data_dir: PathBuf,
}

impl Drop for RealBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn broker_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("VLTAVA_BIN") {
        return PathBuf::from(p);
    }
    let p = vltava_testkit::workspace_root().join("target/debug/vltava");
    assert!(
        p.exists(),
        "broker binary {} not found: run `cargo build -p vltava-broker` (./test.sh does) or set VLTAVA_BIN",
        p.display()
    );
    p
}

impl RealBroker {
    pub fn start() -> RealBroker {
        Self::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> RealBroker {
        let data_dir = vltava_testkit::temp_dir("client-broker").expect("temp dir");
        let mut cmd = Command::new(broker_bin());
        cmd.args([
            "server",
            "start",
            "--override",
            "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
        ])
        .arg("--override")
        .arg(format!("log.dirs={}", data_dir.join("data").display()));
        for e in extra {
            cmd.arg("--override").arg(e);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn broker");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if let Some(addr) = line.strip_prefix("vltava: listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            if let Ok(a) = rx.recv_timeout(Duration::from_millis(100)) {
                break a;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("broker exited early: {status}");
            }
            assert!(Instant::now() < deadline, "broker did not start in 30 s");
        };
        RealBroker {
            addr,
            child,
            data_dir,
        }
    }
}
