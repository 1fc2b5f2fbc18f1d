//! DeleteRecords (key 21): moves partition log start offsets forward
//! (`-1` means the high watermark). As in Kafka, a partition whose `cleanup.policy` does
//! not include `delete` (compact only) refuses with POLICY_VIOLATION. A topic named with no
//! partitions is left out of the answer, as Kafka's (keyed by partition) leaves it.

use vltava_protocol::messages::DeleteRecordsRequest;
use vltava_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsResponse, DeleteRecordsTopicResult,
};

use crate::error_codes::{self, *};
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::handlers::per_partition::Partitions;

/// Handles DeleteRecords.
pub async fn handle(cx: &RequestContext<'_>, req: DeleteRecordsRequest) -> Answer {
    let broker = cx.broker;
    let lookup = Partitions::new(broker);
    let topics = req
        .topics
        .iter()
        .filter(|t| !t.partitions.is_empty())
        .map(|t| DeleteRecordsTopicResult {
            name: t.name.clone(),
            partitions: lookup.each(
                t.name.as_str(),
                &t.partitions,
                |p| p.partition_index,
                |p, found| {
                    let mut r = DeleteRecordsPartitionResult {
                        partition_index: p.partition_index,
                        low_watermark: -1,
                        ..Default::default()
                    };
                    let found = match found {
                        Ok(found) => found,
                        Err(refused) => {
                            r.error_code = refused.code();
                            return r;
                        }
                    };
                    let mut log = found.partition.log();
                    if !log.config().cleanup_policy.delete {
                        r.error_code = POLICY_VIOLATION;
                        return r;
                    }
                    let target = if p.offset == -1 {
                        log.high_watermark()
                    } else {
                        p.offset
                    };
                    match log.delete_records_before(target) {
                        Ok(low) => r.low_watermark = low,
                        Err(e) => r.error_code = error_codes::for_storage(&e),
                    }
                    r
                },
            ),
            ..Default::default()
        })
        .collect();
    if let Err(e) = broker.partitions.write_checkpoints() {
        tracing::warn!(error = %e, "writing checkpoints after DeleteRecords failed");
    }
    respond(DeleteRecordsResponse {
        topics,
        ..Default::default()
    })
}
