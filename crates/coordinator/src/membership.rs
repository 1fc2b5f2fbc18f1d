//! SyncGroup (the leader's assignment is written, then handed out),
//! Heartbeat and LeaveGroup.

use std::collections::HashMap;

use bytes::Bytes;
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::leave_group_response::MemberResponse;
use vltava_protocol::messages::{
    HeartbeatRequest, LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest,
};

use crate::codes;
use crate::coordinator::{AfterAppend, Effect, GroupCoordinator};
use crate::group::{Group, GroupState, Waiter};
use crate::rebalance::{
    prepare_rebalance, release_waiters, respond, session_reset, validate_member,
};
use crate::responses::{heartbeat_body, sync_body};

impl GroupCoordinator {
    /// SyncGroup.
    // Long, and kept whole: a transition of the group's state machine, one
    // branch per group state (as Kafka's doSyncGroup), each ending the request.
    pub(crate) fn sync_group(
        &mut self,
        request_id: u64,
        now_ms: i64,
        version: i16,
        req: SyncGroupRequest,
        out: &mut Vec<Effect>,
    ) {
        let fail = |out: &mut Vec<Effect>, code: i16| {
            respond(
                out,
                request_id,
                sync_body(version, code, Bytes::new(), None, None),
            );
        };
        let group_id = req.group_id.as_str();
        if let Some(code) = self.group_error(group_id) {
            return fail(out, code);
        }
        if group_id.is_empty() {
            return fail(out, codes::INVALID_GROUP_ID);
        }
        let member_id = req.member_id.as_str();
        let instance = if version >= 3 {
            req.group_instance_id.as_ref().map(|s| s.as_str())
        } else {
            None
        };
        let Some(g) = self.groups.get_mut(group_id) else {
            return fail(out, codes::UNKNOWN_MEMBER_ID);
        };
        if g.state == GroupState::Dead {
            return fail(out, codes::COORDINATOR_NOT_AVAILABLE);
        }
        if let Err(code) = validate_member(g, member_id, instance) {
            return fail(out, code);
        }
        if req.generation_id != g.generation {
            return fail(out, codes::ILLEGAL_GENERATION);
        }
        if version >= 5 {
            let type_ok = req
                .protocol_type
                .as_ref()
                .is_none_or(|t| g.protocol_type.as_deref() == Some(t.as_str()));
            let name_ok = req
                .protocol_name
                .as_ref()
                .is_none_or(|n| g.protocol_name.as_deref() == Some(n.as_str()));
            if !type_ok || !name_ok {
                return fail(out, codes::INCONSISTENT_GROUP_PROTOCOL);
            }
        }
        match g.state {
            GroupState::Empty | GroupState::Dead => fail(out, codes::UNKNOWN_MEMBER_ID),
            GroupState::PreparingRebalance => fail(out, codes::REBALANCE_IN_PROGRESS),
            GroupState::Stable => {
                g.pending_sync.remove(member_id);
                let (pt, pn) = (g.protocol_type.clone(), g.protocol_name.clone());
                if let Some(m) = g.members.get_mut(member_id) {
                    session_reset(m, now_ms);
                    respond(
                        out,
                        request_id,
                        sync_body(
                            version,
                            codes::NONE,
                            m.assignment.clone(),
                            pt.as_deref(),
                            pn.as_deref(),
                        ),
                    );
                }
            }
            GroupState::CompletingRebalance => {
                g.pending_sync.remove(member_id);
                let is_leader = g.is_leader(member_id);
                if let Some(m) = g.members.get_mut(member_id) {
                    session_reset(m, now_ms);
                    if let Some(old) = m.awaiting_sync.replace(Waiter {
                        request_id,
                        version,
                    }) {
                        respond(
                            out,
                            old.request_id,
                            sync_body(
                                old.version,
                                codes::REBALANCE_IN_PROGRESS,
                                Bytes::new(),
                                None,
                                None,
                            ),
                        );
                    }
                }
                if is_leader && !g.storing_assignment {
                    let assignments: HashMap<String, Bytes> = req
                        .assignments
                        .iter()
                        .filter(|a| g.members.contains_key(a.member_id.as_str()))
                        .map(|a| (a.member_id.as_str().to_owned(), a.assignment.clone()))
                        .collect();
                    let generation = g.generation;
                    match Self::group_record(g, &assignments, now_ms) {
                        Ok(rec) => {
                            g.storing_assignment = true;
                            let gid = g.id.clone();
                            self.append(
                                &gid,
                                vec![rec],
                                AfterAppend::AssignmentStored {
                                    group: gid.clone(),
                                    generation,
                                    assignments,
                                },
                                out,
                            );
                        }
                        Err(_) => {
                            // An assignment that cannot be stored (a field
                            // over the schema's limits) fails this round.
                            self.assignment_stored(
                                group_id,
                                generation,
                                HashMap::new(),
                                false,
                                now_ms,
                                out,
                            );
                        }
                    }
                }
            }
        }
    }

    /// The leader's assignment was stored (or not): hand it out and become
    /// Stable, or fail the waiting SyncGroups and rebalance again.
    pub(crate) fn assignment_stored(
        &mut self,
        group_id: &str,
        generation: i32,
        assignments: HashMap<String, Bytes>,
        ok: bool,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        let cfg = self.cfg.clone();
        let Some(g) = self.groups.get_mut(group_id) else {
            return;
        };
        if g.generation != generation {
            // A write for an earlier generation; the current one is not
            // affected (its own write, if any, is still in flight).
            return;
        }
        g.storing_assignment = false;
        if g.state != GroupState::CompletingRebalance {
            return;
        }
        let (pt, pn) = (g.protocol_type.clone(), g.protocol_name.clone());
        if ok {
            for m in g.members.values_mut() {
                m.assignment = assignments.get(&m.member_id).cloned().unwrap_or_default();
                if let Some(w) = m.awaiting_sync.take() {
                    respond(
                        out,
                        w.request_id,
                        sync_body(
                            w.version,
                            codes::NONE,
                            m.assignment.clone(),
                            pt.as_deref(),
                            pn.as_deref(),
                        ),
                    );
                }
            }
            g.transition(GroupState::Stable, now_ms);
        } else {
            for m in g.members.values_mut() {
                m.assignment = Bytes::new();
                if let Some(w) = m.awaiting_sync.take() {
                    respond(
                        out,
                        w.request_id,
                        sync_body(
                            w.version,
                            codes::COORDINATOR_NOT_AVAILABLE,
                            Bytes::new(),
                            None,
                            None,
                        ),
                    );
                }
            }
            prepare_rebalance(g, &cfg, now_ms, out);
        }
    }

    pub(crate) fn heartbeat(
        &mut self,
        request_id: u64,
        now_ms: i64,
        version: i16,
        req: HeartbeatRequest,
        out: &mut Vec<Effect>,
    ) {
        let code = self.heartbeat_code(now_ms, version, &req);
        respond(out, request_id, heartbeat_body(code));
    }

    fn heartbeat_code(&mut self, now_ms: i64, version: i16, req: &HeartbeatRequest) -> i16 {
        if req.group_id.is_empty() {
            return codes::INVALID_GROUP_ID;
        }
        if let Some(code) = self.group_error(&req.group_id) {
            return code;
        }
        let Some(g) = self.groups.get_mut(req.group_id.as_str()) else {
            return codes::UNKNOWN_MEMBER_ID;
        };
        if g.state == GroupState::Dead {
            return codes::COORDINATOR_NOT_AVAILABLE;
        }
        let instance = if version >= 3 {
            req.group_instance_id.as_ref().map(|s| s.as_str())
        } else {
            None
        };
        if let Err(code) = validate_member(g, req.member_id.as_str(), instance) {
            return code;
        }
        if req.generation_id != g.generation {
            return codes::ILLEGAL_GENERATION;
        }
        let state = g.state;
        if let Some(m) = g.members.get_mut(req.member_id.as_str()) {
            session_reset(m, now_ms);
        }
        match state {
            GroupState::Empty | GroupState::Dead => codes::UNKNOWN_MEMBER_ID,
            GroupState::PreparingRebalance => codes::REBALANCE_IN_PROGRESS,
            GroupState::CompletingRebalance | GroupState::Stable => codes::NONE,
        }
    }

    pub(crate) fn leave_group(
        &mut self,
        request_id: u64,
        now_ms: i64,
        version: i16,
        req: LeaveGroupRequest,
        out: &mut Vec<Effect>,
    ) {
        let whole = |out: &mut Vec<Effect>, code: i16| {
            respond(
                out,
                request_id,
                ResponseBody::LeaveGroup(LeaveGroupResponse {
                    error_code: code,
                    ..Default::default()
                }),
            );
        };
        if req.group_id.is_empty() {
            return whole(out, codes::INVALID_GROUP_ID);
        }
        if let Some(code) = self.group_error(&req.group_id) {
            return whole(out, code);
        }
        let leaving = leaving_members(version, &req);
        let group_id = req.group_id.as_str().to_owned();
        let mut results = Vec::with_capacity(leaving.len());
        match self.groups.get_mut(&group_id) {
            None => {
                for (member_id, instance) in leaving {
                    results.push((member_id, instance, codes::UNKNOWN_MEMBER_ID));
                }
            }
            Some(g) if g.state == GroupState::Dead => {
                return whole(out, codes::COORDINATOR_NOT_AVAILABLE);
            }
            Some(g) => {
                let mut removed_any = false;
                let mut pending_left = false;
                for (member_id, instance) in leaving {
                    let (code, left) = leave_one(g, &member_id, instance.as_deref(), out);
                    removed_any |= left == Left::Member;
                    pending_left |= left == Left::Pending;
                    results.push((member_id, instance, code));
                }
                if removed_any {
                    self.after_member_removed(&group_id, now_ms, out);
                } else if pending_left {
                    self.maybe_complete_join(&group_id, now_ms, out);
                }
            }
        }
        let body = leave_body(version, results);
        respond(out, request_id, ResponseBody::LeaveGroup(body));
    }
}

/// Who a LeaveGroup names: its members (v3+, with their instance ids), or its one
/// member.
fn leaving_members(version: i16, req: &LeaveGroupRequest) -> Vec<(String, Option<String>)> {
    if version >= 3 {
        req.members
            .iter()
            .map(|m| {
                (
                    m.member_id.as_str().to_owned(),
                    m.group_instance_id.as_ref().map(|s| s.as_str().to_owned()),
                )
            })
            .collect()
    } else {
        vec![(req.member_id.as_str().to_owned(), None)]
    }
}

/// What one leaving member took out of its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    Nothing,
    /// A member: the group rebalances.
    Member,
    /// A member that never joined: nothing to rebalance, but a join phase may have
    /// been waiting for it.
    Pending,
}

/// Removes one leaving member (by its instance id when it names one): its code, and
/// what it took out of the group.
fn leave_one(
    g: &mut Group,
    member_id: &str,
    instance: Option<&str>,
    out: &mut Vec<Effect>,
) -> (i16, Left) {
    match instance {
        Some(inst) => match g.static_member(inst).map(str::to_owned) {
            None => (codes::UNKNOWN_MEMBER_ID, Left::Nothing),
            Some(existing) if !member_id.is_empty() && existing != member_id => {
                (codes::FENCED_INSTANCE_ID, Left::Nothing)
            }
            Some(existing) => {
                if let Some(mut m) = g.remove_member(&existing) {
                    release_waiters(&mut m, codes::UNKNOWN_MEMBER_ID, out);
                }
                (codes::NONE, Left::Member)
            }
        },
        None => {
            if g.pending_members.remove(member_id).is_some() {
                (codes::NONE, Left::Pending)
            } else if let Some(mut m) = g.remove_member(member_id) {
                release_waiters(&mut m, codes::UNKNOWN_MEMBER_ID, out);
                (codes::NONE, Left::Member)
            } else {
                (codes::UNKNOWN_MEMBER_ID, Left::Nothing)
            }
        }
    }
}

/// LeaveGroup's answer: per member (v3+), else the one member's code.
fn leave_body(version: i16, results: Vec<(String, Option<String>, i16)>) -> LeaveGroupResponse {
    if version >= 3 {
        LeaveGroupResponse {
            error_code: codes::NONE,
            members: results
                .into_iter()
                .map(|(member_id, instance, code)| MemberResponse {
                    member_id: member_id.into(),
                    group_instance_id: instance.map(Into::into),
                    error_code: code,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    } else {
        LeaveGroupResponse {
            error_code: results.first().map_or(codes::NONE, |r| r.2),
            ..Default::default()
        }
    }
}
