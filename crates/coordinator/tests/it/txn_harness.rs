//! Test harness of the transaction coordinator: drives a
//! `TransactionCoordinator` with a fake clock, an in-memory
//! `__transaction_state`, a producer id counter and marker writes that can
//! be held or failed; checks every response encodes at its version.
#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use vltava_coordinator::{
    TransactionCoordinator, TxnConfig, TxnEffect, TxnSnapshot, TxnState, decode_txn_record,
};
use vltava_protocol::frame::encode_response;
use vltava_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use vltava_protocol::messages::*;
use vltava_protocol::{RequestBody, ResponseBody};

pub type HeldMarkers = (u64, i64, i16, bool, Vec<(String, i32)>);
pub type HeldAppend = (u64, i32, Vec<(Bytes, Option<Bytes>)>);

pub struct TxnHarness {
    pub c: TransactionCoordinator,
    pub now: i64,
    next_id: u64,
    versions: HashMap<u64, i16>,
    pub responses: HashMap<u64, ResponseBody>,
    /// Every written `__transaction_state` record with its partition.
    pub log: Vec<(i32, Bytes, Option<Bytes>)>,
    /// Fail appends with this code instead of writing them.
    pub fail_appends: Option<i16>,
    pub hold_appends: bool,
    pub held: VecDeque<HeldAppend>,
    pub hold_markers: bool,
    pub held_markers: Vec<HeldMarkers>,
    /// Codes marker writes get per partition (absent: NONE).
    pub marker_codes: HashMap<(String, i32), i16>,
    /// Every marker written: producer id, epoch, commit, partition.
    pub markers: Vec<(i64, i16, bool, (String, i32))>,
    pub next_pid: i64,
    pub fail_pid: Option<i16>,
}

impl TxnHarness {
    pub fn new(cfg: TxnConfig) -> TxnHarness {
        TxnHarness {
            c: TransactionCoordinator::new(cfg),
            now: 1_000_000,
            next_id: 1,
            versions: HashMap::new(),
            responses: HashMap::new(),
            log: Vec::new(),
            fail_appends: None,
            hold_appends: false,
            held: VecDeque::new(),
            hold_markers: false,
            held_markers: Vec::new(),
            marker_codes: HashMap::new(),
            markers: Vec::new(),
            next_pid: 1000,
            fail_pid: None,
        }
    }

    pub fn default_cfg() -> TxnConfig {
        TxnConfig::default()
    }

    pub fn apply(&mut self, effects: Vec<TxnEffect>) {
        let mut queue: VecDeque<TxnEffect> = effects.into();
        while let Some(e) = queue.pop_front() {
            match e {
                TxnEffect::Respond { request_id, body } => {
                    let v = *self.versions.get(&request_id).expect("known request");
                    encode_response(1, v, &body)
                        .unwrap_or_else(|e| panic!("{body:?} does not encode at v{v}: {e}"));
                    let old = self.responses.insert(request_id, body);
                    assert!(old.is_none(), "request {request_id} answered twice");
                }
                TxnEffect::Append {
                    append_id,
                    partition,
                    records,
                } => {
                    if self.hold_appends || !self.held.is_empty() {
                        self.held.push_back((append_id, partition, records));
                        continue;
                    }
                    let result = match self.fail_appends {
                        Some(code) => Err(code),
                        None => {
                            for (k, v) in records {
                                self.log.push((partition, k, v));
                            }
                            Ok(())
                        }
                    };
                    queue.extend(self.c.complete_append(append_id, result, self.now));
                }
                TxnEffect::WriteMarkers {
                    marker_id,
                    producer_id,
                    producer_epoch,
                    commit,
                    partitions,
                    ..
                } => {
                    if self.hold_markers {
                        self.held_markers.push((
                            marker_id,
                            producer_id,
                            producer_epoch,
                            commit,
                            partitions,
                        ));
                        continue;
                    }
                    let results =
                        self.write_markers(producer_id, producer_epoch, commit, partitions);
                    queue.extend(self.c.complete_markers(marker_id, results, self.now));
                }
                TxnEffect::AllocateProducerId { request_id } => {
                    let result = match self.fail_pid {
                        Some(code) => Err(code),
                        None => {
                            self.next_pid += 1;
                            Ok(self.next_pid - 1)
                        }
                    };
                    queue.extend(self.c.complete_producer_id(request_id, result, self.now));
                }
            }
        }
    }

    fn write_markers(
        &mut self,
        pid: i64,
        epoch: i16,
        commit: bool,
        partitions: Vec<(String, i32)>,
    ) -> Vec<((String, i32), i16)> {
        partitions
            .into_iter()
            .map(|tp| {
                let code = self.marker_codes.get(&tp).copied().unwrap_or(0);
                if code == 0 {
                    self.markers.push((pid, epoch, commit, tp.clone()));
                }
                (tp, code)
            })
            .collect()
    }

    /// Completes held marker writes (with `marker_codes`).
    pub fn release_markers(&mut self) {
        let held = std::mem::take(&mut self.held_markers);
        for (id, pid, epoch, commit, parts) in held {
            let results = self.write_markers(pid, epoch, commit, parts);
            let effects = self.c.complete_markers(id, results, self.now);
            self.apply(effects);
        }
    }

    /// Completes held appends in order, written (`ok`) or failed.
    pub fn release_appends(&mut self, ok: bool) {
        self.hold_appends = false;
        while let Some((id, partition, records)) = self.held.pop_front() {
            let result = if ok {
                for (k, v) in records {
                    self.log.push((partition, k, v));
                }
                Ok(())
            } else {
                Err(15)
            };
            let effects = self.c.complete_append(id, result, self.now);
            self.apply(effects);
        }
    }

    pub fn send(&mut self, version: i16, body: impl Into<RequestBody>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.versions.insert(id, version);
        let effects = self.c.handle(id, self.now, version, body.into());
        self.apply(effects);
        id
    }

    pub fn advance(&mut self, ms: i64) {
        self.now += ms;
        let effects = self.c.tick(self.now);
        self.apply(effects);
    }

    pub fn advance_by_steps(&mut self, ms: i64, step: i64) {
        let mut left = ms;
        while left > 0 {
            let s = left.min(step);
            self.advance(s);
            left -= s;
        }
    }

    pub fn response(&self, id: u64) -> Option<&ResponseBody> {
        self.responses.get(&id)
    }

    pub fn init_v(&mut self, version: i16, tid: &str, timeout: i32, pid: i64, epoch: i16) -> u64 {
        self.send(
            version,
            InitProducerIdRequest {
                transactional_id: Some(tid.into()),
                transaction_timeout_ms: timeout,
                producer_id: if version >= 3 { pid } else { -1 },
                producer_epoch: if version >= 3 { epoch } else { -1 },
                ..Default::default()
            },
        )
    }

    /// InitProducerId v4 without a producer id: `(error, pid, epoch)`.
    pub fn init(&mut self, tid: &str, timeout: i32) -> (i16, i64, i16) {
        let id = self.init_v(4, tid, timeout, -1, -1);
        self.init_resp(id)
    }

    pub fn init_resp(&self, id: u64) -> (i16, i64, i16) {
        match self.responses.get(&id) {
            Some(ResponseBody::InitProducerId(r)) => {
                (r.error_code, r.producer_id, r.producer_epoch)
            }
            other => panic!("no InitProducerId response for {id}: {other:?}"),
        }
    }

    pub fn add_v(
        &mut self,
        version: i16,
        tid: &str,
        pid: i64,
        epoch: i16,
        parts: &[(&str, i32)],
    ) -> u64 {
        let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
        for (t, p) in parts {
            match topics.iter_mut().find(|x| x.name.as_str() == *t) {
                Some(x) => x.partitions.push(*p),
                None => topics.push(AddPartitionsToTxnTopic {
                    name: (*t).into(),
                    partitions: vec![*p],
                    ..Default::default()
                }),
            }
        }
        self.send(
            version,
            AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: tid.into(),
                v3_and_below_producer_id: pid,
                v3_and_below_producer_epoch: epoch,
                v3_and_below_topics: topics,
                ..Default::default()
            },
        )
    }

    /// AddPartitionsToTxn v3: the codes of every partition (all equal).
    pub fn add(&mut self, tid: &str, pid: i64, epoch: i16, parts: &[(&str, i32)]) -> i16 {
        let id = self.add_v(3, tid, pid, epoch, parts);
        self.add_resp(id)
    }

    pub fn add_resp(&self, id: u64) -> i16 {
        match self.responses.get(&id) {
            Some(ResponseBody::AddPartitionsToTxn(r)) => {
                let codes: Vec<i16> = r
                    .results_by_topic_v3_and_below
                    .iter()
                    .flat_map(|t| {
                        t.results_by_partition
                            .iter()
                            .map(|p| p.partition_error_code)
                    })
                    .collect();
                assert!(!codes.is_empty(), "no partition results");
                assert!(
                    codes.iter().all(|c| *c == codes[0]),
                    "mixed codes {codes:?}"
                );
                codes[0]
            }
            other => panic!("no AddPartitionsToTxn response for {id}: {other:?}"),
        }
    }

    pub fn add_offsets(&mut self, tid: &str, pid: i64, epoch: i16, group: &str) -> i16 {
        let id = self.send(
            3,
            AddOffsetsToTxnRequest {
                transactional_id: tid.into(),
                producer_id: pid,
                producer_epoch: epoch,
                group_id: group.into(),
                ..Default::default()
            },
        );
        match self.responses.get(&id) {
            Some(ResponseBody::AddOffsetsToTxn(r)) => r.error_code,
            other => panic!("no AddOffsetsToTxn response: {other:?}"),
        }
    }

    pub fn end_v(&mut self, version: i16, tid: &str, pid: i64, epoch: i16, commit: bool) -> u64 {
        self.send(
            version,
            EndTxnRequest {
                transactional_id: tid.into(),
                producer_id: pid,
                producer_epoch: epoch,
                committed: commit,
                ..Default::default()
            },
        )
    }

    pub fn end(&mut self, tid: &str, pid: i64, epoch: i16, commit: bool) -> i16 {
        let id = self.end_v(3, tid, pid, epoch, commit);
        self.end_resp(id)
    }

    pub fn end_resp(&self, id: u64) -> i16 {
        match self.responses.get(&id) {
            Some(ResponseBody::EndTxn(r)) => r.error_code,
            other => panic!("no EndTxn response for {id}: {other:?}"),
        }
    }

    pub fn state(&self, tid: &str) -> Option<TxnState> {
        self.c.txn(tid).map(|m| m.state())
    }

    pub fn snapshot(&self, tid: &str) -> TxnSnapshot {
        self.c.txn(tid).expect("known id").current.clone()
    }

    /// The states written for `tid`, in order (None: tombstone).
    pub fn written_states(&self, tid: &str) -> Vec<Option<TxnState>> {
        self.log
            .iter()
            .filter_map(|(_, k, v)| {
                let (id, s) = decode_txn_record(k, v.as_ref()).expect("records decode");
                (id == tid).then(|| s.map(|s| s.state))
            })
            .collect()
    }

    /// A fresh coordinator loaded from this one's log.
    pub fn reloaded(&self, cfg: TxnConfig) -> TxnHarness {
        let mut h = TxnHarness::new(cfg);
        h.now = self.now;
        h.next_pid = self.next_pid + 100;
        h.c.begin_load();
        for (_, k, v) in &self.log {
            h.c.load(k.clone(), v.clone()).expect("records load");
        }
        h.log = self.log.clone();
        h
    }

    pub fn finish_load(&mut self) {
        let effects = self.c.finish_load(self.now);
        self.apply(effects);
    }
}
