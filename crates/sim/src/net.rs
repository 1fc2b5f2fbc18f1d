//! The simulated network: messages between brokers and the controller with a random delay
//! (so they reorder), a drop rate, and links that a partition cuts in both directions.

use std::collections::BTreeSet;

use vltava_replication::{
    AlterPartitionProposal, AlterPartitionResult, EpochEndOffset, FetchPosition, PartitionState,
};

use crate::log::Rec;
use crate::txn_wire::TxnReq;
use vltava_testkit::rng::SplitMix64;

/// The controller's node id on the simulated network.
pub const CONTROLLER: i32 = 100;

/// What a leader answers to a follower's fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchBody {
    /// KIP-320: the follower's log diverges.
    Diverging(EpochEndOffset),
    /// Records from the fetch offset and the leader's high watermark.
    Records {
        /// Records starting at the fetch offset.
        records: Vec<Rec>,
        /// The leader's high watermark.
        high_watermark: u64,
    },
    /// An error (fenced or unknown epoch, not leader, out of range): fetch again later.
    Error(String),
}

/// A message between nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Follower → leader.
    Fetch {
        partition: usize,
        position: FetchPosition,
        /// The follower's broker epoch (KIP-903 `ReplicaState.ReplicaEpoch`).
        broker_epoch: Option<i64>,
    },
    /// Leader → follower.
    FetchResponse {
        partition: usize,
        position: FetchPosition,
        body: FetchBody,
    },
    /// Broker → controller: BrokerRegistration.
    Register,
    /// Controller → broker: the new broker epoch, and the metadata offset that holds it.
    Registered { broker_epoch: i64, offset: u64 },
    /// Broker → controller: BrokerHeartbeat at its epoch.
    Heartbeat { broker_epoch: i64 },
    /// Leader → controller.
    AlterPartition {
        partition: usize,
        broker_epoch: i64,
        proposal: AlterPartitionProposal,
    },
    /// Controller → leader.
    AlterPartitionResponse {
        partition: usize,
        proposal: AlterPartitionProposal,
        result: AlterPartitionResult,
    },
    /// Controller → broker: every partition's state, the fenced brokers and every
    /// registered broker's epoch.
    Metadata {
        /// The controller's metadata offset of this image.
        offset: u64,
        states: Vec<PartitionState>,
        fenced: Vec<i32>,
        epochs: Vec<(i32, i64)>,
    },
    /// Client → broker: OffsetCommit of the simulated group, (partition, offset) each.
    OffsetCommit {
        request_id: u64,
        offsets: Vec<(i32, i64)>,
    },
    /// Client → broker: OffsetFetch of the simulated group's partitions.
    OffsetFetch { request_id: u64 },
    /// Broker → client: a commit's first error code (0: committed).
    CommitAnswer { request_id: u64, error: i16 },
    /// Broker → client: a fetch's error code and (partition, offset) each.
    FetchAnswer {
        request_id: u64,
        error: i16,
        offsets: Vec<(i32, i64)>,
    },
    /// Producer → broker: a request to the transaction coordinator.
    TxnRequest { request_id: u64, req: TxnReq },
    /// Broker → producer: its error, and an InitProducerId's producer id and epoch.
    TxnAnswer {
        request_id: u64,
        error: i16,
        producer_id: i64,
        producer_epoch: i16,
    },
    /// Producer → leader: a one-record batch (acks=all) to a data partition.
    Produce {
        request_id: u64,
        partition: usize,
        value: u64,
    },
    /// Leader → producer: the error, or the batch's offset.
    ProduceAnswer {
        request_id: u64,
        error: i16,
        offset: u64,
    },
    /// Transaction coordinator's broker → leader: WriteTxnMarkers of one marker (its
    /// value) on one partition; `incarnation` names the coordinator's broker incarnation.
    WriteMarker {
        marker_id: u64,
        incarnation: u32,
        partition: usize,
        value: u64,
    },
    /// Leader → coordinator's broker: the marker's error code once written (or not).
    MarkerAnswer {
        marker_id: u64,
        incarnation: u32,
        partition: usize,
        error: i16,
    },
}

/// A message on its way.
#[derive(Debug, Clone)]
struct InFlight<M> {
    deliver_at: u64,
    seq: u64,
    from: i32,
    to: i32,
    msg: M,
}

/// Links, delays and drops, for messages of type `M` (replication's [`Msg`] by default;
/// the quorum simulation carries raft messages).
#[derive(Debug)]
pub struct Network<M = Msg> {
    in_flight: Vec<InFlight<M>>,
    cut: BTreeSet<(i32, i32)>,
    seq: u64,
    /// Drop probability per message, per mille.
    pub drop_per_mille: u64,
    /// Largest delay in ms.
    pub max_delay_ms: u64,
}

impl<M> Network<M> {
    /// A network dropping `drop_per_mille` of messages, delaying each by 1..=`max_delay_ms`.
    pub fn new(drop_per_mille: u64, max_delay_ms: u64) -> Self {
        Network {
            in_flight: Vec::new(),
            cut: BTreeSet::new(),
            seq: 0,
            drop_per_mille,
            max_delay_ms,
        }
    }

    /// Drops every message on its way to `to` (its connections died with it).
    pub fn drop_to(&mut self, to: i32) {
        self.in_flight.retain(|m| m.to != to);
    }

    fn key(a: i32, b: i32) -> (i32, i32) {
        (a.min(b), a.max(b))
    }

    /// Whether `a` and `b` can talk.
    pub fn connected(&self, a: i32, b: i32) -> bool {
        !self.cut.contains(&Self::key(a, b))
    }

    /// Cuts the link between `a` and `b`.
    pub fn cut(&mut self, a: i32, b: i32) {
        self.cut.insert(Self::key(a, b));
    }

    /// Heals every link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// The cut links.
    pub fn cut_links(&self) -> &BTreeSet<(i32, i32)> {
        &self.cut
    }

    /// Sends `msg`; it may be dropped, and is on a cut link.
    pub fn send(&mut self, rng: &mut SplitMix64, now: u64, from: i32, to: i32, msg: M) {
        if !self.connected(from, to) || rng.chance(self.drop_per_mille) {
            return;
        }
        self.seq += 1;
        self.in_flight.push(InFlight {
            deliver_at: now + rng.range(1, self.max_delay_ms),
            seq: self.seq,
            from,
            to,
            msg,
        });
    }

    /// Takes the earliest message due at `now` whose link is still up (messages on a cut
    /// link are lost).
    pub fn next_due(&mut self, now: u64) -> Option<(i32, i32, M)> {
        loop {
            let (i, _) = self
                .in_flight
                .iter()
                .enumerate()
                .filter(|(_, m)| m.deliver_at <= now)
                .min_by_key(|(_, m)| (m.deliver_at, m.seq))?;
            let m = self.in_flight.swap_remove(i);
            if self.connected(m.from, m.to) {
                return Some((m.from, m.to, m.msg));
            }
        }
    }
}
