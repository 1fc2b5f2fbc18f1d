//! `SimCoordinator`: one broker's real group coordinator (`vltava_coordinator`'s sans-IO
//! `GroupCoordinator`, serving the one `__consumer_offsets` partition the simulation
//! replicates), driven as the broker's coordinator driver drives it: elected at the leader
//! epoch when its replica of the offsets partition becomes leader, loaded from its own log
//! up to the log end (what the broker's `read_internal` reads), resigned when the replica
//! stops leading; its appends completed in the order they were issued. A restart builds a
//! fresh one.
//!
//! The simulated logs hold `Rec { epoch, value }`: each coordinator record (its key and
//! value bytes) is given a fresh id in the run's [`RecordTable`], replication copies ids,
//! and a loading coordinator turns the ids of its log back into records.

use vltava_coordinator::{Effect, GroupConfig, GroupCoordinator, GroupRequest, RawRecord};

use crate::append_queue::AppendQueue;
use crate::log::SimLog;

/// The coordinator's one partition of `__consumer_offsets`.
pub const OFFSETS_TOPIC_PARTITION: i32 = 0;

/// The coordinator records written in a run, by id (a log's record value).
#[derive(Debug, Default)]
pub struct RecordTable {
    records: Vec<RawRecord>,
}

impl RecordTable {
    /// Stores `record` under a fresh id (ids start at 1).
    pub fn intern(&mut self, record: RawRecord) -> u64 {
        self.records.push(record);
        self.records.len() as u64
    }

    /// The record stored under `id`.
    pub fn get(&self, id: u64) -> Option<&RawRecord> {
        usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_sub(1))
            .and_then(|i| self.records.get(i))
    }
}

/// One broker's group coordinator and its driver state.
#[derive(Debug)]
pub struct SimCoordinator {
    core: GroupCoordinator,
    /// The leader epoch this coordinator was elected at, while its replica leads.
    elected: Option<i32>,
    appends: AppendQueue,
}

impl SimCoordinator {
    /// A coordinator serving nothing until elected, at `now`.
    pub fn new(now: u64) -> Self {
        let cfg = GroupConfig {
            offsets_topic_num_partitions: 1,
            ..GroupConfig::default()
        };
        let mut core = GroupCoordinator::unowned(cfg);
        // The driver ticks once at start (it schedules the offset expiry check).
        let _ = core.tick(ms(now));
        SimCoordinator {
            core,
            elected: None,
            appends: AppendQueue::default(),
        }
    }

    /// The epoch of the loaded partition, if it is served here.
    pub fn served_epoch(&self) -> Option<i32> {
        if self.core.is_loading() {
            return None;
        }
        self.core.partition_epoch(OFFSETS_TOPIC_PARTITION)
    }

    /// The broker's replica of the offsets partition leads at `leads` (or not), and the
    /// partition's leader epoch in the broker's image is `image_epoch`: elect (and load
    /// `log` to its end) or resign as the broker does on a new image. Returns the effects and
    /// whether a load happened.
    pub fn on_leadership(
        &mut self,
        leads: Option<i32>,
        image_epoch: i32,
        log: &SimLog,
        table: &RecordTable,
        now: u64,
    ) -> (Vec<Effect>, bool) {
        if leads == self.elected {
            return (Vec::new(), false);
        }
        let mut out = Vec::new();
        if leads.is_none() {
            out = self.core.resign(OFFSETS_TOPIC_PARTITION, Some(image_epoch));
        }
        self.elected = leads;
        let Some(epoch) = leads else {
            return (out, false);
        };
        let Some(effects) = self.core.elect(OFFSETS_TOPIC_PARTITION, epoch) else {
            return (out, false);
        };
        out.extend(effects);
        for rec in log.records() {
            if let Some((key, value)) = table.get(rec.value) {
                // An undecodable record is counted by the coordinator and skipped, as the
                // broker's loader does; the simulation writes only decodable ones.
                let _ = self.core.load(key.clone(), value.clone());
            }
        }
        self.core
            .finish_partition_load(OFFSETS_TOPIC_PARTITION, epoch, ms(now));
        (out, true)
    }

    /// A request from the client.
    pub fn handle(&mut self, request_id: u64, req: GroupRequest, now: u64) -> Vec<Effect> {
        self.core.handle(request_id, ms(now), req)
    }

    /// Timers that are due (the driver sleeps until the core's next deadline).
    pub fn tick(&mut self, now: u64) -> Vec<Effect> {
        match self.core.next_deadline() {
            Some(at) if at <= ms(now) => self.core.tick(ms(now)),
            _ => Vec::new(),
        }
    }

    /// An [`Effect::Append`] was issued as a write whose last record is `last_record`,
    /// with its outcome when already known (refused, or answered at once).
    pub fn issued(&mut self, append_id: u64, last_record: u64, outcome: Option<bool>) {
        let outcome = outcome.map(|ok| if ok { Ok(()) } else { Err(0) });
        self.appends.issued(append_id, last_record, outcome);
    }

    /// The write whose last record is `last_record` completed (`ok`: the high watermark
    /// covers it). Whether it was one of this coordinator's.
    pub fn write_completed(&mut self, last_record: u64, ok: bool) -> bool {
        let outcome = if ok { Ok(()) } else { Err(0) };
        self.appends.completed(last_record, outcome)
    }

    /// Completes the appends whose outcome is known, in issue order (a later one waits for
    /// the earlier ones, as the driver's commit waiter does).
    pub fn complete_ready(&mut self, now: u64) -> Vec<Effect> {
        let mut out = Vec::new();
        while let Some((append_id, outcome)) = self.appends.pop_ready() {
            out.extend(
                self.core
                    .complete_append(append_id, outcome.is_ok(), ms(now)),
            );
        }
        out
    }
}

/// Simulated ms as the coordinator's clock.
pub(crate) fn ms(now: u64) -> i64 {
    i64::try_from(now).unwrap_or(i64::MAX)
}
