//! `SimTxnCoordinator`: one broker's real transaction coordinator
//! (`vltava_coordinator::TransactionCoordinator::unowned`, one `__transaction_state`
//! partition the simulation replicates), driven as `txn_driver.rs` drives it: elected at
//! the leader epoch (the coordinator epoch) when the broker's replica of the partition
//! leads, loaded from its own log to the log end (`TxnIo::read_partition`, the broker's
//! `read_internal`), the load finished (transactions found prepared get their markers),
//! resigned when the replica stops leading; appends completed in issue order; timers
//! ticked when due. A restart builds a fresh one. Its records live in the run's
//! [`RecordTable`] like the group coordinator's.

use vltava_coordinator::{TransactionCoordinator, TxnConfig, TxnEffect};

use crate::append_queue::AppendQueue;
use crate::coordinator::{RecordTable, ms};
use crate::log::SimLog;
use crate::txn_wire::{TxnReq, request};

/// The coordinator's one partition of `__transaction_state`.
pub const TXN_STATE_PARTITION: i32 = 0;

/// The coordinator settings of the simulation: one `__transaction_state` partition,
/// timed-out transactions looked for every second.
pub fn config() -> TxnConfig {
    TxnConfig {
        num_partitions: 1,
        offsets_topic_num_partitions: 1,
        abort_timed_out_interval_ms: 1_000,
        ..TxnConfig::default()
    }
}

/// One broker's transaction coordinator and its driver state.
#[derive(Debug)]
pub struct SimTxnCoordinator {
    core: TransactionCoordinator,
    elected: Option<i32>,
    appends: AppendQueue,
}

impl SimTxnCoordinator {
    /// A coordinator serving nothing until elected, at `now` (the driver ticks at start).
    pub fn new(now: u64) -> Self {
        let mut core = TransactionCoordinator::unowned(config());
        let _ = core.tick(ms(now));
        SimTxnCoordinator {
            core,
            elected: None,
            appends: AppendQueue::default(),
        }
    }

    /// The real core (for the checks).
    pub fn core(&self) -> &TransactionCoordinator {
        &self.core
    }

    /// The coordinator epoch, if the partition is loaded and served here.
    pub fn served_epoch(&self) -> Option<i32> {
        if self
            .core
            .txn_error(crate::txn_wire::TRANSACTIONAL_ID)
            .is_some()
        {
            return None;
        }
        self.core.partition_epoch(TXN_STATE_PARTITION)
    }

    /// The broker's replica of the partition leads at `leads` (or not); `image_epoch` is
    /// its leader epoch in the broker's image. Elects and loads `log` to its end, or
    /// resigns. Returns the effects and whether a load happened.
    pub fn on_leadership(
        &mut self,
        leads: Option<i32>,
        image_epoch: i32,
        log: &SimLog,
        table: &RecordTable,
        now: u64,
    ) -> (Vec<TxnEffect>, bool) {
        if leads == self.elected {
            return (Vec::new(), false);
        }
        if leads.is_none() {
            self.core.resign(TXN_STATE_PARTITION, Some(image_epoch));
        }
        self.elected = leads;
        let Some(epoch) = leads else {
            return (Vec::new(), false);
        };
        if !self.core.elect(TXN_STATE_PARTITION, epoch) {
            return (Vec::new(), false);
        }
        for rec in log.records() {
            if let Some((key, value)) = table.get(rec.value) {
                // Undecodable records are counted and skipped by the core.
                let _ = self.core.load(key.clone(), value.clone());
            }
        }
        let effects = self
            .core
            .finish_partition_load(TXN_STATE_PARTITION, epoch, ms(now));
        (effects, true)
    }

    /// A producer's request.
    pub fn handle(&mut self, request_id: u64, req: &TxnReq, now: u64) -> Vec<TxnEffect> {
        let (version, body) = request(req);
        self.core.handle(request_id, ms(now), version, body)
    }

    /// Due timers (the driver sleeps until the core's next deadline).
    pub fn tick(&mut self, now: u64) -> Vec<TxnEffect> {
        match self.core.next_deadline() {
            Some(at) if at <= ms(now) => self.core.tick(ms(now)),
            _ => Vec::new(),
        }
    }

    /// A fresh producer id for a parked InitProducerId.
    pub fn producer_id(&mut self, request_id: u64, pid: i64, now: u64) -> Vec<TxnEffect> {
        self.core.complete_producer_id(request_id, Ok(pid), ms(now))
    }

    /// The results of marker write `marker_id`.
    pub fn markers_done(
        &mut self,
        marker_id: u64,
        results: Vec<((String, i32), i16)>,
        now: u64,
    ) -> Vec<TxnEffect> {
        self.core.complete_markers(marker_id, results, ms(now))
    }

    /// Append `append_id` was issued as a write ending with record `last_record`.
    pub fn issued(&mut self, append_id: u64, last_record: u64, outcome: Option<Result<(), i16>>) {
        self.appends.issued(append_id, last_record, outcome);
    }

    /// The write ending with `last_record` completed. Whether it was this coordinator's.
    pub fn write_completed(&mut self, last_record: u64, outcome: Result<(), i16>) -> bool {
        self.appends.completed(last_record, outcome)
    }

    /// Completes the appends whose outcome is known, in issue order.
    pub fn complete_ready(&mut self, now: u64) -> Vec<TxnEffect> {
        let mut out = Vec::new();
        while let Some((append_id, outcome)) = self.appends.pop_ready() {
            out.extend(self.core.complete_append(append_id, outcome, ms(now)));
        }
        out
    }
}
