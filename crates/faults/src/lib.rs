//! Vltava under faults: a JSONL operation [`history`], a [`checker`] that finds Jepsen's
//! anomalies of Kafka's queue workload in it, and (in later modules) the harness that runs
//! a cluster, workloads and faults to produce one.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod checker;
pub mod history;
