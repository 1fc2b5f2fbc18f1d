//! Replica placement for new partitions (round-robin over live brokers) and validation of
//! manual replica assignments.

use super::TopicError;
use crate::error::codes;
use crate::image::MetadataImage;

/// Replica lists for `count` partitions of replication factor `rf` over `live` brokers
/// (sorted ids), starting at partition index `first`. Partition p gets `rf` consecutive
/// brokers starting at position p, so leaders spread evenly.
pub fn place_replicas(
    live: &[i32],
    count: i32,
    rf: i16,
    first: i32,
) -> Result<Vec<Vec<i32>>, TopicError> {
    let rf_usize = usize::try_from(rf).unwrap_or(0);
    if rf_usize == 0 || rf_usize > live.len() {
        return Err(TopicError::new(
            codes::INVALID_REPLICATION_FACTOR,
            format!(
                "Unable to replicate the partition {rf} time(s): The target replication factor of {rf} cannot be reached because only {} broker(s) are registered.",
                live.len()
            ),
        ));
    }
    let n = live.len();
    Ok((0..count)
        .map(|i| {
            let start = usize::try_from(first + i).unwrap_or(0) % n;
            (0..rf_usize).map(|j| live[(start + j) % n]).collect()
        })
        .collect())
}

/// Checks one manual replica list: non-empty, no duplicates, only registered brokers.
pub fn validate_assignment(image: &MetadataImage, replicas: &[i32]) -> Result<(), TopicError> {
    if replicas.is_empty() {
        return Err(TopicError::new(
            codes::INVALID_REPLICA_ASSIGNMENT,
            "The manual partition assignment includes an empty replica list.",
        ));
    }
    for (i, b) in replicas.iter().enumerate() {
        if replicas[..i].contains(b) {
            return Err(TopicError::new(
                codes::INVALID_REPLICA_ASSIGNMENT,
                format!("The manual partition assignment includes the broker {b} more than once."),
            ));
        }
        if !image.brokers.contains_key(b) {
            return Err(TopicError::new(
                codes::INVALID_REPLICA_ASSIGNMENT,
                format!(
                    "The manual partition assignment includes broker {b}, but no such broker is registered."
                ),
            ));
        }
    }
    Ok(())
}
