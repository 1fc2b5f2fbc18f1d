//! vltava-client consumers: members of one group (subscribe, commit after every poll that
//! returned records, rebalances recorded as `assign`) or standalone (assign every
//! partition from the start). Each poll's records are recorded in the order returned.

use super::Shared;
use crate::history::{Op, OpFn, OpType, Position, Record};
use std::sync::Arc;
use std::time::Duration;
use vltava_client::consumer::config::IsolationLevel;
use vltava_client::{Consumer, ConsumerConfig, ConsumerRecord, OffsetReset, RebalanceListener};

/// How a consumer gets its partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `subscribe` in the workload's group, committing.
    Group,
    /// `assign` of every partition, no group.
    Assign,
}

/// Records every assignment change of a group member.
struct Listener {
    process: String,
    recorder: Arc<crate::history::Recorder>,
}

impl RebalanceListener for Listener {
    fn on_partitions_revoked(&mut self, _partitions: &[(String, i32)]) {
        self.recorder
            .record(Op::new(&self.process, OpType::Ok, OpFn::Assign));
    }
    fn on_partitions_assigned(&mut self, _partitions: &[(String, i32)]) {
        self.recorder
            .record(Op::new(&self.process, OpType::Ok, OpFn::Assign));
    }
}

/// A consumer of the workload's topic at `bootstrap` (also used by the final reads).
pub fn config(bootstrap: &str, group: Option<&str>, process: &str) -> ConsumerConfig {
    let mut cfg = ConsumerConfig::new(bootstrap, group);
    cfg.client.client_id = process.to_string();
    cfg.client.request_timeout = Duration::from_secs(4);
    cfg.client.connect_timeout = Duration::from_secs(2);
    cfg.auto_offset_reset = OffsetReset::Earliest;
    cfg.enable_auto_commit = false;
    cfg.session_timeout = Duration::from_secs(10);
    cfg.heartbeat_interval = Duration::from_secs(1);
    cfg.max_poll_interval = Duration::from_secs(30);
    cfg.fetch_max_wait = Duration::from_millis(200);
    cfg.isolation_level = IsolationLevel::ReadUncommitted;
    cfg
}

/// A poll's records as history records.
pub fn to_records(records: &[ConsumerRecord]) -> Vec<Record> {
    records
        .iter()
        .map(|r| Record {
            topic: r.topic.clone(),
            partition: Some(r.partition),
            offset: Some(r.offset),
            key: r
                .key
                .as_ref()
                .map(|k| String::from_utf8_lossy(k).into_owned()),
            value: String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
            producer: Some((r.producer_id, r.producer_epoch)),
        })
        .collect()
}

/// Runs one consumer slot until `shared.stop`, a new consumer (new process id) after any
/// error.
pub async fn run(shared: Shared, slot: usize, mode: Mode, group: String) {
    let tag = match mode {
        Mode::Group => "group",
        Mode::Assign => "assign",
    };
    let mut generation = 0;
    while !shared.stopped() {
        let process = format!("rs-{tag}-{slot}-g{generation}");
        generation += 1;
        let group_id = (mode == Mode::Group).then_some(group.as_str());
        let result = one_generation(&shared, &process, mode, group_id).await;
        if let Err(e) = result {
            let mut op = Op::new(&process, OpType::Fail, OpFn::Poll);
            op.error = Some(e.to_string());
            shared.recorder.record(op);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

async fn one_generation(
    shared: &Shared,
    process: &str,
    mode: Mode,
    group: Option<&str>,
) -> vltava_client::Result<()> {
    let mut consumer = Consumer::new(config(&shared.bootstrap, group, process)).await?;
    match mode {
        Mode::Group => consumer.subscribe(
            &[shared.topic.as_str()],
            Some(Box::new(Listener {
                process: process.to_string(),
                recorder: shared.recorder.clone(),
            })),
        )?,
        Mode::Assign => {
            let all: Vec<(String, i32)> = (0..shared.partitions)
                .map(|p| (shared.topic.clone(), p))
                .collect();
            consumer.assign(&all)?;
            shared
                .recorder
                .record(Op::new(process, OpType::Ok, OpFn::Assign));
        }
    }
    while !shared.stopped() {
        let records = consumer.poll(Duration::from_millis(500)).await?;
        if records.is_empty() {
            continue;
        }
        let mut op = Op::new(process, OpType::Ok, OpFn::Poll);
        op.reads = to_records(&records);
        shared.recorder.record(op);
        if mode == Mode::Group {
            // A failed commit (a rebalance under way, a coordinator moving) is recorded;
            // the consumer goes on and the next commit covers it.
            commit(shared, &mut consumer, process).await;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), consumer.close()).await;
    Ok(())
}

async fn commit(shared: &Shared, consumer: &mut Consumer, process: &str) {
    let commits: Vec<Position> = consumer
        .assignment()
        .into_iter()
        .filter_map(|tp| {
            consumer.position(&tp).map(|offset| Position {
                topic: tp.0.clone(),
                partition: tp.1,
                offset,
            })
        })
        .collect();
    let mut invoke = Op::new(process, OpType::Invoke, OpFn::Commit);
    invoke.commits = commits.clone();
    shared.recorder.record(invoke);
    let result = consumer.commit_sync().await;
    let mut done = Op::new(process, OpType::Ok, OpFn::Commit);
    done.commits = commits;
    if let Err(e) = &result {
        done.kind = OpType::Info;
        done.error = Some(e.to_string());
    }
    shared.recorder.record(done);
}
