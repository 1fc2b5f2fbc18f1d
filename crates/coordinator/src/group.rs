//! One classic group's state: its members, generation, protocol, leader,
//! the timers of its rebalance, and its committed offsets.

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::Bytes;

/// The states of a classic group, named as Kafka names them in
/// DescribeGroups and ListGroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; the group may still hold offsets.
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Members joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Assignment handed out; members heartbeat.
    Stable,
    /// Removed; about to vanish.
    Dead,
}

impl GroupState {
    /// Kafka's name of the state.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// A request whose response is held until the group gets somewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiter {
    /// The driver's id of the request.
    pub request_id: u64,
    /// The API version the response is encoded at.
    pub version: i16,
}

/// One member of a group.
#[derive(Debug, Clone)]
pub struct Member {
    /// The member id the coordinator gave it.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// Client id of its connection.
    pub client_id: String,
    /// Host of its connection.
    pub client_host: String,
    /// Rebalance timeout it asked for (its session timeout before JoinGroup v1).
    pub rebalance_timeout_ms: i32,
    /// Session timeout it asked for.
    pub session_timeout_ms: i32,
    /// Protocols it supports, in its order of preference, with their metadata.
    pub protocols: Vec<(String, Bytes)>,
    /// Its assignment of the current generation.
    pub assignment: Bytes,
    /// Its JoinGroup waiting for the rebalance to complete.
    pub awaiting_join: Option<Waiter>,
    /// Its SyncGroup waiting for the leader's assignment.
    pub awaiting_sync: Option<Waiter>,
    /// When it is dropped unless it heartbeats.
    pub session_deadline: i64,
    /// Joined for the first time and not yet through a completed join.
    pub is_new: bool,
}

impl Member {
    /// The metadata this member gave for `protocol`.
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(name, _)| name == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// Whether it is alive at `now_ms`: a member waiting in JoinGroup (unless
    /// new) or SyncGroup counts as alive; the others need their session.
    pub fn expired(&self, now_ms: i64) -> bool {
        if self.awaiting_sync.is_some() || (self.awaiting_join.is_some() && !self.is_new) {
            return false;
        }
        now_ms >= self.session_deadline
    }
}

/// An offset committed for one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The committed offset.
    pub offset: i64,
    /// The leader epoch given with it, or -1.
    pub leader_epoch: i32,
    /// The metadata string given with it.
    pub metadata: String,
    /// When it was committed.
    pub commit_timestamp: i64,
    /// Explicit expiry (old OffsetCommit versions), or `None`.
    pub expire_timestamp: Option<i64>,
    /// Where its record lies among the records this coordinator wrote or
    /// loaded (0 until written): a transaction's offsets committed by a
    /// marker replace only offsets written before them, as Kafka compares
    /// log offsets.
    pub log_order: u64,
}

impl CommittedOffset {
    /// The offset a commit request asks for, not written yet (no explicit
    /// expiry, `log_order` 0); a missing metadata string is empty.
    pub(crate) fn requested(
        offset: i64,
        leader_epoch: i32,
        metadata: Option<&vltava_protocol::SharedStr>,
        commit_timestamp: i64,
    ) -> CommittedOffset {
        CommittedOffset {
            offset,
            leader_epoch,
            metadata: metadata.map(|m| m.as_str().to_owned()).unwrap_or_default(),
            commit_timestamp,
            expire_timestamp: None,
            log_order: 0,
        }
    }
}

/// The timer of a group in PreparingRebalance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinTimer {
    /// Ends at the deadline, or earlier once every member has rejoined.
    Rebalance {
        /// When the join phase ends at the latest.
        deadline: i64,
    },
    /// `group.initial.rebalance.delay.ms` of a group that was empty: ends
    /// only at its deadline, extended while new members keep arriving.
    Initial {
        /// When this delay ends.
        deadline: i64,
        /// The extension granted when it ends and new members came.
        delay_ms: i64,
        /// What is left of the rebalance timeout after this delay.
        remaining_ms: i64,
    },
}

impl JoinTimer {
    /// When the timer fires.
    pub fn deadline(&self) -> i64 {
        match *self {
            JoinTimer::Rebalance { deadline } | JoinTimer::Initial { deadline, .. } => deadline,
        }
    }
}

/// A classic group.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group id.
    pub id: String,
    /// Its state.
    pub state: GroupState,
    /// When it entered that state.
    pub state_timestamp: i64,
    /// Its generation; bumped at the end of each join phase.
    pub generation: i32,
    /// Protocol type of its members (e.g. `consumer`), set by the first member.
    pub protocol_type: Option<String>,
    /// The protocol chosen for the current generation.
    pub protocol_name: Option<String>,
    /// Member id of the leader.
    pub leader: Option<String>,
    /// Members by member id.
    pub members: BTreeMap<String, Member>,
    /// Order members were added in (leader election picks the earliest).
    pub join_order: Vec<String>,
    /// Static members: `group.instance.id` to member id.
    pub static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with when they expire.
    pub pending_members: HashMap<String, i64>,
    /// Members of this generation that have not sent SyncGroup yet.
    pub pending_sync: HashSet<String>,
    /// When members that have not synced are dropped.
    pub sync_deadline: Option<i64>,
    /// The join phase's timer while PreparingRebalance.
    pub join_timer: Option<JoinTimer>,
    /// A new member arrived during the initial delay.
    pub new_member_added: bool,
    /// A group metadata write for this generation's assignment is in flight.
    pub storing_assignment: bool,
    /// Committed offsets by (topic, partition).
    pub offsets: BTreeMap<(String, i32), CommittedOffset>,
}

impl Group {
    /// A new empty group.
    pub fn new(id: &str, now_ms: i64) -> Group {
        Group {
            id: id.to_owned(),
            state: GroupState::Empty,
            state_timestamp: now_ms,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            join_order: Vec::new(),
            static_members: HashMap::new(),
            pending_members: HashMap::new(),
            pending_sync: HashSet::new(),
            sync_deadline: None,
            join_timer: None,
            new_member_added: false,
            storing_assignment: false,
            offsets: BTreeMap::new(),
        }
    }

    /// Moves to `state` at `now_ms`.
    pub fn transition(&mut self, state: GroupState, now_ms: i64) {
        self.state = state;
        self.state_timestamp = now_ms;
    }

    /// The earliest time at which one of this group's timers fires: its join
    /// or sync deadline, an unused member id's expiry, or a session that is
    /// not held open by a waiting JoinGroup/SyncGroup.
    pub fn next_deadline(&self) -> Option<i64> {
        let join = self.join_timer.as_ref().map(JoinTimer::deadline);
        let pending = self.pending_members.values().copied().min();
        let sessions = self
            .members
            .values()
            .filter(|m| !(m.awaiting_sync.is_some() || (m.awaiting_join.is_some() && !m.is_new)))
            .map(|m| m.session_deadline)
            .min();
        [join, self.sync_deadline, pending, sessions]
            .into_iter()
            .flatten()
            .min()
    }

    /// Whether `member_id` is the leader.
    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    /// The largest rebalance timeout among the members.
    pub fn rebalance_timeout_ms(&self) -> i64 {
        self.members
            .values()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    /// Adds a member; the first member fixes the protocol type and leads.
    pub fn add_member(&mut self, member: Member, protocol_type: &str) {
        if self.members.is_empty() {
            self.protocol_type = Some(protocol_type.to_owned());
        }
        if self.leader.is_none() {
            self.leader = Some(member.member_id.clone());
        }
        if let Some(instance) = &member.group_instance_id {
            self.static_members
                .insert(instance.clone(), member.member_id.clone());
        }
        self.pending_members.remove(&member.member_id);
        self.join_order.push(member.member_id.clone());
        self.members.insert(member.member_id.clone(), member);
    }

    /// Removes a member and returns it; a removed leader hands over to the
    /// earliest remaining member.
    pub fn remove_member(&mut self, member_id: &str) -> Option<Member> {
        let member = self.members.remove(member_id)?;
        self.join_order.retain(|m| m != member_id);
        self.pending_sync.remove(member_id);
        if let Some(instance) = &member.group_instance_id {
            if self.static_members.get(instance).map(String::as_str) == Some(member_id) {
                self.static_members.remove(instance);
            }
        }
        if self.is_leader(member_id) {
            self.leader = self.join_order.first().cloned();
        }
        Some(member)
    }

    /// Member id of the static member with `instance_id`.
    pub fn static_member(&self, instance_id: &str) -> Option<&str> {
        self.static_members.get(instance_id).map(String::as_str)
    }

    /// Whether every member is waiting in JoinGroup and no member id handed
    /// out with MEMBER_ID_REQUIRED is still outstanding.
    pub fn all_members_joined(&self) -> bool {
        self.pending_members.is_empty() && self.members.values().all(|m| m.awaiting_join.is_some())
    }

    /// Whether a joining member with these protocols fits the group.
    pub fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if self.members.is_empty() {
            return !protocol_type.is_empty() && !protocols.is_empty();
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        protocols.iter().any(|(name, _)| {
            self.members
                .values()
                .all(|m| m.protocols.iter().any(|(p, _)| p == name))
        })
    }

    /// The protocol every member supports that most members prefer (ties go
    /// to the name that sorts first). `None` without members or common protocol.
    pub fn select_protocol(&self) -> Option<String> {
        let first = self.members.values().next()?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(q, _)| q == p))
            })
            .collect();
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            if let Some((p, _)) = m
                .protocols
                .iter()
                .find(|(p, _)| candidates.contains(&p.as_str()))
            {
                *votes.entry(p.as_str()).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        votes
            .into_iter()
            .find(|(_, n)| *n == best)
            .map(|(p, _)| p.to_owned())
    }
}
