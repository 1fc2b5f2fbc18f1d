//! `Committer`: the simulated client of the group coordinator. It commits strictly
//! increasing offsets of two partitions for a simple (member-less) group, OffsetCommit with
//! generation -1 and no member id, one commit at a time (as `commitSync`), and now and then
//! asks for them back with OffsetFetch. It sends to the coordinator it found last (the
//! offsets partition's leader in the controller's metadata, or sometimes a wrong broker),
//! forgets it on an error or a timeout, and talks over the simulated network.
//!
//! The requests and answers travel as compact [`Msg`]s; [`commit_request`],
//! [`fetch_request`] and [`answer`] turn them into the real protocol messages and back.

use vltava_coordinator::GroupRequest;
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use vltava_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use vltava_protocol::messages::{OffsetCommitRequest, OffsetFetchRequest};

use crate::net::Msg;
use vltava_testkit::rng::SplitMix64;

/// The client's node id on the simulated network.
pub const CLIENT: i32 = 200;
/// The group.
pub const GROUP: &str = "sim-group";
/// The topic whose offsets are committed.
pub const COMMITTED_TOPIC: &str = "orders";
/// Its partitions.
pub const COMMITTED_PARTITIONS: [i32; 2] = [0, 1];
/// OffsetCommit version (flexible, the classic group's).
const COMMIT_VERSION: i16 = 8;
/// OffsetFetch version (one group, flexible).
const FETCH_VERSION: i16 = 7;
/// A request without an answer for this long is given up (longer than the acks=all wait
/// and the network's delays).
const ANSWER_TIMEOUT_MS: u64 = 3_000;

/// The OffsetCommit of `offsets` (partition, offset) for the group.
pub fn commit_request(offsets: &[(i32, i64)]) -> GroupRequest {
    let body = OffsetCommitRequest {
        group_id: GROUP.into(),
        generation_id_or_member_epoch: -1,
        member_id: "".into(),
        topics: vec![OffsetCommitRequestTopic {
            name: COMMITTED_TOPIC.into(),
            partitions: offsets
                .iter()
                .map(
                    |&(partition_index, committed_offset)| OffsetCommitRequestPartition {
                        partition_index,
                        committed_offset,
                        ..Default::default()
                    },
                )
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    GroupRequest::new(COMMIT_VERSION, body)
}

/// The OffsetFetch of every committed partition.
pub fn fetch_request() -> GroupRequest {
    let body = OffsetFetchRequest {
        group_id: GROUP.into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: COMMITTED_TOPIC.into(),
            partition_indexes: COMMITTED_PARTITIONS.to_vec(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    GroupRequest::new(FETCH_VERSION, body)
}

/// The answer to request `request_id` as the client gets it: a commit's first error (0:
/// every partition committed), or a fetch's error and offsets.
pub fn answer(request_id: u64, body: &ResponseBody) -> Option<Msg> {
    match body {
        ResponseBody::OffsetCommit(r) => {
            let error = r
                .topics
                .iter()
                .flat_map(|t| &t.partitions)
                .map(|p| p.error_code)
                .find(|&e| e != 0)
                .unwrap_or(0);
            Some(Msg::CommitAnswer { request_id, error })
        }
        ResponseBody::OffsetFetch(r) => {
            let mut error = r.error_code;
            let mut offsets = Vec::new();
            for t in r
                .topics
                .iter()
                .filter(|t| t.name.as_str() == COMMITTED_TOPIC)
            {
                for p in &t.partitions {
                    if error == 0 {
                        error = p.error_code;
                    }
                    offsets.push((p.partition_index, p.committed_offset));
                }
            }
            Some(Msg::FetchAnswer {
                request_id,
                error,
                offsets,
            })
        }
        _ => None,
    }
}

/// A request on its way or being served.
#[derive(Debug, Clone)]
struct InFlight {
    request_id: u64,
    sent_at: u64,
    offsets: Vec<(i32, i64)>,
}

/// What the client sent this step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// An OffsetCommit, to broker `to`.
    Commit { request_id: u64, to: i32 },
    /// An OffsetFetch, to broker `to`.
    Fetch { request_id: u64, to: i32 },
}

/// The simulated committing client.
#[derive(Debug)]
pub struct Committer {
    next_request_id: u64,
    next_offset: Vec<i64>,
    coordinator: Option<i32>,
    commit: Option<InFlight>,
    fetch: Option<InFlight>,
}

impl Default for Committer {
    fn default() -> Self {
        Self::new()
    }
}

impl Committer {
    /// A client that has committed nothing.
    pub fn new() -> Self {
        Committer {
            next_request_id: 1,
            next_offset: vec![0; COMMITTED_PARTITIONS.len()],
            coordinator: None,
            commit: None,
            fetch: None,
        }
    }

    /// One step at `now`: gives up requests that timed out, maybe sends a commit or a fetch.
    /// `leader` is the offsets partition's leader in the controller's metadata (what
    /// FindCoordinator answers), `brokers` every broker. Returns the messages to send and
    /// what they are.
    pub fn step(
        &mut self,
        rng: &mut SplitMix64,
        now: u64,
        leader: Option<i32>,
        brokers: &[i32],
    ) -> Vec<(i32, Msg, Sent)> {
        let expired = |f: &Option<InFlight>| {
            f.as_ref()
                .is_some_and(|f| now >= f.sent_at + ANSWER_TIMEOUT_MS)
        };
        if expired(&self.commit) {
            self.commit = None;
            self.coordinator = None;
        }
        if expired(&self.fetch) {
            self.fetch = None;
            self.coordinator = None;
        }
        let mut out = Vec::new();
        if self.commit.is_none() && rng.chance(150) {
            let to = self.find_coordinator(rng, leader, brokers);
            let mut offsets = Vec::new();
            for (i, &p) in COMMITTED_PARTITIONS.iter().enumerate() {
                if i == 0 || rng.chance(500) {
                    self.next_offset[i] += i64::try_from(rng.range(1, 5)).unwrap_or(1);
                    offsets.push((p, self.next_offset[i]));
                }
            }
            let request_id = self.new_request_id();
            out.push((
                to,
                Msg::OffsetCommit {
                    request_id,
                    offsets: offsets.clone(),
                },
                Sent::Commit { request_id, to },
            ));
            self.commit = Some(InFlight {
                request_id,
                sent_at: now,
                offsets,
            });
        }
        if self.fetch.is_none() && rng.chance(60) {
            let to = self.find_coordinator(rng, leader, brokers);
            let request_id = self.new_request_id();
            out.push((
                to,
                Msg::OffsetFetch { request_id },
                Sent::Fetch { request_id, to },
            ));
            self.fetch = Some(InFlight {
                request_id,
                sent_at: now,
                offsets: Vec::new(),
            });
        }
        out
    }

    fn new_request_id(&mut self) -> u64 {
        let id = self.next_request_id;
        self.next_request_id += 1;
        id
    }

    /// The coordinator found last; else FindCoordinator's answer, or now and then any
    /// broker (a stale answer).
    fn find_coordinator(
        &mut self,
        rng: &mut SplitMix64,
        leader: Option<i32>,
        brokers: &[i32],
    ) -> i32 {
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

    /// A commit's answer: the offsets acknowledged, when it is the commit waited for and
    /// every partition committed.
    pub fn on_commit_answer(&mut self, request_id: u64, error: i16) -> Option<Vec<(i32, i64)>> {
        let commit = self.commit.take_if(|c| c.request_id == request_id)?;
        if error != 0 {
            self.coordinator = None;
            return None;
        }
        Some(commit.offsets)
    }

    /// A fetch's answer (checked where it was answered).
    pub fn on_fetch_answer(&mut self, request_id: u64, error: i16) {
        if self.fetch.take_if(|f| f.request_id == request_id).is_some() && error != 0 {
            self.coordinator = None;
        }
    }
}
