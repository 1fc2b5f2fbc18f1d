//! The client against the real `vltava` broker binary: admin, producer,
//! consumer (assign and group), commits and resume.

#![allow(clippy::unwrap_used)]

use crate::support::real_broker;
use std::time::Duration;
use vltava_client::admin::{AlterOp, LATEST, ResourceType};
use vltava_client::consumer::{ConsumerConfig, OffsetReset};
use vltava_client::producer::partitioner::partition_for_key;
use vltava_client::{
    Admin, ClientConfig, Consumer, NewTopic, Producer, ProducerConfig, ProducerRecord,
};
use vltava_testkit::broker_process::BrokerProcess;

async fn admin(b: &BrokerProcess) -> Admin {
    Admin::connect(ClientConfig::new(b.addr())).await.unwrap()
}

async fn poll_n(c: &mut Consumer, n: usize) -> Vec<vltava_client::ConsumerRecord> {
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while out.len() < n && std::time::Instant::now() < deadline {
        out.extend(c.poll(Duration::from_millis(200)).await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_every_codec_through_the_broker() {
    let b = real_broker();
    let a = admin(&b).await;
    a.create_topic(NewTopic::new("it", 3, 1)).await.unwrap();
    let mut sent = 0;
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let mut cfg = ProducerConfig::new(b.addr());
        cfg.compression = vltava_client::producer::parse_compression(codec).unwrap();
        let p = Producer::new(cfg).await.unwrap();
        let mut fs = Vec::new();
        for i in 0..40 {
            let key = format!("{codec}-{i}");
            let rec = ProducerRecord::new(
                "it",
                Some(key.as_bytes()),
                Some(format!("value-{i}").as_bytes()),
            )
            .with_header("codec", Some(codec.as_bytes()));
            fs.push((key, p.enqueue(rec).await.unwrap()));
        }
        for (key, f) in fs {
            let md = f.await.unwrap();
            assert_eq!(md.partition, partition_for_key(key.as_bytes(), 3));
            assert!(md.offset >= 0);
        }
        sent += 40;
        p.close().await;
    }
    let mut cfg = ConsumerConfig::new(b.addr(), None);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    let mut c = Consumer::new(cfg).await.unwrap();
    c.assign(&[("it".into(), 0), ("it".into(), 1), ("it".into(), 2)])
        .unwrap();
    let recs = poll_n(&mut c, sent).await;
    assert_eq!(recs.len(), sent);
    for r in &recs {
        let key = String::from_utf8(r.key.clone().unwrap().to_vec()).unwrap();
        let codec = key.split('-').next().unwrap();
        assert_eq!(r.headers[0].value.as_deref(), Some(codec.as_bytes()));
        assert_eq!(r.partition, partition_for_key(key.as_bytes(), 3));
    }
    let ends = a
        .list_offsets(
            &[("it".into(), 0), ("it".into(), 1), ("it".into(), 2)],
            LATEST,
        )
        .await
        .unwrap();
    assert_eq!(ends.values().sum::<i64>(), sent as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_consumer_commits_and_resumes() {
    let b = real_broker();
    let a = admin(&b).await;
    a.create_topic(NewTopic::new("g", 4, 1)).await.unwrap();
    let p = Producer::new(ProducerConfig::new(b.addr())).await.unwrap();
    for i in 0..100 {
        p.send(ProducerRecord::new(
            "g",
            Some(format!("k{i}").as_bytes()),
            Some(b"v"),
        ))
        .await
        .unwrap();
    }
    let mut cfg = ConsumerConfig::new(b.addr(), Some("it-group"));
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.enable_auto_commit = false;
    let mut c = Consumer::new(cfg.clone()).await.unwrap();
    c.subscribe(&["g"], None).unwrap();
    let recs = poll_n(&mut c, 100).await;
    assert_eq!(recs.len(), 100);
    assert_eq!(c.assignment().len(), 4);
    c.commit_sync().await.unwrap();
    let desc = a.describe_group("it-group").await.unwrap();
    assert_eq!(desc.members.len(), 1);
    assert_eq!(desc.members[0].assignment.len(), 4);
    c.close().await.unwrap();
    let committed = a.list_group_offsets("it-group", None).await.unwrap();
    assert_eq!(committed.values().sum::<i64>(), 100);
    for i in 0..10 {
        p.send(ProducerRecord::new(
            "g",
            Some(format!("n{i}").as_bytes()),
            Some(b"v"),
        ))
        .await
        .unwrap();
    }
    let mut c2 = Consumer::new(cfg).await.unwrap();
    c2.subscribe(&["g"], None).unwrap();
    let recs = poll_n(&mut c2, 10).await;
    assert_eq!(recs.len(), 10);
    assert!(
        recs.iter()
            .all(|r| r.key.as_deref().unwrap().starts_with(b"n"))
    );
    c2.close().await.unwrap();
    let groups = a.list_groups().await.unwrap();
    assert!(groups.iter().any(|g| g.group_id == "it-group"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_configs_partitions_and_delete() {
    let b = real_broker();
    let a = admin(&b).await;
    let mut t = NewTopic::new("adm", 1, 1);
    t.configs.push(("retention.ms".into(), "123456".into()));
    a.create_topic(t).await.unwrap();
    assert_eq!(
        a.create_topic(NewTopic::new("adm", 1, 1))
            .await
            .unwrap_err()
            .code(),
        Some(36)
    );
    let cfgs = a
        .describe_configs(ResourceType::Topic, "adm")
        .await
        .unwrap();
    let ret = cfgs.iter().find(|c| c.name == "retention.ms").unwrap();
    assert_eq!(ret.value.as_deref(), Some("123456"));
    a.alter_configs(
        ResourceType::Topic,
        "adm",
        // compact,delete: DeleteRecords below is refused on a compact-only topic, as in Kafka.
        &[AlterOp::Set(
            "cleanup.policy".into(),
            "compact,delete".into(),
        )],
    )
    .await
    .unwrap();
    let cfgs = a
        .describe_configs(ResourceType::Topic, "adm")
        .await
        .unwrap();
    let policy = cfgs.iter().find(|c| c.name == "cleanup.policy").unwrap();
    assert_eq!(policy.value.as_deref(), Some("compact,delete"));
    a.create_partitions("adm", 3).await.unwrap();
    let d = a.describe_topics(&["adm".into()]).await.unwrap();
    assert_eq!(d[0].partitions.len(), 3);
    let cluster = a.describe_cluster().await.unwrap();
    assert_eq!(cluster.brokers.len(), 1);
    let versions = a.api_versions().await.unwrap();
    assert!(versions[0].1.iter().any(|(k, _, _)| *k == 0));
    let p = Producer::new(ProducerConfig::new(b.addr())).await.unwrap();
    for i in 0..5u8 {
        // A compacted topic refuses records without a key (INVALID_RECORD, as Kafka).
        p.send(ProducerRecord::new("adm", Some(&[b'k', i][..]), Some(b"x")).with_partition(0))
            .await
            .unwrap();
    }
    let low = a.delete_records(&[("adm".into(), 0, 3)]).await.unwrap();
    assert_eq!(low[&("adm".to_string(), 0)], 3);
    let r = a.delete_topics(&["adm".into()]).await.unwrap();
    assert!(r[0].1.is_ok());
}

struct Revocations(std::sync::Arc<std::sync::Mutex<Vec<usize>>>);

impl vltava_client::RebalanceListener for Revocations {
    fn on_partitions_revoked(&mut self, p: &[(String, i32)]) {
        self.0.lock().unwrap().push(p.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_moves_only_the_partitions_that_change_owner() {
    let b = real_broker();
    let a = admin(&b).await;
    a.create_topic(NewTopic::new("coop", 4, 1)).await.unwrap();
    let mut cfg = ConsumerConfig::new(b.addr(), Some("coop-group"));
    cfg.assignors = vec![std::sync::Arc::new(
        vltava_client::consumer::CooperativeStickyAssignor,
    )];
    cfg.heartbeat_interval = Duration::from_millis(200);
    cfg.session_timeout = Duration::from_secs(10);
    let revoked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut c1 = Consumer::new(cfg.clone()).await.unwrap();
    c1.subscribe(&["coop"], Some(Box::new(Revocations(revoked.clone()))))
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while c1.assignment().len() != 4 {
        c1.poll(Duration::from_millis(100)).await.unwrap();
        assert!(std::time::Instant::now() < deadline);
    }
    let first = c1.assignment();
    // Each member polls in its own task, as applications do.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let run = |mut c: Consumer, stop: std::sync::Arc<std::sync::atomic::AtomicBool>| {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Acquire) {
                c.poll(Duration::from_millis(100)).await.unwrap();
                *seen2.lock().unwrap() = c.assignment();
            }
            c
        });
        (task, seen)
    };
    let mut c2 = Consumer::new(cfg).await.unwrap();
    c2.subscribe(&["coop"], None).unwrap();
    let (t1, a1) = run(c1, stop.clone());
    let (t2, a2) = run(c2, stop.clone());
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (x, y) = (a1.lock().unwrap().clone(), a2.lock().unwrap().clone());
        if x.len() == 2 && y.len() == 2 {
            assert!(x.iter().all(|tp| !y.contains(tp)));
            // c1 kept two of its partitions and gave up exactly two (never all four).
            assert!(x.iter().all(|tp| first.contains(tp)));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "c1 {x:?} c2 {y:?}");
    }
    stop.store(true, std::sync::atomic::Ordering::Release);
    let (c1, c2) = (t1.await.unwrap(), t2.await.unwrap());
    assert_eq!(
        revoked.lock().unwrap().iter().sum::<usize>(),
        2,
        "{:?}",
        revoked.lock().unwrap()
    );
    c2.close().await.unwrap();
    c1.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_member_gets_its_partitions_back_after_a_restart() {
    let b = real_broker();
    let a = admin(&b).await;
    a.create_topic(NewTopic::new("static", 3, 1)).await.unwrap();
    let mut cfg = ConsumerConfig::new(b.addr(), Some("static-group"));
    cfg.group_instance_id = Some("instance-a".into());
    cfg.heartbeat_interval = Duration::from_millis(200);
    cfg.session_timeout = Duration::from_secs(10);
    let mut c = Consumer::new(cfg.clone()).await.unwrap();
    c.subscribe(&["static"], None).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while c.assignment().len() != 3 {
        c.poll(Duration::from_millis(100)).await.unwrap();
        assert!(std::time::Instant::now() < deadline);
    }
    let before = c.assignment();
    c.close().await.unwrap(); // a static member does not leave
    let desc = a.describe_group("static-group").await.unwrap();
    assert_eq!(desc.members.len(), 1, "the static member keeps its slot");
    assert_eq!(
        desc.members[0].group_instance_id.as_deref(),
        Some("instance-a")
    );
    let mut c = Consumer::new(cfg).await.unwrap();
    c.subscribe(&["static"], None).unwrap();
    while c.assignment().len() != 3 {
        c.poll(Duration::from_millis(100)).await.unwrap();
        assert!(std::time::Instant::now() < deadline);
    }
    assert_eq!(c.assignment(), before);
    let desc = a.describe_group("static-group").await.unwrap();
    assert_eq!(desc.members.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_fetches_in_an_incremental_session() {
    let b = real_broker();
    let a = admin(&b).await;
    a.create_topic(NewTopic::new("sess", 3, 1)).await.unwrap();
    let p = Producer::new(ProducerConfig::new(b.addr())).await.unwrap();
    let send = |partition: i32, i: usize| {
        ProducerRecord::new("sess", None, Some(format!("v{i}").as_bytes()))
            .with_partition(partition)
    };
    for i in 0..30 {
        p.enqueue(send((i % 3) as i32, i)).await.unwrap();
    }
    p.flush().await;
    let mut cfg = ConsumerConfig::new(b.addr(), None);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    let mut c = Consumer::new(cfg).await.unwrap();
    c.assign(&[("sess".into(), 0), ("sess".into(), 1), ("sess".into(), 2)])
        .unwrap();
    assert_eq!(poll_n(&mut c, 30).await.len(), 30);
    // Idle polls keep using the session: its epoch moves, its id stays.
    for _ in 0..3 {
        assert!(c.poll(Duration::from_millis(100)).await.unwrap().is_empty());
    }
    let (id, epoch) = c.fetch_session(1).expect("a fetch session with broker 1");
    assert!(id != 0 && epoch > 1, "session {id} epoch {epoch}");
    // New records in one partition only arrive through the incremental fetches,
    // exactly once and in order; so does a partition sought back.
    for i in 30..40 {
        p.enqueue(send(1, i)).await.unwrap();
    }
    p.flush().await;
    let got = poll_n(&mut c, 10).await;
    let values: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(
        values,
        (30..40).map(|i| format!("v{i}")).collect::<Vec<_>>()
    );
    assert!(got.iter().all(|r| r.partition == 1));
    c.seek(&("sess".into(), 2), 0).unwrap();
    let again = poll_n(&mut c, 10).await;
    assert_eq!(again.len(), 10);
    assert!(again.iter().all(|r| r.partition == 2));
    assert_eq!(again[0].offset, 0);
    let (id2, epoch2) = c.fetch_session(1).unwrap();
    assert_eq!(id2, id);
    assert!(epoch2 > epoch);
    p.close().await;
}
