//! The transaction APIs (InitProducerId with a transactional id, AddPartitionsToTxn,
//! AddOffsetsToTxn, EndTxn, DescribeTransactions, ListTransactions): passed to the
//! transaction coordinator, except an AddPartitionsToTxn v0-3 naming a partition the
//! metadata lacks, which `add_partitions_to_txn` answers here.

use vltava_protocol::RequestBody;

use crate::handlers::add_partitions_to_txn;
use crate::handlers::context::{Answer, RequestContext, respond};

/// Handles a transaction API through the transaction coordinator.
pub async fn handle(cx: &RequestContext<'_>, body: RequestBody) -> Answer {
    if let RequestBody::AddPartitionsToTxn(r) = &body {
        if cx.version <= 3 {
            if let Some(answer) = add_partitions_to_txn::refuse_unknown(&cx.metadata(), r) {
                return respond(answer);
            }
        }
    }
    let txn = cx
        .broker
        .txn_coordinator()
        .ok_or_else(|| cx.not_started())?;
    respond(txn.handle(cx.key, cx.version, body).await)
}
