//! vltava-replication's integration tests, linked as one binary (one module per topic).

#![allow(clippy::unwrap_used)]

mod acks_and_waiters;
mod epochs_and_roles;
mod follower_truncation;
mod high_watermark;
mod isr_changes;
mod model;
mod support;
