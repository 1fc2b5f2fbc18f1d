//! Committed offsets: OffsetCommit (group and simple commits), OffsetFetch
//! (single-group and multi-group forms), OffsetDelete, and offset expiry.

use std::collections::BTreeSet;

use vltava_protocol::ResponseBody;
use vltava_protocol::coordinator::OffsetCommitValue;
use vltava_protocol::messages::consumer_protocol_subscription::ConsumerProtocolSubscription;
use vltava_protocol::messages::offset_commit_request::OffsetCommitRequestPartition;
use vltava_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use vltava_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use vltava_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use vltava_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
    OffsetFetchRequest, OffsetFetchResponse,
};
use vltava_protocol::{Message, SharedStr};

use crate::codes;
use crate::coordinator::{AfterAppend, Effect, GroupCoordinator};
use crate::group::{CommittedOffset, Group, GroupState};
use crate::records::{RawRecord, group_metadata_record, offset_commit_record};

/// Protocol type of Kafka consumers.
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// What OffsetDelete removes: the tombstones of the group's committed offsets of
/// partitions of topics it is not `subscribed` to (`None`: to every topic), those
/// partitions, and each topic's answer.
fn offsets_to_delete(
    g: &Group,
    group_id: &str,
    req: &OffsetDeleteRequest,
    subscribed: Option<&BTreeSet<String>>,
) -> (
    Vec<RawRecord>,
    Vec<(String, i32)>,
    Vec<OffsetDeleteResponseTopic>,
) {
    let mut records = Vec::new();
    let mut partitions = Vec::new();
    let mut topics = Vec::new();
    for t in &req.topics {
        let name = t.name.as_str();
        let blocked = subscribed.is_none_or(|s| s.contains(name));
        let mut rt = OffsetDeleteResponseTopic {
            name: t.name.clone(),
            ..Default::default()
        };
        for p in &t.partitions {
            let code = if blocked {
                codes::GROUP_SUBSCRIBED_TO_TOPIC
            } else {
                let tp = (name.to_owned(), p.partition_index);
                if g.offsets.contains_key(&tp) && !partitions.contains(&tp) {
                    if let Ok(rec) = offset_commit_record(group_id, name, p.partition_index, None) {
                        records.push(rec);
                        partitions.push(tp);
                    }
                }
                codes::NONE
            };
            rt.partitions.push(OffsetDeleteResponsePartition {
                partition_index: p.partition_index,
                error_code: code,
            });
        }
        topics.push(rt);
    }
    (records, partitions, topics)
}

/// One partition's answer in OffsetFetch.
struct FetchedPartition {
    partition: i32,
    offset: i64,
    leader_epoch: i32,
    metadata: String,
    error: i16,
}

fn fetched(o: Option<&CommittedOffset>, partition: i32) -> FetchedPartition {
    match o {
        Some(o) => FetchedPartition {
            partition,
            offset: o.offset,
            leader_epoch: o.leader_epoch,
            metadata: o.metadata.clone(),
            error: codes::NONE,
        },
        None => FetchedPartition {
            partition,
            offset: -1,
            leader_epoch: -1,
            metadata: String::new(),
            error: codes::NONE,
        },
    }
}

/// A partition whose offset a transaction is changing (`require_stable`).
fn unstable(partition: i32) -> FetchedPartition {
    FetchedPartition {
        partition,
        offset: -1,
        leader_epoch: -1,
        metadata: String::new(),
        error: codes::UNSTABLE_OFFSET_COMMIT,
    }
}

/// The topics a consumer group's members subscribe to, decoded from their
/// `ConsumerProtocolSubscription` metadata. `None` when the group is not a
/// consumer group or a subscription cannot be read.
pub fn subscribed_topics(g: &Group) -> Option<BTreeSet<String>> {
    if g.protocol_type.as_deref() != Some(CONSUMER_PROTOCOL_TYPE) {
        return None;
    }
    let protocol = g.protocol_name.clone()?;
    let mut topics = BTreeSet::new();
    for m in g.members.values() {
        let meta = m.metadata(&protocol);
        if meta.len() < 2 {
            return None;
        }
        let version = i16::from_be_bytes([meta[0], meta[1]]);
        // Newer subscription versions only add fields at the end: read them
        // as the newest version known here and ignore the rest.
        let version = version.clamp(
            ConsumerProtocolSubscription::MIN_VERSION,
            ConsumerProtocolSubscription::MAX_VERSION,
        );
        let (sub, _) =
            ConsumerProtocolSubscription::decode_prefix(&meta.slice(2..), version).ok()?;
        topics.extend(sub.topics.iter().map(|t| t.as_str().to_owned()));
    }
    Some(topics)
}

/// One partition's OffsetCommit answer.
fn commit_answer(partition_index: i32, error_code: i16) -> OffsetCommitResponsePartition {
    OffsetCommitResponsePartition {
        partition_index,
        error_code,
        ..Default::default()
    }
}

/// An OffsetCommit answer with `code` for every partition of `req` (also the broker's
/// whole-request refusal of an OffsetCommit).
pub fn commit_answer_all(req: &OffsetCommitRequest, code: i16) -> ResponseBody {
    ResponseBody::OffsetCommit(OffsetCommitResponse {
        topics: req
            .topics
            .iter()
            .map(|t| OffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| commit_answer(p.partition_index, code))
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

impl GroupCoordinator {
    /// OffsetCommit: checked as a whole ([`GroupCoordinator::commit_group_error`]),
    /// then per partition ([`GroupCoordinator::commit_partition`]); the records
    /// of the partitions that passed are appended and the answer waits for them.
    pub(crate) fn offset_commit(
        &mut self,
        request_id: u64,
        now_ms: i64,
        version: i16,
        req: OffsetCommitRequest,
        out: &mut Vec<Effect>,
    ) {
        let group_id = req.group_id.as_str().to_owned();
        // The empty group id is a valid group for commits and fetches, as
        // in Kafka (kept for old clients).
        let group_error = if let Some(code) = self.group_error(&group_id) {
            Some(code)
        } else {
            self.commit_group_error(&group_id, now_ms, version, &req)
        };
        if let Some(code) = group_error {
            out.push(Effect::Respond {
                request_id,
                body: commit_answer_all(&req, code),
            });
            return;
        }
        let mut records: Vec<RawRecord> = Vec::new();
        let mut offsets = Vec::new();
        // The answer if the append succeeds, and if it fails.
        let mut ok = OffsetCommitResponse::default();
        let mut failed = OffsetCommitResponse::default();
        for t in &req.topics {
            let mut ok_t = OffsetCommitResponseTopic {
                name: t.name.clone(),
                ..Default::default()
            };
            let mut failed_t = ok_t.clone();
            for p in &t.partitions {
                let topic = t.name.as_str();
                let code = match self.commit_partition(&group_id, topic, p, now_ms, version, &req) {
                    Ok((rec, o)) => {
                        records.push(rec);
                        offsets.push(((topic.to_owned(), p.partition_index), o));
                        codes::NONE
                    }
                    Err(code) => code,
                };
                ok_t.partitions.push(commit_answer(p.partition_index, code));
                // A partition that passed fails with the append.
                let if_failed = if code == codes::NONE {
                    codes::COORDINATOR_NOT_AVAILABLE
                } else {
                    code
                };
                failed_t
                    .partitions
                    .push(commit_answer(p.partition_index, if_failed));
            }
            ok.topics.push(ok_t);
            failed.topics.push(failed_t);
        }
        if records.is_empty() {
            out.push(Effect::Respond {
                request_id,
                body: ResponseBody::OffsetCommit(ok),
            });
            return;
        }
        self.append(
            &group_id,
            records,
            AfterAppend::CommitOffsets {
                group: group_id.clone(),
                offsets,
                request_id,
                ok: ResponseBody::OffsetCommit(ok),
                failed: ResponseBody::OffsetCommit(failed),
            },
            out,
        );
    }

    /// One partition of an OffsetCommit: its `__consumer_offsets` record and
    /// the offset it commits, or the partition's error code
    /// ([`GroupCoordinator::offset_record`]).
    fn commit_partition(
        &self,
        group_id: &str,
        topic: &str,
        p: &OffsetCommitRequestPartition,
        now_ms: i64,
        version: i16,
        req: &OffsetCommitRequest,
    ) -> Result<(RawRecord, CommittedOffset), i16> {
        let commit_timestamp = if version == 1 && p.commit_timestamp >= 0 {
            p.commit_timestamp
        } else {
            now_ms
        };
        let expire = ((2..=4).contains(&version) && req.retention_time_ms >= 0)
            .then(|| now_ms.saturating_add(req.retention_time_ms));
        let leader_epoch = if version >= 6 {
            p.committed_leader_epoch
        } else {
            -1
        };
        let o = CommittedOffset {
            expire_timestamp: expire,
            ..CommittedOffset::requested(
                p.committed_offset,
                leader_epoch,
                p.committed_metadata.as_ref(),
                commit_timestamp,
            )
        };
        self.offset_record(group_id, topic, p.partition_index, o)
    }

    /// The `__consumer_offsets` record of offset `o` of a group's partition,
    /// with `o`; or the partition's error code: OFFSET_METADATA_TOO_LARGE past
    /// `offset.metadata.max.bytes`, INVALID_COMMIT_OFFSET_SIZE when the record
    /// cannot be encoded. Plain and transactional commits both come here.
    pub(crate) fn offset_record(
        &self,
        group_id: &str,
        topic: &str,
        partition: i32,
        o: CommittedOffset,
    ) -> Result<(RawRecord, CommittedOffset), i16> {
        if o.metadata.len() > self.cfg.offset_metadata_max_bytes {
            return Err(codes::OFFSET_METADATA_TOO_LARGE);
        }
        let value = OffsetCommitValue {
            offset: o.offset,
            leader_epoch: o.leader_epoch,
            metadata: o.metadata.as_str().into(),
            commit_timestamp: o.commit_timestamp,
            expire_timestamp: o.expire_timestamp.unwrap_or(-1),
            unknown_tagged_fields: Vec::new(),
        };
        let rec = offset_commit_record(group_id, topic, partition, Some(&value))
            .map_err(|_| codes::INVALID_COMMIT_OFFSET_SIZE)?;
        Ok((rec, o))
    }

    /// The error that fails a whole commit, or `None` when it may proceed.
    fn commit_group_error(
        &mut self,
        group_id: &str,
        now_ms: i64,
        version: i16,
        req: &OffsetCommitRequest,
    ) -> Option<i16> {
        let generation = if version >= 1 {
            req.generation_id_or_member_epoch
        } else {
            -1
        };
        let member_id = req.member_id.as_str();
        let instance = if version >= 7 {
            req.group_instance_id.as_ref().map(|s| s.as_str())
        } else {
            None
        };
        let Some(g) = self.groups.get_mut(group_id) else {
            if generation >= 0 {
                return Some(codes::ILLEGAL_GENERATION);
            }
            if self.groups.len() >= self.cfg.max_groups {
                return Some(codes::COORDINATOR_NOT_AVAILABLE);
            }
            return None;
        };
        if g.state == GroupState::Dead {
            return Some(codes::COORDINATOR_NOT_AVAILABLE);
        }
        if let Some(inst) = instance {
            if g.static_member(inst)
                .is_some_and(|existing| existing != member_id)
            {
                return Some(codes::FENCED_INSTANCE_ID);
            }
        }
        if generation < 0 && g.state == GroupState::Empty {
            return None;
        }
        if g.state == GroupState::CompletingRebalance {
            return Some(codes::REBALANCE_IN_PROGRESS);
        }
        let Some(m) = g.members.get_mut(member_id) else {
            return Some(codes::UNKNOWN_MEMBER_ID);
        };
        if generation != g.generation {
            return Some(codes::ILLEGAL_GENERATION);
        }
        m.session_deadline = now_ms + i64::from(m.session_timeout_ms);
        None
    }

    /// Committed offsets of one group: `(group error, topics)`.
    fn fetch_group(
        &self,
        group_id: &str,
        topics: Option<Vec<(String, Vec<i32>)>>,
        require_stable: bool,
    ) -> (i16, Vec<(String, Vec<FetchedPartition>)>) {
        if let Some(code) = self.group_error(group_id) {
            return (code, Vec::new());
        }
        let g = self.groups.get(group_id);
        match topics {
            Some(topics) => (
                codes::NONE,
                topics
                    .into_iter()
                    .map(|(t, parts)| {
                        let ps = parts
                            .into_iter()
                            .map(|p| {
                                if require_stable && self.has_pending_txn_offset(group_id, &t, p) {
                                    unstable(p)
                                } else {
                                    fetched(g.and_then(|g| g.offsets.get(&(t.clone(), p))), p)
                                }
                            })
                            .collect();
                        (t, ps)
                    })
                    .collect(),
            ),
            None => {
                let mut result: Vec<(String, Vec<FetchedPartition>)> = Vec::new();
                if let Some(g) = g {
                    for ((t, p), o) in &g.offsets {
                        // Committed partitions with a transaction's offsets
                        // pending are unstable, as Kafka answers.
                        let f = if require_stable && self.has_pending_txn_offset(group_id, t, *p) {
                            unstable(*p)
                        } else {
                            fetched(Some(o), *p)
                        };
                        match result.last_mut() {
                            Some((name, ps)) if name == t => ps.push(f),
                            _ => result.push((t.clone(), vec![f])),
                        }
                    }
                }
                (codes::NONE, result)
            }
        }
    }

    /// OffsetFetch: v8+ names several groups, earlier versions one.
    pub(crate) fn offset_fetch(
        &mut self,
        request_id: u64,
        version: i16,
        req: OffsetFetchRequest,
        out: &mut Vec<Effect>,
    ) {
        let body = if version >= 8 {
            self.offset_fetch_groups(&req)
        } else {
            self.offset_fetch_one(version, &req)
        };
        out.push(Effect::Respond {
            request_id,
            body: ResponseBody::OffsetFetch(body),
        });
    }

    /// OffsetFetch v8+: each group's offsets, each with its own error.
    fn offset_fetch_groups(&self, req: &OffsetFetchRequest) -> OffsetFetchResponse {
        let groups = req
            .groups
            .iter()
            .map(|rg| {
                let topics = rg.topics.as_ref().map(|ts| {
                    ts.iter()
                        .map(|t| (t.name.as_str().to_owned(), t.partition_indexes.clone()))
                        .collect()
                });
                let (error, topics) =
                    self.fetch_group(rg.group_id.as_str(), topics, req.require_stable);
                OffsetFetchResponseGroup {
                    group_id: rg.group_id.clone(),
                    error_code: error,
                    topics: topics
                        .into_iter()
                        .map(|(name, ps)| OffsetFetchResponseTopics {
                            name: name.into(),
                            partitions: ps
                                .into_iter()
                                .map(|p| OffsetFetchResponsePartitions {
                                    partition_index: p.partition,
                                    committed_offset: p.offset,
                                    committed_leader_epoch: p.leader_epoch,
                                    metadata: Some(p.metadata.into()),
                                    error_code: p.error,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }
            })
            .collect();
        OffsetFetchResponse {
            groups,
            ..Default::default()
        }
    }

    /// OffsetFetch v0–7: one group; before v2 a group error goes on every
    /// partition asked for.
    fn offset_fetch_one(&self, version: i16, req: &OffsetFetchRequest) -> OffsetFetchResponse {
        let topics = req.topics.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.name.as_str().to_owned(), t.partition_indexes.clone()))
                .collect::<Vec<_>>()
        });
        let requested = topics.clone();
        let (error, mut fetched_topics) = self.fetch_group(
            req.group_id.as_str(),
            topics,
            version >= 7 && req.require_stable,
        );
        if error != codes::NONE && version < 2 {
            // No top-level error before v2: report it on every partition.
            fetched_topics = requested
                .unwrap_or_default()
                .into_iter()
                .map(|(t, ps)| {
                    let ps = ps
                        .into_iter()
                        .map(|p| FetchedPartition {
                            partition: p,
                            offset: -1,
                            leader_epoch: -1,
                            metadata: String::new(),
                            error,
                        })
                        .collect();
                    (t, ps)
                })
                .collect();
        }
        OffsetFetchResponse {
            error_code: if version >= 2 { error } else { codes::NONE },
            topics: fetched_topics
                .into_iter()
                .map(|(name, ps)| OffsetFetchResponseTopic {
                    name: name.into(),
                    partitions: ps
                        .into_iter()
                        .map(|p| OffsetFetchResponsePartition {
                            partition_index: p.partition,
                            committed_offset: p.offset,
                            committed_leader_epoch: if version >= 5 { p.leader_epoch } else { -1 },
                            metadata: Some(SharedStr::from(p.metadata)),
                            error_code: p.error,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    pub(crate) fn offset_delete(
        &mut self,
        request_id: u64,
        _version: i16,
        req: OffsetDeleteRequest,
        out: &mut Vec<Effect>,
    ) {
        let whole = |out: &mut Vec<Effect>, code: i16| {
            out.push(Effect::Respond {
                request_id,
                body: ResponseBody::OffsetDelete(OffsetDeleteResponse {
                    error_code: code,
                    ..Default::default()
                }),
            });
        };
        let group_id = req.group_id.as_str().to_owned();
        if let Some(code) = self.group_error(&group_id) {
            return whole(out, code);
        }
        if group_id.is_empty() {
            return whole(out, codes::INVALID_GROUP_ID);
        }
        let Some(g) = self.groups.get_mut(&group_id) else {
            return whole(out, codes::GROUP_ID_NOT_FOUND);
        };
        if g.state == GroupState::Dead {
            return whole(out, codes::GROUP_ID_NOT_FOUND);
        }
        let subscribed = if g.state == GroupState::Empty {
            Some(BTreeSet::new())
        } else if g.protocol_type.as_deref() == Some(CONSUMER_PROTOCOL_TYPE) {
            // An unreadable subscription counts as subscribed to everything.
            subscribed_topics(g)
        } else {
            return whole(out, codes::NON_EMPTY_GROUP);
        };
        let (records, partitions, topics) =
            offsets_to_delete(g, &group_id, &req, subscribed.as_ref());
        let ok = ResponseBody::OffsetDelete(OffsetDeleteResponse {
            topics,
            ..Default::default()
        });
        if records.is_empty() {
            out.push(Effect::Respond {
                request_id,
                body: ok,
            });
            return;
        }
        let failed = ResponseBody::OffsetDelete(OffsetDeleteResponse {
            error_code: codes::COORDINATOR_NOT_AVAILABLE,
            ..Default::default()
        });
        self.append(
            &group_id,
            records,
            AfterAppend::OffsetsDeleted {
                group: group_id.clone(),
                partitions,
                request_id,
                ok,
                failed,
            },
            out,
        );
    }

    /// Drops offsets past their retention (explicit expiry, or
    /// `offsets.retention.minutes` after an empty group emptied / after the
    /// commit of a group without a protocol) and empty groups left with none.
    pub(crate) fn expire_offsets(&mut self, now_ms: i64, out: &mut Vec<Effect>) {
        let retention = self.cfg.offsets_retention_minutes.saturating_mul(60_000);
        let mut ids: Vec<String> = self
            .groups
            .keys()
            .filter(|g| self.group_error(g).is_none())
            .cloned()
            .collect();
        ids.sort();
        for id in ids {
            let Some(g) = self.groups.get_mut(&id) else {
                continue;
            };
            let empty = g.state == GroupState::Empty;
            let uses_protocol = g.protocol_type.as_deref().is_some_and(|t| !t.is_empty());
            let since = g.state_timestamp;
            // A live consumer group keeps the offsets of topics it subscribes
            // to; the others age from their commit (KIP-496).
            let subscribed = if empty { None } else { subscribed_topics(g) };
            let mut records = Vec::new();
            g.offsets.retain(|(t, p), o| {
                let expired = match o.expire_timestamp {
                    Some(e) => now_ms >= e,
                    None if empty => {
                        let base = if uses_protocol && since > 0 {
                            since
                        } else {
                            o.commit_timestamp
                        };
                        now_ms >= base.saturating_add(retention)
                    }
                    None => subscribed.as_ref().is_some_and(|s| {
                        !s.contains(t) && now_ms >= o.commit_timestamp.saturating_add(retention)
                    }),
                };
                if expired {
                    if let Ok(rec) = offset_commit_record(&id, t, *p, None) {
                        records.push(rec);
                    }
                }
                !expired
            });
            let drop_group = empty && g.offsets.is_empty() && !g.storing_assignment;
            if drop_group && (!records.is_empty() || g.generation > 0 || uses_protocol) {
                if let Ok(rec) = group_metadata_record(&id, None) {
                    records.push(rec);
                }
            }
            if drop_group {
                self.groups.remove(&id);
            }
            if !records.is_empty() {
                self.append(&id, records, AfterAppend::Nothing, out);
            }
        }
    }
}
