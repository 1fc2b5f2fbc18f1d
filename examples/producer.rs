//! Produces a few keyed records and prints where each one landed.
//!
//! `cargo run -p vltava-client --example producer -- 127.0.0.1:9092 my-topic`

use vltava_client::{Producer, ProducerConfig, ProducerRecord};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let topic = args.next().unwrap_or_else(|| "example".into());
    let mut cfg = ProducerConfig::new(&bootstrap);
    cfg.compression = vltava_records::Compression::Lz4;
    let producer = Producer::new(cfg).await?;
    let mut deliveries = Vec::new();
    for i in 0..10 {
        let key = format!("user-{}", i % 3);
        let record = ProducerRecord::new(
            &topic,
            Some(key.as_bytes()),
            Some(format!("event {i}").as_bytes()),
        )
        .with_header("source", Some(b"example"));
        deliveries.push(producer.enqueue(record).await?);
    }
    for d in deliveries {
        let md = d.await?;
        println!("{}-{}@{}", md.topic, md.partition, md.offset);
    }
    producer.close().await;
    Ok(())
}
