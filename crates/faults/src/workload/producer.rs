//! A vltava-client producer (idempotent or plain, acks=all) sending unique values round
//! robin over the partitions, several in flight, recording each send's invoke and outcome.

use super::Shared;
use crate::history::{Op, OpFn, OpType, Record};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use vltava_client::{Acks, Producer, ProducerConfig, ProducerRecord};

/// Sends in flight per producer.
const IN_FLIGHT: usize = 16;
/// Pause between two sends of one producer.
const PACE: Duration = Duration::from_millis(10);

fn config(bootstrap: &str, idempotent: bool, process: &str) -> ProducerConfig {
    let mut cfg = ProducerConfig::new(bootstrap);
    cfg.client.client_id = process.to_string();
    cfg.client.request_timeout = Duration::from_secs(4);
    cfg.client.connect_timeout = Duration::from_secs(2);
    cfg.acks = Acks::All;
    cfg.enable_idempotence = idempotent;
    cfg.delivery_timeout = Duration::from_secs(12);
    cfg.max_block = Duration::from_secs(5);
    cfg
}

/// Runs one producer slot until `shared.stop`: a producer per generation, a new one (new
/// process id) when creating or using it fails.
pub async fn run(shared: Shared, slot: usize, idempotent: bool) {
    let kind = if idempotent { "idem" } else { "plain" };
    let mut generation = 0;
    while !shared.stopped() {
        let process = format!("rs-{kind}-{slot}-g{generation}");
        generation += 1;
        match Producer::new(config(&shared.bootstrap, idempotent, &process)).await {
            Ok(producer) => one_generation(&shared, producer, &process, idempotent).await,
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

async fn one_generation(shared: &Shared, producer: Producer, process: &str, idempotent: bool) {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut n: u64 = 0;
    let mut failures = 0;
    while !shared.stopped() && failures < 20 {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let partition = (n % shared.partitions as u64) as i32;
        let value = format!("{process}-{n}");
        n += 1;
        let record = Record {
            topic: shared.topic.clone(),
            partition: Some(partition),
            offset: None,
            key: None,
            value: value.clone(),
            producer: None,
        };
        let mut invoke = Op::new(process, OpType::Invoke, OpFn::Send);
        invoke.sends.push(record.clone());
        invoke.idempotent = idempotent;
        shared.recorder.record(invoke);
        let pr = ProducerRecord::new(&shared.topic, None, Some(value.as_bytes()))
            .with_partition(partition);
        let mut done = Op::new(process, OpType::Info, OpFn::Send);
        done.idempotent = idempotent;
        match producer.enqueue(pr).await {
            Ok(delivery) => {
                let recorder = shared.recorder.clone();
                tokio::spawn(async move {
                    match delivery.await {
                        Ok(md) => {
                            done.kind = OpType::Ok;
                            done.sends.push(Record {
                                partition: Some(md.partition),
                                offset: Some(md.offset),
                                ..record
                            });
                        }
                        Err(e) => {
                            done.sends.push(record);
                            done.error = Some(e.to_string());
                        }
                    }
                    recorder.record(done);
                    drop(permit);
                });
                failures = 0;
            }
            Err(e) => {
                // Not accepted into a batch; recorded as unknown all the same.
                done.sends.push(record);
                done.error = Some(e.to_string());
                shared.recorder.record(done);
                failures += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        tokio::time::sleep(PACE).await;
    }
    // Whatever is still in flight gets its outcome from the sender; bound the wait.
    let _ = tokio::time::timeout(Duration::from_secs(20), producer.close()).await;
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        permits.acquire_many(IN_FLIGHT as u32),
    )
    .await;
}
