//! The `vltava` tools (`vltava_client::cli`) run against the real broker
//! (and `configs --describe` against the test double, see below); checks
//! their output.

#![allow(clippy::unwrap_used)]

use crate::support::real_broker;

async fn tool(args: &[&str]) -> (i32, String) {
    tool_with_input(args, "").await
}

async fn tool_with_input(args: &[&str], input: &str) -> (i32, String) {
    let mut out = Vec::new();
    let mut inp = std::io::Cursor::new(input.as_bytes().to_vec());
    let code = vltava_client::cli::run_with_input(
        args.iter().map(|s| s.to_string()).collect(),
        &mut inp,
        &mut out,
    )
    .await
    .unwrap();
    (code, String::from_utf8(out).unwrap())
}

fn ok((code, out): (i32, String)) -> String {
    assert_eq!(code, 0, "tool failed: {out}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_tool() {
    let b = real_broker();
    let bs = b.addr();
    let out = ok(tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--create",
        "--topic",
        "t1",
        "--partitions",
        "3",
        "--replication-factor",
        "1",
        "--config",
        "retention.ms=1000",
    ])
    .await);
    assert_eq!(out.trim(), "Created topic t1.");
    ok(tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--create",
        "--topic",
        "t2",
        "--partitions",
        "1",
    ])
    .await);
    let (code, out) = tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--create",
        "--topic",
        "t2",
    ])
    .await;
    assert_eq!(code, 1);
    assert!(out.contains("TOPIC_ALREADY_EXISTS"), "{out}");
    let out = ok(tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--list",
        "--exclude-internal",
    ])
    .await);
    assert_eq!(out.lines().collect::<Vec<_>>(), vec!["t1", "t2"]);
    ok(tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--alter",
        "--topic",
        "t2",
        "--partitions",
        "4",
    ])
    .await);
    let out = ok(tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--describe",
        "--topic",
        "t2",
    ])
    .await);
    assert!(out.starts_with("Topic: t2\tTopicId: "), "{out}");
    assert!(
        out.contains("PartitionCount: 4\tReplicationFactor: 1"),
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("\tTopic: t2\tPartition: "))
            .count(),
        4
    );
    assert!(
        out.contains("\tTopic: t2\tPartition: 3\tLeader: 1\tReplicas: 1\tIsr: 1"),
        "{out}"
    );
    ok(tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--delete",
        "--topic",
        "t1",
    ])
    .await);
    let out = ok(tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--list",
        "--exclude-internal",
    ])
    .await);
    assert_eq!(out.trim(), "t2");
    let (code, out) = tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--describe",
        "--topic",
        "nope",
    ])
    .await;
    assert_eq!(code, 1, "{out}");
    // As Kafka's tool: no --delete (or --alter) without --topic, and nothing deleted.
    let (code, out) = tool(&["topics", "--bootstrap-server", bs, "--delete"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("need --topic"), "{out}");
    let out = ok(tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--list",
        "--exclude-internal",
    ])
    .await);
    assert_eq!(out.trim(), "t2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_tools_and_consumer_groups() {
    let b = real_broker();
    let bs = b.addr();
    ok(tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--create",
        "--topic",
        "c",
        "--partitions",
        "2",
    ])
    .await);
    let input: String = (0..10).map(|i| format!("k{i}:v{i}\n")).collect();
    ok(tool_with_input(
        &[
            "console-producer",
            "--bootstrap-server",
            bs,
            "--topic",
            "c",
            "--property",
            "parse.key=true",
            "--property",
            "key.separator=:",
        ],
        &input,
    )
    .await);
    let out = ok(tool(&[
        "console-consumer",
        "--bootstrap-server",
        bs,
        "--topic",
        "c",
        "--from-beginning",
        "--group",
        "cg",
        "--property",
        "print.key=true",
        "--property",
        "key.separator=|",
        "--max-messages",
        "10",
    ])
    .await);
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    let mut want: Vec<String> = (0..10).map(|i| format!("k{i}|v{i}")).collect();
    want.sort();
    assert_eq!(lines, want);

    let out = ok(tool(&["consumer-groups", "--bootstrap-server", bs, "--list"]).await);
    assert!(out.lines().any(|l| l == "cg"), "{out}");
    let out = ok(tool(&[
        "consumer-groups",
        "--bootstrap-server",
        bs,
        "--describe",
        "--group",
        "cg",
    ])
    .await);
    let header = out.lines().find(|l| l.starts_with("GROUP")).unwrap();
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        cols,
        vec![
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID"
        ]
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("cg "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    let total: i64 = rows.iter().map(|r| r[3].parse::<i64>().unwrap()).sum();
    assert_eq!(total, 10);
    assert!(rows.iter().all(|r| r[5] == "0"), "no lag: {out}");

    // Reset: dry run changes nothing, execute does.
    let out = ok(tool(&[
        "consumer-groups",
        "--bootstrap-server",
        bs,
        "--reset-offsets",
        "--group",
        "cg",
        "--topic",
        "c",
        "--to-earliest",
        "--dry-run",
    ])
    .await);
    assert!(out.contains("NEW-OFFSET"));
    let out = ok(tool(&[
        "consumer-groups",
        "--bootstrap-server",
        bs,
        "--describe",
        "--group",
        "cg",
    ])
    .await);
    assert!(
        out.lines()
            .filter(|l| l.starts_with("cg "))
            .all(|l| l.split_whitespace().nth(5) == Some("0"))
    );
    ok(tool(&[
        "consumer-groups",
        "--bootstrap-server",
        bs,
        "--reset-offsets",
        "--group",
        "cg",
        "--topic",
        "c",
        "--to-earliest",
        "--execute",
    ])
    .await);
    let out = ok(tool(&[
        "consumer-groups",
        "--bootstrap-server",
        bs,
        "--describe",
        "--group",
        "cg",
    ])
    .await);
    let lag: i64 = out
        .lines()
        .filter(|l| l.starts_with("cg "))
        .map(|l| l.split_whitespace().nth(5).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(lag, 10);
    let out = ok(tool(&[
        "consumer-groups",
        "--bootstrap-server",
        bs,
        "--reset-offsets",
        "--group",
        "cg",
        "--topic",
        "c:0",
        "--shift-by",
        "2",
        "--execute",
    ])
    .await);
    let row = out.lines().find(|l| l.starts_with("cg ")).unwrap();
    assert_eq!(row.split_whitespace().nth(3), Some("2"));
    let out = ok(tool(&[
        "consumer-groups",
        "--bootstrap-server",
        bs,
        "--reset-offsets",
        "--group",
        "cg",
        "--topic",
        "c",
        "--to-offset",
        "1",
        "--execute",
    ])
    .await);
    assert!(
        out.lines()
            .filter(|l| l.starts_with("cg "))
            .all(|l| l.ends_with(" 1"))
    );
    let out = ok(tool(&[
        "consumer-groups",
        "--bootstrap-server",
        bs,
        "--reset-offsets",
        "--group",
        "cg",
        "--all-topics",
        "--to-datetime",
        "2100-01-01T00:00:00.000",
        "--execute",
    ])
    .await);
    let sum: i64 = out
        .lines()
        .filter(|l| l.starts_with("cg "))
        .map(|l| l.split_whitespace().nth(3).unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(sum, 10, "a future time resets to the end: {out}");
    let out = ok(tool(&[
        "consumer-groups",
        "--bootstrap-server",
        bs,
        "--delete",
        "--group",
        "cg",
    ])
    .await);
    assert!(out.contains("successful"));
    let out = ok(tool(&["consumer-groups", "--bootstrap-server", bs, "--list"]).await);
    assert!(!out.lines().any(|l| l == "cg"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_records_versions_and_configs_alter() {
    let b = real_broker();
    let bs = b.addr();
    ok(tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--create",
        "--topic",
        "o",
        "--partitions",
        "2",
    ])
    .await);
    let input: String = (0..6).map(|i| format!("v{i}\n")).collect();
    ok(tool_with_input(
        &[
            "console-producer",
            "--bootstrap-server",
            bs,
            "--topic",
            "o",
            "--producer-property",
            "partitioner.class=org.apache.kafka.clients.producer.RoundRobinPartitioner",
        ],
        &input,
    )
    .await);
    let out = ok(tool(&["get-offsets", "--bootstrap-server", bs, "--topic", "o"]).await);
    assert_eq!(out.lines().collect::<Vec<_>>(), vec!["o:0:3", "o:1:3"]);
    let dir = vltava_testkit::temp_dir("cli-delete").unwrap();
    let file = dir.join("offsets.json");
    std::fs::write(
        &file,
        r#"{"partitions":[{"topic":"o","partition":0,"offset":2}],"version":1}"#,
    )
    .unwrap();
    let out = ok(tool(&[
        "delete-records",
        "--bootstrap-server",
        bs,
        "--offset-json-file",
        file.to_str().unwrap(),
    ])
    .await);
    assert!(out.contains("partition: o-0\tlow_watermark: 2"), "{out}");
    let out = ok(tool(&[
        "get-offsets",
        "--bootstrap-server",
        bs,
        "--topic",
        "o",
        "--time",
        "-2",
    ])
    .await);
    assert_eq!(out.lines().collect::<Vec<_>>(), vec!["o:0:2", "o:1:0"]);
    let out = ok(tool(&["api-versions", "--bootstrap-server", bs]).await);
    assert!(out.contains("(id: 1 rack: null) -> ("), "{out}");
    assert!(
        out.contains("\tProduce(0): 3 to ") || out.contains("\tProduce(0): 0 to "),
        "{out}"
    );
    assert!(out.contains("[usable: "));
    let out = ok(tool(&[
        "configs",
        "--bootstrap-server",
        bs,
        "--entity-type",
        "topics",
        "--entity-name",
        "o",
        "--alter",
        "--add-config",
        "retention.ms=5000,cleanup.policy=compact",
    ])
    .await);
    assert_eq!(out.trim(), "Completed updating config for topic o.");
    let out = ok(tool(&[
        "configs",
        "--bootstrap-server",
        bs,
        "--entity-type",
        "topics",
        "--entity-name",
        "o",
        "--describe",
    ])
    .await);
    assert!(
        out.starts_with("Dynamic configs for topic o are:\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "  retention.ms=5000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=5000}\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("  cleanup.policy=compact sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact, DEFAULT_CONFIG:log.cleanup.policy=delete}\n"),
        "{out}"
    );
    ok(tool(&[
        "configs",
        "--bootstrap-server",
        bs,
        "--entity-type",
        "topics",
        "--entity-name",
        "o",
        "--alter",
        "--delete-config",
        "cleanup.policy",
    ])
    .await);
    let out = ok(tool(&[
        "configs",
        "--bootstrap-server",
        bs,
        "--entity-type",
        "topics",
        "--entity-name",
        "o",
        "--describe",
    ])
    .await);
    assert!(!out.contains("cleanup.policy"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verifiable_and_perf_tools() {
    let b = real_broker();
    let bs = b.addr();
    ok(tool(&[
        "topics",
        "--bootstrap-server",
        bs,
        "--create",
        "--topic",
        "v",
        "--partitions",
        "2",
    ])
    .await);
    let out = ok(tool(&[
        "verifiable-producer",
        "--bootstrap-server",
        bs,
        "--topic",
        "v",
        "--max-messages",
        "25",
    ])
    .await);
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["name"], "startup_complete");
    assert_eq!(
        events
            .iter()
            .filter(|e| e["name"] == "producer_send_success")
            .count(),
        25
    );
    let last = events.last().unwrap();
    assert_eq!(
        (last["name"].as_str(), last["acked"].as_i64()),
        (Some("tool_data"), Some(25))
    );
    let out = ok(tool(&[
        "verifiable-consumer",
        "--bootstrap-server",
        bs,
        "--topic",
        "v",
        "--group-id",
        "vg",
        "--max-messages",
        "25",
    ])
    .await);
    let events: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let consumed: i64 = events
        .iter()
        .filter(|e| e["name"] == "records_consumed")
        .map(|e| e["count"].as_i64().unwrap())
        .sum();
    assert_eq!(consumed, 25);
    assert!(events.iter().any(|e| e["name"] == "partitions_assigned"));
    assert!(
        events
            .iter()
            .filter(|e| e["name"] == "offsets_committed")
            .all(|e| e["success"] == true)
    );
    assert_eq!(events.last().unwrap()["name"], "shutdown_complete");

    let props = format!("bootstrap.servers={bs}");
    let out = ok(tool(&[
        "producer-perf-test",
        "--topic",
        "v",
        "--num-records",
        "3000",
        "--record-size",
        "100",
        "--throughput",
        "-1",
        "--producer-props",
        &props,
        "acks=1",
        "compression.type=lz4",
        "--reporting-interval",
        "100",
    ])
    .await);
    // Kafka's final line: `N records sent, X records/sec (Y MB/sec), A ms avg latency,
    // M ms max latency, p50 ms 50th, p95 ms 95th, p99 ms 99th, p999 ms 99.9th.`
    let last = out.lines().last().unwrap();
    let rest = last.strip_prefix("3000 records sent, ").expect(&out);
    let rest = rest.strip_suffix(" ms 99.9th.").expect(&out);
    let parts: Vec<&str> = rest.split(", ").collect();
    assert_eq!(parts.len(), 7, "{out}");
    let (rate, mb) = parts[0].split_once(" records/sec (").expect(&out);
    // Java's `%f`: six decimals.
    assert_eq!(rate.split_once('.').map(|(_, d)| d.len()), Some(6), "{out}");
    let rate: f64 = rate.parse().expect(&out);
    let mb: f64 = mb
        .strip_suffix(" MB/sec)")
        .expect(&out)
        .parse()
        .expect(&out);
    assert!(
        (rate * 100.0 / 1048576.0 - mb).abs() < 0.01 + mb * 0.01,
        "{out}"
    );
    let avg: f64 = parts[1]
        .strip_suffix(" ms avg latency")
        .expect(&out)
        .parse()
        .expect(&out);
    let max: f64 = parts[2]
        .strip_suffix(" ms max latency")
        .expect(&out)
        .parse()
        .expect(&out);
    let pct: Vec<u32> = [(3, " ms 50th"), (4, " ms 95th"), (5, " ms 99th"), (6, "")]
        .iter()
        .map(|(i, suffix)| {
            parts[*i]
                .strip_suffix(suffix)
                .expect(&out)
                .parse()
                .expect(&out)
        })
        .collect();
    assert!(avg <= max && pct.windows(2).all(|w| w[0] <= w[1]), "{out}");
    assert!(f64::from(pct[3]) <= max, "{out}");
    // Progress lines (every 100 ms here) carry the window's latencies, as Kafka's do.
    for line in out.lines().filter(|l| !l.contains("99.9th")) {
        assert!(
            line.ends_with(" ms max latency.") && line.contains(" ms avg latency, "),
            "{out}"
        );
    }
    let out = ok(tool(&[
        "consumer-perf-test",
        "--bootstrap-server",
        bs,
        "--topic",
        "v",
        "--messages",
        "3025",
        "--show-detailed-stats",
        "--reporting-interval",
        "100",
    ])
    .await);
    assert!(
        out.starts_with(
            "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, \
             rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec"
        ),
        "{out}"
    );
    let fields: Vec<&str> = out.lines().last().unwrap().split(", ").collect();
    assert_eq!(fields.len(), 10, "{out}");
    assert_eq!(fields[4], "3025", "{out}");
    // Fetch-only rates exclude the join, so they are at least the overall rate.
    let overall: f64 = fields[5].parse().unwrap();
    let fetch: f64 = fields[9].parse().unwrap();
    assert!(fetch >= overall, "{out}");
}

/// `configs` output checked exactly through the test double.
#[tokio::test]
async fn configs_describe_against_the_test_double() {
    let fake = crate::support::fake_kafka::FakeKafka::start().await;
    fake.create_topic("f", 1);
    let bs = fake.addr.as_str();
    ok(tool(&[
        "configs",
        "--bootstrap-server",
        bs,
        "--entity-type",
        "topics",
        "--entity-name",
        "f",
        "--alter",
        "--add-config",
        "retention.ms=7,segment.ms=[1,2]",
    ])
    .await);
    let out = ok(tool(&[
        "configs",
        "--bootstrap-server",
        bs,
        "--entity-type",
        "topics",
        "--entity-name",
        "f",
        "--describe",
    ])
    .await);
    assert_eq!(
        out,
        "Dynamic configs for topic f are:\n  retention.ms=7 sensitive=false synonyms={}\n  segment.ms=1,2 sensitive=false synonyms={}\n"
    );
    ok(tool(&[
        "configs",
        "--bootstrap-server",
        bs,
        "--entity-type",
        "topics",
        "--entity-name",
        "f",
        "--alter",
        "--delete-config",
        "segment.ms",
    ])
    .await);
    let out = ok(tool(&[
        "configs",
        "--bootstrap-server",
        bs,
        "--entity-type",
        "topics",
        "--entity-name",
        "f",
        "--describe",
    ])
    .await);
    assert_eq!(
        out,
        "Dynamic configs for topic f are:\n  retention.ms=7 sensitive=false synonyms={}\n"
    );
    let (code, out) = tool(&[
        "configs",
        "--bootstrap-server",
        bs,
        "--entity-type",
        "users",
        "--describe",
    ])
    .await;
    assert_eq!(code, 1, "{out}");
    let (code, _) = tool(&["no-such-tool"]).await;
    assert_eq!(code, 2);
}

/// The same tools through the `vltava` binary, reading standard input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_through_the_vltava_binary() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let b = real_broker();
    let bin = vltava_testkit::broker_process::broker_bin().unwrap_or_else(|e| panic!("{e}"));
    let run = |args: &[&str], input: &str| {
        let mut child = Command::new(&bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let bs = b.addr();
    let out = run(
        &[
            "topics",
            "--bootstrap-server",
            bs,
            "--create",
            "--topic",
            "bin",
            "--partitions",
            "1",
        ],
        "",
    );
    assert_eq!(out.trim(), "Created topic bin.");
    run(
        &[
            "console-producer",
            "--bootstrap-server",
            bs,
            "--topic",
            "bin",
        ],
        "first\nsecond\n",
    );
    let out = run(
        &[
            "console-consumer",
            "--bootstrap-server",
            bs,
            "--topic",
            "bin",
            "--from-beginning",
            "--max-messages",
            "2",
        ],
        "",
    );
    assert_eq!(out, "first\nsecond\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_quorum_tool_describes_the_single_voter() {
    let b = real_broker();
    let bs = b.addr();
    let status = ok(tool(&[
        "metadata-quorum",
        "--bootstrap-server",
        bs,
        "describe",
        "--status",
    ])
    .await);
    let field = |name: &str| -> String {
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name} in {status}"))
            .trim()
            .to_string()
    };
    assert!(!field("ClusterId").is_empty(), "{status}");
    assert_eq!(field("LeaderId"), "1", "{status}");
    assert!(field("LeaderEpoch").parse::<i32>().unwrap() >= 1);
    let hwm: i64 = field("HighWatermark").parse().unwrap();
    assert!(hwm >= 2, "{status}");
    assert_eq!(field("MaxFollowerLag"), "0");
    assert_eq!(field("MaxFollowerLagTimeMs"), "0");
    assert!(
        field("CurrentVoters").starts_with("[{\"id\": 1, \"endpoints\": [\"CONTROLLER://"),
        "{status}"
    );
    assert_eq!(field("CurrentObservers"), "[]");

    let table = ok(tool(&[
        "metadata-quorum",
        "--bootstrap-server",
        bs,
        "describe",
        "--replication",
    ])
    .await);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        [
            "NodeId",
            "LogEndOffset",
            "Lag",
            "LastFetchTimestamp",
            "LastCaughtUpTimestamp",
            "Status"
        ]
    );
    assert_eq!(rows.len(), 2, "{table}");
    assert_eq!((rows[1][0], rows[1][2], rows[1][5]), ("1", "0", "Leader"));
    assert!(rows[1][1].parse::<i64>().unwrap() >= hwm);

    // Neither --status nor --replication: a usage error, like Kafka's tool.
    let (code, out) = tool(&["metadata-quorum", "--bootstrap-server", bs, "describe"]).await;
    assert_eq!(code, 2, "{out}");
}

/// `configs` for users: SCRAM credentials set, described and deleted as kafka-configs
/// does it, errors included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_users_scram_credentials() {
    let b = real_broker();
    let bs = b.addr();
    let users = |rest: &[&str]| {
        let mut v = vec![
            "configs",
            "--bootstrap-server",
            bs,
            "--entity-type",
            "users",
        ];
        v.extend_from_slice(rest);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| async move {
        let mut out = Vec::new();
        let mut inp = std::io::Cursor::new(Vec::new());
        let r = vltava_client::cli::run_with_input(args, &mut inp, &mut out).await;
        (r, String::from_utf8(out).unwrap())
    };
    let ok_run = |args: Vec<String>| async move {
        let (r, out) = run(args).await;
        assert_eq!(r.unwrap(), 0, "{out}");
        out
    };
    let out = ok_run(users(&[
        "--alter",
        "--add-config",
        "SCRAM-SHA-256=[iterations=8192,password=alice-secret],SCRAM-SHA-512=[password=alice-secret]",
        "--entity-name",
        "alice",
    ]))
    .await;
    assert_eq!(out, "Completed updating config for user alice.\n");
    // --user names the entity by itself, as kafka-configs takes it.
    ok_run(
        [
            "configs",
            "--bootstrap-server",
            bs,
            "--alter",
            "--add-config",
            "SCRAM-SHA-512=[password=b]",
            "--user",
            "bob",
        ]
        .into_iter()
        .map(String::from)
        .collect(),
    )
    .await;
    let (r, out) = run(users(&["--describe", "--user", "bob"])).await;
    assert_eq!(r.unwrap(), 1, "{out}");
    assert_eq!(out, "Error: Duplicate entity type(s) specified: users\n");
    let out = ok_run(users(&["--describe", "--entity-name", "alice"])).await;
    assert_eq!(
        out,
        "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096\n"
    );
    let out = ok_run(users(&["--describe"])).await;
    assert_eq!(
        out,
        "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192, SCRAM-SHA-512=iterations=4096\n\
         SCRAM credential configs for user-principal 'bob' are SCRAM-SHA-512=iterations=4096\n"
    );
    let out = ok_run(users(&[
        "--alter",
        "--delete-config",
        "SCRAM-SHA-512",
        "--entity-name",
        "alice",
    ]))
    .await;
    assert_eq!(out, "Completed updating config for user alice.\n");
    let out = ok_run(users(&["--describe", "--entity-name", "alice"])).await;
    assert_eq!(
        out,
        "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-256=iterations=8192\n"
    );
    // A user without credentials prints nothing, as kafka-configs.
    assert_eq!(
        ok_run(users(&["--describe", "--entity-name", "carol"])).await,
        ""
    );

    let failed = |(r, out): (anyhow::Result<i32>, String)| {
        assert_eq!(r.unwrap(), 1, "{out}");
        out
    };
    let e = failed(
        run(users(&[
            "--alter",
            "--delete-config",
            "SCRAM-SHA-512",
            "--entity-name",
            "alice",
        ]))
        .await,
    );
    assert!(e.contains("RESOURCE_NOT_FOUND"), "{e}");
    let e = failed(
        run(users(&[
            "--alter",
            "--add-config",
            "SCRAM-SHA-256=[iterations=100,password=p]",
            "--entity-name",
            "alice",
        ]))
        .await,
    );
    assert_eq!(
        e,
        "Error: Iterations 100 is less than the minimum 4096 required for SCRAM-SHA-256\n"
    );
    let e = failed(
        run(users(&[
            "--alter",
            "--add-config",
            "SCRAM-SHA-256=[iterations=20000,password=p]",
            "--entity-name",
            "alice",
        ]))
        .await,
    );
    assert!(
        e.contains("UNACCEPTABLE_CREDENTIAL") && e.contains("Too many iterations"),
        "{e}"
    );
    let e = failed(
        run(users(&[
            "--alter",
            "--add-config",
            "producer_byte_rate=1024,SCRAM-SHA-256=[password=p]",
            "--entity-name",
            "alice",
        ]))
        .await,
    );
    assert!(
        e.contains("Cannot alter both quota and SCRAM credential configs simultaneously"),
        "{e}"
    );
}
