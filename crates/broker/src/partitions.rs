//! The partition manager: the open partition logs of this broker (one
//! `vltava_storage::Log` per `<topic>-<partition>` directory under the first log
//! dir), opening them at start-up and on demand, deleting them, the
//! log-start-offset checkpoint, the retention/compaction schedule and the
//! append notification that long-polling fetches wait on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use vltava_storage::checkpoint::{LOG_START_OFFSET_CHECKPOINT, RECOVERY_POINT_CHECKPOINT};
use vltava_storage::{
    Log, LogConfig, LogOpenOptions, OffsetCheckpoint, StdStorage, StorageError, SystemClock,
};

/// A topic and partition.
pub type TopicPartition = (String, i32);

/// One partition log, shared by request handlers.
#[derive(Debug)]
pub struct Partition {
    pub topic: String,
    pub index: i32,
    log: Mutex<Log>,
}

impl Partition {
    /// Locks the log. A handler that panicked while holding it cannot have left the
    /// log half-written (the log itself guards its invariants), so poisoning is
    /// ignored.
    pub fn log(&self) -> MutexGuard<'_, Log> {
        match self.log.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

/// The set of partition logs on this broker.
#[derive(Debug)]
pub struct PartitionManager {
    dir: PathBuf,
    partitions: RwLock<HashMap<TopicPartition, Arc<Partition>>>,
    /// Serialises opening and deleting logs, so one directory never has two
    /// `Log`s over it.
    opening: Mutex<()>,
    appended: watch::Sender<u64>,
}

/// Parses `<topic>-<partition>` (topic names may contain `-`).
fn parse_dir_name(name: &str) -> Option<TopicPartition> {
    let (topic, p) = name.rsplit_once('-')?;
    let p: i32 = p.parse().ok()?;
    if topic.is_empty() || p < 0 {
        return None;
    }
    Some((topic.to_string(), p))
}

impl PartitionManager {
    /// A manager over `dir` (created if missing); opens nothing yet.
    pub fn new(dir: &Path) -> std::io::Result<PartitionManager> {
        std::fs::create_dir_all(dir)?;
        Ok(PartitionManager {
            dir: dir.to_path_buf(),
            partitions: RwLock::new(HashMap::new()),
            opening: Mutex::new(()),
            appended: watch::channel(0).0,
        })
    }

    fn read_map(&self) -> std::sync::RwLockReadGuard<'_, HashMap<TopicPartition, Arc<Partition>>> {
        match self.partitions.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn write_map(
        &self,
    ) -> std::sync::RwLockWriteGuard<'_, HashMap<TopicPartition, Arc<Partition>>> {
        match self.partitions.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The partition directories present on disk.
    pub fn on_disk(&self) -> std::io::Result<Vec<TopicPartition>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            if !entry.file_type()?.is_dir() {
                continue;
            }
            if let Some(tp) = entry.file_name().to_str().and_then(parse_dir_name) {
                out.push(tp);
            }
        }
        Ok(out)
    }

    /// The open partition, if any.
    pub fn get(&self, topic: &str, partition: i32) -> Option<Arc<Partition>> {
        self.read_map()
            .get(&(topic.to_string(), partition))
            .cloned()
    }

    /// Opens (creating if needed) a partition log with `config`; an open one is
    /// returned as it is, with `config` applied.
    pub fn open(
        &self,
        topic: &str,
        partition: i32,
        config: LogConfig,
    ) -> Result<Arc<Partition>, StorageError> {
        let _opening = match self.opening.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if let Some(p) = self.get(topic, partition) {
            let mut log = p.log();
            if log.config() != &config {
                log.set_config(config);
            }
            drop(log);
            return Ok(p);
        }
        let starts =
            OffsetCheckpoint::read(&StdStorage, &self.dir.join(LOG_START_OFFSET_CHECKPOINT))
                .unwrap_or_default();
        let key = (topic.to_string(), partition);
        let opts = LogOpenOptions {
            log_start_offset: starts.offsets.get(&key).copied().unwrap_or(0),
            ..LogOpenOptions::default()
        };
        let log = Log::open(
            Arc::new(StdStorage),
            &self.dir.join(format!("{topic}-{partition}")),
            config,
            Arc::new(SystemClock),
            opts,
        )?;
        let mut map = self.write_map();
        let p = map
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Partition {
                    topic: topic.to_string(),
                    index: partition,
                    log: Mutex::new(log),
                })
            })
            .clone();
        Ok(p)
    }

    /// Closes and deletes every partition of `topic`, including directories of
    /// partitions not open.
    pub fn delete_topic(&self, topic: &str) -> std::io::Result<()> {
        let _opening = match self.opening.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let removed: Vec<Arc<Partition>> = {
            let mut map = self.write_map();
            let keys: Vec<TopicPartition> =
                map.keys().filter(|(t, _)| t == topic).cloned().collect();
            keys.iter().filter_map(|k| map.remove(k)).collect()
        };
        drop(removed);
        for (t, p) in self.on_disk()? {
            if t == topic {
                std::fs::remove_dir_all(self.dir.join(format!("{t}-{p}")))?;
            }
        }
        Ok(())
    }

    /// All open partitions.
    pub fn all(&self) -> Vec<Arc<Partition>> {
        self.read_map().values().cloned().collect()
    }

    /// Tells waiting fetches that data arrived.
    pub fn notify_append(&self) {
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes whenever anything is appended.
    pub fn subscribe_appends(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// Writes the log-start-offset and recovery-point checkpoints of every open log.
    pub fn write_checkpoints(&self) -> Result<(), StorageError> {
        let mut starts = OffsetCheckpoint::default();
        let mut recovery = OffsetCheckpoint::default();
        for p in self.all() {
            let log = p.log();
            starts
                .offsets
                .insert((p.topic.clone(), p.index), log.log_start_offset());
            recovery
                .offsets
                .insert((p.topic.clone(), p.index), log.recovery_point());
        }
        starts.write(&StdStorage, &self.dir.join(LOG_START_OFFSET_CHECKPOINT))?;
        recovery.write(&StdStorage, &self.dir.join(RECOVERY_POINT_CHECKPOINT))
    }

    /// Fsyncs the segments rolled since the last flush (outside each log's lock)
    /// and moves the recovery points forward.
    pub fn flush_rolled(&self) {
        for p in self.all() {
            let Some(job) = p.log().rolled_flush_job() else {
                continue;
            };
            let result = job.run();
            if let Err(e) = p.log().complete_flush(&job, result) {
                tracing::error!(topic = %p.topic, partition = p.index, error = %e, "flush failed; log is offline");
            }
        }
    }

    /// Runs retention (and compaction for compacted topics) on every log once.
    pub fn run_retention(&self, now_ms: i64) {
        for p in self.all() {
            let mut log = p.log();
            if let Err(e) = log.run_retention(now_ms) {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "retention failed");
            }
        }
    }

    /// Flushes every log (clean shutdown) and writes the checkpoints.
    pub fn flush_all(&self) {
        for p in self.all() {
            if let Err(e) = p.log().flush() {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "flush failed");
            }
        }
        if let Err(e) = self.write_checkpoints() {
            tracing::warn!(error = %e, "writing checkpoints failed");
        }
    }

    /// Runs retention every `interval` and checkpoints every `checkpoint_interval`
    /// until the manager is dropped by everyone else.
    pub fn spawn_background(
        self: &Arc<Self>,
        interval: Duration,
        checkpoint_interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut retention = tokio::time::interval(interval);
            let mut checkpoint = tokio::time::interval(checkpoint_interval);
            loop {
                tokio::select! {
                    _ = retention.tick() => {
                        let Some(m) = weak.upgrade() else { return };
                        let now = now_ms();
                        let _ = tokio::task::spawn_blocking(move || m.run_retention(now)).await;
                    }
                    _ = checkpoint.tick() => {
                        let Some(m) = weak.upgrade() else { return };
                        let _ = tokio::task::spawn_blocking(move || {
                            m.flush_rolled();
                            if let Err(e) = m.write_checkpoints() {
                                tracing::warn!(error = %e, "writing checkpoints failed");
                            }
                        }).await;
                    }
                }
            }
        })
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_names_parse_with_dashes_in_topics() {
        assert_eq!(parse_dir_name("a-b-3"), Some(("a-b".into(), 3)));
        assert_eq!(
            parse_dir_name("__consumer_offsets-49"),
            Some(("__consumer_offsets".into(), 49))
        );
        assert_eq!(parse_dir_name("nodash"), None);
        assert_eq!(parse_dir_name("x-y"), None);
    }

    #[test]
    fn open_reopen_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let m = PartitionManager::new(dir.path()).unwrap();
        let p = m.open("t", 0, LogConfig::default()).unwrap();
        assert_eq!(p.log().log_end_offset(), 0);
        assert!(m.get("t", 0).is_some());
        assert_eq!(m.on_disk().unwrap(), vec![("t".to_string(), 0)]);
        m.write_checkpoints().unwrap();
        drop(p);
        m.delete_topic("t").unwrap();
        assert!(m.get("t", 0).is_none());
        assert!(m.on_disk().unwrap().is_empty());
    }
}
