//! Sends the replicas' ISR changes (AlterPartition, KIP-497) to the active
//! controller, one at a time in the order they were proposed, and hands each
//! answer back to the replica (accepted: the ISR is committed; refused: Kafka's
//! handling by error code). A failed answer is handed back after a short pause,
//! so a replica that resends does not spin.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use vltava_protocol::messages::AlterPartitionResponse;
use vltava_raft::alter_partition_wire::IsrChangeRequest;
use vltava_replication::AlterPartitionResult;

use crate::broker::Broker;
use crate::replica_manager::AlterRequest;

/// Pause before a failed answer goes back to its replica.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

/// The ISR change of `r`, from broker `broker_id` at `broker_epoch`, with each member's
/// broker epoch as the leader's replica knows it (KIP-903).
fn change(r: &AlterRequest, broker_id: i32, broker_epoch: i64) -> IsrChangeRequest {
    let p = &r.proposal;
    IsrChangeRequest {
        broker_id,
        broker_epoch,
        topic_id: r.topic_id,
        partition: r.partition,
        leader_epoch: p.leader_epoch,
        partition_epoch: p.partition_epoch,
        new_isr_with_epochs: p.wire_isr(),
    }
}

/// The replica's view of the answer.
fn result(change: &IsrChangeRequest, resp: &AlterPartitionResponse) -> AlterPartitionResult {
    change.answer(resp).into()
}

/// Starts the sender; `None` if it runs already.
pub fn spawn(broker: &Arc<Broker>) -> Option<JoinHandle<()>> {
    let mut rx = broker.replicas.take_alter_requests()?;
    let weak = Arc::downgrade(broker);
    Some(tokio::spawn(async move {
        while let Some(r) = rx.recv().await {
            let Some(b) = weak.upgrade() else { return };
            let Some(controller) = b.controller().cloned() else {
                continue;
            };
            let node = b.config.node_id;
            let epoch = controller
                .image()
                .brokers
                .get(&node)
                .map_or(-1, |x| x.epoch);
            drop(b);
            let change = change(&r, node, epoch);
            let resp = controller.alter_partition(change.to_request()).await;
            let outcome = result(&change, &resp);
            tracing::info!(topic = %r.topic, partition = r.partition, isr = ?r.proposal.new_isr, ?outcome, "AlterPartition");
            if matches!(outcome, AlterPartitionResult::Failed { .. }) {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            let Some(b) = weak.upgrade() else { return };
            // The broker applies the committed image first, so the replica sees
            // the new partition epoch from both sides.
            crate::metadata_sync::sync_now(&b);
            b.replicas.on_alter_partition_result(&r, outcome);
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_protocol::Uuid;
    use vltava_protocol::messages::alter_partition_response;
    use vltava_replication::{AlterPartitionProposal, IsrChange, IsrMember};

    fn req() -> AlterRequest {
        AlterRequest {
            topic: "t".into(),
            partition: 2,
            topic_id: Uuid::from_u128(5),
            proposal: AlterPartitionProposal {
                leader_id: 1,
                leader_epoch: 3,
                partition_epoch: 7,
                new_isr: vec![1, 2],
                new_isr_with_epochs: vec![
                    IsrMember {
                        broker_id: 1,
                        broker_epoch: Some(42),
                    },
                    IsrMember {
                        broker_id: 2,
                        broker_epoch: None,
                    },
                ],
                change: IsrChange::Expand(2),
            },
        }
    }

    fn answer(top: i16, partition_code: i16) -> AlterPartitionResponse {
        AlterPartitionResponse {
            error_code: top,
            topics: vec![alter_partition_response::TopicData {
                topic_id: Uuid::from_u128(5),
                partitions: vec![alter_partition_response::PartitionData {
                    partition_index: 2,
                    error_code: partition_code,
                    leader_id: 1,
                    leader_epoch: 3,
                    isr: vec![1, 2],
                    partition_epoch: 8,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn the_request_carries_the_proposal() {
        let r = change(&req(), 1, 42).to_request();
        let p = &r.topics[0].partitions[0];
        assert_eq!((r.broker_id, r.broker_epoch), (1, 42));
        assert_eq!(
            (p.partition_index, p.leader_epoch, p.partition_epoch),
            (2, 3, 7)
        );
        assert!(p.new_isr.is_empty(), "v3 carries only NewIsrWithEpochs");
        let members: Vec<(i32, i64)> = p
            .new_isr_with_epochs
            .iter()
            .map(|b| (b.broker_id, b.broker_epoch))
            .collect();
        assert_eq!(members, vec![(1, 42), (2, -1)], "KIP-903 broker epochs");
    }

    #[test]
    fn answers_map_to_results() {
        assert_eq!(
            result(&change(&req(), 1, 42), &answer(0, 0)),
            AlterPartitionResult::Accepted {
                leader_epoch: 3,
                partition_epoch: 8
            }
        );
        assert_eq!(
            result(&change(&req(), 1, 42), &answer(0, 95)),
            AlterPartitionResult::Failed { error_code: 95 }
        );
        assert_eq!(
            result(&change(&req(), 1, 42), &answer(41, 0)),
            AlterPartitionResult::Failed { error_code: 41 }
        );
        let mut other = answer(0, 0);
        other.topics[0].partitions[0].partition_index = 9;
        assert_eq!(
            result(&change(&req(), 1, 42), &other),
            AlterPartitionResult::Failed { error_code: -1 }
        );
    }
}
