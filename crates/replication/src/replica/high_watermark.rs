//! The leader's high watermark: the smallest log end offset over the maximal ISR, never
//! lowered while leading; each rise completes the produce requests it satisfies.

use super::{Replica, Role};
use crate::error::ReplicaError;
use crate::event::Event;

impl Replica {
    /// Raises the high watermark to the smallest log end offset over the maximal ISR
    /// (KIP-497: a pending addition counts, a pending removal does not yet). A member whose
    /// log end is unknown since this leader epoch began holds it where it is.
    pub(super) fn maybe_advance_high_watermark(&mut self) -> Vec<Event> {
        if self.role != Role::Leader {
            return Vec::new();
        }
        let mut candidate = self.log_end_offset;
        for id in self.isr.maximal_isr() {
            if id == self.local_id {
                continue;
            }
            match self
                .followers
                .get(&id)
                .and_then(|progress| progress.log_end_offset())
            {
                Some(follower_end) => candidate = candidate.min(follower_end),
                None => return Vec::new(),
            }
        }
        if candidate <= self.high_watermark {
            return Vec::new();
        }
        self.high_watermark = candidate;
        let mut events = vec![Event::HighWatermarkAdvanced(candidate)];
        let result = self.replicated_result();
        events.extend(
            self.waiters
                .take_reached(candidate)
                .into_iter()
                .map(|(id, _)| Event::ProduceCompleted { id, result }),
        );
        events
    }

    /// Kafka's verdict on an acks=all request whose records reached the high watermark:
    /// fine if the maximal ISR still meets `min.insync.replicas`, else
    /// NOT_ENOUGH_REPLICAS_AFTER_APPEND (judged now, at completion).
    pub(super) fn replicated_result(&self) -> Result<(), ReplicaError> {
        if self.isr.maximal_isr().len() >= self.config.min_insync_replicas {
            Ok(())
        } else {
            Err(ReplicaError::NotEnoughReplicasAfterAppend)
        }
    }
}
