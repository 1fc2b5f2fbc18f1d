//! Admin calls about transactions (what `kafka-transactions.sh` shows):
//! `list_transactions` (ListTransactions on every broker), `describe_transaction`
//! (DescribeTransactions at the id's coordinator) and `describe_producers`
//! (DescribeProducers at a partition's leader).

use vltava_protocol::messages::describe_producers_request::TopicRequest;
use vltava_protocol::messages::{
    DescribeProducersRequest, DescribeTransactionsRequest, ListTransactionsRequest,
};

use super::{Admin, TXN_KEY_TYPE, find_coordinator};
use crate::error::{ClientError, Result, check};

/// One transaction as ListTransactions reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionListing {
    pub transactional_id: String,
    /// The broker that answered (its coordinator).
    pub coordinator_id: i32,
    pub producer_id: i64,
    pub state: String,
}

/// One transactional id in detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    pub coordinator_id: i32,
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub state: String,
    pub timeout_ms: i32,
    /// -1 when no transaction is open.
    pub start_time_ms: i64,
    pub partitions: Vec<(String, i32)>,
}

/// A producer writing to one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerDescription {
    pub producer_id: i64,
    pub producer_epoch: i32,
    pub last_sequence: i32,
    pub last_timestamp: i64,
    pub coordinator_epoch: i32,
    /// First offset of its open transaction, -1 if none.
    pub current_txn_start_offset: i64,
}

impl Admin {
    /// Every transactional id known to the cluster's coordinators.
    pub async fn list_transactions(&self) -> Result<Vec<TransactionListing>> {
        let meta = self.cluster.refresh(&[]).await?;
        let mut out = Vec::new();
        for id in meta.brokers.keys() {
            let resp = self
                .cluster
                .send_to(*id, ListTransactionsRequest::default())
                .await?;
            check(
                resp.error_code,
                || format!("ListTransactions on broker {id}"),
                None,
            )?;
            out.extend(resp.transaction_states.iter().map(|t| TransactionListing {
                transactional_id: t.transactional_id.to_string(),
                coordinator_id: *id,
                producer_id: t.producer_id,
                state: t.transaction_state.to_string(),
            }));
        }
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        Ok(out)
    }

    /// The state of one transactional id, from its coordinator.
    pub async fn describe_transaction(
        &self,
        transactional_id: &str,
    ) -> Result<TransactionDescription> {
        let (coordinator_id, conn) =
            find_coordinator(&self.cluster, transactional_id, TXN_KEY_TYPE).await?;
        let resp = conn
            .send(DescribeTransactionsRequest {
                transactional_ids: vec![transactional_id.into()],
                ..Default::default()
            })
            .await?;
        let t = resp
            .transaction_states
            .iter()
            .find(|t| t.transactional_id.as_str() == transactional_id)
            .ok_or_else(|| ClientError::Protocol("no such id in the answer".into()))?;
        check(
            t.error_code,
            || format!("describing {transactional_id}"),
            None,
        )?;
        Ok(TransactionDescription {
            coordinator_id,
            transactional_id: transactional_id.to_string(),
            producer_id: t.producer_id,
            producer_epoch: t.producer_epoch,
            state: t.transaction_state.to_string(),
            timeout_ms: t.transaction_timeout_ms,
            start_time_ms: t.transaction_start_time_ms,
            partitions: t
                .topics
                .iter()
                .flat_map(|x| x.partitions.iter().map(|p| (x.topic.to_string(), *p)))
                .collect(),
        })
    }

    /// The producers that wrote to `topic`-`partition`, from its leader.
    pub async fn describe_producers(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Vec<ProducerDescription>> {
        let meta = self.cluster.refresh(&[topic.to_string()]).await?;
        let leader = meta
            .leader(topic, partition)
            .ok_or_else(|| ClientError::UnknownTopic(format!("{topic}-{partition}")))?;
        let resp = self
            .cluster
            .send_to(
                leader,
                DescribeProducersRequest {
                    topics: vec![TopicRequest {
                        name: topic.into(),
                        partition_indexes: vec![partition],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )
            .await?;
        let p = resp
            .topics
            .iter()
            .flat_map(|t| t.partitions.iter())
            .find(|p| p.partition_index == partition)
            .ok_or_else(|| ClientError::Protocol("no such partition in the answer".into()))?;
        check(
            p.error_code,
            || format!("describing producers of {topic}-{partition}"),
            p.error_message.as_deref(),
        )?;
        Ok(p.active_producers
            .iter()
            .map(|s| ProducerDescription {
                producer_id: s.producer_id,
                producer_epoch: s.producer_epoch,
                last_sequence: s.last_sequence,
                last_timestamp: s.last_timestamp,
                coordinator_epoch: s.coordinator_epoch,
                current_txn_start_offset: s.current_txn_start_offset,
            })
            .collect())
    }
}
