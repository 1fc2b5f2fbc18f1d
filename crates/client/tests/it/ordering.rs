//! The producer keeps order with several requests in flight, through the real
//! broker: with `linger.ms` 0 and five requests in flight per connection, each
//! record lands at the offset its send order gives it (no idempotence, one
//! partition), and the idempotent producer stores every record once, in order,
//! on each of three partitions.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use crate::support::real_broker;
use vltava_client::producer::Acks;
use vltava_client::{Admin, ClientConfig, NewTopic, Producer, ProducerConfig, ProducerRecord};

async fn produce_numbered(
    cfg: ProducerConfig,
    topic: &str,
    n: usize,
    partitions: i32,
) -> Vec<(i32, i64)> {
    let p = Producer::new(cfg).await.unwrap();
    let mut futures = Vec::with_capacity(n);
    for i in 0..n {
        let rec = ProducerRecord::new(topic, None, Some(i.to_string().as_bytes()))
            .with_partition(i as i32 % partitions);
        futures.push(p.enqueue(rec).await.unwrap());
    }
    let mut out = Vec::with_capacity(n);
    for f in futures {
        let md = f.await.unwrap();
        out.push((md.partition, md.offset));
    }
    p.close().await;
    out
}

fn config(addr: &str, acks: Acks, idempotent: bool) -> ProducerConfig {
    let mut cfg = ProducerConfig::new(addr);
    cfg.acks = acks;
    cfg.enable_idempotence = idempotent;
    cfg.linger = Duration::ZERO;
    cfg.max_in_flight = 5;
    cfg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_in_flight_without_idempotence_keeps_send_order() {
    let b = real_broker();
    let a = Admin::connect(ClientConfig::new(b.addr())).await.unwrap();
    a.create_topic(NewTopic::new("order", 1, 1)).await.unwrap();
    let n = 50_000;
    let got = produce_numbered(config(b.addr(), Acks::Leader, false), "order", n, 1).await;
    let inversions = got.windows(2).filter(|w| w[1].1 <= w[0].1).count();
    assert_eq!(inversions, 0);
    assert!(got.iter().enumerate().all(|(i, &(_, off))| off == i as i64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_with_five_in_flight_stores_each_record_once_in_order() {
    let b = real_broker();
    let a = Admin::connect(ClientConfig::new(b.addr())).await.unwrap();
    a.create_topic(NewTopic::new("idem", 3, 1)).await.unwrap();
    let n = 60_000;
    let got = produce_numbered(config(b.addr(), Acks::All, true), "idem", n, 3).await;
    for (i, &(partition, offset)) in got.iter().enumerate() {
        assert_eq!(partition, i as i32 % 3);
        assert_eq!(offset, (i / 3) as i64, "record {i}");
    }
}
