//! The lookup every per-partition request starts with (DeleteRecords, ListOffsets,
//! OffsetForLeaderEpoch, DescribeProducers, Produce): for each topic, for each partition,
//! is the partition in the metadata (else UNKNOWN_TOPIC_OR_PARTITION), and does this
//! broker have its log open (else NOT_LEADER_OR_FOLLOWER). A handler takes one
//! [`Partitions`] for the request and maps each topic's partitions with
//! [`Partitions::each`], which hands the handler's closure the partition found or the
//! [`Refused`] to answer; what the handler then asks the log stays its own.

use std::sync::Arc;

use crate::broker::Broker;
use crate::error_codes::*;
use crate::metadata_view::MetadataView;
use crate::partitions::Partition;
use vltava_raft::{PartitionImage, TopicImage};

/// Why a requested partition is not served here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The metadata has no such topic or partition.
    Unknown,
    /// The partition exists, but this broker has no open log for it.
    NotHosted,
}

impl Refused {
    /// The error code the partition is answered with.
    pub fn code(self) -> i16 {
        match self {
            Refused::Unknown => UNKNOWN_TOPIC_OR_PARTITION,
            Refused::NotHosted => NOT_LEADER_OR_FOLLOWER,
        }
    }

    /// The message for the responses that carry one.
    pub fn message(self) -> &'static str {
        match self {
            Refused::Unknown => "this topic-partition does not exist",
            Refused::NotHosted => "this broker does not host the partition",
        }
    }
}

/// A requested partition this broker hosts.
#[derive(Debug)]
pub struct Found<'a> {
    /// Its topic in the metadata.
    pub topic: &'a TopicImage,
    /// Its metadata (leader, epoch, replicas).
    pub meta: &'a PartitionImage,
    /// Its open log.
    pub partition: Arc<Partition>,
}

/// The partitions of one request: the broker and the metadata it was answered from.
#[derive(Debug)]
pub struct Partitions<'b> {
    broker: &'b Broker,
    metadata: MetadataView,
}

impl<'b> Partitions<'b> {
    /// The partitions as `broker` sees them now.
    pub fn new(broker: &'b Broker) -> Self {
        Partitions {
            broker,
            metadata: broker.metadata(),
        }
    }

    /// The metadata the request is answered from.
    pub fn metadata(&self) -> &MetadataView {
        &self.metadata
    }

    /// `topic`-`index` in the metadata.
    pub fn known(
        &self,
        topic: &str,
        index: i32,
    ) -> Result<(&TopicImage, &PartitionImage), Refused> {
        self.metadata
            .topic(topic)
            .and_then(|t| t.partitions.get(&index).map(|p| (t, p)))
            .ok_or(Refused::Unknown)
    }

    /// `topic`-`index` in the metadata, with its open log.
    pub fn hosted(&self, topic: &str, index: i32) -> Result<Found<'_>, Refused> {
        let (t, meta) = self.known(topic, index)?;
        let partition = self
            .broker
            .partitions
            .get(topic, index)
            .ok_or(Refused::NotHosted)?;
        Ok(Found {
            topic: t,
            meta,
            partition,
        })
    }

    /// One answer per item of `items` (the partitions a request names under `topic`,
    /// `index` giving each one's partition index), from `answer` given the item and
    /// [`Partitions::hosted`] for it.
    pub fn each<P, R>(
        &self,
        topic: &str,
        items: &[P],
        index: impl Fn(&P) -> i32,
        mut answer: impl FnMut(&P, Result<Found<'_>, Refused>) -> R,
    ) -> Vec<R> {
        items
            .iter()
            .map(|p| answer(p, self.hosted(topic, index(p))))
            .collect()
    }
}
