//! Vltava under faults: a JSONL operation [`history`], a [`checker`] that finds Jepsen's
//! anomalies of Kafka's queue workload in it, and the [`harness`] that runs a
//! [`vltava_testkit::cluster::TestCluster`], the [`workload`]s and the [`faults`]
//! scheduler (with the [`proxy`] on the controller links), then the [`final_read`]s, to
//! produce one (binary `vltava-faults`).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod checker;
pub mod disk;
pub mod faults;
pub mod final_read;
pub mod harness;
pub mod history;
pub mod proxy;
pub mod workload;
