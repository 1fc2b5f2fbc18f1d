//! Transactional offsets on the group side: TxnOffsetCommit writes offsets
//! as a transactional batch of the producer and keeps them pending (per
//! producer and group) until the producer's COMMIT marker makes them the
//! group's committed offsets or its ABORT marker drops them. OffsetFetch
//! with `require_stable` answers UNSTABLE_OFFSET_COMMIT for partitions
//! with pending offsets. Loading replays transactional records and markers
//! the same way.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use vltava_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use crate::codes;
use crate::coordinator::{AfterAppend, Effect, GroupCoordinator};
use crate::error::CoordinatorError;
use crate::group::{CommittedOffset, Group, GroupState};
use crate::partition::partition_for;
use crate::records::{CoordinatorRecord, RawRecord, decode_record};

/// One pending transactional offset.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingTxnOffset {
    /// The offset as it will be committed.
    pub offset: CommittedOffset,
    /// Whether its record is written (only written offsets are committed
    /// by a marker).
    pub written: bool,
    /// The written offset this one replaces while its own write is under
    /// way (it is in the log too: a failed write brings it back).
    pub replaced: Option<CommittedOffset>,
}

/// Producer id -> group -> (topic, partition) -> pending offset.
pub type PendingTxnOffsets =
    HashMap<i64, BTreeMap<String, BTreeMap<(String, i32), PendingTxnOffset>>>;

/// Kafka's mapping of a failed offsets write to the code TxnOffsetCommit
/// answers.
fn commit_error(code: i16) -> i16 {
    match code {
        codes::UNKNOWN_TOPIC_OR_PARTITION
        | codes::NOT_ENOUGH_REPLICAS
        | codes::NOT_ENOUGH_REPLICAS_AFTER_APPEND => codes::COORDINATOR_NOT_AVAILABLE,
        codes::NOT_LEADER_OR_FOLLOWER | codes::KAFKA_STORAGE_ERROR => codes::NOT_COORDINATOR,
        codes::MESSAGE_TOO_LARGE | codes::RECORD_LIST_TOO_LARGE => {
            codes::INVALID_COMMIT_OFFSET_SIZE
        }
        codes::NONE => codes::UNKNOWN_SERVER_ERROR,
        other => other,
    }
}

/// A TxnOffsetCommit answer with `code` for every partition of `req` (also the broker's
/// whole-request refusal of a TxnOffsetCommit).
pub fn txn_commit_answer_all(req: &TxnOffsetCommitRequest, code: i16) -> ResponseBody {
    response_with(req, |_, _| code)
}

/// A response with `code(topic, partition)` for every partition of `req`.
fn response_with(req: &TxnOffsetCommitRequest, code: impl Fn(&str, i32) -> i16) -> ResponseBody {
    ResponseBody::TxnOffsetCommit(TxnOffsetCommitResponse {
        topics: req
            .topics
            .iter()
            .map(|t| TxnOffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| TxnOffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: code(t.name.as_str(), p.partition_index),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

fn with_code(body: &ResponseBody, code: i16) -> ResponseBody {
    let mut body = body.clone();
    if let ResponseBody::TxnOffsetCommit(r) = &mut body {
        for t in &mut r.topics {
            for p in &mut t.partitions {
                if p.error_code == codes::NONE {
                    p.error_code = code;
                }
            }
        }
    }
    body
}

impl GroupCoordinator {
    /// Whether `group` has a pending transactional offset for the partition.
    pub fn has_pending_txn_offset(&self, group: &str, topic: &str, partition: i32) -> bool {
        let tp = (topic.to_owned(), partition);
        self.txn_offsets
            .values()
            .any(|groups| groups.get(group).is_some_and(|ps| ps.contains_key(&tp)))
    }

    /// The pending transactional offsets of `producer_id` in `group`.
    pub fn pending_txn_offsets(
        &self,
        producer_id: i64,
        group: &str,
    ) -> Option<&BTreeMap<(String, i32), PendingTxnOffset>> {
        self.txn_offsets.get(&producer_id)?.get(group)
    }

    /// The error that fails a whole TxnOffsetCommit (Kafka's checks for
    /// transactional commits), or `None`.
    fn txn_commit_error(&self, version: i16, req: &TxnOffsetCommitRequest) -> Option<i16> {
        let group_id = req.group_id.as_str();
        if let Some(code) = self.group_error(group_id) {
            return Some(code);
        }
        let member = req.member_id.as_str();
        let instance = req.group_instance_id.as_ref().map(|s| s.as_str());
        let identified =
            version >= 3 && (req.generation_id >= 0 || !member.is_empty() || instance.is_some());
        let Some(g) = self.groups.get(group_id) else {
            if identified {
                return Some(codes::UNKNOWN_MEMBER_ID);
            }
            if self.groups.len() >= self.cfg.max_groups {
                return Some(codes::COORDINATOR_NOT_AVAILABLE);
            }
            return None;
        };
        if g.state == GroupState::Dead {
            return Some(codes::COORDINATOR_NOT_AVAILABLE);
        }
        if !identified {
            return None;
        }
        if let Some(inst) = instance {
            if g.static_member(inst)
                .is_some_and(|existing| existing != member)
            {
                return Some(codes::FENCED_INSTANCE_ID);
            }
        }
        if !g.members.contains_key(member) {
            return Some(codes::UNKNOWN_MEMBER_ID);
        }
        if req.generation_id != g.generation {
            return Some(codes::ILLEGAL_GENERATION);
        }
        None
    }

    pub(crate) fn txn_offset_commit(
        &mut self,
        request_id: u64,
        now_ms: i64,
        version: i16,
        req: TxnOffsetCommitRequest,
        out: &mut Vec<Effect>,
    ) {
        if let Some(code) = self.txn_commit_error(version, &req) {
            out.push(Effect::Respond {
                request_id,
                body: txn_commit_answer_all(&req, code),
            });
            return;
        }
        let group_id = req.group_id.as_str().to_owned();
        let producer_id = req.producer_id;
        let mut records: Vec<RawRecord> = Vec::new();
        let mut offsets = Vec::new();
        let mut refused: HashMap<(String, i32), i16> = HashMap::new();
        for t in &req.topics {
            for p in &t.partitions {
                let leader_epoch = if version >= 2 {
                    p.committed_leader_epoch
                } else {
                    -1
                };
                let o = CommittedOffset::requested(
                    p.committed_offset,
                    leader_epoch,
                    p.committed_metadata.as_ref(),
                    now_ms,
                );
                let tp = (t.name.as_str().to_owned(), p.partition_index);
                match self.offset_record(&group_id, &tp.0, tp.1, o) {
                    Ok((rec, o)) => {
                        records.push(rec);
                        offsets.push((tp, o));
                    }
                    Err(code) => {
                        refused.insert(tp, code);
                    }
                }
            }
        }
        let ok = response_with(&req, |t, p| {
            refused
                .get(&(t.to_owned(), p))
                .copied()
                .unwrap_or(codes::NONE)
        });
        if records.is_empty() {
            out.push(Effect::Respond {
                request_id,
                body: ok,
            });
            return;
        }
        self.mark_txn_offsets_pending(producer_id, &group_id, &offsets);
        self.append_as(
            &group_id,
            records,
            Some((producer_id, req.producer_epoch)),
            AfterAppend::TxnOffsets {
                group: group_id.clone(),
                producer_id,
                offsets,
                request_id,
                ok,
            },
            out,
        );
    }

    /// Records `offsets` as the producer's pending offsets of `group_id` from
    /// now on (an OffsetFetch with require_stable sees them as unstable while
    /// they are written).
    fn mark_txn_offsets_pending(
        &mut self,
        producer_id: i64,
        group_id: &str,
        offsets: &[((String, i32), CommittedOffset)],
    ) {
        let pending = self
            .txn_offsets
            .entry(producer_id)
            .or_default()
            .entry(group_id.to_owned())
            .or_default();
        for (tp, o) in offsets {
            let replaced = pending.get(tp).and_then(|p| {
                if p.written {
                    Some(p.offset.clone())
                } else {
                    p.replaced.clone()
                }
            });
            pending.insert(
                tp.clone(),
                PendingTxnOffset {
                    offset: o.clone(),
                    written: false,
                    replaced,
                },
            );
        }
    }

    /// The transactional offsets' records are written (or failed). A
    /// written commit creates the group (Empty) if it does not exist, as
    /// Kafka's TxnOffsetCommit does. `reply` is the request and its answer
    /// on success.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn txn_offsets_written(
        &mut self,
        group: String,
        producer_id: i64,
        offsets: Vec<((String, i32), CommittedOffset)>,
        reply: (u64, ResponseBody),
        result: Result<(), i16>,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        let (request_id, ok) = reply;
        if result.is_ok() && !self.groups.contains_key(&group) {
            self.groups
                .insert(group.clone(), Group::new(&group, now_ms));
        }
        let pending = self
            .txn_offsets
            .get_mut(&producer_id)
            .and_then(|groups| groups.get_mut(&group));
        if let Some(pending) = pending {
            for (tp, o) in &offsets {
                match pending.get_mut(tp) {
                    // A later commit of the same partition replaced it
                    // while both were written: ours is now the one to
                    // fall back to.
                    Some(p) if !p.written && p.offset != *o && result.is_ok() => {
                        let mut written = o.clone();
                        written.log_order = self.next_log_order;
                        self.next_log_order += 1;
                        p.replaced = Some(written);
                    }
                    Some(p) if p.written || p.offset != *o => {}
                    Some(p) => match (result, p.replaced.take()) {
                        (Ok(()), _) => {
                            p.written = true;
                            p.offset.log_order = self.next_log_order;
                            self.next_log_order += 1;
                        }
                        (Err(_), Some(before)) => {
                            p.offset = before;
                            p.written = true;
                        }
                        (Err(_), None) => {
                            pending.remove(tp);
                        }
                    },
                    None => {}
                }
            }
        }
        self.drop_empty_pending(producer_id, &group);
        let body = match result {
            Ok(()) => ok,
            Err(code) => with_code(&ok, commit_error(code)),
        };
        out.push(Effect::Respond { request_id, body });
    }

    /// Forgets every producer's pending offsets of `group` (deleted).
    pub(crate) fn drop_group_txn_offsets(&mut self, group: &str) {
        self.txn_offsets.retain(|_, groups| {
            groups.remove(group);
            !groups.is_empty()
        });
    }

    fn drop_empty_pending(&mut self, producer_id: i64, group: &str) {
        if let Some(groups) = self.txn_offsets.get_mut(&producer_id) {
            if groups.get(group).is_some_and(BTreeMap::is_empty) {
                groups.remove(group);
            }
            if groups.is_empty() {
                self.txn_offsets.remove(&producer_id);
            }
        }
    }

    /// Resolves `producer_id`'s pending offsets of the groups on
    /// `__consumer_offsets` partition `partition` (every partition when
    /// `None`): committed (`commit`) or dropped.
    fn resolve_txn(&mut self, partition: Option<i32>, producer_id: i64, commit: bool, now_ms: i64) {
        let Some(groups) = self.txn_offsets.get_mut(&producer_id) else {
            return;
        };
        let parts = self.cfg.offsets_topic_num_partitions;
        let ids: Vec<String> = groups
            .keys()
            .filter(|g| partition.is_none_or(|p| partition_for(g, parts) == p))
            .cloned()
            .collect();
        let mut resolved = Vec::new();
        for id in ids {
            if let Some(pending) = groups.remove(&id) {
                resolved.push((id, pending));
            }
        }
        if groups.is_empty() {
            self.txn_offsets.remove(&producer_id);
        }
        if !commit {
            return;
        }
        for (id, pending) in resolved {
            let written: Vec<_> = pending.into_iter().filter(|(_, p)| p.written).collect();
            if written.is_empty() {
                continue;
            }
            let g = self
                .groups
                .entry(id.clone())
                .or_insert_with(|| Group::new(&id, now_ms));
            for (tp, p) in written {
                // A plain commit written after the transaction's offset wins.
                if g.offsets
                    .get(&tp)
                    .is_none_or(|cur| cur.log_order < p.offset.log_order)
                {
                    g.offsets.insert(tp, p.offset);
                }
            }
        }
    }

    /// A COMMIT (`commit`) or ABORT marker of `producer_id` was written to
    /// `__consumer_offsets` partition `partition`: the producer's pending
    /// offsets of every group on that partition become committed offsets
    /// (commit) or are dropped (abort).
    pub fn complete_txn_marker(
        &mut self,
        partition: i32,
        producer_id: i64,
        commit: bool,
        now_ms: i64,
    ) -> Vec<Effect> {
        self.resolve_txn(Some(partition), producer_id, commit, now_ms);
        Vec::new()
    }

    /// Replays a record of a transactional batch of `producer_id` while
    /// loading: an offset stays pending until the producer's marker.
    pub fn load_transactional(
        &mut self,
        key: Bytes,
        value: Option<Bytes>,
        producer_id: i64,
    ) -> Result<(), CoordinatorError> {
        let record = match decode_record(&key, value.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                self.load_errors += 1;
                return Err(e);
            }
        };
        match record {
            Some(CoordinatorRecord::Offset {
                group,
                topic,
                partition,
                value: Some(v),
            }) => {
                let log_order = self.next_log_order;
                self.next_log_order += 1;
                self.txn_offsets
                    .entry(producer_id)
                    .or_default()
                    .entry(group)
                    .or_default()
                    .insert(
                        (topic, partition),
                        PendingTxnOffset {
                            offset: CommittedOffset {
                                offset: v.offset,
                                leader_epoch: v.leader_epoch,
                                metadata: v.metadata.as_str().to_owned(),
                                commit_timestamp: v.commit_timestamp,
                                expire_timestamp: (v.expire_timestamp >= 0)
                                    .then_some(v.expire_timestamp),
                                log_order,
                            },
                            written: true,
                            replaced: None,
                        },
                    );
                Ok(())
            }
            // Anything else in a transactional batch applies as written.
            _ => self.load(key, value),
        }
    }

    /// Replays a COMMIT (`commit`) or ABORT marker of `producer_id` while
    /// loading, for the pending offsets of every partition loaded so far.
    pub fn load_marker(&mut self, producer_id: i64, commit: bool) {
        self.resolve_txn(None, producer_id, commit, 0);
    }

    /// Replays a marker found in `__consumer_offsets` partition
    /// `partition` while loading (only that partition's groups).
    pub fn load_marker_on(&mut self, partition: i32, producer_id: i64, commit: bool) {
        self.resolve_txn(Some(partition), producer_id, commit, 0);
    }
}
