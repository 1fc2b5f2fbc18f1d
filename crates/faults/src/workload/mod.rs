//! The workloads that write the history: vltava-client producers and consumers in this
//! process ([`producer`], [`consumer`]) and confluent-kafka in a Python child
//! ([`python`]). Every value sent is unique (`<process>-<n>`); a client that hits an
//! error it cannot continue from starts over under a new process id.

pub mod consumer;
pub mod producer;
pub mod python;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the in-process workload clients share.
#[derive(Debug, Clone)]
pub struct Shared {
    pub bootstrap: String,
    pub topic: String,
    pub partitions: i32,
    pub recorder: Arc<crate::history::Recorder>,
    pub stop: Arc<AtomicBool>,
}

impl Shared {
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}
