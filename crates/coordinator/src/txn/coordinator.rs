//! `TransactionCoordinator`: the sans-IO core of Kafka's transaction
//! coordinator. Requests, ticks, loaded `__transaction_state` records and
//! the outcomes of appends, marker writes and producer id allocations go
//! in; [`TxnEffect`]s come out. No clock and no IO inside: time is the
//! `now_ms` argument.
//!
//! The request handlers are in `txn::requests`, DescribeTransactions and
//! ListTransactions in `txn::admin`; this module owns the state, appends,
//! markers, timers and loading.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;
use vltava_protocol::messages::InitProducerIdRequest;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::codes;
use crate::error::CoordinatorError;
use crate::partition::java_string_hash;
use crate::records::RawRecord;
use crate::txn::config::TxnConfig;
use crate::txn::records::{decode_txn_record, txn_record};
use crate::txn::responses::{Reply, txn_error_response};
use crate::txn::state::{TxnMetadata, TxnSnapshot, TxnState};

/// Kafka's partition of `__transaction_state` for `transactional_id`:
/// `abs(String.hashCode) % num_partitions` (Kafka's `Utils.abs`, which maps
/// `i32::MIN` to 0). `num_partitions` below 1 is treated as 1.
pub fn txn_partition_for(transactional_id: &str, num_partitions: i32) -> i32 {
    let h = java_string_hash(transactional_id);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % num_partitions.max(1)
}

/// What the driver must do for the transaction coordinator.
// Effects are moved once from the core to the driver.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum TxnEffect {
    /// Answer request `request_id` with `body`.
    Respond {
        /// The driver's id of the request.
        request_id: u64,
        /// The response, filled for the request's version.
        body: ResponseBody,
    },
    /// Append `records` (`TransactionLogKey`/`TransactionLogValue` in
    /// Kafka's format) to `__transaction_state` partition `partition`, then
    /// call [`TransactionCoordinator::complete_append`]. Appends must be
    /// written and completed in the order they were issued, like a log.
    Append {
        /// Id to report the outcome under.
        append_id: u64,
        /// The `__transaction_state` partition.
        partition: i32,
        /// Keys and values (None = tombstone).
        records: Vec<RawRecord>,
    },
    /// Write a COMMIT (`commit`) or ABORT marker for the producer into each
    /// partition, then call [`TransactionCoordinator::complete_markers`] with
    /// a Kafka error code per partition.
    WriteMarkers {
        /// Id to report the outcome under.
        marker_id: u64,
        /// The transaction's producer id.
        producer_id: i64,
        /// The transaction's producer epoch.
        producer_epoch: i16,
        /// The coordinator epoch ([`TxnConfig::coordinator_epoch`]).
        coordinator_epoch: i32,
        /// COMMIT or ABORT.
        commit: bool,
        /// The partitions (topic, partition), in order.
        partitions: Vec<(String, i32)>,
    },
    /// Get one fresh producer id, then call
    /// [`TransactionCoordinator::complete_producer_id`].
    AllocateProducerId {
        /// The request waiting for it.
        request_id: u64,
    },
}

/// What happens once a `__transaction_state` append is written (or failed).
#[derive(Debug, Clone)]
pub(crate) enum AfterTxnAppend {
    /// InitProducerId: answer with the new producer id and epoch.
    Init(Reply),
    /// AddPartitionsToTxn / AddOffsetsToTxn: answer NONE.
    AddPartitions(Reply),
    /// EndTxn: answer NONE, then write the markers.
    EndTxn(Reply),
    /// An epoch fence (InitProducerId on an open transaction, or its
    /// timeout) wrote PrepareAbort: answer CONCURRENT_TRANSACTIONS to the
    /// InitProducerId (the client retries), then write the ABORT markers.
    Fence(Option<Reply>),
    /// Every marker is written: the CompleteCommit/CompleteAbort record.
    Complete,
    /// The tombstone of an expired transactional id.
    Expire,
}

#[derive(Debug, Clone)]
pub(crate) struct PendingAppend {
    pub txn_id: String,
    pub transit: Option<TxnSnapshot>,
    pub after: AfterTxnAppend,
}

/// An InitProducerId waiting for a fresh producer id.
#[derive(Debug, Clone)]
pub(crate) struct ParkedInit {
    pub version: i16,
    pub req: InitProducerIdRequest,
}

/// The transaction coordinator state machine.
#[derive(Debug)]
pub struct TransactionCoordinator {
    pub(crate) cfg: TxnConfig,
    pub(crate) txns: HashMap<String, TxnMetadata>,
    /// The `__transaction_state` partitions served here, with their
    /// coordinator epochs.
    pub(crate) ownership: crate::ownership::Ownership,
    pub(crate) appends: HashMap<u64, PendingAppend>,
    pub(crate) markers: HashMap<u64, String>,
    pub(crate) parked: HashMap<u64, ParkedInit>,
    /// Ids with a retry timer (`TxnMetadata::retry_at`).
    pub(crate) retrying: HashSet<String>,
    next_append_id: u64,
    next_marker_id: u64,
    next_abort_check: Option<i64>,
    next_expire_check: Option<i64>,
    load_errors: u64,
}

/// Kafka's mapping of a failed coordinator log write to the error the
/// client gets.
pub(crate) fn append_error(code: i16) -> i16 {
    match code {
        codes::UNKNOWN_TOPIC_OR_PARTITION
        | codes::NOT_ENOUGH_REPLICAS
        | codes::NOT_ENOUGH_REPLICAS_AFTER_APPEND
        | codes::REQUEST_TIMED_OUT => codes::COORDINATOR_NOT_AVAILABLE,
        codes::NOT_LEADER_OR_FOLLOWER | codes::KAFKA_STORAGE_ERROR => codes::NOT_COORDINATOR,
        codes::MESSAGE_TOO_LARGE | codes::RECORD_LIST_TOO_LARGE => codes::UNKNOWN_SERVER_ERROR,
        codes::NONE => codes::UNKNOWN_SERVER_ERROR,
        other => other,
    }
}

/// Whether a marker write result means the partition needs no (more)
/// markers: written; the partition is gone (Kafka drops partitions whose
/// leader is unknown before sending); the partition cannot hold markers
/// (UNSUPPORTED_FOR_MESSAGE_FORMAT / UNSUPPORTED_VERSION, dropped by Kafka
/// too); or a newer producer epoch or coordinator epoch wrote there. Kafka
/// stops sending on the last two and leaves the transaction to the newer
/// coordinator; with a single coordinator nobody would take over, so the
/// partition counts as done. Everything else is retried.
fn marker_done(code: i16) -> bool {
    matches!(
        code,
        codes::NONE
            | codes::UNKNOWN_TOPIC_OR_PARTITION
            | codes::INVALID_PRODUCER_EPOCH
            | codes::TRANSACTION_COORDINATOR_FENCED
            | codes::UNSUPPORTED_FOR_MESSAGE_FORMAT
            | codes::UNSUPPORTED_VERSION
    )
}

impl TransactionCoordinator {
    /// The API keys [`TransactionCoordinator::handle`] serves.
    pub const APIS: [ApiKey; 6] = [
        ApiKey::InitProducerId,
        ApiKey::AddPartitionsToTxn,
        ApiKey::AddOffsetsToTxn,
        ApiKey::EndTxn,
        ApiKey::DescribeTransactions,
        ApiKey::ListTransactions,
    ];

    /// A coordinator with no transactional ids, ready to serve every
    /// partition at [`TxnConfig::coordinator_epoch`].
    pub fn new(cfg: TxnConfig) -> TransactionCoordinator {
        let ownership = crate::ownership::Ownership::all(cfg.num_partitions, cfg.coordinator_epoch);
        Self::with_ownership(cfg, ownership)
    }

    /// A coordinator that serves no partition until elected
    /// ([`TransactionCoordinator::elect`]).
    pub fn unowned(cfg: TxnConfig) -> TransactionCoordinator {
        Self::with_ownership(cfg, crate::ownership::Ownership::none())
    }

    fn with_ownership(
        cfg: TxnConfig,
        ownership: crate::ownership::Ownership,
    ) -> TransactionCoordinator {
        TransactionCoordinator {
            cfg,
            txns: HashMap::new(),
            ownership,
            appends: HashMap::new(),
            markers: HashMap::new(),
            parked: HashMap::new(),
            retrying: HashSet::new(),
            next_append_id: 1,
            next_marker_id: 1,
            next_abort_check: None,
            next_expire_check: None,
            load_errors: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TxnConfig {
        &self.cfg
    }

    /// A transactional id's state.
    pub fn txn(&self, transactional_id: &str) -> Option<&TxnMetadata> {
        self.txns.get(transactional_id)
    }

    /// Every transactional id's state.
    pub fn txns(&self) -> impl Iterator<Item = &TxnMetadata> {
        self.txns.values()
    }

    /// Starts loading `__transaction_state`: requests get
    /// COORDINATOR_LOAD_IN_PROGRESS until [`TransactionCoordinator::finish_load`].
    pub fn begin_load(&mut self) {
        self.ownership
            .set_all(crate::ownership::PartitionStatus::Loading);
    }

    /// Whether a load is under way.
    pub fn is_loading(&self) -> bool {
        self.ownership.any_loading()
    }

    /// Records that could not be decoded while loading.
    pub fn load_errors(&self) -> u64 {
        self.load_errors
    }

    /// Replays one `__transaction_state` record (later records win; a null
    /// value removes the id). An undecodable record is counted and skipped.
    pub fn load(&mut self, key: Bytes, value: Option<Bytes>) -> Result<(), CoordinatorError> {
        let (id, snapshot) = match decode_txn_record(&key, value.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                self.load_errors += 1;
                return Err(e);
            }
        };
        match snapshot {
            None => {
                self.txns.remove(&id);
            }
            Some(s) => {
                let m = self
                    .txns
                    .entry(id.clone())
                    .or_insert_with(|| TxnMetadata::new(&id, s.producer_id, s.timeout_ms, 0));
                m.current = s;
                m.pending = None;
            }
        }
        Ok(())
    }

    /// Ends loading at `now_ms`: transactions found in PrepareCommit or
    /// PrepareAbort are completed (their markers written again, then the
    /// completion record), as Kafka does when it takes over a partition.
    pub fn finish_load(&mut self, now_ms: i64) -> Vec<TxnEffect> {
        self.ownership
            .set_all(crate::ownership::PartitionStatus::Active);
        self.complete_loaded(None, now_ms)
    }

    /// Starts the markers of the loaded transactions (of `partition`, or
    /// all) found in PrepareCommit or PrepareAbort.
    pub(crate) fn complete_loaded(
        &mut self,
        partition: Option<i32>,
        now_ms: i64,
    ) -> Vec<TxnEffect> {
        let mut out = Vec::new();
        let n = self.cfg.num_partitions;
        let mut ids: Vec<String> = self
            .txns
            .values()
            .filter(|m| partition.is_none_or(|p| txn_partition_for(&m.transactional_id, n) == p))
            .filter(|m| matches!(m.state(), TxnState::PrepareCommit | TxnState::PrepareAbort))
            .map(|m| m.transactional_id.clone())
            .collect();
        ids.sort();
        for id in ids {
            self.start_markers(&id, now_ms, &mut out);
        }
        out
    }

    /// Serves one request (InitProducerId, AddPartitionsToTxn,
    /// AddOffsetsToTxn, EndTxn, DescribeTransactions, ListTransactions) at
    /// API version `version`. Every request gets exactly one
    /// [`TxnEffect::Respond`], now or after its append.
    pub fn handle(
        &mut self,
        request_id: u64,
        now_ms: i64,
        version: i16,
        body: RequestBody,
    ) -> Vec<TxnEffect> {
        let mut out = Vec::new();
        let api = body.api_key();
        if !api.is_valid_version(version) {
            out.push(TxnEffect::Respond {
                request_id,
                body: any_txn_error(api, version, codes::UNSUPPORTED_VERSION),
            });
            return out;
        }
        match body {
            RequestBody::InitProducerId(r) => {
                self.init_producer_id(request_id, now_ms, version, r, None, &mut out)
            }
            RequestBody::AddPartitionsToTxn(r) => {
                self.add_partitions(request_id, now_ms, version, r, &mut out)
            }
            RequestBody::AddOffsetsToTxn(r) => {
                self.add_offsets(request_id, now_ms, version, r, &mut out)
            }
            RequestBody::EndTxn(r) => self.end_txn(request_id, now_ms, version, r, &mut out),
            RequestBody::DescribeTransactions(r) => {
                self.describe_transactions(request_id, r, &mut out)
            }
            RequestBody::ListTransactions(r) => {
                self.list_transactions(request_id, now_ms, version, r, &mut out)
            }
            other => out.push(TxnEffect::Respond {
                request_id,
                body: any_txn_error(other.api_key(), version, codes::INVALID_REQUEST),
            }),
        }
        out
    }

    /// Reports the fresh producer id asked for by
    /// [`TxnEffect::AllocateProducerId`] (or the error code of the failed
    /// allocation).
    pub fn complete_producer_id(
        &mut self,
        request_id: u64,
        result: Result<i64, i16>,
        now_ms: i64,
    ) -> Vec<TxnEffect> {
        let mut out = Vec::new();
        let Some(parked) = self.parked.remove(&request_id) else {
            return out;
        };
        match result {
            Ok(pid) if pid >= 0 => self.init_producer_id(
                request_id,
                now_ms,
                parked.version,
                parked.req,
                Some(pid),
                &mut out,
            ),
            _ => {
                // Kafka answers while it has no producer id block with the
                // retriable COORDINATOR_LOAD_IN_PROGRESS, whatever kept the
                // block away (clients treat most other codes as fatal).
                let code = codes::COORDINATOR_LOAD_IN_PROGRESS;
                let reply = Reply::InitProducerId {
                    request_id,
                    version: parked.version,
                };
                out.push(TxnEffect::Respond {
                    request_id,
                    body: reply.body(code, -1, -1),
                });
            }
        }
        out
    }

    /// Reports the outcome of a [`TxnEffect::Append`]: `Ok` once written,
    /// or the Kafka error code of the failed write.
    // Long, and kept whole: a transition of the transaction state machine, one arm per
    // outcome of the write and what waited for it (`AfterTxnAppend`).
    pub fn complete_append(
        &mut self,
        append_id: u64,
        result: Result<(), i16>,
        now_ms: i64,
    ) -> Vec<TxnEffect> {
        let mut out = Vec::new();
        let Some(p) = self.appends.remove(&append_id) else {
            return out;
        };
        let id = p.txn_id;
        let Some(m) = self.txns.get_mut(&id) else {
            // Nothing waits for an id that is gone, except a reply.
            if let Some(reply) = after_reply(&p.after) {
                out.push(TxnEffect::Respond {
                    request_id: reply.request_id(),
                    body: reply.body(codes::COORDINATOR_NOT_AVAILABLE, -1, -1),
                });
            }
            return out;
        };
        m.pending = None;
        match result {
            Ok(()) => {
                if let Some(t) = p.transit {
                    m.current = t;
                }
                let (pid, epoch) = (m.current.producer_id, m.current.producer_epoch);
                match p.after {
                    AfterTxnAppend::Init(reply) => out.push(TxnEffect::Respond {
                        request_id: reply.request_id(),
                        body: reply.body(codes::NONE, pid, epoch),
                    }),
                    AfterTxnAppend::AddPartitions(reply) => out.push(TxnEffect::Respond {
                        request_id: reply.request_id(),
                        body: reply.body(codes::NONE, pid, epoch),
                    }),
                    AfterTxnAppend::EndTxn(reply) => {
                        out.push(TxnEffect::Respond {
                            request_id: reply.request_id(),
                            body: reply.body(codes::NONE, pid, epoch),
                        });
                        self.start_markers(&id, now_ms, &mut out);
                    }
                    AfterTxnAppend::Fence(reply) => {
                        if let Some(reply) = reply {
                            out.push(TxnEffect::Respond {
                                request_id: reply.request_id(),
                                body: reply.body(codes::CONCURRENT_TRANSACTIONS, -1, -1),
                            });
                        }
                        self.start_markers(&id, now_ms, &mut out);
                    }
                    AfterTxnAppend::Complete => {
                        m.failed_epoch_fence = false;
                    }
                    AfterTxnAppend::Expire => {
                        self.txns.remove(&id);
                        self.retrying.remove(&id);
                    }
                }
            }
            Err(code) => {
                let code = append_error(code);
                match p.after {
                    AfterTxnAppend::Init(reply)
                    | AfterTxnAppend::AddPartitions(reply)
                    | AfterTxnAppend::EndTxn(reply) => out.push(TxnEffect::Respond {
                        request_id: reply.request_id(),
                        body: reply.body(code, -1, -1),
                    }),
                    AfterTxnAppend::Fence(reply) => {
                        m.failed_epoch_fence = true;
                        if let Some(reply) = reply {
                            out.push(TxnEffect::Respond {
                                request_id: reply.request_id(),
                                body: reply.body(code, -1, -1),
                            });
                        }
                    }
                    AfterTxnAppend::Complete => {
                        m.retry_at = Some(now_ms.saturating_add(self.cfg.retry_backoff_ms));
                        self.retrying.insert(id);
                    }
                    AfterTxnAppend::Expire => {}
                }
            }
        }
        out
    }

    /// Reports the outcome of a [`TxnEffect::WriteMarkers`]: a Kafka error
    /// code per partition. Partitions written (or gone) leave the
    /// transaction; the others are written again after
    /// [`TxnConfig::retry_backoff_ms`]. Once none is left, the completion
    /// record is appended.
    pub fn complete_markers(
        &mut self,
        marker_id: u64,
        results: Vec<((String, i32), i16)>,
        now_ms: i64,
    ) -> Vec<TxnEffect> {
        let mut out = Vec::new();
        let Some(id) = self.markers.remove(&marker_id) else {
            return out;
        };
        let Some(m) = self.txns.get_mut(&id) else {
            return out;
        };
        if m.markers_in_flight != Some(marker_id) {
            return out;
        }
        m.markers_in_flight = None;
        for (tp, code) in results {
            if marker_done(code) {
                m.current.partitions.remove(&tp);
            }
        }
        if m.current.partitions.is_empty() {
            self.write_complete(&id, now_ms, &mut out);
        } else {
            m.retry_at = Some(now_ms.saturating_add(self.cfg.retry_backoff_ms));
            self.retrying.insert(id);
        }
        out
    }

    /// Advances time: retries markers and completion records that failed,
    /// aborts transactions past their timeout (bumping the epoch, as Kafka
    /// does) every `abort_timed_out_interval_ms`, and removes idle
    /// transactional ids past `id_expiration_ms` every
    /// `remove_expired_interval_ms`.
    pub fn tick(&mut self, now_ms: i64) -> Vec<TxnEffect> {
        let mut out = Vec::new();
        self.run_retries(now_ms, &mut out);
        match self.next_abort_check {
            Some(t) if now_ms >= t => {
                self.abort_timed_out(now_ms, &mut out);
                self.next_abort_check =
                    Some(now_ms.saturating_add(self.cfg.abort_timed_out_interval_ms));
            }
            Some(_) => {}
            None => {
                self.next_abort_check =
                    Some(now_ms.saturating_add(self.cfg.abort_timed_out_interval_ms));
            }
        }
        match self.next_expire_check {
            Some(t) if now_ms >= t => {
                self.expire_ids(now_ms, &mut out);
                self.next_expire_check =
                    Some(now_ms.saturating_add(self.cfg.remove_expired_interval_ms));
            }
            Some(_) => {}
            None => {
                self.next_expire_check =
                    Some(now_ms.saturating_add(self.cfg.remove_expired_interval_ms));
            }
        }
        out
    }

    /// The earliest time at which [`TransactionCoordinator::tick`] has work.
    pub fn next_deadline(&self) -> Option<i64> {
        let retry = self
            .retrying
            .iter()
            .filter_map(|id| self.txns.get(id).and_then(|m| m.retry_at))
            .min();
        [retry, self.next_abort_check, self.next_expire_check]
            .into_iter()
            .flatten()
            .min()
    }

    fn run_retries(&mut self, now_ms: i64, out: &mut Vec<TxnEffect>) {
        let mut due: Vec<String> = self
            .retrying
            .iter()
            .filter(|id| self.txn_error(id).is_none())
            .filter(|id| {
                self.txns
                    .get(*id)
                    .and_then(|m| m.retry_at)
                    .is_none_or(|t| now_ms >= t)
            })
            .cloned()
            .collect();
        due.sort();
        for id in due {
            self.retrying.remove(&id);
            let Some(m) = self.txns.get_mut(&id) else {
                continue;
            };
            if m.retry_at.take().is_none() {
                continue;
            }
            if m.has_pending() || m.markers_in_flight.is_some() {
                continue;
            }
            if matches!(m.state(), TxnState::PrepareCommit | TxnState::PrepareAbort) {
                self.start_markers(&id, now_ms, out);
            }
        }
    }

    /// Aborts every Ongoing transaction past its timeout: the epoch is
    /// bumped (fencing the producer) and PrepareAbort written, then markers.
    fn abort_timed_out(&mut self, now_ms: i64, out: &mut Vec<TxnEffect>) {
        let mut ids: Vec<String> = self
            .txns
            .values()
            .filter(|m| self.txn_error(&m.transactional_id).is_none())
            .filter(|m| {
                m.state() == TxnState::Ongoing
                    && !m.has_pending()
                    && m.current
                        .start_ms
                        .saturating_add(i64::from(m.current.timeout_ms))
                        < now_ms
            })
            .map(|m| m.transactional_id.clone())
            .collect();
        ids.sort();
        for id in ids {
            self.fence_and_abort(&id, now_ms, None, out);
        }
    }

    /// Writes the tombstone of every idle id not updated for
    /// `id_expiration_ms`.
    fn expire_ids(&mut self, now_ms: i64, out: &mut Vec<TxnEffect>) {
        let horizon = now_ms.saturating_sub(self.cfg.id_expiration_ms);
        let mut ids: Vec<String> = self
            .txns
            .values()
            .filter(|m| self.txn_error(&m.transactional_id).is_none())
            .filter(|m| {
                m.state().is_idle()
                    && !m.has_pending()
                    && m.markers_in_flight.is_none()
                    && m.current.last_update_ms <= horizon
            })
            .map(|m| m.transactional_id.clone())
            .collect();
        ids.sort();
        for id in ids {
            let Ok(rec) = txn_record(&id, None) else {
                continue;
            };
            if let Some(m) = self.txns.get_mut(&id) {
                m.pending = Some(TxnState::Dead);
            }
            self.append(&id, rec, None, AfterTxnAppend::Expire, out);
        }
    }

    /// Bumps the epoch of `id`'s open transaction (unless an earlier bump
    /// was never written) and writes PrepareAbort: Kafka's epoch fence.
    pub(crate) fn fence_and_abort(
        &mut self,
        id: &str,
        now_ms: i64,
        reply: Option<Reply>,
        out: &mut Vec<TxnEffect>,
    ) {
        let Some(m) = self.txns.get_mut(id) else {
            return;
        };
        if !m.failed_epoch_fence && m.current.producer_epoch < i16::MAX {
            m.current.producer_epoch += 1;
        }
        m.current.last_producer_epoch = crate::txn::state::NO_PRODUCER_EPOCH;
        let mut transit = m.current.clone();
        transit.state = TxnState::PrepareAbort;
        transit.last_update_ms = now_ms;
        self.write_transit(id, transit, AfterTxnAppend::Fence(reply), out);
    }

    /// Appends `transit` for `id` (the id's pending state until written).
    pub(crate) fn write_transit(
        &mut self,
        id: &str,
        transit: TxnSnapshot,
        after: AfterTxnAppend,
        out: &mut Vec<TxnEffect>,
    ) {
        let rec = match txn_record(id, Some(&transit)) {
            Ok(rec) => rec,
            Err(_) => {
                // A state that cannot be encoded (an out-of-range value)
                // is refused, never written half.
                if let Some(reply) = after_reply(&after) {
                    out.push(TxnEffect::Respond {
                        request_id: reply.request_id(),
                        body: reply.body(codes::UNKNOWN_SERVER_ERROR, -1, -1),
                    });
                }
                return;
            }
        };
        if let Some(m) = self.txns.get_mut(id) {
            m.pending = Some(transit.state);
        }
        self.append(id, rec, Some(transit), after, out);
    }

    fn append(
        &mut self,
        id: &str,
        rec: RawRecord,
        transit: Option<TxnSnapshot>,
        after: AfterTxnAppend,
        out: &mut Vec<TxnEffect>,
    ) {
        let append_id = self.next_append_id;
        self.next_append_id += 1;
        self.appends.insert(
            append_id,
            PendingAppend {
                txn_id: id.to_owned(),
                transit,
                after,
            },
        );
        out.push(TxnEffect::Append {
            append_id,
            partition: txn_partition_for(id, self.cfg.num_partitions),
            records: vec![rec],
        });
    }

    /// Writes the markers of `id`'s prepared transaction (or, with no
    /// partitions left, its completion record).
    pub(crate) fn start_markers(&mut self, id: &str, now_ms: i64, out: &mut Vec<TxnEffect>) {
        // The markers carry the epoch of the partition's coordinator, so
        // partitions fence markers of a stale one.
        let coordinator_epoch = self
            .ownership
            .epoch(txn_partition_for(id, self.cfg.num_partitions));
        let Some(m) = self.txns.get_mut(id) else {
            return;
        };
        let commit = match m.state() {
            TxnState::PrepareCommit => true,
            TxnState::PrepareAbort => false,
            _ => return,
        };
        if m.current.partitions.is_empty() {
            self.write_complete(id, now_ms, out);
            return;
        }
        let marker_id = self.next_marker_id;
        self.next_marker_id += 1;
        m.markers_in_flight = Some(marker_id);
        m.retry_at = None;
        self.markers.insert(marker_id, id.to_owned());
        out.push(TxnEffect::WriteMarkers {
            marker_id,
            producer_id: m.current.producer_id,
            producer_epoch: m.current.producer_epoch,
            coordinator_epoch: coordinator_epoch.unwrap_or(self.cfg.coordinator_epoch),
            commit,
            partitions: m.current.partitions.iter().cloned().collect(),
        });
    }

    /// Appends CompleteCommit/CompleteAbort for `id`'s prepared transaction.
    fn write_complete(&mut self, id: &str, now_ms: i64, out: &mut Vec<TxnEffect>) {
        let Some(m) = self.txns.get_mut(id) else {
            return;
        };
        let state = match m.state() {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            TxnState::PrepareAbort => TxnState::CompleteAbort,
            _ => return,
        };
        let mut transit = m.current.clone();
        transit.state = state;
        transit.partitions = Default::default();
        transit.last_update_ms = now_ms;
        self.write_transit(id, transit, AfterTxnAppend::Complete, out);
    }

    /// Requests parked until a producer id arrives.
    pub(crate) fn park(
        &mut self,
        request_id: u64,
        version: i16,
        req: InitProducerIdRequest,
        out: &mut Vec<TxnEffect>,
    ) {
        self.parked.insert(request_id, ParkedInit { version, req });
        out.push(TxnEffect::AllocateProducerId { request_id });
    }

    /// The number of ids per state (for tests and metrics).
    pub fn state_counts(&self) -> BTreeMap<TxnState, usize> {
        let mut counts = BTreeMap::new();
        for m in self.txns.values() {
            *counts.entry(m.state()).or_insert(0) += 1;
        }
        counts
    }
}

fn after_reply(after: &AfterTxnAppend) -> Option<&Reply> {
    match after {
        AfterTxnAppend::Init(r) | AfterTxnAppend::AddPartitions(r) | AfterTxnAppend::EndTxn(r) => {
            Some(r)
        }
        AfterTxnAppend::Fence(r) => r.as_ref(),
        AfterTxnAppend::Complete | AfterTxnAppend::Expire => None,
    }
}

/// A whole-request error response for `api`, or for an API the
/// transaction coordinator does not serve an InitProducerId-shaped
/// INVALID_REQUEST (so no request is left without an answer).
pub(crate) fn any_txn_error(api: ApiKey, version: i16, code: i16) -> ResponseBody {
    txn_error_response(api, version, code).unwrap_or_else(|| {
        Reply::InitProducerId {
            request_id: 0,
            version: 0,
        }
        .body(codes::INVALID_REQUEST, -1, -1)
    })
}
