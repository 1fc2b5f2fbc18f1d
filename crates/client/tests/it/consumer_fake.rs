//! Consumer and admin client against the in-process test double.

#![allow(clippy::unwrap_used)]

use crate::support::fake_kafka::FakeKafka;
use std::collections::BTreeMap;
use std::time::Duration;
use vltava_client::consumer::{ConsumerConfig, OffsetReset};
use vltava_client::{
    Admin, ClientConfig, Consumer, NewTopic, Producer, ProducerConfig, ProducerRecord,
    RebalanceListener,
};

fn pcfg(addr: &str) -> ProducerConfig {
    let mut c = ProducerConfig::new(addr);
    c.compression = vltava_records::Compression::Lz4;
    c.linger = Duration::from_millis(20);
    c
}

fn ccfg(addr: &str, group: Option<&str>) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(addr, group);
    c.auto_offset_reset = OffsetReset::Earliest;
    c.heartbeat_interval = Duration::from_millis(50);
    c.fetch_max_wait = Duration::from_millis(20);
    c
}

async fn produce(addr: &str, topic: &str, n: usize) {
    let p = Producer::new(pcfg(addr)).await.unwrap();
    let mut f = Vec::new();
    for i in 0..n {
        let rec = ProducerRecord::new(
            topic,
            Some(format!("k{i}").as_bytes()),
            Some(format!("v{i}").as_bytes()),
        )
        .with_header("n", Some(i.to_string().as_bytes()));
        f.push(p.enqueue(rec).await.unwrap());
    }
    for x in f {
        x.await.unwrap();
    }
}

async fn poll_n(c: &mut Consumer, n: usize) -> Vec<vltava_client::ConsumerRecord> {
    let mut out = Vec::new();
    for _ in 0..200 {
        out.extend(c.poll(Duration::from_millis(50)).await.unwrap());
        if out.len() >= n {
            break;
        }
    }
    out
}

#[tokio::test]
async fn assign_reads_everything_in_order_and_seek_trims_batches() {
    let fake = FakeKafka::start().await;
    fake.create_topic("t", 1);
    produce(&fake.addr, "t", 30).await;
    let mut c = Consumer::new(ccfg(&fake.addr, None)).await.unwrap();
    let tp = ("t".to_string(), 0);
    c.assign(std::slice::from_ref(&tp)).unwrap();
    let recs = poll_n(&mut c, 30).await;
    assert_eq!(recs.len(), 30);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.offset, i as i64);
        assert_eq!(r.value.as_deref(), Some(format!("v{i}").as_bytes()));
        assert_eq!(
            r.headers[0].value.as_deref(),
            Some(i.to_string().as_bytes())
        );
    }
    assert_eq!(c.position(&tp), Some(30));
    // Seek into the middle of a compressed batch: earlier records are dropped.
    c.seek(&tp, 17).unwrap();
    let recs = poll_n(&mut c, 13).await;
    assert_eq!(recs.first().map(|r| r.offset), Some(17));
    assert_eq!(recs.len(), 13);
}

#[tokio::test]
async fn max_poll_records_pause_and_resume() {
    let fake = FakeKafka::start().await;
    fake.create_topic("p", 2);
    produce(&fake.addr, "p", 40).await;
    let mut cfg = ccfg(&fake.addr, None);
    cfg.max_poll_records = 7;
    let mut c = Consumer::new(cfg).await.unwrap();
    let parts = vec![("p".to_string(), 0), ("p".to_string(), 1)];
    c.assign(&parts).unwrap();
    c.pause(&parts[..1]);
    let mut got = Vec::new();
    for _ in 0..50 {
        let batch = c.poll(Duration::from_millis(20)).await.unwrap();
        assert!(batch.len() <= 7);
        got.extend(batch);
    }
    assert!(!got.is_empty());
    assert!(
        got.iter().all(|r| r.partition == 1),
        "paused partition 0 must not be returned"
    );
    c.resume(&parts[..1]);
    got.extend(poll_n(&mut c, 40 - got.len()).await);
    assert_eq!(got.len(), 40);
}

#[tokio::test]
async fn offset_reset_none_and_latest() {
    let fake = FakeKafka::start().await;
    fake.create_topic("r", 1);
    produce(&fake.addr, "r", 5).await;
    let mut cfg = ccfg(&fake.addr, Some("g-none"));
    cfg.auto_offset_reset = OffsetReset::None;
    let mut c = Consumer::new(cfg).await.unwrap();
    c.assign(&[("r".to_string(), 0)]).unwrap();
    assert!(c.poll(Duration::from_millis(50)).await.is_err());

    let mut cfg = ccfg(&fake.addr, None);
    cfg.auto_offset_reset = OffsetReset::Latest;
    let mut c = Consumer::new(cfg).await.unwrap();
    c.assign(&[("r".to_string(), 0)]).unwrap();
    assert!(c.poll(Duration::from_millis(50)).await.unwrap().is_empty());
    produce(&fake.addr, "r", 2).await;
    let recs = poll_n(&mut c, 2).await;
    assert_eq!(
        recs.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![5, 6]
    );
}

#[derive(Default)]
struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl RebalanceListener for Recorder {
    fn on_partitions_assigned(&mut self, p: &[(String, i32)]) {
        self.0.lock().unwrap().push(format!("assigned {}", p.len()));
    }
    fn on_partitions_revoked(&mut self, p: &[(String, i32)]) {
        self.0.lock().unwrap().push(format!("revoked {}", p.len()));
    }
}

#[tokio::test]
async fn subscribe_commit_and_resume_from_committed() {
    let fake = FakeKafka::start().await;
    fake.create_topic("s", 3);
    produce(&fake.addr, "s", 60).await;
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut cfg = ccfg(&fake.addr, Some("g1"));
    cfg.enable_auto_commit = false;
    let mut c = Consumer::new(cfg.clone()).await.unwrap();
    c.subscribe(&["s"], Some(Box::new(Recorder(events.clone()))))
        .unwrap();
    let recs = poll_n(&mut c, 60).await;
    assert_eq!(recs.len(), 60);
    assert_eq!(c.assignment().len(), 3);
    assert_eq!(events.lock().unwrap()[0], "assigned 3");
    c.commit_sync().await.unwrap();
    let committed = c.committed(&c.assignment()).await.unwrap();
    assert_eq!(committed.values().sum::<i64>(), 60);
    c.close().await.unwrap();

    produce(&fake.addr, "s", 6).await;
    let mut c2 = Consumer::new(cfg).await.unwrap();
    c2.subscribe(&["s"], None).unwrap();
    let recs = poll_n(&mut c2, 6).await;
    assert_eq!(recs.len(), 6, "resumes after the committed offsets");
    // A rebalance the coordinator announces through heartbeats is followed.
    fake.state
        .lock()
        .unwrap()
        .groups
        .get_mut("g1")
        .unwrap()
        .generation += 1;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = c2.poll(Duration::from_millis(50)).await.unwrap();
    assert_eq!(c2.assignment().len(), 3);
}

#[tokio::test]
async fn poison_records_go_to_a_dead_letter_topic_without_stalling() {
    let fake = FakeKafka::start().await;
    fake.create_topic("in", 1);
    fake.create_topic("dlq", 1);
    let p = Producer::new(pcfg(&fake.addr)).await.unwrap();
    for v in ["1", "2", "oops", "4", "\u{0}bad", "6"] {
        p.send(ProducerRecord::new("in", None, Some(v.as_bytes())))
            .await
            .unwrap();
    }
    let mut c = Consumer::new(ccfg(&fake.addr, None)).await.unwrap();
    c.assign(&[("in".to_string(), 0)]).unwrap();
    let mut sum = 0u32;
    let mut seen = 0;
    while seen < 6 {
        for r in c.poll(Duration::from_millis(50)).await.unwrap() {
            seen += 1;
            let parsed = std::str::from_utf8(r.value.as_deref().unwrap_or_default())
                .ok()
                .and_then(|s| s.parse::<u32>().ok());
            match parsed {
                Some(n) => sum += n,
                None => {
                    let dead = ProducerRecord {
                        topic: "dlq".into(),
                        value: r.value.clone(),
                        headers: vec![vltava_records::Header::new(
                            b"source-offset",
                            Some(r.offset.to_string().as_bytes()),
                        )],
                        ..Default::default()
                    };
                    p.send(dead).await.unwrap();
                }
            }
        }
    }
    assert_eq!(sum, 13);
    let dlq = fake.records("dlq", 0);
    assert_eq!(dlq.len(), 2);
    assert_eq!(dlq[0].2.as_deref(), Some(&b"oops"[..]));
}

#[tokio::test]
async fn admin_topics_offsets_and_group_offsets() {
    let fake = FakeKafka::start().await;
    let admin = Admin::connect(ClientConfig::new(&fake.addr)).await.unwrap();
    admin.create_topic(NewTopic::new("a", 4, 1)).await.unwrap();
    let err = admin
        .create_topic(NewTopic::new("a", 4, 1))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(36));
    assert_eq!(
        admin.list_topics(false).await.unwrap(),
        vec!["a".to_string()]
    );
    let d = admin.describe_topics(&["a".to_string()]).await.unwrap();
    assert_eq!(d[0].partitions.len(), 4);
    produce(&fake.addr, "a", 20).await;
    let parts: Vec<(String, i32)> = (0..4).map(|p| ("a".to_string(), p)).collect();
    let ends = admin
        .list_offsets(&parts, vltava_client::admin::LATEST)
        .await
        .unwrap();
    assert_eq!(ends.values().sum::<i64>(), 20);
    let mut offs = BTreeMap::new();
    offs.insert(("a".to_string(), 0), 1);
    admin.alter_group_offsets("ga", &offs).await.unwrap();
    assert_eq!(
        admin.list_group_offsets("ga", Some(&parts)).await.unwrap(),
        offs
    );
    use vltava_client::admin::{AlterOp, ResourceType};
    admin
        .alter_configs(
            ResourceType::Topic,
            "a",
            &[AlterOp::Set("retention.ms".into(), "1000".into())],
        )
        .await
        .unwrap();
    let cfgs = admin
        .describe_configs(ResourceType::Topic, "a")
        .await
        .unwrap();
    assert_eq!(cfgs.len(), 1);
    assert_eq!(
        (cfgs[0].name.as_str(), cfgs[0].value.as_deref()),
        ("retention.ms", Some("1000"))
    );
    admin
        .alter_configs(
            ResourceType::Topic,
            "a",
            &[AlterOp::Delete("retention.ms".into())],
        )
        .await
        .unwrap();
    assert!(
        admin
            .describe_configs(ResourceType::Topic, "a")
            .await
            .unwrap()
            .is_empty()
    );
    let r = admin.delete_topics(&["a".to_string()]).await.unwrap();
    assert!(r[0].1.is_ok());
    assert!(admin.list_topics(false).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_member_that_stops_polling_leaves_and_rejoins_on_the_next_poll() {
    let fake = FakeKafka::start().await;
    fake.create_topic("mp", 2);
    let mut cfg = ccfg(&fake.addr, Some("g-mp"));
    cfg.max_poll_interval = Duration::from_millis(300);
    let mut c = Consumer::new(cfg).await.unwrap();
    c.subscribe(&["mp"], None).unwrap();
    for _ in 0..20 {
        c.poll(Duration::from_millis(20)).await.unwrap();
    }
    assert_eq!(c.assignment().len(), 2);
    assert_eq!(fake.state.lock().unwrap().groups["g-mp"].members.len(), 1);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        fake.state.lock().unwrap().groups["g-mp"].members.is_empty(),
        "max.poll.interval.ms passed: the heartbeat task left the group"
    );
    c.poll(Duration::from_millis(20)).await.unwrap();
    assert_eq!(fake.state.lock().unwrap().groups["g-mp"].members.len(), 1);
    assert_eq!(c.assignment().len(), 2);
}
