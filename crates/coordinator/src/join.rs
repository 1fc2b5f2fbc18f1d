//! JoinGroup: validation, the MEMBER_ID_REQUIRED round (v4+), new and
//! known members, and static members taking their old place (with or
//! without a rebalance).

use bytes::Bytes;
use vltava_protocol::messages::JoinGroupRequest;

use crate::codes;
use crate::config::GroupConfig;
use crate::coordinator::{AfterAppend, Effect, GroupCoordinator};
use crate::group::{Group, GroupState, Member, Waiter};
use crate::rebalance::{
    current_join_result, maybe_prepare_rebalance, member_list, prepare_rebalance, release_waiters,
    respond, session_reset, validate_member,
};
use crate::responses::JoinResult;

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

impl JoinArgs {
    /// The arguments of JoinGroup `req` (at the waiter's version).
    fn of(waiter: Waiter, req: &JoinGroupRequest, client_id: &str, client_host: &str) -> Self {
        JoinArgs {
            waiter,
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms: if waiter.version >= 1 && req.rebalance_timeout_ms > 0 {
                req.rebalance_timeout_ms
            } else {
                req.session_timeout_ms
            },
            instance_id: if waiter.version >= 5 {
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
        }
    }
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
        if group_id.is_empty() {
            return fail(out, codes::INVALID_GROUP_ID);
        }
        if let Some(code) = self.group_error(&group_id) {
            return fail(out, code);
        }
        if req.session_timeout_ms < self.cfg.min_session_timeout_ms
            || req.session_timeout_ms > self.cfg.max_session_timeout_ms
        {
            return fail(out, codes::INVALID_SESSION_TIMEOUT);
        }
        let args = JoinArgs::of(
            Waiter {
                request_id,
                version,
            },
            &req,
            client_id,
            client_host,
        );
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
        rename_member(g, old_id, new_id, m.group_instance_id.as_deref());
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
}

/// Puts `new_id` where the group names `old_id`: in the join order, the members
/// awaiting sync, the leader, and (for instance id `instance`) the static members.
fn rename_member(g: &mut Group, old_id: &str, new_id: &str, instance: Option<&str>) {
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
    if let Some(inst) = instance {
        g.static_members.insert(inst.to_owned(), new_id.to_owned());
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
