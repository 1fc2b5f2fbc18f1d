//! `GroupCoordinator`: the sans-IO core. Requests, ticks, loaded records and
//! append results go in; responses and records to append come out as
//! [`Effect`]s. No clock and no IO inside: time is the `now_ms` argument.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use bytes::Bytes;
use vltava_protocol::coordinator::{GroupMetadataValue, group_metadata_value::MemberMetadata};
use vltava_protocol::messages::DeleteGroupsResponse;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

use crate::codes;
use crate::config::GroupConfig;
use crate::error::CoordinatorError;
use crate::group::{CommittedOffset, Group, GroupState};
use crate::partition::partition_for;
use crate::records::{CoordinatorRecord, RawRecord, decode_record, group_metadata_record};
use crate::responses::any_error_response;

/// Stale entries the timer heap may hold beyond twice its groups before it
/// is rebuilt.
const TIMER_INDEX_SLACK: usize = 1024;

/// The groups a request may change (whose timers are re-read after it).
fn touched_groups(body: &RequestBody) -> Vec<String> {
    let one = |g: &vltava_protocol::SharedStr| vec![g.as_str().to_owned()];
    match body {
        RequestBody::JoinGroup(r) => one(&r.group_id),
        RequestBody::SyncGroup(r) => one(&r.group_id),
        RequestBody::Heartbeat(r) => one(&r.group_id),
        RequestBody::LeaveGroup(r) => one(&r.group_id),
        RequestBody::OffsetCommit(r) => one(&r.group_id),
        RequestBody::TxnOffsetCommit(r) => one(&r.group_id),
        RequestBody::OffsetDelete(r) => one(&r.group_id),
        RequestBody::DeleteGroups(r) => r
            .groups_names
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        _ => Vec::new(),
    }
}

/// A request for the group coordinator, with the client it came from.
#[derive(Debug, Clone)]
pub struct GroupRequest {
    /// API version of the request (and of its response).
    pub version: i16,
    /// The decoded request.
    pub body: RequestBody,
    /// Client id from the request header (member ids start with it).
    pub client_id: String,
    /// Host of the client connection.
    pub client_host: String,
}

impl GroupRequest {
    /// A request without client information.
    pub fn new(version: i16, body: impl Into<RequestBody>) -> GroupRequest {
        GroupRequest {
            version,
            body: body.into(),
            client_id: String::new(),
            client_host: String::new(),
        }
    }
}

/// What the driver must do.
// Effects are moved once from the core to the driver; boxing the response
// would only add an allocation per request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Answer request `request_id` with `body`.
    Respond {
        /// The driver's id of the request.
        request_id: u64,
        /// The response, filled for the request's version.
        body: ResponseBody,
    },
    /// Append `records` to `__consumer_offsets` partition `partition`, then
    /// report the outcome with [`GroupCoordinator::complete_append`].
    /// Appends must be written and completed in the order they were issued
    /// (as a log does): later records supersede earlier ones on reload.
    Append {
        /// Id to report the outcome under.
        append_id: u64,
        /// The `__consumer_offsets` partition.
        partition: i32,
        /// Keys and values (None = tombstone) in Kafka's record format.
        records: Vec<RawRecord>,
        /// `Some((producer id, producer epoch))`: write the records as a
        /// transactional batch of that producer (TxnOffsetCommit); their
        /// offsets become visible with the producer's COMMIT marker.
        /// `None` for every other append.
        producer: Option<(i64, i16)>,
    },
}

/// What happens once an append is durable (or failed).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum AfterAppend {
    /// Nothing waits on it.
    Nothing,
    /// Answer requests: `ok` on success, `failed` otherwise.
    Respond {
        ok: Vec<(u64, ResponseBody)>,
        failed: Vec<(u64, ResponseBody)>,
    },
    /// Make committed offsets visible, then answer.
    CommitOffsets {
        group: String,
        offsets: Vec<((String, i32), CommittedOffset)>,
        request_id: u64,
        ok: ResponseBody,
        failed: ResponseBody,
    },
    /// Tombstones of a deleted group are written: drop it (or bring it
    /// back when the write failed), then answer once all groups are done.
    GroupDeleted {
        group: String,
        request_id: u64,
        index: usize,
    },
    /// Tombstones of deleted offsets are written: drop them, then answer.
    OffsetsDeleted {
        group: String,
        partitions: Vec<(String, i32)>,
        request_id: u64,
        ok: ResponseBody,
        failed: ResponseBody,
    },
    /// Transactional offsets are written: they stay pending until the
    /// producer's marker. A failed write drops them and answers its code.
    TxnOffsets {
        group: String,
        producer_id: i64,
        offsets: Vec<((String, i32), CommittedOffset)>,
        request_id: u64,
        ok: ResponseBody,
    },
    /// The leader's assignment of `generation` is stored: hand it out.
    AssignmentStored {
        group: String,
        generation: i32,
        assignments: HashMap<String, Bytes>,
    },
}

/// The classic group coordinator state machine.
#[derive(Debug)]
pub struct GroupCoordinator {
    pub(crate) cfg: GroupConfig,
    pub(crate) groups: HashMap<String, Group>,
    /// The `__consumer_offsets` partitions served here (and being loaded).
    pub(crate) ownership: crate::ownership::Ownership,
    pub(crate) appends: HashMap<u64, AfterAppend>,
    /// DeleteGroups requests waiting for their groups' tombstones: the
    /// response so far and how many groups are still being written.
    pub(crate) pending_deletes: HashMap<u64, (DeleteGroupsResponse, usize)>,
    /// Each group's next timer, and a min-heap over them (entries that no
    /// longer match `timer_of` are stale and skipped).
    timer_of: HashMap<String, i64>,
    timers: BinaryHeap<Reverse<(i64, String)>>,
    next_append_id: u64,
    member_id_counter: u64,
    next_expiry_check: Option<i64>,
    pub(crate) load_errors: u64,
    /// The next `CommittedOffset::log_order`.
    pub(crate) next_log_order: u64,
    /// Transactional offsets not yet committed or aborted: producer id ->
    /// group -> partition -> offset (and whether its record is written).
    pub(crate) txn_offsets: crate::txn_offsets::PendingTxnOffsets,
}

impl GroupCoordinator {
    /// A coordinator with no groups, ready to serve every partition.
    pub fn new(cfg: GroupConfig) -> GroupCoordinator {
        let ownership = crate::ownership::Ownership::all(cfg.offsets_topic_num_partitions, 0);
        Self::with_ownership(cfg, ownership)
    }

    /// A coordinator that serves no partition until elected
    /// ([`GroupCoordinator::elect`]).
    pub fn unowned(cfg: GroupConfig) -> GroupCoordinator {
        Self::with_ownership(cfg, crate::ownership::Ownership::none())
    }

    fn with_ownership(
        cfg: GroupConfig,
        ownership: crate::ownership::Ownership,
    ) -> GroupCoordinator {
        GroupCoordinator {
            cfg,
            groups: HashMap::new(),
            ownership,
            appends: HashMap::new(),
            pending_deletes: HashMap::new(),
            timer_of: HashMap::new(),
            timers: BinaryHeap::new(),
            next_append_id: 1,
            member_id_counter: 0,
            next_expiry_check: None,
            load_errors: 0,
            next_log_order: 1,
            txn_offsets: Default::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &GroupConfig {
        &self.cfg
    }

    /// Starts loading `__consumer_offsets`: requests get
    /// COORDINATOR_LOAD_IN_PROGRESS until [`GroupCoordinator::finish_load`].
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

    /// Replays one `__consumer_offsets` record (later records win, a null
    /// value deletes). Groups come back in [`GroupCoordinator::finish_load`].
    pub fn load(&mut self, key: Bytes, value: Option<Bytes>) -> Result<(), CoordinatorError> {
        let record = match decode_record(&key, value.as_ref()) {
            Ok(r) => r,
            Err(e) => {
                self.load_errors += 1;
                return Err(e);
            }
        };
        match record {
            None => {}
            Some(CoordinatorRecord::Offset {
                group,
                topic,
                partition,
                value,
            }) => {
                let g = self
                    .groups
                    .entry(group.clone())
                    .or_insert_with(|| Group::new(&group, 0));
                match value {
                    Some(v) => {
                        g.offsets.insert(
                            (topic, partition),
                            CommittedOffset {
                                offset: v.offset,
                                leader_epoch: v.leader_epoch,
                                metadata: v.metadata.as_str().to_owned(),
                                commit_timestamp: v.commit_timestamp,
                                expire_timestamp: (v.expire_timestamp >= 0)
                                    .then_some(v.expire_timestamp),
                                log_order: self.next_log_order,
                            },
                        );
                        self.next_log_order += 1;
                    }
                    None => {
                        g.offsets.remove(&(topic, partition));
                    }
                }
            }
            Some(CoordinatorRecord::Group { group, value }) => match value {
                Some(v) => {
                    let g = self
                        .groups
                        .entry(group.clone())
                        .or_insert_with(|| Group::new(&group, 0));
                    apply_group_metadata(g, &v);
                }
                None => {
                    // A group tombstone deletes the group's metadata; its
                    // offsets have tombstones of their own.
                    let keep_offsets = match self.groups.get_mut(&group) {
                        Some(g) if !g.offsets.is_empty() => {
                            let offsets = std::mem::take(&mut g.offsets);
                            let mut fresh = Group::new(&group, 0);
                            fresh.offsets = offsets;
                            *g = fresh;
                            true
                        }
                        _ => false,
                    };
                    if !keep_offsets {
                        self.groups.remove(&group);
                    }
                }
            },
        }
        Ok(())
    }

    /// Ends loading at `now_ms`: loaded members get a fresh session, groups
    /// with members are Stable, the rest Empty; groups that ended with
    /// neither members nor offsets nor a stored generation are dropped.
    pub fn finish_load(&mut self, now_ms: i64) {
        self.ownership
            .set_all(crate::ownership::PartitionStatus::Active);
        self.settle_loaded(None, now_ms);
    }

    /// Brings the loaded groups (of `partition`, or all) to life: see
    /// [`GroupCoordinator::finish_load`].
    pub(crate) fn settle_loaded(&mut self, partition: Option<i32>, now_ms: i64) {
        let n = self.cfg.offsets_topic_num_partitions;
        let of = |g: &Group| partition.is_none_or(|p| partition_for(&g.id, n) == p);
        self.groups.retain(|_, g| {
            !(of(g)
                && g.members.is_empty()
                && g.offsets.is_empty()
                && g.generation == 0
                && g.protocol_type.is_none())
        });
        for g in self.groups.values_mut().filter(|g| of(g)) {
            if g.members.is_empty() {
                g.state = GroupState::Empty;
            } else {
                g.state = GroupState::Stable;
                for m in g.members.values_mut() {
                    m.session_deadline = now_ms + i64::from(m.session_timeout_ms);
                }
            }
        }
        self.refresh_all_timers();
    }

    /// A group by id.
    pub fn group(&self, group_id: &str) -> Option<&Group> {
        self.groups.get(group_id)
    }

    /// All groups.
    pub fn groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.values()
    }

    /// Handles one request. Responses may come now, after an append, or
    /// later (JoinGroup and SyncGroup wait for the rebalance).
    pub fn handle(&mut self, request_id: u64, now_ms: i64, req: GroupRequest) -> Vec<Effect> {
        let mut out = Vec::new();
        let v = req.version;
        let api = req.body.api_key();
        if !api.is_valid_version(v) {
            out.push(Effect::Respond {
                request_id,
                body: any_error_response(api, v, codes::UNSUPPORTED_VERSION),
            });
            return out;
        }
        let touched = touched_groups(&req.body);
        self.dispatch(request_id, now_ms, req, &mut out);
        for g in &touched {
            self.refresh_timer(g);
        }
        out
    }

    fn dispatch(&mut self, request_id: u64, now_ms: i64, req: GroupRequest, out: &mut Vec<Effect>) {
        let v = req.version;
        match req.body {
            RequestBody::JoinGroup(r) => self.join_group(
                request_id,
                now_ms,
                v,
                r,
                &req.client_id,
                &req.client_host,
                out,
            ),
            RequestBody::SyncGroup(r) => self.sync_group(request_id, now_ms, v, r, out),
            RequestBody::Heartbeat(r) => self.heartbeat(request_id, now_ms, v, r, out),
            RequestBody::LeaveGroup(r) => self.leave_group(request_id, now_ms, v, r, out),
            RequestBody::OffsetCommit(r) => self.offset_commit(request_id, now_ms, v, r, out),
            RequestBody::OffsetFetch(r) => self.offset_fetch(request_id, v, r, out),
            RequestBody::TxnOffsetCommit(r) => {
                self.txn_offset_commit(request_id, now_ms, v, r, out)
            }
            RequestBody::OffsetDelete(r) => self.offset_delete(request_id, v, r, out),
            RequestBody::DescribeGroups(r) => self.describe_groups(request_id, v, r, out),
            RequestBody::ListGroups(r) => self.list_groups(request_id, v, r, out),
            RequestBody::DeleteGroups(r) => self.delete_groups(request_id, v, r, out),
            RequestBody::ConsumerGroupDescribe(r) => {
                self.consumer_group_describe(request_id, r, out)
            }
            other => {
                out.push(Effect::Respond {
                    request_id,
                    body: any_error_response(other.api_key(), v, codes::INVALID_REQUEST),
                });
            }
        }
    }

    /// The API keys [`GroupCoordinator::handle`] serves.
    pub const APIS: [ApiKey; 12] = [
        ApiKey::JoinGroup,
        ApiKey::SyncGroup,
        ApiKey::Heartbeat,
        ApiKey::LeaveGroup,
        ApiKey::OffsetCommit,
        ApiKey::OffsetFetch,
        ApiKey::OffsetDelete,
        ApiKey::DescribeGroups,
        ApiKey::ListGroups,
        ApiKey::DeleteGroups,
        ApiKey::ConsumerGroupDescribe,
        ApiKey::TxnOffsetCommit,
    ];

    /// Reports the outcome of an [`Effect::Append`].
    pub fn complete_append(&mut self, append_id: u64, ok: bool, now_ms: i64) -> Vec<Effect> {
        let result = if ok {
            Ok(())
        } else {
            Err(codes::COORDINATOR_NOT_AVAILABLE)
        };
        self.complete_append_result(append_id, result, now_ms)
    }

    /// Reports the outcome of an [`Effect::Append`] with the Kafka error
    /// code of a failed write (a transactional append of a fenced producer
    /// fails with the log's INVALID_PRODUCER_EPOCH, which the TxnOffsetCommit
    /// answers).
    pub fn complete_append_result(
        &mut self,
        append_id: u64,
        result: Result<(), i16>,
        now_ms: i64,
    ) -> Vec<Effect> {
        let mut out = Vec::new();
        let Some(after) = self.appends.remove(&append_id) else {
            return out;
        };
        if let AfterAppend::TxnOffsets {
            group,
            producer_id,
            offsets,
            request_id,
            ok,
        } = after
        {
            self.txn_offsets_written(
                group,
                producer_id,
                offsets,
                (request_id, ok),
                result,
                now_ms,
                &mut out,
            );
            return out;
        }
        let ok = result.is_ok();
        let touched = match &after {
            AfterAppend::Nothing | AfterAppend::Respond { .. } | AfterAppend::TxnOffsets { .. } => {
                None
            }
            AfterAppend::CommitOffsets { group, .. }
            | AfterAppend::GroupDeleted { group, .. }
            | AfterAppend::OffsetsDeleted { group, .. }
            | AfterAppend::AssignmentStored { group, .. } => Some(group.clone()),
        };
        self.apply_after_append(after, ok, now_ms, &mut out);
        if let Err(code) = result {
            let to = crate::write_errors::group_write_error(code);
            if to != codes::COORDINATOR_NOT_AVAILABLE {
                for effect in &mut out {
                    if let Effect::Respond { body, .. } = effect {
                        crate::write_errors::recode(body, to);
                    }
                }
            }
        }
        if let Some(g) = touched {
            self.refresh_timer(&g);
        }
        out
    }

    // Long, and kept whole: one match over what waited for a log write (`AfterAppend`),
    // one arm per kind of write, each completing its request.
    fn apply_after_append(
        &mut self,
        after: AfterAppend,
        ok: bool,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        match after {
            AfterAppend::Nothing => {}
            AfterAppend::Respond { ok: yes, failed } => {
                for (request_id, body) in if ok { yes } else { failed } {
                    out.push(Effect::Respond { request_id, body });
                }
            }
            AfterAppend::CommitOffsets {
                group,
                offsets,
                request_id,
                ok: yes,
                failed,
            } => {
                // A group unloaded meanwhile (its partition moved) is not
                // brought back: the new coordinator reads the record.
                if ok && self.group_error(&group).is_none() {
                    let g = self
                        .groups
                        .entry(group.clone())
                        .or_insert_with(|| Group::new(&group, now_ms));
                    for (tp, mut o) in offsets {
                        o.log_order = self.next_log_order;
                        self.next_log_order += 1;
                        g.offsets.insert(tp, o);
                    }
                }
                out.push(Effect::Respond {
                    request_id,
                    body: if ok { yes } else { failed },
                });
            }
            AfterAppend::GroupDeleted {
                group,
                request_id,
                index,
            } => {
                if ok {
                    self.groups.remove(&group);
                    // Pending transactional offsets go with the group.
                    self.drop_group_txn_offsets(&group);
                } else if let Some(g) = self.groups.get_mut(&group) {
                    g.transition(GroupState::Empty, now_ms);
                }
                if let Some((mut resp, left)) = self.pending_deletes.remove(&request_id) {
                    if !ok {
                        if let Some(r) = resp.results.get_mut(index) {
                            r.error_code = codes::COORDINATOR_NOT_AVAILABLE;
                        }
                    }
                    if left <= 1 {
                        out.push(Effect::Respond {
                            request_id,
                            body: ResponseBody::DeleteGroups(resp),
                        });
                    } else {
                        self.pending_deletes.insert(request_id, (resp, left - 1));
                    }
                }
            }
            AfterAppend::OffsetsDeleted {
                group,
                partitions,
                request_id,
                ok: yes,
                failed,
            } => {
                if ok {
                    if let Some(g) = self.groups.get_mut(&group) {
                        for tp in &partitions {
                            g.offsets.remove(tp);
                        }
                    }
                }
                out.push(Effect::Respond {
                    request_id,
                    body: if ok { yes } else { failed },
                });
            }
            AfterAppend::AssignmentStored {
                group,
                generation,
                assignments,
            } => self.assignment_stored(&group, generation, assignments, ok, now_ms, out),
            // Handled before (it needs the error code).
            AfterAppend::TxnOffsets { .. } => {}
        }
    }

    /// The earliest time at which [`GroupCoordinator::tick`] has work.
    pub fn next_deadline(&mut self) -> Option<i64> {
        while let Some(Reverse((t, g))) = self.timers.peek() {
            if self.timer_of.get(g) == Some(t) {
                let t = *t;
                return Some(self.next_expiry_check.map_or(t, |e| e.min(t)));
            }
            self.timers.pop();
        }
        self.next_expiry_check
    }

    /// [`GroupCoordinator::next_deadline`] computed by scanning every group
    /// (what the timer index must agree with; for tests).
    pub fn next_deadline_scan(&self) -> Option<i64> {
        self.groups
            .values()
            .filter_map(Group::next_deadline)
            .chain(self.next_expiry_check)
            .min()
    }

    /// Re-reads `group_id`'s next timer into the index.
    pub(crate) fn refresh_timer(&mut self, group_id: &str) {
        let next = self.groups.get(group_id).and_then(Group::next_deadline);
        match next {
            Some(t) if self.timer_of.get(group_id) != Some(&t) => {
                self.timer_of.insert(group_id.to_owned(), t);
                self.timers.push(Reverse((t, group_id.to_owned())));
            }
            Some(_) => {}
            None => {
                self.timer_of.remove(group_id);
            }
        }
        if self.timers.len() > 2 * self.timer_of.len() + TIMER_INDEX_SLACK {
            self.timers = self
                .timer_of
                .iter()
                .map(|(g, t)| Reverse((*t, g.clone())))
                .collect();
        }
    }

    fn refresh_all_timers(&mut self) {
        let ids: Vec<String> = self.groups.keys().cloned().collect();
        let groups = &self.groups;
        self.timer_of.retain(|g, _| groups.contains_key(g));
        for id in ids {
            self.refresh_timer(&id);
        }
    }

    /// Advances time: expires sessions, ends join phases and sync waits,
    /// drops expired offsets.
    pub fn tick(&mut self, now_ms: i64) -> Vec<Effect> {
        let mut out = Vec::new();
        // Groups of partitions not served (or still loading) have no timers.
        let mut ids: Vec<String> = self
            .groups
            .keys()
            .filter(|g| self.group_error(g).is_none())
            .cloned()
            .collect();
        ids.sort();
        for id in &ids {
            self.tick_group(id, now_ms, &mut out);
        }
        match self.next_expiry_check {
            None => {
                self.next_expiry_check =
                    Some(now_ms + self.cfg.offsets_retention_check_interval_ms);
            }
            Some(t) if now_ms >= t => {
                self.expire_offsets(now_ms, &mut out);
                self.next_expiry_check =
                    Some(now_ms + self.cfg.offsets_retention_check_interval_ms);
            }
            Some(_) => {}
        }
        self.refresh_all_timers();
        out
    }

    /// A fresh member id `<prefix>-<uuid>`.
    pub(crate) fn new_member_id(&mut self, prefix: &str) -> String {
        self.member_id_counter += 1;
        let a = splitmix64(self.cfg.member_id_seed ^ self.member_id_counter);
        let b = splitmix64(a ^ self.member_id_counter.rotate_left(32));
        // Version-4 layout with the generator's bits.
        let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
        let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        format!(
            "{prefix}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0xFFFF,
            b >> 48,
            b & 0xFFFF_FFFF_FFFF
        )
    }

    /// Queues an append of `records` for `group_id`'s partition.
    pub(crate) fn append(
        &mut self,
        group_id: &str,
        records: Vec<RawRecord>,
        after: AfterAppend,
        out: &mut Vec<Effect>,
    ) {
        self.append_as(group_id, records, None, after, out);
    }

    /// Queues an append of `records` for `group_id`'s partition, as a
    /// transactional batch of `producer` when set.
    pub(crate) fn append_as(
        &mut self,
        group_id: &str,
        records: Vec<RawRecord>,
        producer: Option<(i64, i16)>,
        after: AfterAppend,
        out: &mut Vec<Effect>,
    ) {
        let append_id = self.next_append_id;
        self.next_append_id += 1;
        self.appends.insert(append_id, after);
        out.push(Effect::Append {
            append_id,
            partition: partition_for(group_id, self.cfg.offsets_topic_num_partitions),
            records,
            producer,
        });
    }

    /// The group metadata record of `group` with `assignments` (members
    /// without one get an empty assignment).
    pub(crate) fn group_record(
        group: &Group,
        assignments: &HashMap<String, Bytes>,
        now_ms: i64,
    ) -> Result<RawRecord, CoordinatorError> {
        let protocol = group.protocol_name.clone().unwrap_or_default();
        let members = group
            .join_order
            .iter()
            .filter_map(|id| group.members.get(id))
            .map(|m| MemberMetadata {
                member_id: m.member_id.as_str().into(),
                group_instance_id: m.group_instance_id.as_deref().map(Into::into),
                client_id: m.client_id.as_str().into(),
                client_host: m.client_host.as_str().into(),
                rebalance_timeout: m.rebalance_timeout_ms,
                session_timeout: m.session_timeout_ms,
                subscription: m.metadata(&protocol),
                assignment: assignments.get(&m.member_id).cloned().unwrap_or_default(),
                unknown_tagged_fields: Vec::new(),
            })
            .collect();
        let value = GroupMetadataValue {
            protocol_type: group.protocol_type.as_deref().unwrap_or("").into(),
            generation: group.generation,
            protocol: group.protocol_name.as_deref().map(Into::into),
            leader: group.leader.as_deref().map(Into::into),
            current_state_timestamp: now_ms,
            members,
            unknown_tagged_fields: Vec::new(),
        };
        group_metadata_record(&group.id, Some(&value))
    }

    /// Appends `group`'s metadata with its members' current assignments.
    pub(crate) fn store_group(
        &mut self,
        group_id: &str,
        now_ms: i64,
        after: AfterAppend,
        out: &mut Vec<Effect>,
    ) -> bool {
        let Some(g) = self.groups.get(group_id) else {
            return false;
        };
        let assignments: HashMap<String, Bytes> = g
            .members
            .values()
            .map(|m| (m.member_id.clone(), m.assignment.clone()))
            .collect();
        match Self::group_record(g, &assignments, now_ms) {
            Ok(rec) => {
                self.append(group_id, vec![rec], after, out);
                true
            }
            Err(_) => false,
        }
    }
}

/// Applies a loaded group metadata value to `g`.
fn apply_group_metadata(g: &mut Group, v: &GroupMetadataValue) {
    g.generation = v.generation;
    g.protocol_type = Some(v.protocol_type.as_str().to_owned());
    g.protocol_name = v.protocol.as_ref().map(|p| p.as_str().to_owned());
    g.leader = v.leader.as_ref().map(|l| l.as_str().to_owned());
    g.state_timestamp = v.current_state_timestamp;
    g.members.clear();
    g.join_order.clear();
    g.static_members.clear();
    let protocol = g.protocol_name.clone().unwrap_or_default();
    for m in &v.members {
        let member = crate::group::Member {
            member_id: m.member_id.as_str().to_owned(),
            group_instance_id: m.group_instance_id.as_ref().map(|s| s.as_str().to_owned()),
            client_id: m.client_id.as_str().to_owned(),
            client_host: m.client_host.as_str().to_owned(),
            rebalance_timeout_ms: if m.rebalance_timeout >= 0 {
                m.rebalance_timeout
            } else {
                m.session_timeout
            },
            session_timeout_ms: m.session_timeout,
            protocols: vec![(protocol.clone(), m.subscription.clone())],
            assignment: m.assignment.clone(),
            awaiting_join: None,
            awaiting_sync: None,
            session_deadline: 0,
            is_new: false,
        };
        if let Some(i) = &member.group_instance_id {
            g.static_members.insert(i.clone(), member.member_id.clone());
        }
        g.join_order.push(member.member_id.clone());
        g.members.insert(member.member_id.clone(), member);
    }
    if g.leader
        .as_ref()
        .is_some_and(|l| !g.members.contains_key(l))
    {
        g.leader = g.join_order.first().cloned();
    }
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
