//! Kafka's partition log on disk, embeddable without a broker.
//!
//! A [`Log`] is one partition directory (`<topic>-<partition>`) of segments: `.log`
//! files of record batches with sparse `.index` and `.timeindex` files, producer
//! state snapshots and a `leader-epoch-checkpoint`. It appends batches (assigning
//! offsets in place), serves reads as file ranges, recovers after a crash by checking
//! every batch after the recovery point, and applies retention and compaction.
//!
//! All file access goes through the [`Storage`] trait: [`StdStorage`] for real files,
//! [`MemStorage`] for tests that inject faults and cut files at any byte.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod checkpoint;
pub mod clean_batch;
pub mod clean_plan;
pub mod clean_run;
pub mod clean_swap;
pub mod clean_throttle;
pub mod clean_txn;
/// The workspace's wall clock, defined once in `vltava-records` (re-exported so
/// `vltava_storage::clock::*` keeps naming it).
pub use vltava_records::clock;
pub mod compaction;
pub mod config;
pub mod error;
pub mod fuzz_support;
pub mod handle_cache;
pub mod index_file;
pub mod index_memory;
pub mod io;
mod leader_append;
pub mod leader_epoch;
pub mod log;
pub mod offset_index;
pub mod offset_map;
pub mod producer_state;
pub mod record_rules;
pub mod recovery;
pub mod retention;
pub mod segment;
pub mod slice;
pub mod time_index;
pub mod timestamp_lookup;
pub mod transactions;
pub mod txn_index;

pub use checkpoint::OffsetCheckpoint;
pub use clean_plan::{CleanPlan, DirtyStats};
pub use clean_run::{CleanOptions, CleanedSegment, CompactionOutcome, DEDUPE_BUFFER_BYTES};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{CleanupPolicy, LogConfig};
pub use error::{Result, StorageError};
pub use handle_cache::{DEFAULT_INACTIVE_SEGMENT_OPEN_FILES, HandleCache};
pub use io::{MemStorage, StdStorage, Storage, StorageFile};
pub use log::{
    AppendInfo, EARLIEST_TIMESTAMP, FetchIsolation, FlushJob, LATEST_TIMESTAMP, Log,
    LogOpenOptions, MAX_TIMESTAMP, ReadInfo, TimestampOffset,
};
pub use slice::FileSlice;
pub use txn_index::AbortedTxn;

/// The README's example, compiled and run as a doc test.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
