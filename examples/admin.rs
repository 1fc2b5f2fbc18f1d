//! An admin script: creates a topic, describes the cluster and the topic,
//! sets a topic config, and lists the partitions' end offsets.
//!
//! `cargo run -p vltava-client --example admin -- 127.0.0.1:9092 my-topic`

use vltava_client::admin::{AlterOp, LATEST, ResourceType};
use vltava_client::{Admin, ClientConfig, NewTopic};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bootstrap = args.next().unwrap_or_else(|| "127.0.0.1:9092".into());
    let topic = args.next().unwrap_or_else(|| "example".into());
    let admin = Admin::connect(ClientConfig::new(&bootstrap)).await?;
    match admin.create_topic(NewTopic::new(&topic, 3, 1)).await {
        Ok(()) => println!("created {topic}"),
        Err(e) if e.code() == Some(36) => println!("{topic} exists"),
        Err(e) => return Err(e.into()),
    }
    let cluster = admin.describe_cluster().await?;
    println!(
        "cluster {:?}, controller {}",
        cluster.cluster_id, cluster.controller_id
    );
    for b in &cluster.brokers {
        println!("broker {} at {}", b.id, b.addr());
    }
    for t in admin.describe_topics(std::slice::from_ref(&topic)).await? {
        for p in &t.partitions {
            println!(
                "{}-{} leader {} replicas {:?}",
                t.name, p.partition, p.leader, p.replicas
            );
        }
    }
    admin
        .alter_configs(
            ResourceType::Topic,
            &topic,
            &[AlterOp::Set("retention.ms".into(), "86400000".into())],
        )
        .await?;
    let parts: Vec<(String, i32)> = (0..3).map(|p| (topic.clone(), p)).collect();
    for ((t, p), o) in admin.list_offsets(&parts, LATEST).await? {
        println!("{t}:{p}:{o}");
    }
    Ok(())
}
