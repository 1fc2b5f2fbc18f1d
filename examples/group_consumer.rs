//! Consumes a topic as a member of a consumer group, printing each record and
//! committing after every poll.
//!
//! `cargo run -p vltava-client --example group_consumer -- 127.0.0.1:9092 my-topic my-group`

use std::time::Duration;
use vltava_client::{Consumer, ConsumerConfig, OffsetReset};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let topic = args.next().unwrap_or_else(|| "example".into());
    let group = args.next().unwrap_or_else(|| "example-group".into());
    let mut cfg = ConsumerConfig::new(&bootstrap, Some(&group));
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.enable_auto_commit = false;
    let mut consumer = Consumer::new(cfg).await?;
    consumer.subscribe(&[topic.as_str()], None)?;
    let mut idle = 0;
    while idle < 10 {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if records.is_empty() {
            idle += 1;
            continue;
        }
        idle = 0;
        for r in &records {
            println!(
                "{}-{}@{} {}={}",
                r.topic,
                r.partition,
                r.offset,
                String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()),
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())
            );
        }
        consumer.commit_sync().await?;
    }
    consumer.close().await?;
    Ok(())
}
