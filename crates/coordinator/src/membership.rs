//! Group membership: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, the
//! rebalance (join phase, leader election, protocol choice, generation),
//! static members, and the session / rebalance / sync timers.

use std::collections::HashMap;

use bytes::Bytes;
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::join_group_response::JoinGroupResponseMember;
use vltava_protocol::messages::leave_group_response::MemberResponse;
use vltava_protocol::messages::{
    HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest,
};

use crate::codes;
use crate::config::GroupConfig;
use crate::coordinator::{AfterAppend, Effect, GroupCoordinator};
use crate::group::{Group, GroupState, JoinTimer, Member, Waiter};
use crate::responses::{JoinResult, heartbeat_body, sync_body};

fn respond(out: &mut Vec<Effect>, request_id: u64, body: ResponseBody) {
    out.push(Effect::Respond { request_id, body });
}

/// Answers the waiters of a member that leaves the group with `error`.
fn release_waiters(m: &mut Member, error: i16, out: &mut Vec<Effect>) {
    if let Some(w) = m.awaiting_join.take() {
        respond(
            out,
            w.request_id,
            JoinResult::error(&m.member_id, error).to_body(w.version),
        );
    }
    if let Some(w) = m.awaiting_sync.take() {
        respond(
            out,
            w.request_id,
            sync_body(w.version, error, Bytes::new(), None, None),
        );
    }
}

/// Moves `g` to PreparingRebalance with the right join timer.
fn prepare_rebalance(g: &mut Group, cfg: &GroupConfig, now_ms: i64, out: &mut Vec<Effect>) {
    if g.state == GroupState::CompletingRebalance {
        for m in g.members.values_mut() {
            m.assignment = Bytes::new();
            if let Some(w) = m.awaiting_sync.take() {
                respond(
                    out,
                    w.request_id,
                    sync_body(
                        w.version,
                        codes::REBALANCE_IN_PROGRESS,
                        Bytes::new(),
                        None,
                        None,
                    ),
                );
            }
        }
    }
    g.pending_sync.clear();
    g.sync_deadline = None;
    let rebalance = g.rebalance_timeout_ms();
    let delay = i64::from(cfg.initial_rebalance_delay_ms.max(0));
    g.join_timer = Some(if g.state == GroupState::Empty && delay > 0 {
        JoinTimer::Initial {
            deadline: now_ms + delay,
            delay_ms: delay,
            remaining_ms: (rebalance - delay).max(0),
        }
    } else {
        JoinTimer::Rebalance {
            deadline: now_ms + rebalance,
        }
    });
    g.transition(GroupState::PreparingRebalance, now_ms);
}

fn maybe_prepare_rebalance(g: &mut Group, cfg: &GroupConfig, now_ms: i64, out: &mut Vec<Effect>) {
    if matches!(
        g.state,
        GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
    ) {
        prepare_rebalance(g, cfg, now_ms, out);
    }
}

/// The member list the leader gets: every member with its metadata for the
/// chosen protocol.
fn member_list(g: &Group) -> Vec<JoinGroupResponseMember> {
    let protocol = g.protocol_name.clone().unwrap_or_default();
    g.join_order
        .iter()
        .filter_map(|id| g.members.get(id))
        .map(|m| JoinGroupResponseMember {
            member_id: m.member_id.as_str().into(),
            group_instance_id: m.group_instance_id.as_deref().map(Into::into),
            metadata: m.metadata(&protocol),
            ..Default::default()
        })
        .collect()
}

/// The JoinGroup answer of the current generation for `member_id`.
fn current_join_result(g: &Group, member_id: &str) -> JoinResult {
    JoinResult {
        error: codes::NONE,
        generation: g.generation,
        protocol_type: g.protocol_type.clone(),
        protocol_name: g.protocol_name.clone(),
        leader: g.leader.clone().unwrap_or_default(),
        member_id: member_id.to_owned(),
        members: if g.is_leader(member_id) {
            member_list(g)
        } else {
            Vec::new()
        },
        skip_assignment: false,
    }
}

/// Checks a request's member id and instance id against the group.
fn validate_member(g: &Group, member_id: &str, instance_id: Option<&str>) -> Result<(), i16> {
    if let Some(inst) = instance_id {
        match g.static_member(inst) {
            Some(existing) if existing != member_id => return Err(codes::FENCED_INSTANCE_ID),
            Some(_) => {}
            None => return Err(codes::UNKNOWN_MEMBER_ID),
        }
    }
    if g.members.contains_key(member_id) {
        Ok(())
    } else {
        Err(codes::UNKNOWN_MEMBER_ID)
    }
}

fn session_reset(m: &mut Member, now_ms: i64) {
    m.session_deadline = now_ms + i64::from(m.session_timeout_ms);
}

/// What a JoinGroup asks for, taken out of the request.
struct JoinArgs {
    waiter: Waiter,
    session_timeout_ms: i32,
    rebalance_timeout_ms: i32,
    instance_id: Option<String>,
    protocol_type: String,
    protocols: Vec<(String, Bytes)>,
    client_id: String,
    client_host: String,
}

impl GroupCoordinator {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn join_group(
        &mut self,
        request_id: u64,
        now_ms: i64,
        version: i16,
        req: JoinGroupRequest,
        client_id: &str,
        client_host: &str,
        out: &mut Vec<Effect>,
    ) {
        let member_id = req.member_id.as_str().to_owned();
        let fail = |out: &mut Vec<Effect>, code: i16| {
            respond(
                out,
                request_id,
                JoinResult::error(&member_id, code).to_body(version),
            );
        };
        let group_id = req.group_id.as_str().to_owned();
        if self.loading {
            return fail(out, codes::COORDINATOR_LOAD_IN_PROGRESS);
        }
        if group_id.is_empty() {
            return fail(out, codes::INVALID_GROUP_ID);
        }
        if req.session_timeout_ms < self.cfg.min_session_timeout_ms
            || req.session_timeout_ms > self.cfg.max_session_timeout_ms
        {
            return fail(out, codes::INVALID_SESSION_TIMEOUT);
        }
        let args = JoinArgs {
            waiter: Waiter {
                request_id,
                version,
            },
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms: if version >= 1 && req.rebalance_timeout_ms > 0 {
                req.rebalance_timeout_ms
            } else {
                req.session_timeout_ms
            },
            instance_id: if version >= 5 {
                req.group_instance_id
                    .as_ref()
                    .map(|s| s.as_str().to_owned())
            } else {
                None
            },
            protocol_type: req.protocol_type.as_str().to_owned(),
            protocols: req
                .protocols
                .iter()
                .map(|p| (p.name.as_str().to_owned(), p.metadata.clone()))
                .collect(),
            client_id: client_id.to_owned(),
            client_host: client_host.to_owned(),
        };
        if !self.groups.contains_key(&group_id) {
            if !member_id.is_empty() {
                return fail(out, codes::UNKNOWN_MEMBER_ID);
            }
            if self.groups.len() >= self.cfg.max_groups {
                return fail(out, codes::COORDINATOR_NOT_AVAILABLE);
            }
            self.groups
                .insert(group_id.clone(), Group::new(&group_id, now_ms));
        }
        let Some(g) = self.groups.get(&group_id) else {
            return fail(out, codes::COORDINATOR_NOT_AVAILABLE);
        };
        if g.state == GroupState::Dead {
            return fail(out, codes::COORDINATOR_NOT_AVAILABLE);
        }
        if !g.supports_protocols(&args.protocol_type, &args.protocols) {
            return fail(out, codes::INCONSISTENT_GROUP_PROTOCOL);
        }
        let is_new = member_id.is_empty() || g.pending_members.contains_key(&member_id);
        let replaces_static = args
            .instance_id
            .as_deref()
            .is_some_and(|i| g.static_member(i).is_some());
        if is_new
            && !replaces_static
            && g.members.len() + g.pending_members.len() >= self.cfg.max_size.max(0) as usize
            && !g.pending_members.contains_key(&member_id)
        {
            return fail(out, codes::GROUP_MAX_SIZE_REACHED);
        }
        if member_id.is_empty() {
            self.unknown_member_join(&group_id, now_ms, args, out);
        } else {
            self.known_member_join(&group_id, &member_id, now_ms, args, out);
        }
        self.maybe_complete_join(&group_id, now_ms, out);
    }

    fn unknown_member_join(
        &mut self,
        group_id: &str,
        now_ms: i64,
        args: JoinArgs,
        out: &mut Vec<Effect>,
    ) {
        let prefix = args
            .instance_id
            .clone()
            .unwrap_or_else(|| args.client_id.clone());
        let new_id = self.new_member_id(&prefix);
        let Some(g) = self.groups.get_mut(group_id) else {
            return;
        };
        match args.instance_id.clone() {
            Some(inst) => match g.static_member(&inst).map(str::to_owned) {
                Some(old_id) => {
                    self.replace_static_member(group_id, &old_id, &new_id, now_ms, args, out)
                }
                None => add_member_and_rebalance(g, &self.cfg, &new_id, now_ms, args, out),
            },
            None if args.waiter.version >= 4 => {
                g.pending_members
                    .insert(new_id.clone(), now_ms + i64::from(args.session_timeout_ms));
                respond(
                    out,
                    args.waiter.request_id,
                    JoinResult::error(&new_id, codes::MEMBER_ID_REQUIRED)
                        .to_body(args.waiter.version),
                );
            }
            None => add_member_and_rebalance(g, &self.cfg, &new_id, now_ms, args, out),
        }
    }

    fn known_member_join(
        &mut self,
        group_id: &str,
        member_id: &str,
        now_ms: i64,
        args: JoinArgs,
        out: &mut Vec<Effect>,
    ) {
        let Some(g) = self.groups.get_mut(group_id) else {
            return;
        };
        let w = args.waiter;
        let fail = |out: &mut Vec<Effect>, code: i16| {
            respond(
                out,
                w.request_id,
                JoinResult::error(member_id, code).to_body(w.version),
            );
        };
        if g.pending_members.contains_key(member_id) {
            // A member id handed out to a dynamic member cannot take over a
            // static member's instance id.
            if args
                .instance_id
                .as_deref()
                .is_some_and(|i| g.static_member(i).is_some())
            {
                return fail(out, codes::FENCED_INSTANCE_ID);
            }
            return add_member_and_rebalance(g, &self.cfg, member_id, now_ms, args, out);
        }
        if let Err(code) = validate_member(g, member_id, args.instance_id.as_deref()) {
            return fail(out, code);
        }
        let protocols_changed = g
            .members
            .get(member_id)
            .is_some_and(|m| m.protocols != args.protocols);
        match g.state {
            GroupState::Empty | GroupState::Dead => fail(out, codes::UNKNOWN_MEMBER_ID),
            GroupState::PreparingRebalance => {
                update_member(g, member_id, now_ms, args, out);
            }
            GroupState::CompletingRebalance => {
                if protocols_changed {
                    update_member(g, member_id, now_ms, args, out);
                    maybe_prepare_rebalance(g, &self.cfg, now_ms, out);
                } else {
                    if let Some(m) = g.members.get_mut(member_id) {
                        session_reset(m, now_ms);
                    }
                    let r = current_join_result(g, member_id);
                    respond(out, w.request_id, r.to_body(w.version));
                }
            }
            GroupState::Stable => {
                if protocols_changed || g.is_leader(member_id) {
                    update_member(g, member_id, now_ms, args, out);
                    maybe_prepare_rebalance(g, &self.cfg, now_ms, out);
                } else {
                    if let Some(m) = g.members.get_mut(member_id) {
                        session_reset(m, now_ms);
                    }
                    let r = current_join_result(g, member_id);
                    respond(out, w.request_id, r.to_body(w.version));
                }
            }
        }
    }

    /// A static member rejoined without its member id: the new id takes the
    /// old member's place; no rebalance when its protocols keep the choice.
    fn replace_static_member(
        &mut self,
        group_id: &str,
        old_id: &str,
        new_id: &str,
        now_ms: i64,
        args: JoinArgs,
        out: &mut Vec<Effect>,
    ) {
        let cfg = self.cfg.clone();
        let Some(g) = self.groups.get_mut(group_id) else {
            return;
        };
        let Some(mut m) = g.members.remove(old_id) else {
            return;
        };
        release_waiters(&mut m, codes::FENCED_INSTANCE_ID, out);
        let w = args.waiter;
        let current_leader = g.leader.clone().unwrap_or_default();
        // Unchanged when its metadata for the group's current protocol is the
        // same (a member reloaded from the log only knows that protocol).
        let current = g.protocol_name.clone().unwrap_or_default();
        let protocols_unchanged = args
            .protocols
            .iter()
            .any(|(name, meta)| *name == current && *meta == m.metadata(&current));
        m.member_id = new_id.to_owned();
        m.client_id = args.client_id;
        m.client_host = args.client_host;
        m.protocols = args.protocols;
        m.session_timeout_ms = args.session_timeout_ms;
        m.rebalance_timeout_ms = args.rebalance_timeout_ms;
        m.awaiting_join = Some(w);
        session_reset(&mut m, now_ms);
        for id in g.join_order.iter_mut() {
            if id == old_id {
                *id = new_id.to_owned();
            }
        }
        if g.pending_sync.remove(old_id) {
            g.pending_sync.insert(new_id.to_owned());
        }
        if g.is_leader(old_id) {
            g.leader = Some(new_id.to_owned());
        }
        if let Some(inst) = &m.group_instance_id {
            g.static_members.insert(inst.clone(), new_id.to_owned());
        }
        g.members.insert(new_id.to_owned(), m);
        match g.state {
            GroupState::Stable if protocols_unchanged && g.select_protocol() == g.protocol_name => {
                let is_leader = g.is_leader(new_id);
                let skip = is_leader && w.version >= 9;
                if let Some(m) = g.members.get_mut(new_id) {
                    m.awaiting_join = None;
                }
                let ok = JoinResult {
                    error: codes::NONE,
                    generation: g.generation,
                    protocol_type: g.protocol_type.clone(),
                    protocol_name: g.protocol_name.clone(),
                    leader: current_leader,
                    member_id: new_id.to_owned(),
                    members: if skip { member_list(g) } else { Vec::new() },
                    skip_assignment: skip,
                };
                let failed = JoinResult::error(new_id, codes::COORDINATOR_NOT_AVAILABLE);
                let after = AfterAppend::Respond {
                    ok: vec![(w.request_id, ok.to_body(w.version))],
                    failed: vec![(w.request_id, failed.to_body(w.version))],
                };
                if !self.store_group(group_id, now_ms, after, out) {
                    respond(out, w.request_id, failed.to_body(w.version));
                }
            }
            GroupState::Stable | GroupState::CompletingRebalance => {
                prepare_rebalance(g, &cfg, now_ms, out);
            }
            _ => {}
        }
    }

    /// Ends the join phase if every member is back (or at the deadline).
    pub(crate) fn maybe_complete_join(
        &mut self,
        group_id: &str,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
        let ready = self.groups.get(group_id).is_some_and(|g| {
            g.state == GroupState::PreparingRebalance
                && matches!(g.join_timer, Some(JoinTimer::Rebalance { .. }))
                && g.all_members_joined()
        });
        if ready {
            self.complete_join(group_id, now_ms, out);
        }
    }

    /// Ends the join phase: drops members that did not rejoin, elects a
    /// leader, bumps the generation and answers every waiting JoinGroup.
    pub(crate) fn complete_join(&mut self, group_id: &str, now_ms: i64, out: &mut Vec<Effect>) {
        let Some(g) = self.groups.get_mut(group_id) else {
            return;
        };
        if g.state != GroupState::PreparingRebalance {
            return;
        }
        g.join_timer = None;
        let gone: Vec<String> = g
            .members
            .values()
            .filter(|m| m.awaiting_join.is_none() && m.group_instance_id.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for id in gone {
            if let Some(mut m) = g.remove_member(&id) {
                release_waiters(&mut m, codes::UNKNOWN_MEMBER_ID, out);
            }
        }
        if !g.members.is_empty() {
            let leader_joined = g
                .leader
                .as_ref()
                .and_then(|l| g.members.get(l))
                .is_some_and(|m| m.awaiting_join.is_some());
            if !leader_joined {
                let joined = g
                    .join_order
                    .iter()
                    .find(|id| {
                        g.members
                            .get(*id)
                            .is_some_and(|m| m.awaiting_join.is_some())
                    })
                    .cloned();
                match joined {
                    Some(id) => g.leader = Some(id),
                    None => {
                        // Only static members that have not rejoined are
                        // left: wait another rebalance timeout for them.
                        g.join_timer = Some(JoinTimer::Rebalance {
                            deadline: now_ms + g.rebalance_timeout_ms(),
                        });
                        return;
                    }
                }
            }
        }
        g.generation = g.generation.wrapping_add(1).max(1);
        g.storing_assignment = false;
        g.pending_sync.clear();
        g.new_member_added = false;
        if g.members.is_empty() {
            g.protocol_name = None;
            g.leader = None;
            g.sync_deadline = None;
            g.transition(GroupState::Empty, now_ms);
            self.store_group(group_id, now_ms, AfterAppend::Nothing, out);
            return;
        }
        g.protocol_name = g.select_protocol();
        g.transition(GroupState::CompletingRebalance, now_ms);
        let ids = g.join_order.clone();
        for id in &ids {
            let result = current_join_result(g, id);
            if let Some(m) = g.members.get_mut(id) {
                if let Some(w) = m.awaiting_join.take() {
                    respond(out, w.request_id, result.to_body(w.version));
                }
                session_reset(m, now_ms);
                m.is_new = false;
            }
            g.pending_sync.insert(id.clone());
        }
        g.sync_deadline = Some(now_ms + g.rebalance_timeout_ms());
    }

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
        if self.loading {
            return fail(out, codes::COORDINATOR_LOAD_IN_PROGRESS);
        }
        let group_id = req.group_id.as_str();
        if group_id.is_empty() {
            return fail(out, codes::INVALID_GROUP_ID);
        }
        let member_id = req.member_id.as_str();
        let instance = if version >= 3 {
            req.group_instance_id.as_ref().map(|s| s.as_str())
        } else {
            None
        };
        let cfg = self.cfg.clone();
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
                            let _ = &cfg;
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
        if self.loading {
            return codes::COORDINATOR_LOAD_IN_PROGRESS;
        }
        if req.group_id.is_empty() {
            return codes::INVALID_GROUP_ID;
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
        if self.loading {
            return whole(out, codes::COORDINATOR_LOAD_IN_PROGRESS);
        }
        if req.group_id.is_empty() {
            return whole(out, codes::INVALID_GROUP_ID);
        }
        let leaving: Vec<(String, Option<String>)> = if version >= 3 {
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
        };
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
                    let code = match &instance {
                        Some(inst) => match g.static_member(inst).map(str::to_owned) {
                            None => codes::UNKNOWN_MEMBER_ID,
                            Some(existing) if !member_id.is_empty() && existing != member_id => {
                                codes::FENCED_INSTANCE_ID
                            }
                            Some(existing) => {
                                if let Some(mut m) = g.remove_member(&existing) {
                                    release_waiters(&mut m, codes::UNKNOWN_MEMBER_ID, out);
                                }
                                removed_any = true;
                                codes::NONE
                            }
                        },
                        None => {
                            if g.pending_members.remove(&member_id).is_some() {
                                // Never joined: nothing to rebalance, but a
                                // join phase may have been waiting for it.
                                pending_left = true;
                                codes::NONE
                            } else if let Some(mut m) = g.remove_member(&member_id) {
                                release_waiters(&mut m, codes::UNKNOWN_MEMBER_ID, out);
                                removed_any = true;
                                codes::NONE
                            } else {
                                codes::UNKNOWN_MEMBER_ID
                            }
                        }
                    };
                    results.push((member_id, instance, code));
                }
                if removed_any {
                    self.after_member_removed(&group_id, now_ms, out);
                } else if pending_left {
                    self.maybe_complete_join(&group_id, now_ms, out);
                }
            }
        }
        let body = if version >= 3 {
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
        };
        respond(out, request_id, ResponseBody::LeaveGroup(body));
    }

    /// After members left or expired: rebalance, or end a join phase that
    /// was only waiting for them.
    fn after_member_removed(&mut self, group_id: &str, now_ms: i64, out: &mut Vec<Effect>) {
        let cfg = self.cfg.clone();
        let Some(g) = self.groups.get_mut(group_id) else {
            return;
        };
        match g.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                prepare_rebalance(g, &cfg, now_ms, out);
            }
            _ => {}
        }
        self.maybe_complete_join(group_id, now_ms, out);
    }

    /// The timers of one group at `now_ms`.
    pub(crate) fn tick_group(&mut self, group_id: &str, now_ms: i64, out: &mut Vec<Effect>) {
        // Member ids handed out with MEMBER_ID_REQUIRED that never came back.
        let mut removed = false;
        let mut pending_expired = false;
        if let Some(g) = self.groups.get_mut(group_id) {
            let before = g.pending_members.len();
            g.pending_members.retain(|_, deadline| *deadline > now_ms);
            // Never joined: no rebalance, but a join phase may end now.
            pending_expired = g.pending_members.len() != before;
            // Sessions that ran out.
            let expired: Vec<String> = g
                .members
                .values()
                .filter(|m| m.expired(now_ms))
                .map(|m| m.member_id.clone())
                .collect();
            for id in expired {
                if let Some(mut m) = g.remove_member(&id) {
                    release_waiters(&mut m, codes::UNKNOWN_MEMBER_ID, out);
                    removed = true;
                }
            }
            // Members that never sent SyncGroup in time.
            if g.sync_deadline.is_some_and(|d| now_ms >= d) {
                g.sync_deadline = None;
                let late: Vec<String> = g.pending_sync.drain().collect();
                for id in late {
                    if let Some(mut m) = g.remove_member(&id) {
                        release_waiters(&mut m, codes::UNKNOWN_MEMBER_ID, out);
                        removed = true;
                    }
                }
            }
        }
        if removed {
            self.after_member_removed(group_id, now_ms, out);
        } else if pending_expired {
            self.maybe_complete_join(group_id, now_ms, out);
        }
        // The join phase's timer.
        let timer = self.groups.get(group_id).and_then(|g| {
            (g.state == GroupState::PreparingRebalance)
                .then_some(g.join_timer)
                .flatten()
        });
        match timer {
            Some(JoinTimer::Initial {
                deadline,
                delay_ms,
                remaining_ms,
            }) if now_ms >= deadline => {
                let extend = self.groups.get_mut(group_id).is_some_and(|g| {
                    if g.new_member_added && remaining_ms > 0 {
                        g.new_member_added = false;
                        let delay = delay_ms.min(remaining_ms);
                        g.join_timer = Some(JoinTimer::Initial {
                            deadline: now_ms + delay,
                            delay_ms,
                            remaining_ms: (remaining_ms - delay).max(0),
                        });
                        true
                    } else {
                        false
                    }
                });
                if !extend {
                    self.complete_join(group_id, now_ms, out);
                }
            }
            Some(JoinTimer::Rebalance { deadline }) if now_ms >= deadline => {
                self.complete_join(group_id, now_ms, out);
            }
            _ => {}
        }
    }
}

/// Adds a new member waiting in JoinGroup and starts (or joins) a rebalance.
fn add_member_and_rebalance(
    g: &mut Group,
    cfg: &GroupConfig,
    member_id: &str,
    now_ms: i64,
    args: JoinArgs,
    out: &mut Vec<Effect>,
) {
    let member = Member {
        member_id: member_id.to_owned(),
        group_instance_id: args.instance_id,
        client_id: args.client_id,
        client_host: args.client_host,
        rebalance_timeout_ms: args.rebalance_timeout_ms,
        session_timeout_ms: args.session_timeout_ms,
        protocols: args.protocols,
        assignment: Bytes::new(),
        awaiting_join: Some(args.waiter),
        awaiting_sync: None,
        session_deadline: now_ms + cfg.new_member_join_timeout_ms,
        is_new: true,
    };
    if g.state == GroupState::PreparingRebalance && g.generation == 0 {
        g.new_member_added = true;
    }
    g.add_member(member, &args.protocol_type);
    maybe_prepare_rebalance(g, cfg, now_ms, out);
}

/// A known member rejoins: new protocols and timeouts, waits in JoinGroup.
fn update_member(
    g: &mut Group,
    member_id: &str,
    now_ms: i64,
    args: JoinArgs,
    out: &mut Vec<Effect>,
) {
    if let Some(m) = g.members.get_mut(member_id) {
        if let Some(old) = m.awaiting_join.replace(args.waiter) {
            respond(
                out,
                old.request_id,
                JoinResult::error(member_id, codes::REBALANCE_IN_PROGRESS).to_body(old.version),
            );
        }
        m.protocols = args.protocols;
        m.session_timeout_ms = args.session_timeout_ms;
        m.rebalance_timeout_ms = args.rebalance_timeout_ms;
        m.client_id = args.client_id;
        m.client_host = args.client_host;
        session_reset(m, now_ms);
    }
}
