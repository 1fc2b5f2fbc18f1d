//! Cross-client tests through the real broker: what vltava-client produces,
//! confluent-kafka (librdkafka) consumes exactly, and the reverse (keys,
//! values, headers, partitions: the murmur2 partitioner picks the partition
//! librdkafka's Java-compatible `murmur2_random` picks); a consumer group with
//! one vltava-client member and one confluent-kafka member splits the
//! partitions and consumes everything once. Needs the Python environment and
//! the broker binary; fails without them.

#![allow(clippy::unwrap_used)]

use crate::support::real_broker;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use vltava_client::consumer::{ConsumerConfig, OffsetReset, RangeAssignor};
use vltava_client::producer::partitioner::partition_for_key;
use vltava_client::{
    Admin, ClientConfig, Consumer, NewTopic, Producer, ProducerConfig, ProducerRecord,
};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs a Python script to completion and returns its JSON output lines.
fn python(script: &str, args: &[&str]) -> Vec<Value> {
    let py = vltava_testkit::python().expect("Python environment (run ./test.sh)");
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .expect("run python");
    assert!(out.status.success(), "python failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const CONFLUENT_CONSUME_ALL: &str = r#"
import sys, json, time
from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
bootstrap, topic, parts, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "xc-reader", "enable.auto.commit": False})
c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(parts)])
got, deadline = 0, time.time() + 30
while got < want and time.time() < deadline:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    got += 1
    hs = [[k, None if v is None else v.hex()] for k, v in (m.headers() or [])]
    print(json.dumps({"partition": m.partition(), "offset": m.offset(),
                      "key": None if m.key() is None else m.key().hex(),
                      "value": None if m.value() is None else m.value().hex(), "headers": hs}))
c.close()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vltava_produces_confluent_consumes_exactly() {
    let b = real_broker();
    let admin = Admin::connect(ClientConfig::new(b.addr())).await.unwrap();
    admin
        .create_topic(NewTopic::new("to-confluent", 6, 1))
        .await
        .unwrap();
    let mut cfg = ProducerConfig::new(b.addr());
    cfg.compression = vltava_records::Compression::Lz4;
    let p = Producer::new(cfg).await.unwrap();
    let mut expected = BTreeSet::new();
    let mut futs = Vec::new();
    for i in 0..120u32 {
        let key = (i % 10 != 0).then(|| format!("key-{i}").into_bytes());
        let value = format!("value {i} ✓").into_bytes();
        let rec = ProducerRecord::new("to-confluent", key.as_deref(), Some(&value))
            .with_header("seq", Some(i.to_string().as_bytes()))
            .with_header("empty", None);
        futs.push((key, value, p.enqueue(rec).await.unwrap()));
    }
    for (key, value, f) in futs {
        let md = f.await.unwrap();
        if let Some(k) = &key {
            assert_eq!(md.partition, partition_for_key(k, 6));
        }
        expected.insert((md.partition, md.offset, key.map(|k| hex(&k)), hex(&value)));
    }
    p.close().await;
    let lines = python(
        CONFLUENT_CONSUME_ALL,
        &[b.addr(), "to-confluent", "6", "120"],
    );
    assert_eq!(lines.len(), 120);
    let mut got = BTreeSet::new();
    for l in &lines {
        let key = l["key"].as_str().map(str::to_string);
        let value = l["value"].as_str().unwrap().to_string();
        let headers = l["headers"].as_array().unwrap();
        assert_eq!(headers.len(), 2);
        assert_eq!(headers[0][0], "seq");
        assert_eq!(headers[1][0], "empty");
        assert!(headers[1][1].is_null());
        got.insert((
            l["partition"].as_i64().unwrap() as i32,
            l["offset"].as_i64().unwrap(),
            key,
            value,
        ));
    }
    assert_eq!(got, expected);
}

const CONFLUENT_PRODUCE: &str = r#"
import sys, json
from confluent_kafka import Producer
bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "compression.type": "zstd", "linger.ms": 5})
def report(err, m):
    assert err is None, err
    print(json.dumps({"partition": m.partition(), "offset": m.offset(), "key": m.key().hex()}))
for i in range(n):
    p.produce(topic, key=("user-%d" % i).encode(), value=("payload %d" % i).encode(),
              headers=[("i", str(i).encode()), ("kind", b"confluent")], on_delivery=report)
p.flush(30)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluent_produces_vltava_consumes_and_partitions_match() {
    let b = real_broker();
    let admin = Admin::connect(ClientConfig::new(b.addr())).await.unwrap();
    admin
        .create_topic(NewTopic::new("from-confluent", 6, 1))
        .await
        .unwrap();
    let lines = python(CONFLUENT_PRODUCE, &[b.addr(), "from-confluent", "150"]);
    assert_eq!(lines.len(), 150);
    let mut their_partition = BTreeMap::new();
    for l in &lines {
        let key = l["key"].as_str().unwrap().to_string();
        let part = l["partition"].as_i64().unwrap() as i32;
        their_partition.insert(key, (part, l["offset"].as_i64().unwrap()));
    }
    let mut cfg = ConsumerConfig::new(b.addr(), None);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    let mut c = Consumer::new(cfg).await.unwrap();
    c.assign(
        &(0..6)
            .map(|p| ("from-confluent".to_string(), p))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let mut recs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while recs.len() < 150 && Instant::now() < deadline {
        recs.extend(c.poll(Duration::from_millis(200)).await.unwrap());
    }
    assert_eq!(recs.len(), 150);
    for r in &recs {
        let key = r.key.clone().unwrap();
        let i: u32 = std::str::from_utf8(&key)
            .unwrap()
            .trim_start_matches("user-")
            .parse()
            .unwrap();
        assert_eq!(r.value.as_deref(), Some(format!("payload {i}").as_bytes()));
        assert_eq!(r.headers.len(), 2);
        assert_eq!(&r.headers[0].key[..], b"i");
        assert_eq!(
            r.headers[0].value.as_deref(),
            Some(i.to_string().as_bytes())
        );
        assert_eq!(r.headers[1].value.as_deref(), Some(&b"confluent"[..]));
        let (part, off) = their_partition[&hex(&key)];
        assert_eq!((r.partition, r.offset), (part, off));
        assert_eq!(
            r.partition,
            partition_for_key(&key, 6),
            "same partition as librdkafka's murmur2"
        );
    }
}

const CONFLUENT_GROUP_MEMBER: &str = r#"
import sys, json, time
from confluent_kafka import Consumer
bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
def on_assign(c, parts):
    print(json.dumps({"assigned": [p.partition for p in parts]}), flush=True)
c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
              "partition.assignment.strategy": "range", "session.timeout.ms": 10000,
              "heartbeat.interval.ms": 500, "enable.auto.commit": True})
c.subscribe([topic], on_assign=on_assign)
start, last = time.time(), None
while time.time() - start < 60:
    m = c.poll(0.2)
    if m is None or m.error():
        if last is not None and time.time() - last > 6:
            break
        continue
    last = time.time()
    print(json.dumps({"partition": m.partition(), "offset": m.offset()}), flush=True)
c.close()
print(json.dumps({"done": True}), flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_group_splits_partitions_and_consumes_everything_once() {
    let b = real_broker();
    let admin = Admin::connect(ClientConfig::new(b.addr())).await.unwrap();
    admin
        .create_topic(NewTopic::new("mixed", 4, 1))
        .await
        .unwrap();
    let py = vltava_testkit::python().expect("Python environment (run ./test.sh)");
    let mut child = Command::new(py)
        .arg("-c")
        .arg(CONFLUENT_GROUP_MEMBER)
        .args([b.addr(), "mixed", "mixed-group"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let mut cfg = ConsumerConfig::new(b.addr(), Some("mixed-group"));
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.assignors = vec![std::sync::Arc::new(RangeAssignor)];
    cfg.heartbeat_interval = Duration::from_millis(500);
    cfg.session_timeout = Duration::from_secs(10);
    let mut c = Consumer::new(cfg).await.unwrap();
    c.subscribe(&["mixed"], None).unwrap();
    // Wait until both members hold two partitions each.
    let mut theirs: Vec<i64> = Vec::new();
    let mut their_records: Vec<(i64, i64)> = Vec::new();
    let mut ours = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        ours.extend(c.poll(Duration::from_millis(200)).await.unwrap());
        while let Ok(v) = rx.try_recv() {
            if let Some(a) = v.get("assigned") {
                theirs = a
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_i64().unwrap())
                    .collect();
            } else if v.get("partition").is_some() {
                their_records.push((
                    v["partition"].as_i64().unwrap(),
                    v["offset"].as_i64().unwrap(),
                ));
            }
        }
        if c.assignment().len() == 2 && theirs.len() == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "group did not settle: ours {:?}, theirs {theirs:?}",
            c.assignment()
        );
    }
    let our_parts: BTreeSet<i64> = c.assignment().iter().map(|tp| i64::from(tp.1)).collect();
    let their_parts: BTreeSet<i64> = theirs.iter().copied().collect();
    assert!(our_parts.is_disjoint(&their_parts));
    let p = Producer::new(ProducerConfig::new(b.addr())).await.unwrap();
    let mut futs = Vec::new();
    for i in 0..200 {
        futs.push(
            p.enqueue(ProducerRecord::new(
                "mixed",
                Some(format!("k{i}").as_bytes()),
                Some(b"v"),
            ))
            .await
            .unwrap(),
        );
    }
    for f in futs {
        f.await.unwrap();
    }
    let mut idle_since = Instant::now();
    while idle_since.elapsed() < Duration::from_secs(4) {
        let got = c.poll(Duration::from_millis(200)).await.unwrap();
        if !got.is_empty() {
            idle_since = Instant::now();
        }
        ours.extend(got);
    }
    c.commit_sync().await.unwrap();
    c.close().await.unwrap();
    let status = child.wait().unwrap();
    assert!(status.success());
    while let Ok(v) = rx.try_recv() {
        if v.get("partition").is_some() {
            their_records.push((
                v["partition"].as_i64().unwrap(),
                v["offset"].as_i64().unwrap(),
            ));
        }
    }
    let mut all: Vec<(i64, i64)> = ours
        .iter()
        .map(|r| (i64::from(r.partition), r.offset))
        .collect();
    assert!(
        ours.iter()
            .all(|r| our_parts.contains(&i64::from(r.partition)))
    );
    assert!(their_records.iter().all(|(p, _)| their_parts.contains(p)));
    assert!(
        !ours.is_empty() && !their_records.is_empty(),
        "both members consumed"
    );
    all.extend(&their_records);
    let unique: BTreeSet<(i64, i64)> = all.iter().copied().collect();
    assert_eq!(all.len(), 200, "every record consumed once");
    assert_eq!(unique.len(), 200);
    let _ = std::io::stdout().flush();
}
