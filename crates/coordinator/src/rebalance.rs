//! The rebalance: moving a group into a join phase, ending it (members
//! that did not rejoin leave, a joined leader is elected, the protocol is
//! chosen, the generation bumped, every waiting JoinGroup answered), and the
//! timers that drive it (sessions, unused member ids, join and sync deadlines).

use bytes::Bytes;
use vltava_protocol::ResponseBody;
use vltava_protocol::messages::join_group_response::JoinGroupResponseMember;

use crate::codes;
use crate::config::GroupConfig;
use crate::coordinator::{AfterAppend, Effect, GroupCoordinator};
use crate::group::{Group, GroupState, JoinTimer, Member};
use crate::responses::{JoinResult, sync_body};

pub(crate) fn respond(out: &mut Vec<Effect>, request_id: u64, body: ResponseBody) {
    out.push(Effect::Respond { request_id, body });
}

/// Answers the waiters of a member that leaves the group with `error`.
pub(crate) fn release_waiters(m: &mut Member, error: i16, out: &mut Vec<Effect>) {
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
pub(crate) fn prepare_rebalance(
    g: &mut Group,
    cfg: &GroupConfig,
    now_ms: i64,
    out: &mut Vec<Effect>,
) {
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

pub(crate) fn maybe_prepare_rebalance(
    g: &mut Group,
    cfg: &GroupConfig,
    now_ms: i64,
    out: &mut Vec<Effect>,
) {
    if matches!(
        g.state,
        GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
    ) {
        prepare_rebalance(g, cfg, now_ms, out);
    }
}

/// The member list the leader gets: every member with its metadata for the
/// chosen protocol.
pub(crate) fn member_list(g: &Group) -> Vec<JoinGroupResponseMember> {
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
pub(crate) fn current_join_result(g: &Group, member_id: &str) -> JoinResult {
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
pub(crate) fn validate_member(
    g: &Group,
    member_id: &str,
    instance_id: Option<&str>,
) -> Result<(), i16> {
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

pub(crate) fn session_reset(m: &mut Member, now_ms: i64) {
    m.session_deadline = now_ms + i64::from(m.session_timeout_ms);
}

impl GroupCoordinator {
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

    /// After members left or expired: rebalance, or end a join phase that
    /// was only waiting for them.
    pub(crate) fn after_member_removed(
        &mut self,
        group_id: &str,
        now_ms: i64,
        out: &mut Vec<Effect>,
    ) {
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
