//! The follower's side of the seam: which partitions to fetch from which
//! leader (and from where, with which epochs), and applying a leader's answer:
//! truncation on a diverging epoch (KIP-320), appending the fetched batches with
//! their offsets, and the leader's high watermark.

use std::collections::BTreeSet;

use vltava_protocol::Uuid;
use vltava_protocol::messages::fetch_response::PartitionData;
use vltava_records::BatchIter;
use vltava_replication::{EpochEndOffset, FetchPosition, FetchResult, Role};

use super::log_epochs::{LogEpochs, offset};
use super::{ReplicaManager, ReplicaRequestError};

/// One partition to fetch from its leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowTarget {
    pub topic: String,
    pub partition: i32,
    pub topic_id: Uuid,
    pub position: FetchPosition,
}

/// What applying a leader's answer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowOutcome {
    /// Records appended (maybe none) and the high watermark taken.
    Appended {
        /// Bytes of batches appended.
        bytes: usize,
    },
    /// The log was cut at a diverging epoch; fetch again.
    Truncated,
    /// The answer was for a position this replica no longer fetches from.
    Stale,
    /// The leader answered this Kafka error for the partition.
    Error(i16),
}

/// The whole batches of `records` that start at or after `from`.
fn batches_from(records: &[u8], from: i64) -> &[u8] {
    let mut start = None;
    let mut end = 0;
    let mut pos = 0;
    for view in BatchIter::new(records) {
        let Ok(view) = view else { break };
        let len = view.bytes().len();
        if view.header().base_offset >= from && start.is_none() {
            start = Some(pos);
        }
        pos += len;
        if start.is_some() {
            end = pos;
        }
    }
    match start {
        Some(s) => &records[s..end],
        None => &[],
    }
}

impl ReplicaManager {
    /// The leaders this broker follows partitions of.
    pub fn leaders_to_follow(&self) -> BTreeSet<i32> {
        self.all()
            .iter()
            .filter_map(|h| {
                let cell = h.lock();
                match cell.replica.role() {
                    Role::Follower => cell.replica.leader_id(),
                    _ => None,
                }
            })
            .filter(|&l| l != self.node_id)
            .collect()
    }

    /// The partitions to fetch from `leader` and each fetch position.
    pub fn fetch_targets(&self, leader: i32) -> Vec<FollowTarget> {
        let mut out = Vec::new();
        for h in self.all() {
            let cell = h.lock();
            if cell.replica.leader_id() != Some(leader) {
                continue;
            }
            let log = h.partition.log();
            if let Some(position) = cell.replica.fetch_position(&LogEpochs(&log)) {
                out.push(FollowTarget {
                    topic: h.topic.clone(),
                    partition: h.index,
                    topic_id: cell.topic_id,
                    position,
                });
            }
        }
        out
    }

    /// Applies the leader's answer for `target`. Answers for a position the
    /// replica has moved on from (a new leader or epoch, a truncation) are
    /// ignored.
    pub fn on_fetch_data(
        &self,
        target: &FollowTarget,
        data: &PartitionData,
    ) -> Result<FollowOutcome, ReplicaRequestError> {
        let hosted = self
            .get(&target.topic, target.partition)
            .ok_or(ReplicaRequestError::NotHosted)?;
        let mut cell = hosted.lock();
        let mut log = hosted.partition.log();
        if cell.replica.fetch_position(&LogEpochs(&log)) != Some(target.position) {
            return Ok(FollowOutcome::Stale);
        }
        if data.error_code == crate::error_codes::OFFSET_OUT_OF_RANGE && data.log_start_offset >= 0
        {
            let result = FetchResult::OutOfRange {
                leader_log_start_offset: offset(data.log_start_offset),
            };
            let events = cell
                .replica
                .on_fetch_response(&target.position, result, &LogEpochs(&log));
            if events.is_empty() {
                return Ok(FollowOutcome::Error(data.error_code));
            }
            hosted.perform(&mut cell, &mut log, events, self);
            return Ok(FollowOutcome::Truncated);
        }
        if data.error_code != 0 {
            return Ok(FollowOutcome::Error(data.error_code));
        }
        let diverging = &data.diverging_epoch;
        if diverging.epoch >= 0 && diverging.end_offset >= 0 {
            let result = FetchResult::Diverging(EpochEndOffset {
                epoch: diverging.epoch,
                end_offset: offset(diverging.end_offset),
            });
            let events = cell
                .replica
                .on_fetch_response(&target.position, result, &LogEpochs(&log));
            hosted.perform(&mut cell, &mut log, events, self);
            return Ok(FollowOutcome::Truncated);
        }
        let records = data.records.as_deref().unwrap_or(&[]);
        let batches = batches_from(records, log.log_end_offset());
        if !batches.is_empty() {
            log.append_as_follower(batches)?;
        }
        let result = FetchResult::Appended {
            log_end_offset: offset(log.log_end_offset()),
            leader_high_watermark: offset(data.high_watermark),
        };
        let events = cell
            .replica
            .on_fetch_response(&target.position, result, &LogEpochs(&log));
        hosted.perform(&mut cell, &mut log, events, self);
        // A follower's high watermark may also move back (it takes the leader's).
        let hw = cell.replica.high_watermark();
        log.set_high_watermark(i64::try_from(hw).unwrap_or(i64::MAX));
        // The leader's log start moved up (retention, DeleteRecords): so does this one's, up
        // to its high watermark, as Kafka's follower does.
        let start = data.log_start_offset.min(log.high_watermark());
        if start > log.log_start_offset()
            && let Err(e) = log.delete_records_before(start)
        {
            tracing::warn!(topic = %target.topic, partition = target.partition, start, error = %e, "cannot move the follower's log start");
        }
        Ok(FollowOutcome::Appended {
            bytes: batches.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_records::{BatchBuilder, BatchBuilderConfig};

    fn batch_at(base: i64, n: usize) -> Vec<u8> {
        let mut b = BatchBuilder::new(BatchBuilderConfig::default());
        for _ in 0..n {
            b.append(1, Some(b"k"), Some(b"v"), &[]).unwrap();
        }
        let mut bytes = b.build().unwrap().to_vec();
        bytes[..8].copy_from_slice(&base.to_be_bytes());
        bytes
    }

    #[test]
    fn only_whole_batches_from_the_log_end() {
        let mut all = batch_at(0, 2);
        let second = batch_at(2, 3);
        all.extend_from_slice(&second);
        assert_eq!(batches_from(&all, 0).len(), all.len());
        assert_eq!(batches_from(&all, 2), &second[..]);
        assert!(batches_from(&all, 5).is_empty());
        let torn = &all[..all.len() - 1];
        assert_eq!(
            batches_from(torn, 0),
            &all[..all.len() - second.len()],
            "the torn batch is left out"
        );
    }
}
