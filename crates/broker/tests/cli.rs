//! The `vltava` binary: `storage format`, `storage random-uuid`, and
//! `server start` configured through a properties file, `KAFKA_*` environment
//! variables and `--override`, stopping cleanly on SIGTERM.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn vltava() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vltava"))
}

#[test]
fn storage_format_writes_meta_properties_once() {
    let dir = tempfile::tempdir().unwrap();
    let id = String::from_utf8(
        vltava()
            .args(["storage", "random-uuid"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    assert_eq!(id.len(), 22);
    let logs = dir.path().join("logs");
    let props = dir.path().join("server.properties");
    std::fs::write(&props, format!("node.id=4\nlog.dirs={}\n", logs.display())).unwrap();
    let run = || {
        vltava()
            .args(["storage", "format", "--cluster-id", &id, "--config"])
            .arg(&props)
            .output()
            .unwrap()
    };
    let first = run();
    assert!(first.status.success(), "{first:?}");
    let meta = std::fs::read_to_string(logs.join("meta.properties")).unwrap();
    assert!(meta.contains(&format!("cluster.id={id}")), "{meta}");
    assert!(meta.contains("node.id=4"), "{meta}");
    let second = run();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already formatted"));
}

#[test]
fn server_start_takes_env_and_overrides_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("data");
    let props = dir.path().join("server.properties");
    // The file says port 1 (unusable); the override wins.
    std::fs::write(
        &props,
        "listeners=PLAINTEXT://127.0.0.1:1\nnum.partitions=3\n",
    )
    .unwrap();
    let mut child = vltava()
        .args(["server", "start", "--config"])
        .arg(&props)
        .args([
            "--override",
            "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
        ])
        .env("KAFKA_LOG_DIRS", &logs)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("vltava: listening on 127.0.0.1:"),
        "{line}"
    );
    assert!(
        !line.trim_end().ends_with(":1"),
        "the override wins over the file: {line}"
    );
    assert!(
        logs.join("meta.properties").exists(),
        "formatted on first start"
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "clean exit on SIGTERM: {s:?}");
            break;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("broker did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn unknown_tool_arguments_fail() {
    let out = vltava().args(["no-such-tool"]).output().unwrap();
    assert!(!out.status.success());
}
