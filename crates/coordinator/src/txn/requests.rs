//! The client requests of a transaction: InitProducerId (new id, epoch
//! bumps, KIP-360 resume, producer id rotation, fencing an open
//! transaction), AddPartitionsToTxn, AddOffsetsToTxn and EndTxn, with
//! Kafka's state checks and error codes.

use std::collections::BTreeSet;

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::add_partitions_to_txn_response::AddPartitionsToTxnResult;
use vltava_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, EndTxnRequest,
    InitProducerIdRequest,
};

use crate::codes;
use crate::partition::partition_for;
use crate::txn::coordinator::{AfterTxnAppend, TransactionCoordinator, TxnEffect};
use crate::txn::responses::{Reply, topic_results};
use crate::txn::state::{
    NO_PRODUCER_EPOCH, NO_PRODUCER_ID, TxnMetadata, TxnSnapshot, TxnState, is_epoch_exhausted,
};

// AddOffsetsToTxn adds one of the offsets topic's partitions to the transaction.
use vltava_protocol::internal_topics::OFFSETS_TOPIC;

fn respond(out: &mut Vec<TxnEffect>, reply: &Reply, code: i16) {
    out.push(TxnEffect::Respond {
        request_id: reply.request_id(),
        body: reply.body(code, -1, -1),
    });
}

/// Whether the producer id and epoch a KIP-360 InitProducerId names may
/// take over `m` (Kafka's `isValidProducerId`).
fn valid_expected(m: &TxnMetadata, pid: i64, epoch: i16) -> bool {
    m.current.producer_epoch == NO_PRODUCER_EPOCH
        || pid == m.current.producer_id
        || (pid == m.current.last_producer_id && is_epoch_exhausted(epoch))
}

impl TransactionCoordinator {
    /// InitProducerId. `fresh_pid` is a producer id just allocated for this
    /// request (after [`TxnEffect::AllocateProducerId`]).
    // Long, and kept whole: one transition of the id's state machine (new id,
    // epoch bump, KIP-360 resume and retry, rotation at an exhausted epoch,
    // fencing an open transaction) in the order Kafka's handleInitProducerId
    // decides them; each branch returns, so the order is the logic.
    pub(crate) fn init_producer_id(
        &mut self,
        request_id: u64,
        now_ms: i64,
        version: i16,
        req: InitProducerIdRequest,
        fresh_pid: Option<i64>,
        out: &mut Vec<TxnEffect>,
    ) {
        let reply = Reply::InitProducerId {
            request_id,
            version,
        };
        // Kafka's request handler checks this before its coordinator sees the request: an
        // id without an epoch or the reverse is INVALID_REQUEST (found by the differential
        // test against Kafka, `every_api`).
        if (req.producer_id == NO_PRODUCER_ID) != (req.producer_epoch == NO_PRODUCER_EPOCH) {
            return respond(out, &reply, codes::INVALID_REQUEST);
        }
        let Some(tid) = req.transactional_id.as_ref().map(|s| s.as_str().to_owned()) else {
            // An idempotent producer: a fresh id at epoch 0.
            match fresh_pid {
                None => self.park(request_id, version, req, out),
                Some(pid) => out.push(TxnEffect::Respond {
                    request_id,
                    body: reply.body(codes::NONE, pid, 0),
                }),
            }
            return;
        };
        if tid.is_empty() {
            return respond(out, &reply, codes::INVALID_REQUEST);
        }
        if let Some(code) = self.txn_error(&tid) {
            return respond(out, &reply, code);
        }
        if req.transaction_timeout_ms <= 0 || req.transaction_timeout_ms > self.cfg.max_timeout_ms {
            return respond(out, &reply, codes::INVALID_TRANSACTION_TIMEOUT);
        }
        let expected = (version >= 3 && req.producer_id != NO_PRODUCER_ID)
            .then_some((req.producer_id, req.producer_epoch));
        if !self.txns.contains_key(&tid) {
            if self.txns.len() >= self.cfg.max_transactional_ids {
                return respond(out, &reply, codes::COORDINATOR_NOT_AVAILABLE);
            }
            match fresh_pid {
                None => return self.park(request_id, version, req, out),
                Some(pid) => {
                    self.txns.insert(
                        tid.clone(),
                        TxnMetadata::new(&tid, pid, req.transaction_timeout_ms, now_ms),
                    );
                }
            }
        }
        let Some(m) = self.txns.get(&tid) else {
            return;
        };
        if m.has_pending() {
            return respond(out, &reply, codes::CONCURRENT_TRANSACTIONS);
        }
        if let Some((pid, epoch)) = expected {
            if !valid_expected(m, pid, epoch) {
                return respond(out, &reply, codes::PRODUCER_FENCED);
            }
        }
        match m.state() {
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                respond(out, &reply, codes::CONCURRENT_TRANSACTIONS)
            }
            TxnState::Ongoing => {
                // Abort the open transaction under a bumped epoch, then let
                // the client retry (which bumps the epoch once more).
                self.fence_and_abort(&tid, now_ms, Some(reply), out)
            }
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                let cur = &m.current;
                let transit = if is_epoch_exhausted(cur.producer_epoch)
                    && expected.is_none_or(|(_, e)| e == cur.producer_epoch)
                {
                    let Some(pid) = fresh_pid else {
                        return self.park(request_id, version, req, out);
                    };
                    TxnSnapshot {
                        producer_id: pid,
                        last_producer_id: cur.producer_id,
                        producer_epoch: 0,
                        last_producer_epoch: if expected.is_some() {
                            cur.producer_epoch
                        } else {
                            NO_PRODUCER_EPOCH
                        },
                        timeout_ms: req.transaction_timeout_ms,
                        state: TxnState::Empty,
                        partitions: BTreeSet::new(),
                        start_ms: -1,
                        last_update_ms: now_ms,
                    }
                } else {
                    let bumped = cur.producer_epoch.saturating_add(1);
                    let (epoch, last_epoch) = match expected {
                        None => (bumped, NO_PRODUCER_EPOCH),
                        Some((_, e))
                            if cur.producer_epoch == NO_PRODUCER_EPOCH
                                || e == cur.producer_epoch =>
                        {
                            (bumped, cur.producer_epoch)
                        }
                        // A retry of a bump whose answer was lost.
                        Some((_, e)) if e == cur.last_producer_epoch => {
                            (cur.producer_epoch, cur.last_producer_epoch)
                        }
                        Some(_) => return respond(out, &reply, codes::PRODUCER_FENCED),
                    };
                    TxnSnapshot {
                        producer_id: cur.producer_id,
                        last_producer_id: cur.last_producer_id,
                        producer_epoch: epoch,
                        last_producer_epoch: last_epoch,
                        timeout_ms: req.transaction_timeout_ms,
                        state: TxnState::Empty,
                        partitions: BTreeSet::new(),
                        start_ms: -1,
                        last_update_ms: now_ms,
                    }
                };
                self.write_transit(&tid, transit, AfterTxnAppend::Init(reply), out);
            }
            TxnState::Dead | TxnState::PrepareEpochFence => {
                respond(out, &reply, codes::CONCURRENT_TRANSACTIONS)
            }
        }
    }

    /// Adds `partitions` to `tid`'s transaction (AddPartitionsToTxn v0–v3
    /// and AddOffsetsToTxn).
    #[allow(clippy::too_many_arguments)]
    fn add_to_txn(
        &mut self,
        tid: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: BTreeSet<(String, i32)>,
        now_ms: i64,
        reply: Reply,
        out: &mut Vec<TxnEffect>,
    ) {
        if tid.is_empty() {
            return respond(out, &reply, codes::INVALID_REQUEST);
        }
        if let Some(code) = self.txn_error(tid) {
            return respond(out, &reply, code);
        }
        let Some(m) = self.txns.get(tid) else {
            return respond(out, &reply, codes::INVALID_PRODUCER_ID_MAPPING);
        };
        let code = if m.current.producer_id != producer_id {
            codes::INVALID_PRODUCER_ID_MAPPING
        } else if m.current.producer_epoch != producer_epoch {
            codes::PRODUCER_FENCED
        } else if m.has_pending() {
            codes::CONCURRENT_TRANSACTIONS
        } else {
            match m.state() {
                TxnState::PrepareCommit
                | TxnState::PrepareAbort
                | TxnState::Dead
                | TxnState::PrepareEpochFence => codes::CONCURRENT_TRANSACTIONS,
                TxnState::Ongoing if partitions.is_subset(&m.current.partitions) => codes::NONE,
                _ => {
                    let mut all = m.current.partitions.clone();
                    all.extend(partitions);
                    if all.len() > self.cfg.max_partitions_per_txn {
                        codes::INVALID_REQUEST
                    } else {
                        let start = if m.state() == TxnState::Ongoing {
                            m.current.start_ms
                        } else {
                            now_ms
                        };
                        let transit = TxnSnapshot {
                            state: TxnState::Ongoing,
                            partitions: all,
                            start_ms: start,
                            last_update_ms: now_ms,
                            ..m.current.clone()
                        };
                        self.write_transit(tid, transit, AfterTxnAppend::AddPartitions(reply), out);
                        return;
                    }
                }
            }
        };
        respond(out, &reply, code);
    }

    pub(crate) fn add_partitions(
        &mut self,
        request_id: u64,
        now_ms: i64,
        version: i16,
        req: AddPartitionsToTxnRequest,
        out: &mut Vec<TxnEffect>,
    ) {
        if version >= 4 {
            return self.verify_partitions(request_id, version, req, out);
        }
        let topics: Vec<(String, Vec<i32>)> = req
            .v3_and_below_topics
            .iter()
            .map(|t| (t.name.as_str().to_owned(), t.partitions.clone()))
            .collect();
        let partitions: BTreeSet<(String, i32)> = topics
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p)))
            .collect();
        let reply = Reply::AddPartitions {
            request_id,
            version,
            topics,
        };
        self.add_to_txn(
            req.v3_and_below_transactional_id.as_str(),
            req.v3_and_below_producer_id,
            req.v3_and_below_producer_epoch,
            partitions,
            now_ms,
            reply,
            out,
        );
    }

    /// AddPartitionsToTxn v4+ (sent by brokers, batched by transaction):
    /// verify-only entries are answered from the current state; entries
    /// that would add partitions are refused with INVALID_REQUEST (clients
    /// add partitions with v0–v3).
    fn verify_partitions(
        &mut self,
        request_id: u64,
        version: i16,
        req: AddPartitionsToTxnRequest,
        out: &mut Vec<TxnEffect>,
    ) {
        let mut resp = AddPartitionsToTxnResponse::default();
        {
            for t in &req.transactions {
                let topics: Vec<(String, Vec<i32>)> = t
                    .topics
                    .iter()
                    .map(|t| (t.name.as_str().to_owned(), t.partitions.clone()))
                    .collect();
                let m = self.txns.get(t.transactional_id.as_str());
                let whole = if !t.verify_only || t.transactional_id.is_empty() {
                    Some(codes::INVALID_REQUEST)
                } else if let Some(code) = self.txn_error(t.transactional_id.as_str()) {
                    Some(code)
                } else {
                    match m {
                        None => Some(codes::INVALID_PRODUCER_ID_MAPPING),
                        Some(m) if m.current.producer_id != t.producer_id => {
                            Some(codes::INVALID_PRODUCER_ID_MAPPING)
                        }
                        Some(m) if m.current.producer_epoch != t.producer_epoch => {
                            Some(crate::txn::responses::code_for_version(
                                vltava_protocol::ApiKey::AddPartitionsToTxn,
                                version,
                                codes::PRODUCER_FENCED,
                            ))
                        }
                        Some(m)
                            if matches!(
                                m.state(),
                                TxnState::PrepareCommit | TxnState::PrepareAbort
                            ) =>
                        {
                            Some(codes::CONCURRENT_TRANSACTIONS)
                        }
                        Some(_) => None,
                    }
                };
                let results = topic_results(&topics, |topic, p| match (whole, m) {
                    (Some(code), _) => code,
                    (None, Some(m))
                        if m.state() == TxnState::Ongoing
                            && m.current.partitions.contains(&(topic.to_owned(), p)) =>
                    {
                        codes::NONE
                    }
                    (None, _) => codes::INVALID_TXN_STATE,
                });
                resp.results_by_transaction.push(AddPartitionsToTxnResult {
                    transactional_id: t.transactional_id.clone(),
                    topic_results: results,
                    ..Default::default()
                });
            }
        }
        out.push(TxnEffect::Respond {
            request_id,
            body: ResponseBody::AddPartitionsToTxn(resp),
        });
    }

    pub(crate) fn add_offsets(
        &mut self,
        request_id: u64,
        now_ms: i64,
        version: i16,
        req: AddOffsetsToTxnRequest,
        out: &mut Vec<TxnEffect>,
    ) {
        let reply = Reply::AddOffsets {
            request_id,
            version,
        };
        let partition = partition_for(req.group_id.as_str(), self.cfg.offsets_topic_num_partitions);
        let partitions = BTreeSet::from([(OFFSETS_TOPIC.to_owned(), partition)]);
        self.add_to_txn(
            req.transactional_id.as_str(),
            req.producer_id,
            req.producer_epoch,
            partitions,
            now_ms,
            reply,
            out,
        );
    }

    pub(crate) fn end_txn(
        &mut self,
        request_id: u64,
        now_ms: i64,
        version: i16,
        req: EndTxnRequest,
        out: &mut Vec<TxnEffect>,
    ) {
        let reply = Reply::EndTxn {
            request_id,
            version,
        };
        let tid = req.transactional_id.as_str();
        if let Some(code) = self.txn_error(tid).filter(|_| !tid.is_empty()) {
            return respond(out, &reply, code);
        }
        if tid.is_empty() {
            return respond(out, &reply, codes::INVALID_REQUEST);
        }
        let Some(m) = self.txns.get(tid) else {
            return respond(out, &reply, codes::INVALID_PRODUCER_ID_MAPPING);
        };
        let commit = req.committed;
        let code = if m.current.producer_id != req.producer_id {
            codes::INVALID_PRODUCER_ID_MAPPING
        } else if m.current.producer_epoch != req.producer_epoch {
            codes::PRODUCER_FENCED
        } else if m.has_pending() {
            codes::CONCURRENT_TRANSACTIONS
        } else {
            match (m.state(), commit) {
                (TxnState::Ongoing, _) => {
                    let transit = TxnSnapshot {
                        state: if commit {
                            TxnState::PrepareCommit
                        } else {
                            TxnState::PrepareAbort
                        },
                        last_update_ms: now_ms,
                        ..m.current.clone()
                    };
                    let tid = tid.to_owned();
                    self.write_transit(&tid, transit, AfterTxnAppend::EndTxn(reply), out);
                    return;
                }
                // A retry of an EndTxn that completed.
                (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => codes::NONE,
                // A retry while the markers are being written.
                (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                    codes::CONCURRENT_TRANSACTIONS
                }
                _ => codes::INVALID_TXN_STATE,
            }
        };
        let (pid, epoch) = (m.current.producer_id, m.current.producer_epoch);
        out.push(TxnEffect::Respond {
            request_id,
            body: reply.body(code, pid, epoch),
        });
    }
}
