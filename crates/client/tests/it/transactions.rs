//! vltava-client's transactional producer against the real broker: committed
//! transactions are visible to read_committed consumers (ours and confluent-kafka's),
//! aborted ones only to read_uncommitted; offsets sent to a transaction become the
//! group's committed offsets only on commit; a second producer with the same
//! transactional.id fences the first. Needs the Python environment; fails without it.

#![allow(clippy::unwrap_used)]

use crate::support::real_broker;
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;
use vltava_client::consumer::{ConsumerConfig, IsolationLevel, OffsetReset};
use vltava_client::{
    Admin, ClientConfig, Consumer, ConsumerRecord, NewTopic, Producer, ProducerConfig,
    ProducerRecord,
};

fn txn_config(bootstrap: &str, id: &str) -> ProducerConfig {
    let mut cfg = ProducerConfig::new(bootstrap);
    cfg.transactional_id = Some(id.to_string());
    cfg.transaction_timeout = Duration::from_secs(10);
    cfg.max_block = Duration::from_secs(20);
    cfg
}

async fn send_values(p: &Producer, topic: &str, values: &[String]) {
    let mut futures = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let rec =
            ProducerRecord::new(topic, None, Some(v.as_bytes())).with_partition((i % 2) as i32);
        futures.push(p.enqueue(rec).await.unwrap());
    }
    for f in futures {
        f.await.unwrap();
    }
}

async fn read_all(
    bootstrap: &str,
    topic: &str,
    isolation: IsolationLevel,
    want: usize,
) -> Vec<String> {
    let mut cfg = ConsumerConfig::new(bootstrap, None);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.isolation_level = isolation;
    let mut c = Consumer::new(cfg).await.unwrap();
    c.assign(&[(topic.into(), 0), (topic.into(), 1)]).unwrap();
    let mut got: Vec<ConsumerRecord> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while got.len() < want && std::time::Instant::now() < deadline {
        got.extend(c.poll(Duration::from_millis(200)).await.unwrap());
    }
    // Nothing more arrives after what was expected.
    got.extend(c.poll(Duration::from_millis(500)).await.unwrap());
    let mut values: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap())
        .collect();
    values.sort();
    values
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:02}")).collect()
}

const CONFLUENT_READ_COMMITTED: &str = r#"
import sys, json, time
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
bootstrap, topic, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-reader",
              "enable.auto.commit": False, "isolation.level": "read_committed"})
c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(2)])
got, deadline = [], time.time() + 30
while len(got) < want and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    got.append(m.value().decode())
end = time.time() + 1.5
while time.time() < end:
    m = c.poll(0.3)
    if m is not None and not m.error():
        got.append(m.value().decode())
c.close()
print(json.dumps({"values": sorted(got)}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_and_aborted_transactions_as_consumers_see_them() {
    let b = real_broker();
    let admin = Admin::connect(ClientConfig::new(b.addr())).await.unwrap();
    admin
        .create_topic(NewTopic::new("txn", 2, 1))
        .await
        .unwrap();
    let p = Producer::new(txn_config(b.addr(), "vt-commit-abort"))
        .await
        .unwrap();
    assert!(p.producer_id() >= 0);
    // Sending outside a transaction is refused.
    let outside = ProducerRecord::new("txn", None, Some(&b"x"[..]));
    assert!(p.enqueue(outside).await.is_err());

    p.begin_transaction().await.unwrap();
    send_values(&p, "txn", &values("a", 10)).await;
    p.commit_transaction().await.unwrap();
    p.begin_transaction().await.unwrap();
    send_values(&p, "txn", &values("b", 6)).await;
    p.abort_transaction().await.unwrap();
    p.begin_transaction().await.unwrap();
    send_values(&p, "txn", &values("c", 4)).await;
    p.commit_transaction().await.unwrap();
    // An empty transaction commits without the coordinator.
    p.begin_transaction().await.unwrap();
    p.commit_transaction().await.unwrap();

    let mut committed = values("a", 10);
    committed.extend(values("c", 4));
    committed.sort();
    let mut everything = committed.clone();
    everything.extend(values("b", 6));
    everything.sort();
    assert_eq!(
        read_all(b.addr(), "txn", IsolationLevel::ReadCommitted, 14).await,
        committed
    );
    assert_eq!(
        read_all(b.addr(), "txn", IsolationLevel::ReadUncommitted, 20).await,
        everything
    );

    // librdkafka's read_committed consumer agrees.
    let py = vltava_testkit::python().expect("Python environment (run ./test.sh)");
    let out = Command::new(py)
        .arg("-c")
        .arg(CONFLUENT_READ_COMMITTED)
        .args([b.addr(), "txn", "14"])
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    let seen: Vec<String> = v["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen, committed);
    p.close().await;
}

/// The position of `c` on `tp` once it stops moving (at most 10 s of polls).
async fn settled_position(c: &mut Consumer, tp: &(String, i32), records: &mut usize) -> i64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut last = -1;
    while std::time::Instant::now() < deadline {
        *records += c.poll(Duration::from_millis(200)).await.unwrap().len();
        let now = c.position(tp).unwrap_or(-1);
        if now == last && *records > 0 {
            break;
        }
        last = now;
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_position_passes_markers_and_aborted_records_at_the_log_end() {
    let b = real_broker();
    let admin = Admin::connect(ClientConfig::new(b.addr())).await.unwrap();
    admin
        .create_topic(NewTopic::new("txn-end", 1, 1))
        .await
        .unwrap();
    let p = Producer::new(txn_config(b.addr(), "vt-end")).await.unwrap();
    let one = |v: &str| ProducerRecord::new("txn-end", None, Some(v.as_bytes())).with_partition(0);
    p.begin_transaction().await.unwrap();
    for v in ["a", "b", "c"] {
        p.enqueue(one(v)).await.unwrap().await.unwrap();
    }
    p.commit_transaction().await.unwrap();
    p.begin_transaction().await.unwrap();
    p.enqueue(one("d")).await.unwrap().await.unwrap();
    p.abort_transaction().await.unwrap();
    // a b c, commit marker, d, abort marker.
    let tp = ("txn-end".to_string(), 0);
    let end = admin
        .list_offsets(std::slice::from_ref(&tp), -1)
        .await
        .unwrap()[&tp];
    assert_eq!(end, 6);
    for (isolation, want) in [
        (IsolationLevel::ReadUncommitted, 4),
        (IsolationLevel::ReadCommitted, 3),
    ] {
        let mut cfg = ConsumerConfig::new(b.addr(), None);
        cfg.auto_offset_reset = OffsetReset::Earliest;
        cfg.isolation_level = isolation;
        let mut c = Consumer::new(cfg).await.unwrap();
        c.assign(std::slice::from_ref(&tp)).unwrap();
        let mut records = 0;
        let position = settled_position(&mut c, &tp, &mut records).await;
        assert_eq!((records, position), (want, end), "{isolation:?}");
    }
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_sent_to_a_transaction_commit_with_it() {
    let b = real_broker();
    let admin = Admin::connect(ClientConfig::new(b.addr())).await.unwrap();
    admin
        .create_topic(NewTopic::new("eos-out", 2, 1))
        .await
        .unwrap();
    let p = Producer::new(txn_config(b.addr(), "vt-eos")).await.unwrap();
    let group = "eos-group";
    let offsets = |o: i64| vec![(("eos-in".to_string(), 0), o)];
    admin
        .create_topic(NewTopic::new("eos-in", 1, 1))
        .await
        .unwrap();

    p.begin_transaction().await.unwrap();
    send_values(&p, "eos-out", &values("t1", 2)).await;
    p.send_offsets_to_transaction(&offsets(5), group)
        .await
        .unwrap();
    p.abort_transaction().await.unwrap();
    let committed = admin.list_group_offsets(group, None).await.unwrap();
    assert_eq!(
        committed.get(&("eos-in".to_string(), 0)),
        None,
        "{committed:?}"
    );

    p.begin_transaction().await.unwrap();
    send_values(&p, "eos-out", &values("t2", 2)).await;
    p.send_offsets_to_transaction(&offsets(7), group)
        .await
        .unwrap();
    p.commit_transaction().await.unwrap();
    let committed = admin.list_group_offsets(group, None).await.unwrap();
    assert_eq!(
        committed.get(&("eos-in".to_string(), 0)),
        Some(&7),
        "{committed:?}"
    );
    p.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_producer_with_the_same_id_fences_the_old_one() {
    let b = real_broker();
    let admin = Admin::connect(ClientConfig::new(b.addr())).await.unwrap();
    admin
        .create_topic(NewTopic::new("zombie", 2, 1))
        .await
        .unwrap();
    let old = Producer::new(txn_config(b.addr(), "vt-zombie"))
        .await
        .unwrap();
    old.begin_transaction().await.unwrap();
    send_values(&old, "zombie", &values("old", 3)).await;
    // The new incarnation aborts the open transaction and bumps the epoch.
    let new = Producer::new(txn_config(b.addr(), "vt-zombie"))
        .await
        .unwrap();
    assert_eq!(new.producer_id(), old.producer_id());
    match old.commit_transaction().await {
        // PRODUCER_FENCED (EndTxn v2+), INVALID_PRODUCER_EPOCH (older versions).
        Err(vltava_client::ClientError::Kafka { code, .. }) => {
            assert!(code == 90 || code == 47, "fenced with {code}")
        }
        other => panic!("the zombie must be fenced: {other:?}"),
    }
    new.begin_transaction().await.unwrap();
    send_values(&new, "zombie", &values("new", 2)).await;
    new.commit_transaction().await.unwrap();
    assert_eq!(
        read_all(b.addr(), "zombie", IsolationLevel::ReadCommitted, 2).await,
        values("new", 2)
    );
    new.close().await;
}

async fn tool(args: &[&str]) -> String {
    let mut out = Vec::new();
    let code = vltava_client::cli::run(args.iter().map(|s| s.to_string()).collect(), &mut out)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{text}");
    text
}

fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_tool_lists_and_describes() {
    let b = real_broker();
    let bs = b.addr();
    let admin = Admin::connect(ClientConfig::new(bs)).await.unwrap();
    admin
        .create_topic(NewTopic::new("tool-txn", 2, 1))
        .await
        .unwrap();
    let p = Producer::new(txn_config(bs, "vt-tool")).await.unwrap();
    p.begin_transaction().await.unwrap();
    send_values(&p, "tool-txn", &values("open", 2)).await;

    let list = rows(&tool(&["transactions", "--bootstrap-server", bs, "list"]).await);
    assert_eq!(
        list[0],
        [
            "TransactionalId",
            "Coordinator",
            "ProducerId",
            "TransactionState"
        ]
    );
    let mine = list
        .iter()
        .find(|r| r[0] == "vt-tool")
        .expect("vt-tool listed");
    assert_eq!(mine[1], "1");
    assert_eq!(mine[2], p.producer_id().to_string());
    assert_eq!(mine[3], "Ongoing");

    let d = rows(
        &tool(&[
            "transactions",
            "--bootstrap-server",
            bs,
            "describe",
            "--transactional-id",
            "vt-tool",
        ])
        .await,
    );
    assert_eq!(d[0][0], "CoordinatorId");
    assert_eq!(d[0].len(), 9);
    assert_eq!((d[1][1].as_str(), d[1][4].as_str()), ("vt-tool", "Ongoing"));
    assert_eq!(d[1][5], "10000");
    assert_ne!(d[1][6], "None");
    let mut parts: Vec<&str> = d[1][8].split(',').collect();
    parts.sort();
    assert_eq!(parts, ["tool-txn-0", "tool-txn-1"]);

    // The open transaction holds partition 0 from offset 0.
    let prod = rows(
        &tool(&[
            "transactions",
            "--bootstrap-server",
            bs,
            "describe-producers",
            "--topic",
            "tool-txn",
            "--partition",
            "0",
        ])
        .await,
    );
    assert_eq!(prod[0][0], "ProducerId");
    assert_eq!(prod.len(), 2);
    assert_eq!(prod[1][0], p.producer_id().to_string());
    assert_eq!(prod[1][5], "0");

    p.commit_transaction().await.unwrap();
    let d = rows(
        &tool(&[
            "transactions",
            "--bootstrap-server",
            bs,
            "describe",
            "--transactional-id",
            "vt-tool",
        ])
        .await,
    );
    // Like Kafka, a completed transaction keeps its start time.
    assert_eq!(d[1][4], "CompleteCommit");
    assert_eq!(d[1][8], "");
    p.close().await;
}
