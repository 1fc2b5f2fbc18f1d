//! The AlterPartition exchange as a partition leader makes it (the broker's sender and the
//! simulator's brokers): one ISR change of one partition in the shape the controller runs
//! and forwards (topic ids and `NewIsrWithEpochs`, KIP-903), and that partition's answer.

use vltava_protocol::Uuid;
use vltava_protocol::messages::alter_partition_request::{BrokerState, PartitionData, TopicData};
use vltava_protocol::messages::{AlterPartitionRequest, AlterPartitionResponse};

use crate::error::codes;

/// One proposed ISR change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrChangeRequest {
    /// The proposing leader and its broker epoch.
    pub broker_id: i32,
    pub broker_epoch: i64,
    pub topic_id: Uuid,
    pub partition: i32,
    /// The leader epoch and partition epoch the proposal was computed from (the
    /// controller's compare-and-set).
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// The new ISR: each member with its broker epoch as the leader knows it (-1: unknown).
    pub new_isr_with_epochs: Vec<(i32, i64)>,
}

impl IsrChangeRequest {
    /// The request.
    pub fn to_request(&self) -> AlterPartitionRequest {
        AlterPartitionRequest {
            broker_id: self.broker_id,
            broker_epoch: self.broker_epoch,
            topics: vec![TopicData {
                topic_id: self.topic_id,
                partitions: vec![PartitionData {
                    partition_index: self.partition,
                    leader_epoch: self.leader_epoch,
                    new_isr_with_epochs: self
                        .new_isr_with_epochs
                        .iter()
                        .map(|&(broker_id, broker_epoch)| BrokerState {
                            broker_id,
                            broker_epoch,
                            ..Default::default()
                        })
                        .collect(),
                    partition_epoch: self.partition_epoch,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    /// This partition's answer in `resp`: the committed (leader epoch, partition epoch), or
    /// the error code (the request-level one first; UNKNOWN_SERVER_ERROR when the answer
    /// does not mention the partition, which the replica resends).
    pub fn answer(&self, resp: &AlterPartitionResponse) -> Result<(i32, i32), i16> {
        if resp.error_code != codes::NONE {
            return Err(resp.error_code);
        }
        let found = resp
            .topics
            .iter()
            .filter(|t| t.topic_id == self.topic_id)
            .flat_map(|t| t.partitions.iter())
            .find(|p| p.partition_index == self.partition);
        match found {
            Some(p) if p.error_code == codes::NONE => Ok((p.leader_epoch, p.partition_epoch)),
            Some(p) => Err(p.error_code),
            None => Err(codes::UNKNOWN_SERVER_ERROR),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_protocol::messages::alter_partition_response::{
        PartitionData as AnswerPartition, TopicData as AnswerTopic,
    };

    fn change() -> IsrChangeRequest {
        IsrChangeRequest {
            broker_id: 1,
            broker_epoch: 7,
            topic_id: Uuid::from_u128(9),
            partition: 2,
            leader_epoch: 3,
            partition_epoch: 4,
            new_isr_with_epochs: vec![(1, 7), (2, -1)],
        }
    }

    fn answer(top: i16, partitions: Vec<AnswerPartition>) -> AlterPartitionResponse {
        AlterPartitionResponse {
            error_code: top,
            topics: vec![AnswerTopic {
                topic_id: Uuid::from_u128(9),
                partitions,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn the_request_carries_the_change_and_the_answer_is_read_back() {
        let c = change();
        let req = c.to_request();
        let p = &req.topics[0].partitions[0];
        assert_eq!((req.broker_id, req.broker_epoch), (1, 7));
        assert_eq!(
            (p.partition_index, p.leader_epoch, p.partition_epoch),
            (2, 3, 4)
        );
        let members: Vec<(i32, i64)> = p
            .new_isr_with_epochs
            .iter()
            .map(|m| (m.broker_id, m.broker_epoch))
            .collect();
        assert_eq!(members, vec![(1, 7), (2, -1)]);

        let ok = AnswerPartition {
            partition_index: 2,
            leader_epoch: 3,
            partition_epoch: 5,
            ..Default::default()
        };
        assert_eq!(c.answer(&answer(0, vec![ok.clone()])), Ok((3, 5)));
        let refused = AnswerPartition {
            error_code: 95,
            ..ok.clone()
        };
        assert_eq!(c.answer(&answer(0, vec![refused])), Err(95));
        assert_eq!(
            c.answer(&answer(codes::NOT_CONTROLLER, vec![ok])),
            Err(codes::NOT_CONTROLLER)
        );
        assert_eq!(
            c.answer(&answer(0, Vec::new())),
            Err(codes::UNKNOWN_SERVER_ERROR)
        );
    }
}
