//! The final complete reads: once every node is back, wait until every partition has a
//! leader, take each partition's end (the high watermark), and read it from its start to
//! that end with a fresh consumer, recorded as one `complete` poll per partition.

use crate::history::{Op, OpFn, OpType, Position, Recorder};
use crate::workload::consumer::{config, to_records};
use std::time::{Duration, Instant};
use vltava_client::{Admin, ClientConfig, Consumer};

/// Why the final reads could not run.
#[derive(Debug, thiserror::Error)]
pub enum FinalReadError {
    #[error("partitions without a leader after {0:?}: {1:?}")]
    NoLeader(Duration, Vec<i32>),
    #[error("client: {0}")]
    Client(#[from] vltava_client::ClientError),
}

/// Waits until every partition of `topic` has a leader.
pub async fn wait_for_leaders(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    limit: Duration,
) -> Result<(), FinalReadError> {
    let deadline = Instant::now() + limit;
    loop {
        let mut missing: Vec<i32> = (0..partitions).collect();
        if let Ok(admin) = Admin::connect(ClientConfig::new(bootstrap)).await {
            if let Ok(topics) = admin.describe_topics(&[topic.to_string()]).await {
                for t in topics {
                    for p in t.partitions {
                        if p.leader >= 0 && p.error_code == 0 {
                            missing.retain(|m| *m != p.partition);
                        }
                    }
                }
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(FinalReadError::NoLeader(limit, missing));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Reads every partition of `topic` completely, recording into `recorder`. A read that
/// cannot reach the end within `limit` is recorded with the end it did reach.
pub async fn read_all(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    recorder: &Recorder,
    limit: Duration,
) -> Result<(), FinalReadError> {
    wait_for_leaders(bootstrap, topic, partitions, limit).await?;
    let admin = Admin::connect(ClientConfig::new(bootstrap)).await?;
    let tps: Vec<(String, i32)> = (0..partitions).map(|p| (topic.to_string(), p)).collect();
    let ends = admin.list_offsets(&tps, -1).await?;
    for tp in tps {
        let end = ends.get(&tp).copied().unwrap_or(0);
        let process = format!("final-{}", tp.1);
        let mut consumer = Consumer::new(config(bootstrap, None, &process)).await?;
        consumer.assign(std::slice::from_ref(&tp))?;
        let mut op = Op::new(&process, OpType::Ok, OpFn::Poll);
        op.complete = true;
        let deadline = Instant::now() + limit;
        let mut reached = 0;
        while reached < end && Instant::now() < deadline {
            match consumer.poll(Duration::from_millis(500)).await {
                Ok(records) => {
                    op.reads.extend(to_records(&records));
                    reached = consumer.position(&tp).unwrap_or(reached);
                }
                Err(e) => {
                    eprintln!("vltava-faults: final read of {}-{}: {e}", tp.0, tp.1);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        if reached < end {
            eprintln!(
                "vltava-faults: final read of {}-{} reached {reached} of {end}",
                tp.0, tp.1
            );
        }
        op.ends.push(Position {
            topic: tp.0.clone(),
            partition: tp.1,
            offset: reached.min(end),
        });
        recorder.record(op);
    }
    Ok(())
}
