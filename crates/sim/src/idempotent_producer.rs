//! `IdempotentProducer`: the simulated idempotent producer (`enable.idempotence=true`,
//! acks=all, one batch in flight per partition). It gets a producer id with an
//! InitProducerId from any broker, then sends one-record batches numbered 0, 1, 2, … per
//! partition to the partition's leader, and retries the same batch (same sequence) after
//! a retriable error or a timeout, until it is answered: the lossy network makes the
//! leader see retries of batches it already wrote, which its producer state must answer
//! as duplicates. A fatal answer (out-of-order sequence, fenced epoch) makes it start over
//! with a fresh producer id, as an application restarting the producer.

use vltava_coordinator::codes;

use crate::batch::Batch;
use crate::net::Msg;
use crate::txn_wire::TxnReq;
use vltava_testkit::rng::SplitMix64;

/// The idempotent producer's node id on the simulated network.
pub const IDEMPOTENT_PRODUCER: i32 = 201;
/// A request without an answer for this long is sent again.
pub const RETRY_MS: u64 = 2_500;
/// OUT_OF_ORDER_SEQUENCE_NUMBER.
pub const OUT_OF_ORDER_SEQUENCE: i16 = 45;

/// Whether a produce error is one the client retries with the same batch.
pub fn retriable_produce_error(code: i16) -> bool {
    matches!(
        code,
        codes::NOT_LEADER_OR_FOLLOWER
            | codes::REQUEST_TIMED_OUT
            | codes::NOT_ENOUGH_REPLICAS
            | codes::NOT_ENOUGH_REPLICAS_AFTER_APPEND
            | codes::UNKNOWN_TOPIC_OR_PARTITION
            | 74 // FENCED_LEADER_EPOCH
            | 75 // UNKNOWN_LEADER_EPOCH
    )
}

/// One batch on its way.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    request_id: u64,
    value: u64,
    sent_at: u64,
    answered: bool,
}

/// An acknowledged batch: (partition, value, offset).
pub type Acked = (usize, u64, u64);

/// The simulated idempotent producer.
#[derive(Debug)]
pub struct IdempotentProducer {
    producer: Option<(i64, i16)>,
    init: Option<(u64, u64)>,
    next_seq: Vec<i32>,
    in_flight: Vec<Option<InFlight>>,
}

impl IdempotentProducer {
    /// A producer without an id, for `partitions` data partitions.
    pub fn new(partitions: usize) -> Self {
        IdempotentProducer {
            producer: None,
            init: None,
            next_seq: vec![0; partitions],
            in_flight: vec![None; partitions],
        }
    }

    /// One step at `now`: InitProducerId while it has no id, a new batch now and then,
    /// retries of unanswered ones. `leaders[p]` is the leader in the client's metadata.
    /// Request ids come from `next_id`.
    pub fn step(
        &mut self,
        rng: &mut SplitMix64,
        now: u64,
        leaders: &[Option<i32>],
        brokers: &[i32],
        next_id: &mut u64,
    ) -> Vec<(i32, Msg)> {
        let mut out = Vec::new();
        let Some((pid, epoch)) = self.producer else {
            if self.init.is_none_or(|(_, at)| now >= at + RETRY_MS) {
                let request_id = take(next_id);
                self.init = Some((request_id, now));
                let req = TxnReq::InitProducerId {
                    transactional: false,
                    producer_id: -1,
                    producer_epoch: -1,
                };
                let to = brokers[rng.index(brokers.len())];
                out.push((to, Msg::TxnRequest { request_id, req }));
            }
            return out;
        };
        for p in 0..self.in_flight.len() {
            let due = match self.in_flight[p] {
                None => rng.chance(40),
                Some(f) => f.answered || now >= f.sent_at + RETRY_MS,
            };
            if !due {
                continue;
            }
            let value = match self.in_flight[p] {
                Some(f) => f.value,
                None => {
                    let sequence = self.next_seq[p];
                    self.next_seq[p] = sequence.wrapping_add(1);
                    let batch = Batch::Data {
                        producer_id: pid,
                        epoch,
                        sequence,
                        transactional: false,
                    };
                    let Some(value) = batch.encode() else {
                        continue;
                    };
                    value
                }
            };
            let to = match leaders.get(p).copied().flatten() {
                Some(l) if !rng.chance(50) => l,
                _ => brokers[rng.index(brokers.len())],
            };
            let request_id = take(next_id);
            self.in_flight[p] = Some(InFlight {
                request_id,
                value,
                sent_at: now,
                answered: false,
            });
            out.push((
                to,
                Msg::Produce {
                    request_id,
                    partition: p,
                    value,
                },
            ));
        }
        out
    }

    /// The answer to InitProducerId `request_id`.
    pub fn on_init_answer(&mut self, request_id: u64, error: i16, pid: i64, epoch: i16) {
        if self.init.is_some_and(|(id, _)| id == request_id) {
            self.init = None;
            if error == codes::NONE && pid >= 0 {
                self.producer = Some((pid, epoch));
            }
        }
    }

    /// The answer to produce `request_id`: the batch acknowledged, if it was.
    pub fn on_produce_answer(&mut self, request_id: u64, error: i16, offset: u64) -> Option<Acked> {
        let p = self
            .in_flight
            .iter()
            .position(|f| f.is_some_and(|f| f.request_id == request_id && !f.answered))?;
        let f = self.in_flight[p]?;
        if error == codes::NONE {
            self.in_flight[p] = None;
            return Some((p, f.value, offset));
        }
        if retriable_produce_error(error) {
            self.in_flight[p] = Some(InFlight {
                answered: true,
                ..f
            });
            return None;
        }
        // Fatal: start over with a fresh producer id.
        self.producer = None;
        self.next_seq.iter_mut().for_each(|s| *s = 0);
        self.in_flight.iter_mut().for_each(|f| *f = None);
        None
    }
}

/// The next request id.
pub fn take(next_id: &mut u64) -> u64 {
    *next_id += 1;
    *next_id
}
