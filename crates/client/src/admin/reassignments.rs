//! `Admin::alter_partition_reassignments` and `Admin::list_partition_reassignments`
//! (KIP-455): start, change or cancel the move of partitions' replicas, and list the moves
//! in progress. Both go to the controller (any broker forwards them).

use vltava_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use vltava_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use vltava_protocol::messages::{
    AlterPartitionReassignmentsRequest, ListPartitionReassignmentsRequest,
};

use super::{Admin, ms};
use crate::error::{ClientError, Result, check};

/// One partition's reassignment in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OngoingReassignment {
    pub topic: String,
    pub partition: i32,
    /// The replicas now: the target, then those being removed.
    pub replicas: Vec<i32>,
    pub adding: Vec<i32>,
    pub removing: Vec<i32>,
}

/// Groups `(topic, partition, value)` by topic, keeping the first appearance order.
fn by_topic<T: Clone>(items: &[(String, i32, T)]) -> Vec<(String, Vec<(i32, T)>)> {
    let mut out: Vec<(String, Vec<(i32, T)>)> = Vec::new();
    for (topic, partition, v) in items {
        match out.iter_mut().find(|(t, _)| t == topic) {
            Some((_, parts)) => parts.push((*partition, v.clone())),
            None => out.push((topic.clone(), vec![(*partition, v.clone())])),
        }
    }
    out
}

impl Admin {
    /// Moves each `(topic, partition)` to its replicas (`None`: cancels its reassignment).
    /// One result per partition, in request order.
    pub async fn alter_partition_reassignments(
        &self,
        moves: &[(String, i32, Option<Vec<i32>>)],
    ) -> Result<Vec<(String, i32, Result<()>)>> {
        let req = AlterPartitionReassignmentsRequest {
            timeout_ms: ms(&self.cluster),
            topics: by_topic(moves)
                .into_iter()
                .map(|(name, parts)| ReassignableTopic {
                    name: name.into(),
                    partitions: parts
                        .into_iter()
                        .map(|(partition_index, replicas)| ReassignablePartition {
                            partition_index,
                            replicas,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let resp = self.cluster.send_controller(req).await?;
        check(
            resp.error_code,
            || "reassigning partitions".into(),
            resp.error_message.as_deref(),
        )?;
        let mut out = Vec::new();
        for t in &resp.responses {
            for p in &t.partitions {
                let r = check(
                    p.error_code,
                    || format!("reassigning {}-{}", t.name.as_str(), p.partition_index),
                    p.error_message.as_deref(),
                );
                out.push((t.name.to_string(), p.partition_index, r));
            }
        }
        if out.len() != moves.len() {
            return Err(ClientError::Protocol(format!(
                "{} results for {} partitions",
                out.len(),
                moves.len()
            )));
        }
        Ok(out)
    }

    /// The reassignments in progress: of every partition (`None`) or of those named.
    pub async fn list_partition_reassignments(
        &self,
        partitions: Option<&[(String, i32)]>,
    ) -> Result<Vec<OngoingReassignment>> {
        let topics = partitions.map(|named| {
            let tagged: Vec<(String, i32, ())> =
                named.iter().map(|(t, p)| (t.clone(), *p, ())).collect();
            by_topic(&tagged)
                .into_iter()
                .map(|(name, parts)| ListPartitionReassignmentsTopics {
                    name: name.into(),
                    partition_indexes: parts.into_iter().map(|(p, ())| p).collect(),
                    ..Default::default()
                })
                .collect()
        });
        let req = ListPartitionReassignmentsRequest {
            timeout_ms: ms(&self.cluster),
            topics,
            ..Default::default()
        };
        let resp = self.cluster.send_controller(req).await?;
        check(
            resp.error_code,
            || "listing partition reassignments".into(),
            resp.error_message.as_deref(),
        )?;
        let mut out = Vec::new();
        for t in &resp.topics {
            for p in &t.partitions {
                out.push(OngoingReassignment {
                    topic: t.name.to_string(),
                    partition: p.partition_index,
                    replicas: p.replicas.clone(),
                    adding: p.adding_replicas.clone(),
                    removing: p.removing_replicas.clone(),
                });
            }
        }
        out.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(out)
    }
}
