//! The `vltava` binary: `storage format`, `storage random-uuid`, and
//! `server start` configured through a properties file, `KAFKA_*` environment
//! variables and `--override`, stopping cleanly on SIGTERM.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;

use vltava_testkit::broker_process::BrokerProcess;

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
    let props = dir.path().join("server.properties");
    // The file says port 1 (unusable); the launcher's listeners override wins.
    std::fs::write(
        &props,
        "listeners=PLAINTEXT://127.0.0.1:1\nnum.partitions=3\n",
    )
    .unwrap();
    // log.dirs comes from KAFKA_LOG_DIRS here, not from an override.
    let broker = BrokerProcess::builder()
        .bin(env!("CARGO_BIN_EXE_vltava"))
        .config_file(&props)
        .log_dirs_in_env()
        .start()
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = broker.addr().to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert!(
        !addr.ends_with(":1"),
        "the override wins over the file: {addr}"
    );
    assert!(
        broker.log_dir().join("meta.properties").exists(),
        "formatted on first start"
    );
    let status = broker
        .terminate(Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("broker did not stop on SIGTERM: {e}"));
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

#[test]
fn unknown_tool_arguments_fail() {
    let out = vltava().args(["no-such-tool"]).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn help_lists_every_tool_with_a_line_on_it() {
    let out = vltava().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for (name, about) in vltava_client::cli::TOOLS {
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with(name) && l.contains(about)),
            "{name} missing from --help:\n{text}"
        );
    }
}
