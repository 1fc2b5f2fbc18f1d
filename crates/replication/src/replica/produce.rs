//! The produce path on the leader: the min-ISR check before an append, the local append,
//! and the acks=all wait after it (completion, bound, timeout).

use super::Replica;
use crate::acks::Acks;
use crate::error::ReplicaError;
use crate::event::Event;
use crate::produce_waiters::ProduceId;

/// What [`Replica::after_append`] decided for a produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum ProduceWait {
    /// Answer now with this.
    Done(Result<(), ReplicaError>),
    /// Wait for [`crate::Event::ProduceCompleted`] with this id.
    Waiting(ProduceId),
}

impl Replica {
    /// Checks a produce request before its records are appended: this broker must lead, and
    /// for acks=all the committed ISR must have `min.insync.replicas` members
    /// (NOT_ENOUGH_REPLICAS) and the waiter table room for one more (REQUEST_TIMED_OUT,
    /// which clients retry). Nothing is appended when this fails.
    pub fn check_append(&self, acks: Acks) -> Result<(), ReplicaError> {
        self.check_leader(None)?;
        if acks == Acks::All {
            if self.isr.committed_isr().len() < self.config.min_insync_replicas {
                return Err(ReplicaError::NotEnoughReplicas);
            }
            if self.waiters.is_full() {
                return Err(ReplicaError::RequestTimedOut);
            }
        }
        Ok(())
    }

    /// The local log now ends at `new_log_end_offset` (after a leader append, or a follower
    /// append of fetched records). The log end never moves back here (only
    /// [`Event::Truncate`] shortens it). On a leader the high watermark may rise.
    #[must_use]
    pub fn on_local_append(&mut self, new_log_end_offset: u64) -> Vec<Event> {
        self.log_end_offset = self.log_end_offset.max(new_log_end_offset);
        self.maybe_advance_high_watermark()
    }

    /// After appending a produce request's records (call [`Replica::on_local_append`]
    /// first): acks 0 and 1 are done; acks=all is done once the high watermark reaches
    /// `required_offset` (the batch's last offset + 1), else waits until `deadline_ms`.
    pub fn after_append(
        &mut self,
        acks: Acks,
        required_offset: u64,
        deadline_ms: u64,
    ) -> Result<ProduceWait, ReplicaError> {
        self.check_leader(None)?;
        if acks != Acks::All {
            return Ok(ProduceWait::Done(Ok(())));
        }
        if self.high_watermark >= required_offset {
            return Ok(ProduceWait::Done(self.replicated_result()));
        }
        self.waiters
            .register(required_offset, deadline_ms)
            .map(ProduceWait::Waiting)
            .map_err(|_| ReplicaError::RequestTimedOut)
    }

    /// Fails waiting produce requests whose deadline has passed with REQUEST_TIMED_OUT.
    pub(super) fn expire_waiters(&mut self, now_ms: u64) -> Vec<Event> {
        self.waiters
            .take_expired(now_ms)
            .into_iter()
            .map(|id| Event::ProduceCompleted {
                id,
                result: Err(ReplicaError::RequestTimedOut),
            })
            .collect()
    }
}
