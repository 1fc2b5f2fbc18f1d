//! Applying the controller's partition state: becoming leader, follower or stopped, and
//! ignoring states older than the one applied (epochs only grow).

use std::collections::BTreeMap;

use super::{Replica, Role};
use crate::event::Event;
use crate::follower_progress::FollowerProgress;
use crate::isr_state::IsrState;
use crate::partition_state::{InvalidPartitionState, PartitionState};

/// The outcome of [`Replica::apply_partition_state`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum StateUpdate {
    /// Applied; the events it caused.
    Applied(Vec<Event>),
    /// Not applied; nothing changed.
    Ignored(IgnoredReason),
}

/// Why a published partition state was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoredReason {
    /// Its leader epoch is older than the applied one.
    StaleLeaderEpoch,
    /// Its partition epoch is older than the applied one.
    StalePartitionEpoch,
    /// The same leader and partition epochs are already applied.
    AlreadyApplied,
    /// Same leader epoch, different leader: one leader per leader epoch.
    ConflictingLeader,
    /// The state itself is malformed.
    Invalid(InvalidPartitionState),
}

impl Replica {
    /// Applies a partition state from the metadata image. States with an older leader epoch
    /// or partition epoch are ignored. Becoming leader records the leader-epoch start offset
    /// (the local log end), resets what is known of followers and keeps the high watermark;
    /// becoming follower or stopped fails waiting produce requests with
    /// NOT_LEADER_OR_FOLLOWER. Either way the pending ISR change (if any) is dropped for the
    /// published ISR.
    pub fn apply_partition_state(&mut self, state: &PartitionState, now_ms: u64) -> StateUpdate {
        if let Err(invalid) = state.validate() {
            return StateUpdate::Ignored(IgnoredReason::Invalid(invalid));
        }
        if state.leader_epoch < self.leader_epoch {
            return StateUpdate::Ignored(IgnoredReason::StaleLeaderEpoch);
        }
        if state.partition_epoch < self.partition_epoch {
            return StateUpdate::Ignored(IgnoredReason::StalePartitionEpoch);
        }
        let new_leader_epoch = state.leader_epoch > self.leader_epoch;
        if !new_leader_epoch {
            if state.partition_epoch == self.partition_epoch {
                return StateUpdate::Ignored(IgnoredReason::AlreadyApplied);
            }
            if state.leader_id != self.leader_id {
                return StateUpdate::Ignored(IgnoredReason::ConflictingLeader);
            }
        }

        let was_leader = self.role == Role::Leader;
        self.leader_id = state.leader_id;
        self.partition_epoch = state.partition_epoch;
        self.replicas = state.replicas.clone();
        self.isr = IsrState::committed(state.isr.iter().copied());
        let mut events = Vec::new();
        if new_leader_epoch {
            self.leader_epoch = state.leader_epoch;
            events.push(Event::LeaderChanged {
                leader_id: state.leader_id,
                leader_epoch: state.leader_epoch,
            });
        }

        if !state.replicas.contains(&self.local_id) {
            self.role = Role::Stopped;
            self.leave_leadership(&mut events);
        } else if state.leader_id == Some(self.local_id) {
            self.role = Role::Leader;
            if new_leader_epoch || !was_leader {
                self.start_leader_epoch(was_leader, now_ms, &mut events);
            } else {
                self.match_followers_to_replicas();
            }
            events.extend(self.maybe_advance_high_watermark());
        } else {
            self.role = Role::Follower;
            self.leave_leadership(&mut events);
        }
        StateUpdate::Applied(events)
    }

    /// The broker ids that must not join the ISR (KIP-841: fenced brokers and brokers in
    /// controlled shutdown), from the metadata image.
    pub fn set_isr_ineligible(&mut self, brokers: impl IntoIterator<Item = i32>) {
        self.isr_ineligible = brokers.into_iter().collect();
    }

    /// The current registration epoch of each registered broker, from the metadata image
    /// (KIP-903). A follower whose last fetch named another epoch (it restarted and
    /// registered again, or the image is behind) does not join the ISR; this broker's own
    /// entry is the epoch it sends for itself in AlterPartition. Brokers missing here are
    /// not checked (the controller checks every member anyway).
    pub fn set_broker_epochs(&mut self, epochs: impl IntoIterator<Item = (i32, i64)>) {
        self.broker_epochs = epochs.into_iter().collect();
    }

    /// A new leader epoch led by this broker: it starts at the log end; what the leader
    /// knew of followers is forgotten. ISR members get a full lag period from now when
    /// leadership is new (Kafka's reset), and keep their last caught-up time on a re-election.
    fn start_leader_epoch(&mut self, was_leader: bool, now_ms: u64, events: &mut Vec<Event>) {
        let start_offset = self.log_end_offset;
        self.leader_epoch_start_offset = Some(start_offset);
        events.push(Event::LeaderEpochStarted {
            epoch: self.leader_epoch,
            start_offset,
        });
        let previous = std::mem::take(&mut self.followers);
        for &id in &self.replicas {
            if id == self.local_id {
                continue;
            }
            let last_caught_up = if was_leader {
                previous
                    .get(&id)
                    .map_or(0, FollowerProgress::last_caught_up_time_ms)
            } else if self.isr.committed_isr().contains(&id) {
                now_ms
            } else {
                0
            };
            self.followers
                .insert(id, FollowerProgress::new(last_caught_up));
        }
    }

    /// Same leader epoch, new replica set: keep what is known of remaining followers.
    fn match_followers_to_replicas(&mut self) {
        let mut previous = std::mem::take(&mut self.followers);
        let followers: BTreeMap<i32, FollowerProgress> = self
            .replicas
            .iter()
            .filter(|&&id| id != self.local_id)
            .map(|&id| {
                let progress = previous.remove(&id).unwrap_or(FollowerProgress::new(0));
                (id, progress)
            })
            .collect();
        self.followers = followers;
    }

    /// No longer leading: forget followers, fail waiting produce requests.
    fn leave_leadership(&mut self, events: &mut Vec<Event>) {
        self.followers.clear();
        self.leader_epoch_start_offset = None;
        let error = self.not_leader();
        events.extend(
            self.waiters
                .take_all()
                .into_iter()
                .map(|id| Event::ProduceCompleted {
                    id,
                    result: Err(error),
                }),
        );
    }
}
