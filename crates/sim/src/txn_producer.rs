//! `TxnProducer`: the simulated transactional producer (`transactional.id` =
//! [`crate::txn_wire::TRANSACTIONAL_ID`]). It finds the transaction coordinator (the
//! `__transaction_state` leader in the metadata, now and then a wrong broker), gets its
//! producer id and epoch with InitProducerId, then runs transactions one after another:
//! AddPartitionsToTxn of one or both data partitions, one to three records to each
//! (idempotent batches, transactional, retried with the same sequence until answered),
//! then EndTxn, commit or abort. Retriable errors and timeouts retry the same request;
//! a fenced or fatal answer abandons the transaction and starts over with InitProducerId
//! (with its producer id and epoch: the coordinator aborts what is open and bumps the
//! epoch). Now and then it stalls past its transaction timeout (the coordinator aborts
//! the transaction) or restarts (InitProducerId without its id).

use vltava_coordinator::codes;

use crate::batch::Batch;
use crate::idempotent_producer::{OUT_OF_ORDER_SEQUENCE, RETRY_MS, retriable_produce_error, take};
use crate::net::Msg;
use crate::txn_wire::{TXN_TIMEOUT_MS, TxnReq};
use vltava_testkit::rng::SplitMix64;

/// The transactional producer's node id on the simulated network.
pub const TXN_PRODUCER: i32 = 202;

/// What the producer tells the checker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnEvent {
    /// InitProducerId answered: this producer id and epoch are the producer's.
    Epoch { producer_id: i64, epoch: i16 },
    /// Transaction `txn` started under this producer id and epoch.
    Started { txn: u64 },
    /// AddPartitionsToTxn of transaction `txn` (sent as request `request_id`) was answered
    /// NONE: the coordinator's record of it lies below that coordinator's log end then.
    Added { txn: u64, request_id: u64 },
    /// A record of transaction `txn` was acknowledged at `offset` of `partition`.
    Record {
        txn: u64,
        partition: usize,
        value: u64,
        offset: u64,
    },
    /// EndTxn of transaction `txn` (sent as request `request_id`) was answered NONE.
    Ended {
        txn: u64,
        commit: bool,
        request_id: u64,
    },
    /// Transaction `txn` was abandoned without an answered EndTxn.
    Abandoned { txn: u64 },
}

/// Where the producer is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Needs a producer id and epoch.
    Init,
    /// Between transactions.
    Idle,
    /// AddPartitionsToTxn of these partitions.
    Adding(Vec<usize>),
    /// Records left to write, (partition, count).
    Producing(Vec<(usize, u32)>),
    /// Waiting until this time before EndTxn (a slow application).
    Stalled(u64),
    /// EndTxn.
    Ending(bool),
}

/// One request on its way.
#[derive(Debug, Clone, Copy)]
struct Pending {
    request_id: u64,
    sent_at: u64,
    answered: bool,
    /// A produce's partition and value.
    produce: Option<(usize, u64)>,
}

/// The simulated transactional producer.
#[derive(Debug)]
pub struct TxnProducer {
    producer: Option<(i64, i16)>,
    phase: Phase,
    pending: Option<Pending>,
    coordinator: Option<i32>,
    next_seq: Vec<i32>,
    txn: u64,
    in_txn: bool,
}

impl TxnProducer {
    /// A producer without an id, for `partitions` data partitions.
    pub fn new(partitions: usize) -> Self {
        TxnProducer {
            producer: None,
            phase: Phase::Init,
            pending: None,
            coordinator: None,
            next_seq: vec![0; partitions],
            txn: 0,
            in_txn: false,
        }
    }

    fn coordinator(&mut self, rng: &mut SplitMix64, leader: Option<i32>, brokers: &[i32]) -> i32 {
        if let Some(c) = self.coordinator {
            return c;
        }
        let c = match leader {
            Some(l) if !rng.chance(100) => l,
            _ => brokers[rng.index(brokers.len())],
        };
        self.coordinator = Some(c);
        c
    }

    /// Gives up the open transaction (if any) and starts over with InitProducerId;
    /// `restart`: without the producer id (a new producer instance).
    fn start_over(&mut self, restart: bool, events: &mut Vec<TxnEvent>) {
        if self.in_txn {
            events.push(TxnEvent::Abandoned { txn: self.txn });
            self.in_txn = false;
        }
        if restart {
            self.producer = None;
        }
        self.phase = Phase::Init;
        self.pending = None;
        self.coordinator = None;
    }

    /// One step at `now`. `txn_leader`: the `__transaction_state` leader in the client's
    /// metadata; `leaders[p]`: each data partition's. Returns the messages to send and
    /// what the checker learns.
    // Long, and kept whole: the simulated producer's state machine, one arm per phase.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        rng: &mut SplitMix64,
        now: u64,
        txn_leader: Option<i32>,
        leaders: &[Option<i32>],
        brokers: &[i32],
        next_id: &mut u64,
        events: &mut Vec<TxnEvent>,
    ) -> Vec<(i32, Msg)> {
        let mut out = Vec::new();
        if let Some(p) = self.pending {
            if !p.answered && now < p.sent_at + RETRY_MS {
                return out;
            }
            if !p.answered {
                // Timed out: find the coordinator again.
                self.coordinator = None;
            }
        }
        if self.phase != Phase::Init && rng.chance(1) {
            self.start_over(true, events);
        }
        let (pid, epoch) = self.producer.unwrap_or((-1, -1));
        let req = match self.phase.clone() {
            Phase::Init => TxnReq::InitProducerId {
                transactional: true,
                producer_id: pid,
                producer_epoch: epoch,
            },
            Phase::Idle => {
                if !rng.chance(100) {
                    self.pending = None;
                    return out;
                }
                self.txn += 1;
                self.in_txn = true;
                events.push(TxnEvent::Started { txn: self.txn });
                let n = self.next_seq.len();
                let parts: Vec<usize> = if rng.chance(500) {
                    (0..n).collect()
                } else {
                    vec![rng.index(n)]
                };
                self.phase = Phase::Adding(parts.clone());
                TxnReq::AddPartitions {
                    producer_id: pid,
                    producer_epoch: epoch,
                    partitions: parts,
                }
            }
            Phase::Adding(parts) => TxnReq::AddPartitions {
                producer_id: pid,
                producer_epoch: epoch,
                partitions: parts,
            },
            Phase::Producing(left) => {
                let Some(&(p, _)) = left.first() else {
                    self.phase = Phase::Ending(rng.chance(700));
                    self.pending = None;
                    return out;
                };
                let value = match self.pending.and_then(|x| x.produce) {
                    Some((q, v)) if q == p => v,
                    _ => {
                        let sequence = self.next_seq[p];
                        self.next_seq[p] = sequence.wrapping_add(1);
                        let batch = Batch::Data {
                            producer_id: pid,
                            epoch,
                            sequence,
                            transactional: true,
                        };
                        match batch.encode() {
                            Some(v) => v,
                            None => {
                                self.start_over(true, events);
                                return out;
                            }
                        }
                    }
                };
                let to = match leaders.get(p).copied().flatten() {
                    Some(l) if !rng.chance(50) => l,
                    _ => brokers[rng.index(brokers.len())],
                };
                let request_id = take(next_id);
                self.pending = Some(Pending {
                    request_id,
                    sent_at: now,
                    answered: false,
                    produce: Some((p, value)),
                });
                out.push((
                    to,
                    Msg::Produce {
                        request_id,
                        partition: p,
                        value,
                    },
                ));
                return out;
            }
            Phase::Stalled(until) => {
                if now >= until {
                    self.phase = Phase::Ending(rng.chance(700));
                }
                self.pending = None;
                return out;
            }
            Phase::Ending(commit) => TxnReq::EndTxn {
                producer_id: pid,
                producer_epoch: epoch,
                commit,
            },
        };
        let to = self.coordinator(rng, txn_leader, brokers);
        let request_id = take(next_id);
        self.pending = Some(Pending {
            request_id,
            sent_at: now,
            answered: false,
            produce: None,
        });
        out.push((to, Msg::TxnRequest { request_id, req }));
        out
    }

    fn is_pending(&self, request_id: u64) -> bool {
        self.pending
            .is_some_and(|p| p.request_id == request_id && !p.answered)
    }

    fn retry(&mut self) {
        if let Some(p) = &mut self.pending {
            p.answered = true;
        }
    }

    /// A coordinator's answer to request `request_id`.
    pub fn on_txn_answer(
        &mut self,
        rng: &mut SplitMix64,
        now: u64,
        request_id: u64,
        (error, pid, epoch): (i16, i64, i16),
        events: &mut Vec<TxnEvent>,
    ) {
        if !self.is_pending(request_id) {
            return;
        }
        let retriable = matches!(
            error,
            codes::NOT_COORDINATOR
                | codes::COORDINATOR_NOT_AVAILABLE
                | codes::COORDINATOR_LOAD_IN_PROGRESS
                | codes::CONCURRENT_TRANSACTIONS
                | codes::REQUEST_TIMED_OUT
        );
        if error != codes::NONE {
            if retriable {
                if error != codes::CONCURRENT_TRANSACTIONS {
                    self.coordinator = None;
                }
                self.retry();
            } else {
                // Fenced or fatal: a new producer instance.
                self.start_over(true, events);
            }
            return;
        }
        self.pending = None;
        match self.phase.clone() {
            Phase::Init => {
                if pid >= 0 {
                    if self.producer.is_none_or(|(p, e)| p != pid || e != epoch) {
                        self.next_seq.iter_mut().for_each(|s| *s = 0);
                    }
                    self.producer = Some((pid, epoch));
                    events.push(TxnEvent::Epoch {
                        producer_id: pid,
                        epoch,
                    });
                    self.phase = Phase::Idle;
                }
            }
            Phase::Adding(parts) => {
                events.push(TxnEvent::Added {
                    txn: self.txn,
                    request_id,
                });
                let records = parts
                    .into_iter()
                    .flat_map(|p| std::iter::repeat_n(p, rng.range(1, 3) as usize))
                    .map(|p| (p, 1))
                    .collect();
                self.phase = Phase::Producing(records);
            }
            Phase::Ending(commit) => {
                events.push(TxnEvent::Ended {
                    txn: self.txn,
                    commit,
                    request_id,
                });
                self.in_txn = false;
                self.phase = Phase::Idle;
            }
            Phase::Idle | Phase::Producing(_) | Phase::Stalled(_) => {}
        }
        let _ = now;
    }

    /// A leader's answer to produce `request_id`.
    pub fn on_produce_answer(
        &mut self,
        rng: &mut SplitMix64,
        now: u64,
        request_id: u64,
        error: i16,
        offset: u64,
        events: &mut Vec<TxnEvent>,
    ) {
        if !self.is_pending(request_id) {
            return;
        }
        let Some(Pending {
            produce: Some((p, value)),
            ..
        }) = self.pending
        else {
            return;
        };
        if error == codes::NONE {
            self.pending = None;
            events.push(TxnEvent::Record {
                txn: self.txn,
                partition: p,
                value,
                offset,
            });
            if let Phase::Producing(left) = &mut self.phase {
                if !left.is_empty() {
                    left.remove(0);
                }
                if left.is_empty() {
                    self.phase = if rng.chance(30) {
                        let timeout = u64::try_from(TXN_TIMEOUT_MS).unwrap_or(0);
                        Phase::Stalled(now + timeout + 2_000)
                    } else {
                        Phase::Ending(rng.chance(700))
                    };
                }
            }
        } else if retriable_produce_error(error) {
            self.retry();
        } else {
            // OUT_OF_ORDER_SEQUENCE, INVALID_PRODUCER_EPOCH, INVALID_TXN_STATE: the
            // transaction is abandoned and the epoch bumped with InitProducerId.
            let _ = OUT_OF_ORDER_SEQUENCE;
            self.start_over(false, events);
        }
    }
}
