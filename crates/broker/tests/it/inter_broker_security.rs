//! Three `vltava` processes whose inter-broker listener is SASL_SSL (PLAIN, with a CA
//! made by the test): the replica fetchers log in over TLS, an RF=3 topic's acks=all
//! records reach every node's log files, and killing the leader loses none of them; a
//! transaction over partitions led by every node commits (its markers and the produce
//! verification travel between brokers on that listener) and read_committed sees it.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use vltava_testkit::certs;
use vltava_testkit::cluster::TestCluster;

use crate::replication::{consume, create, expected, produce, values_on_disk, wait_for};

const LIMIT: Duration = Duration::from_secs(30);

async fn start(properties: Vec<String>) -> TestCluster {
    let bin = Path::new(env!("CARGO_BIN_EXE_vltava"));
    tokio::task::spawn_blocking(move || {
        let props: Vec<&str> = properties.iter().map(String::as_str).collect();
        TestCluster::start_with_listener(3, Some(bin), &props, "SASL_SSL")
    })
    .await
    .unwrap()
    .unwrap()
}

/// Three nodes whose inter-broker listener is SASL_SSL with PLAIN, certificates in `dir`.
async fn secure_cluster(dir: &Path) -> TestCluster {
    let certs = certs::make(dir).unwrap();
    start(vec![
        "inter.broker.listener.name=SASL_SSL".into(),
        "ssl.keystore.type=PEM".into(),
        format!("ssl.keystore.location={}", certs.keystore.display()),
        "ssl.truststore.type=PEM".into(),
        format!("ssl.truststore.location={}", certs.ca.display()),
        "sasl.enabled.mechanisms=PLAIN".into(),
        "sasl.mechanism.inter.broker.protocol=PLAIN".into(),
        r#"listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="broker-secret" user_broker="broker-secret";"#.into(),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_over_a_sasl_ssl_inter_broker_listener_survives_the_leader() {
    let dir = vltava_testkit::temp_dir("inter-broker-tls").unwrap();
    let mut cluster = secure_cluster(&dir).await;
    let a0 = cluster.addr(0);
    assert_eq!(create(&a0, "secure-r3", &[]).await, 0);
    let (leader, isr) = wait_for(&a0, "secure-r3", "a leader", |l, isr| {
        l >= 0 && isr.len() == 3
    })
    .await;
    assert_eq!(isr, vec![0, 1, 2]);
    // acks=all: acknowledged only once both followers fetched over SASL_SSL.
    let tags: Vec<String> = (0..5).map(|i| format!("s{i}")).collect();
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    for (i, tag) in tags.iter().enumerate() {
        let (code, base) = produce(&cluster.addr(leader as usize), "secure-r3", -1, 4, tag).await;
        assert_eq!((code, base), (0, 4 * i as i64), "batch {tag}");
    }
    let acknowledged = expected(&tags, 4);
    for node in 0..3 {
        assert_eq!(
            values_on_disk(&cluster, node, "secure-r3"),
            acknowledged,
            "node {node} holds every acknowledged record"
        );
    }
    let (_, isr) = wait_for(&a0, "secure-r3", "a full ISR", |_, isr| isr.len() == 3).await;
    assert_eq!(isr, vec![0, 1, 2], "the followers stayed in sync");

    cluster.kill(leader as usize).unwrap();
    let survivor = cluster.addr(((leader + 1) % 3) as usize);
    let (new_leader, _) = wait_for(&survivor, "secure-r3", "a new leader", |l, isr| {
        l >= 0 && l != leader && !isr.contains(&leader)
    })
    .await;
    let new_addr = cluster.addr(new_leader as usize);
    let deadline = tokio::time::Instant::now() + LIMIT;
    let values = loop {
        let (code, values, hw) = consume(&new_addr, "secure-r3").await;
        if code == 0 && hw >= 20 {
            break values;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "new leader never served: {code}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(values, acknowledged, "nothing acknowledged was lost");
    // The new leader's follower keeps fetching over SASL_SSL.
    let (code, base) = produce(&new_addr, "secure-r3", -1, 4, "t0").await;
    assert_eq!((code, base), (0, 20));
    let mut all = acknowledged.clone();
    all.extend(expected(&["t0"], 4));
    for node in (0..3).filter(|n| *n != leader as usize) {
        assert_eq!(
            values_on_disk(&cluster, node, "secure-r3"),
            all,
            "node {node}"
        );
    }
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_across_brokers_commits_over_a_sasl_ssl_inter_broker_listener() {
    use vltava_client::consumer::{ConsumerConfig, IsolationLevel, OffsetReset};
    use vltava_client::{
        Admin, ClientConfig, Consumer, NewTopic, Producer, ProducerConfig, ProducerRecord,
    };

    let dir = vltava_testkit::temp_dir("inter-broker-txn").unwrap();
    let cluster = secure_cluster(&dir).await;
    let bootstrap = cluster.bootstrap();
    let admin = Admin::connect(ClientConfig::new(&bootstrap)).await.unwrap();
    // Six RF=1 partitions: led by every node, so the coordinator's markers go to the
    // others over SASL_SSL.
    admin
        .create_topics(&[NewTopic::new("secure-txn", 6, 1)], false)
        .await
        .unwrap();
    let mut cfg = ProducerConfig::new(&bootstrap);
    cfg.transactional_id = Some("secure-txn-id".into());
    cfg.transaction_timeout = Duration::from_secs(20);
    cfg.max_block = Duration::from_secs(20);
    let producer = Producer::new(cfg).await.unwrap();
    producer.begin_transaction().await.unwrap();
    for p in 0..6 {
        let value = format!("v{p}");
        producer
            .send(ProducerRecord::new("secure-txn", None, Some(value.as_bytes())).with_partition(p))
            .await
            .unwrap();
    }
    producer.commit_transaction().await.unwrap();
    let mut ccfg = ConsumerConfig::new(&bootstrap, None);
    ccfg.auto_offset_reset = OffsetReset::Earliest;
    ccfg.isolation_level = IsolationLevel::ReadCommitted;
    let mut consumer = Consumer::new(ccfg).await.unwrap();
    consumer
        .assign(
            &(0..6)
                .map(|p| ("secure-txn".to_string(), p))
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let mut values = Vec::new();
    let deadline = tokio::time::Instant::now() + LIMIT;
    while values.len() < 6 && tokio::time::Instant::now() < deadline {
        for r in consumer.poll(Duration::from_millis(200)).await.unwrap() {
            values.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
        }
    }
    values.sort();
    assert_eq!(values, (0..6).map(|p| format!("v{p}")).collect::<Vec<_>>());
    producer.close().await;
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
