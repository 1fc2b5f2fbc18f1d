//! The log cleaner (Kafka's `LogCleaner`): `log.cleaner.threads` tasks that each
//! pick the dirtiest compacted log (dirty ratio at least its
//! `min.cleanable.dirty.ratio`, or forced by `max.compaction.lag.ms`, or holding
//! tombstones past `delete.retention.ms`), clean it on a blocking thread, and look
//! again at once; with nothing to clean they wait `log.cleaner.backoff.ms`.
//! The settings follow dynamic broker configs (a `watch` channel from the broker):
//! a supervisor task starts or stops threads when `log.cleaner.threads` changes, and
//! each cleaning takes the backoff, offset map share and IO rate current when it starts.
//!
//! A cleaning holds the partition's log lock only to plan it and to swap each
//! cleaned segment in (`vltava_storage::compaction`): producers and fetches on the
//! partition go on while segments are read and written. After each cleaning the
//! `cleaner-offset-checkpoint` of the log directory is rewritten.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use vltava_storage::clean_throttle::SharedThrottle;
use vltava_storage::{CleanOptions, CompactionOutcome, StorageError};

use crate::partitions::{Partition, PartitionManager, TopicPartition};
use vltava_records::clock::now_ms;

/// `log.cleaner.*` broker settings (Kafka's names and defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CleanerConfig {
    /// `log.cleaner.enable` (true)
    pub enable: bool,
    /// `log.cleaner.threads` (1)
    pub threads: usize,
    /// `log.cleaner.backoff.ms` (15000): the wait when no log needs cleaning
    pub backoff_ms: u64,
    /// `log.cleaner.dedupe.buffer.size` (128 MiB): offset map memory, shared by
    /// the threads
    pub dedupe_buffer_size: usize,
    /// `log.cleaner.io.max.bytes.per.second` (unlimited): bytes read and written per
    /// second by all cleaner threads together
    pub io_max_bytes_per_second: f64,
}

impl Default for CleanerConfig {
    fn default() -> Self {
        CleanerConfig {
            enable: true,
            threads: 1,
            backoff_ms: 15_000,
            dedupe_buffer_size: vltava_storage::DEDUPE_BUFFER_BYTES,
            io_max_bytes_per_second: f64::MAX,
        }
    }
}

impl CleanerConfig {
    /// What each cleaning runs with (a thread's share of the offset map).
    pub fn clean_options(&self) -> CleanOptions {
        CleanOptions {
            dedupe_buffer_bytes: self.dedupe_buffer_size / self.threads.max(1),
            io_bytes_per_second: self.io_max_bytes_per_second,
        }
    }
}

/// The cleaner's shared state: the logs being cleaned, the checkpoint writer and the IO
/// throttle all threads share (`log.cleaner.io.max.bytes.per.second` is one rate for all).
#[derive(Debug)]
pub struct LogCleaner {
    config: Mutex<CleanerConfig>,
    throttle: SharedThrottle,
    in_progress: Mutex<HashSet<TopicPartition>>,
    checkpoint: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// One cleaning done.
#[derive(Debug, Clone)]
pub struct Cleaned {
    pub topic: String,
    pub partition: i32,
    pub dirty_ratio: f64,
    pub outcome: CompactionOutcome,
    /// How long the cleaning took (plan to checkpoint).
    pub elapsed: Duration,
    /// The longest time it held the log's lock (planning, one swap, finishing).
    pub longest_lock_hold: Duration,
}

impl LogCleaner {
    /// A cleaner with `config`.
    pub fn new(config: CleanerConfig) -> Self {
        LogCleaner {
            config: Mutex::new(config),
            throttle: SharedThrottle::new(config.io_max_bytes_per_second),
            in_progress: Mutex::default(),
            checkpoint: Mutex::default(),
        }
    }

    /// The dirtiest log that needs cleaning and is not being cleaned, marked as
    /// being cleaned, with its dirty ratio.
    fn pick(&self, m: &PartitionManager, now: i64) -> Option<(Arc<Partition>, f64)> {
        let mut in_progress = lock(&self.in_progress);
        // (partition, rank, dirty ratio)
        let mut best: Option<(Arc<Partition>, f64, f64)> = None;
        for p in m.all() {
            if in_progress.contains(&(p.topic.clone(), p.index)) {
                continue;
            }
            let log = p.log();
            let Some(stats) = log.dirty_stats(now) else {
                continue;
            };
            if !stats.needs_cleaning(log.config().min_cleanable_dirty_ratio) {
                continue;
            }
            // Forced logs first, then the dirtiest.
            let forced = stats.max_lag_exceeded || stats.tombstones_due;
            let ratio = stats.ratio();
            let rank = ratio + if forced { 1.0 } else { 0.0 };
            drop(log);
            if best.as_ref().is_none_or(|(_, r, _)| rank > *r) {
                best = Some((p, rank, ratio));
            }
        }
        let (p, _, ratio) = best?;
        in_progress.insert((p.topic.clone(), p.index));
        Some((p, ratio))
    }

    /// Cleans the dirtiest log once, if one needs it (blocking: file IO).
    pub fn clean_one(&self, m: &PartitionManager) -> Result<Option<Cleaned>, StorageError> {
        // Only fsynced segments are cleanable: fsync those rolled since the last
        // flush first (as Kafka flushes a segment when it rolls).
        m.flush_rolled();
        let now = now_ms();
        let Some((p, dirty_ratio)) = self.pick(m, now) else {
            return Ok(None);
        };
        let started = std::time::Instant::now();
        let mut longest_lock_hold = Duration::ZERO;
        let r = self.clean_partition(m, &p, now, &mut longest_lock_hold);
        lock(&self.in_progress).remove(&(p.topic.clone(), p.index));
        let outcome = r?;
        Ok(outcome.map(|outcome| Cleaned {
            longest_lock_hold,
            topic: p.topic.clone(),
            partition: p.index,
            dirty_ratio,
            outcome,
            elapsed: started.elapsed(),
        }))
    }

    fn clean_partition(
        &self,
        m: &PartitionManager,
        p: &Partition,
        now: i64,
        longest: &mut Duration,
    ) -> Result<Option<CompactionOutcome>, StorageError> {
        let note = |held: std::time::Instant, longest: &mut Duration| {
            *longest = (*longest).max(held.elapsed());
        };
        let plan = {
            let log = p.log();
            let held = std::time::Instant::now();
            let plan = log.plan_cleaning(now);
            note(held, longest);
            plan?
        };
        let Some(plan) = plan else {
            return Ok(None);
        };
        // The lock is taken only for each swap.
        let options = lock(&self.config).clean_options();
        let outcome = plan.clean_sharing(&options, &self.throttle, &mut |c| {
            let mut log = p.log();
            let held = std::time::Instant::now();
            let r = log.swap_cleaned(c);
            note(held, longest);
            r
        })?;
        p.log().finish_cleaning(&outcome);
        let _writing = lock(&self.checkpoint);
        m.write_cleaner_checkpoint()?;
        Ok(Some(outcome))
    }

    /// Starts the cleaner: a supervisor that keeps `log.cleaner.threads` tasks running
    /// (none while `log.cleaner.enable` is false or the count is 0) under the settings
    /// `config` holds, restarting the count when they change. Everything ends when the
    /// manager is dropped or the sender of `config` is.
    pub fn spawn(
        mut config: watch::Receiver<CleanerConfig>,
        manager: &Arc<PartitionManager>,
    ) -> Vec<JoinHandle<()>> {
        let cleaner = Arc::new(LogCleaner::new(*config.borrow()));
        let weak = Arc::downgrade(manager);
        let supervisor = tokio::spawn(async move {
            let mut workers = Workers(Vec::new());
            let workers = &mut workers.0;
            loop {
                let current = *config.borrow_and_update();
                *lock(&cleaner.config) = current;
                cleaner.throttle.set_rate(current.io_max_bytes_per_second);
                let wanted = if current.enable { current.threads } else { 0 };
                if workers.len() < wanted {
                    workers.resize_with(wanted, || None);
                }
                for (i, slot) in workers.iter_mut().enumerate().take(wanted) {
                    if slot.as_ref().is_none_or(|h| h.is_finished()) {
                        let task = worker(i, cleaner.clone(), config.clone(), weak.clone());
                        *slot = Some(tokio::spawn(task));
                    }
                }
                // Threads past the count see the change and end by themselves.
                if config.changed().await.is_err() || weak.strong_count() == 0 {
                    return;
                }
            }
        });
        vec![supervisor]
    }
}

/// The supervisor's threads, stopped with it (a node's shutdown aborts the supervisor).
struct Workers(Vec<Option<JoinHandle<()>>>);

impl Drop for Workers {
    fn drop(&mut self) {
        for h in self.0.iter().flatten() {
            h.abort();
        }
    }
}

/// Cleaner thread `index`: cleans while the settings keep at least `index + 1` threads.
async fn worker(
    index: usize,
    cleaner: Arc<LogCleaner>,
    mut config: watch::Receiver<CleanerConfig>,
    manager: Weak<PartitionManager>,
) {
    loop {
        let current = *config.borrow_and_update();
        if !current.enable || index >= current.threads {
            return;
        }
        let Some(m) = manager.upgrade() else { return };
        let c = cleaner.clone();
        let r = tokio::task::spawn_blocking(move || c.clean_one(&m)).await;
        match r {
            Ok(Ok(Some(done))) if done.outcome.segments_cleaned == 0 => {
                tracing::debug!(topic = %done.topic, partition = done.partition, "log cleaned: nothing to remove");
                continue;
            }
            Ok(Ok(Some(done))) => {
                tracing::info!(
                    topic = %done.topic,
                    partition = done.partition,
                    dirty_ratio = done.dirty_ratio,
                    segments = done.outcome.segments_cleaned,
                    discarded = done.outcome.segments_discarded,
                    records_removed = done.outcome.records_removed,
                    markers_stamped = done.outcome.markers_stamped,
                    markers_removed = done.outcome.markers_removed,
                    bytes_before = done.outcome.bytes_before,
                    bytes_after = done.outcome.bytes_after,
                    ms = done.elapsed.as_millis() as u64,
                    lock_max_us = done.longest_lock_hold.as_micros() as u64,
                    "log cleaned"
                );
                continue;
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "log cleaning failed"),
            Ok(Ok(None)) | Err(_) => {}
        }
        // Nothing to clean: wait the backoff, or less if the settings change.
        let backoff = Duration::from_millis(current.backoff_ms.max(1));
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            r = config.changed() => if r.is_err() { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_thread_gets_its_share_of_the_map() {
        let c = CleanerConfig {
            threads: 4,
            ..CleanerConfig::default()
        };
        assert_eq!(c.clean_options().dedupe_buffer_bytes, 32 * 1024 * 1024);
        assert!(CleanerConfig::default().enable);
        assert_eq!(CleanerConfig::default().backoff_ms, 15_000);
    }
}
