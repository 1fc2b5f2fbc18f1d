//! The transactional producer's side of Kafka transactions (KIP-98): finding the
//! transaction coordinator, `InitProducerId` with the `transactional.id`,
//! `AddPartitionsToTxn` before a partition's first record of a transaction,
//! `AddOffsetsToTxn` + `TxnOffsetCommit` for consume-transform-produce, and `EndTxn`.
//! Coordinator errors that mean "ask again" (loading, moved, concurrent
//! transactions) are retried with backoff until `max.block.ms`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use vltava_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use vltava_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use vltava_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, EndTxnRequest, InitProducerIdRequest,
    TxnOffsetCommitRequest,
};

use crate::admin::{TXN_KEY_TYPE, coordinator, find_coordinator};
use crate::api::ApiRequest;
use crate::cluster::Cluster;
use crate::connection::Connection;
use crate::consumer::Tp;
use crate::error::{ClientError, Result};
use crate::kafka_error::code;

/// Kafka's CONCURRENT_TRANSACTIONS: the previous EndTxn is still completing.
use vltava_protocol::error_codes::CONCURRENT_TRANSACTIONS;

/// Where a transactional producer is between calls.
#[derive(Debug, Default)]
pub(crate) struct TxnState {
    /// `begin_transaction` was called and the transaction is not ended yet.
    pub in_transaction: bool,
    /// Partitions already added to the open transaction.
    pub partitions: BTreeSet<Tp>,
    /// The coordinator knows of the open transaction (a partition or a group's
    /// offsets were added): only then does ending it need an EndTxn.
    pub started: bool,
}

/// Whether `code` means "ask (the coordinator, found anew) again later".
fn is_retried(code_: i16) -> bool {
    matches!(
        code_,
        code::COORDINATOR_NOT_AVAILABLE
            | code::NOT_COORDINATOR
            | code::COORDINATOR_LOAD_IN_PROGRESS
            | CONCURRENT_TRANSACTIONS
    )
}

/// Talks to the coordinator of one transactional id.
#[derive(Debug)]
pub(crate) struct TxnCoordinator {
    cluster: Arc<Cluster>,
    pub transactional_id: String,
    pub timeout_ms: i32,
    max_block: std::time::Duration,
}

impl TxnCoordinator {
    pub(crate) fn new(
        cluster: Arc<Cluster>,
        transactional_id: String,
        timeout_ms: i32,
        max_block: std::time::Duration,
    ) -> TxnCoordinator {
        TxnCoordinator {
            cluster,
            transactional_id,
            timeout_ms,
            max_block,
        }
    }

    async fn connection(&self) -> Result<Arc<Connection>> {
        let (_, conn) =
            find_coordinator(&self.cluster, &self.transactional_id, TXN_KEY_TYPE).await?;
        Ok(conn)
    }

    /// Sends `req` to the coordinator; `error_of` reads the answer's error code.
    /// Retries coordinator-moved/loading/concurrent errors until `max.block.ms`.
    async fn call<R: ApiRequest + Clone>(
        &self,
        what: &str,
        req: R,
        error_of: impl Fn(&R::Response) -> i16,
    ) -> Result<R::Response> {
        let deadline = Instant::now() + self.max_block;
        let mut attempt = 0;
        loop {
            let outcome = match self.connection().await {
                Ok(conn) => conn.send(req.clone()).await,
                Err(e) => Err(e),
            };
            let retry_code = match &outcome {
                Ok(resp) => match error_of(resp) {
                    code::NONE => return outcome,
                    c if is_retried(c) => Some(c),
                    c => {
                        return Err(ClientError::kafka(
                            c,
                            format!("{what} for {}", self.transactional_id),
                            None,
                        ));
                    }
                },
                Err(ClientError::Kafka { code: c, .. }) if is_retried(*c) => Some(*c),
                Err(e) if e.is_retriable() => Some(code::COORDINATOR_NOT_AVAILABLE),
                Err(_) => return outcome,
            };
            if Instant::now() >= deadline {
                return Err(ClientError::Timeout(format!(
                    "{what} for {}: coordinator still answering {} after max.block.ms",
                    self.transactional_id,
                    retry_code.unwrap_or(code::NONE)
                )));
            }
            tokio::time::sleep(self.cluster.config().backoff(attempt)).await;
            attempt += 1;
        }
    }

    /// InitProducerId for the transactional id: the producer id and epoch to use
    /// (any transaction the previous incarnation left open is aborted by the
    /// coordinator, and older epochs are fenced).
    pub(crate) async fn init_producer_id(&self) -> Result<(i64, i16)> {
        let resp = self
            .call(
                "InitProducerId",
                InitProducerIdRequest {
                    transactional_id: Some(self.transactional_id.as_str().into()),
                    transaction_timeout_ms: self.timeout_ms,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                },
                |r| r.error_code,
            )
            .await?;
        Ok((resp.producer_id, resp.producer_epoch))
    }

    /// Adds partitions to the open transaction.
    pub(crate) async fn add_partitions(&self, pid: (i64, i16), parts: &[Tp]) -> Result<()> {
        let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
        for (t, p) in parts {
            match topics.iter_mut().find(|x| x.name.as_str() == t) {
                Some(x) => x.partitions.push(*p),
                None => topics.push(AddPartitionsToTxnTopic {
                    name: t.as_str().into(),
                    partitions: vec![*p],
                    ..Default::default()
                }),
            }
        }
        let first_error = |r: &vltava_protocol::messages::AddPartitionsToTxnResponse| {
            r.results_by_topic_v3_and_below
                .iter()
                .flat_map(|t| t.results_by_partition.iter())
                .map(|p| p.partition_error_code)
                .find(|c| *c != code::NONE)
                .unwrap_or(code::NONE)
        };
        self.call(
            "AddPartitionsToTxn",
            AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: self.transactional_id.as_str().into(),
                v3_and_below_producer_id: pid.0,
                v3_and_below_producer_epoch: pid.1,
                v3_and_below_topics: topics,
                ..Default::default()
            },
            first_error,
        )
        .await?;
        Ok(())
    }

    /// Adds the group's offsets to the transaction, then commits them to the group
    /// coordinator as part of it.
    pub(crate) async fn send_offsets(
        &self,
        pid: (i64, i16),
        group_id: &str,
        offsets: &[(Tp, i64)],
    ) -> Result<()> {
        self.call(
            "AddOffsetsToTxn",
            AddOffsetsToTxnRequest {
                transactional_id: self.transactional_id.as_str().into(),
                producer_id: pid.0,
                producer_epoch: pid.1,
                group_id: group_id.into(),
                ..Default::default()
            },
            |r| r.error_code,
        )
        .await?;
        let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
        for ((t, p), o) in offsets {
            let part = TxnOffsetCommitRequestPartition {
                partition_index: *p,
                committed_offset: *o,
                ..Default::default()
            };
            match topics.iter_mut().find(|x| x.name.as_str() == t) {
                Some(x) => x.partitions.push(part),
                None => topics.push(TxnOffsetCommitRequestTopic {
                    name: t.as_str().into(),
                    partitions: vec![part],
                    ..Default::default()
                }),
            }
        }
        let req = TxnOffsetCommitRequest {
            transactional_id: self.transactional_id.as_str().into(),
            group_id: group_id.into(),
            producer_id: pid.0,
            producer_epoch: pid.1,
            generation_id: -1,
            member_id: "".into(),
            group_instance_id: None,
            topics,
            ..Default::default()
        };
        let deadline = Instant::now() + self.max_block;
        let mut attempt = 0;
        loop {
            let conn = coordinator(&self.cluster, group_id).await?;
            let resp = conn.send(req.clone()).await?;
            let err = resp
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter())
                .map(|p| p.error_code)
                .find(|c| *c != code::NONE);
            match err {
                None => return Ok(()),
                Some(c) if is_retried(c) && Instant::now() < deadline => {
                    tokio::time::sleep(self.cluster.config().backoff(attempt)).await;
                    attempt += 1;
                }
                Some(c) => {
                    return Err(ClientError::kafka(
                        c,
                        format!("TxnOffsetCommit for group {group_id}"),
                        None,
                    ));
                }
            }
        }
    }

    /// Commits (`commit`) or aborts the open transaction.
    pub(crate) async fn end(&self, pid: (i64, i16), commit: bool) -> Result<()> {
        self.call(
            "EndTxn",
            EndTxnRequest {
                transactional_id: self.transactional_id.as_str().into(),
                producer_id: pid.0,
                producer_epoch: pid.1,
                committed: commit,
                ..Default::default()
            },
            |r| r.error_code,
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_coordinator_errors_are_retried() {
        assert!(is_retried(code::NOT_COORDINATOR));
        assert!(is_retried(code::COORDINATOR_NOT_AVAILABLE));
        assert!(is_retried(code::COORDINATOR_LOAD_IN_PROGRESS));
        assert!(is_retried(CONCURRENT_TRANSACTIONS));
        // Fencing and state errors are final.
        assert!(!is_retried(90));
        assert!(!is_retried(48));
    }
}
