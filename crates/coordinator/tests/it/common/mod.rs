//! Test harness: drives a `GroupCoordinator` with a fake clock and an
//! in-memory `__consumer_offsets`, checks every response encodes at its
//! request's version, and keeps responses by request id.
#![allow(dead_code)]

use std::collections::HashMap;

use bytes::{BufMut, Bytes, BytesMut};
use vltava_coordinator::{Effect, GroupConfig, GroupCoordinator, GroupRequest};
use vltava_protocol::frame::encode_response;
use vltava_protocol::messages::consumer_protocol_subscription::ConsumerProtocolSubscription;
use vltava_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use vltava_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use vltava_protocol::messages::*;
use vltava_protocol::{Encode, RequestBody, ResponseBody};

pub const SESSION: i32 = 10_000;
pub const REBALANCE: i32 = 30_000;

pub fn test_config() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay_ms: 0,
        ..GroupConfig::default()
    }
}

/// An append held back: its id, partition, records and producer.
pub type HeldAppend = (u64, i32, Vec<(Bytes, Option<Bytes>)>, Option<(i64, i16)>);

pub struct Harness {
    pub c: GroupCoordinator,
    pub now: i64,
    next_id: u64,
    versions: HashMap<u64, i16>,
    pub responses: HashMap<u64, ResponseBody>,
    /// Every appended record, in order, with its partition.
    pub log: Vec<(i32, Bytes, Option<Bytes>)>,
    /// Fail the next appends instead of storing them.
    pub fail_appends: bool,
    /// Hold appends instead of completing them at once.
    pub hold_appends: bool,
    /// Held appends: id, partition and records (logged only if released ok).
    pub held: Vec<HeldAppend>,
    /// The producer of every append issued, in order (None: plain batch).
    pub producers: Vec<Option<(i64, i16)>>,
    /// The producer of the batch of each record of `log` (same index).
    pub log_producers: Vec<Option<(i64, i16)>>,
    /// Fail the next appends with this Kafka code (via
    /// `complete_append_result`) instead of storing them.
    pub fail_code: Option<i16>,
}

impl Harness {
    pub fn new(cfg: GroupConfig) -> Harness {
        Harness {
            c: GroupCoordinator::new(cfg),
            now: 1_000_000,
            next_id: 1,
            versions: HashMap::new(),
            responses: HashMap::new(),
            log: Vec::new(),
            fail_appends: false,
            hold_appends: false,
            held: Vec::new(),
            producers: Vec::new(),
            log_producers: Vec::new(),
            fail_code: None,
        }
    }

    pub fn apply(&mut self, effects: Vec<Effect>) {
        let mut queue: std::collections::VecDeque<Effect> = effects.into();
        while let Some(e) = queue.pop_front() {
            match e {
                Effect::Respond { request_id, body } => {
                    let v = *self
                        .versions
                        .get(&request_id)
                        .expect("response to a known request");
                    encode_response(1, v, &body).unwrap_or_else(|e| {
                        panic!("response {body:?} does not encode at v{v}: {e}")
                    });
                    let old = self.responses.insert(request_id, body);
                    assert!(old.is_none(), "request {request_id} answered twice");
                }
                Effect::Append {
                    append_id,
                    partition,
                    records,
                    producer,
                } => {
                    self.producers.push(producer);
                    // Appends complete in the order they were issued, like a
                    // log: behind a held append, every later one waits too.
                    if self.hold_appends || !self.held.is_empty() {
                        self.held.push((append_id, partition, records, producer));
                        continue;
                    }
                    if let Some(code) = self.fail_code {
                        queue.extend(
                            self.c
                                .complete_append_result(append_id, Err(code), self.now),
                        );
                        continue;
                    }
                    let ok = !self.fail_appends;
                    if ok {
                        for (k, v) in records {
                            self.log.push((partition, k, v));
                            self.log_producers.push(producer);
                        }
                    }
                    queue.extend(self.c.complete_append(append_id, ok, self.now));
                }
            }
        }
    }

    /// Completes the held appends in order, `ok` or failed, and with them
    /// the appends their completion issues.
    pub fn release_held(&mut self, ok: bool) {
        while !self.held.is_empty() {
            let (id, partition, records, producer) = self.held.remove(0);
            if ok {
                for (k, v) in records {
                    self.log.push((partition, k, v));
                    self.log_producers.push(producer);
                }
            }
            let effects = self.c.complete_append(id, ok, self.now);
            self.apply(effects);
        }
    }

    pub fn send(&mut self, version: i16, body: impl Into<RequestBody>) -> u64 {
        self.send_from("client", version, body)
    }

    pub fn send_from(&mut self, client: &str, version: i16, body: impl Into<RequestBody>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.versions.insert(id, version);
        let req = GroupRequest {
            version,
            body: body.into(),
            client_id: client.to_owned(),
            client_host: "/127.0.0.1".to_owned(),
        };
        let effects = self.c.handle(id, self.now, req);
        self.apply(effects);
        id
    }

    pub fn advance(&mut self, ms: i64) {
        self.now += ms;
        let effects = self.c.tick(self.now);
        self.apply(effects);
    }

    /// Advances in small steps so every timer fires near its time.
    pub fn advance_by_steps(&mut self, ms: i64, step: i64) {
        let mut left = ms;
        while left > 0 {
            let s = left.min(step);
            self.advance(s);
            left -= s;
        }
    }

    /// Requests with no response yet, in id order.
    pub fn unanswered(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = self
            .versions
            .keys()
            .copied()
            .filter(|id| !self.responses.contains_key(id))
            .collect();
        ids.sort_unstable();
        ids
    }

    pub fn response(&self, id: u64) -> Option<&ResponseBody> {
        self.responses.get(&id)
    }

    pub fn join_resp(&self, id: u64) -> JoinGroupResponse {
        match self.responses.get(&id) {
            Some(ResponseBody::JoinGroup(r)) => r.clone(),
            other => panic!("no JoinGroup response for {id}: {other:?}"),
        }
    }

    pub fn sync_resp(&self, id: u64) -> SyncGroupResponse {
        match self.responses.get(&id) {
            Some(ResponseBody::SyncGroup(r)) => r.clone(),
            other => panic!("no SyncGroup response for {id}: {other:?}"),
        }
    }

    pub fn heartbeat(&mut self, group: &str, generation: i32, member: &str) -> i16 {
        let id = self.send(
            4,
            HeartbeatRequest {
                group_id: group.into(),
                generation_id: generation,
                member_id: member.into(),
                ..Default::default()
            },
        );
        match self.responses.get(&id) {
            Some(ResponseBody::Heartbeat(r)) => r.error_code,
            other => panic!("no Heartbeat response: {other:?}"),
        }
    }

    /// A v5+ JoinGroup (static when `instance` is set).
    #[allow(clippy::too_many_arguments)]
    pub fn join_req(
        group: &str,
        member: &str,
        instance: Option<&str>,
        topics: &[&str],
    ) -> JoinGroupRequest {
        JoinGroupRequest {
            group_id: group.into(),
            session_timeout_ms: SESSION,
            rebalance_timeout_ms: REBALANCE,
            member_id: member.into(),
            group_instance_id: instance.map(Into::into),
            protocol_type: "consumer".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "range".into(),
                metadata: subscription(topics),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// Joins a dynamic member at v9 through the MEMBER_ID_REQUIRED round;
    /// returns the request id of the second JoinGroup and the member id.
    pub fn join_dynamic(&mut self, group: &str, topics: &[&str]) -> (u64, String) {
        let first = self.send(9, Self::join_req(group, "", None, topics));
        let r = self.join_resp(first);
        assert_eq!(r.error_code, 79, "first join asks for a member id");
        let member = r.member_id.as_str().to_owned();
        assert!(!member.is_empty());
        let second = self.send(9, Self::join_req(group, &member, None, topics));
        (second, member)
    }

    pub fn sync(
        &mut self,
        group: &str,
        generation: i32,
        member: &str,
        assignments: &[(&str, &[u8])],
    ) -> u64 {
        self.send(
            5,
            SyncGroupRequest {
                group_id: group.into(),
                generation_id: generation,
                member_id: member.into(),
                protocol_type: Some("consumer".into()),
                protocol_name: Some("range".into()),
                assignments: assignments
                    .iter()
                    .map(|(m, a)| SyncGroupRequestAssignment {
                        member_id: (*m).into(),
                        assignment: Bytes::copy_from_slice(a),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        )
    }
}

/// A `ConsumerProtocolSubscription` v1 with its version prefix.
pub fn subscription(topics: &[&str]) -> Bytes {
    let sub = ConsumerProtocolSubscription {
        topics: topics.iter().map(|t| (*t).into()).collect(),
        ..Default::default()
    };
    let mut out = BytesMut::new();
    out.put_i16(1);
    sub.write(&mut out, 1).expect("subscription encodes");
    out.freeze()
}
