//! AddPartitionsToTxn's check before the transaction coordinator sees a client's request
//! (v0-v3), as Kafka's request handler makes it: when any partition named is not in the
//! metadata, nothing is added — those partitions are answered UNKNOWN_TOPIC_OR_PARTITION and
//! the others OPERATION_NOT_ATTEMPTED (found by the differential test against Kafka,
//! `every_api`: Vltava answered the transaction's state instead).

use vltava_protocol::ResponseBody;
use vltava_protocol::messages::AddPartitionsToTxnRequest;
use vltava_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResponse, AddPartitionsToTxnTopicResult,
};

use crate::error_codes::UNKNOWN_TOPIC_OR_PARTITION;
use crate::metadata_view::MetadataView;

/// Kafka's code for the partitions of a request refused for its other partitions.
use vltava_protocol::error_codes::OPERATION_NOT_ATTEMPTED;

/// The answer when `req` names a partition `metadata` does not have; `None` when the
/// coordinator should handle it.
pub fn refuse_unknown(
    metadata: &MetadataView,
    req: &AddPartitionsToTxnRequest,
) -> Option<ResponseBody> {
    let known = |topic: &str, p: i32| {
        metadata
            .topic(topic)
            .is_some_and(|t| t.partitions.contains_key(&p))
    };
    let all_known = req
        .v3_and_below_topics
        .iter()
        .all(|t| t.partitions.iter().all(|p| known(t.name.as_str(), *p)));
    if all_known {
        return None;
    }
    let results = req
        .v3_and_below_topics
        .iter()
        .map(|t| AddPartitionsToTxnTopicResult {
            name: t.name.clone(),
            results_by_partition: t
                .partitions
                .iter()
                .map(|p| AddPartitionsToTxnPartitionResult {
                    partition_index: *p,
                    partition_error_code: if known(t.name.as_str(), *p) {
                        OPERATION_NOT_ATTEMPTED
                    } else {
                        UNKNOWN_TOPIC_OR_PARTITION
                    },
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    Some(ResponseBody::from(AddPartitionsToTxnResponse {
        results_by_topic_v3_and_below: results,
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    use vltava_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use vltava_raft::MetadataImage;

    use super::*;
    use crate::test_images::{add_topic, partition, view};

    fn metadata() -> MetadataView {
        let mut image = MetadataImage::default();
        let partitions = vec![partition(0, 1, &[1], &[1])];
        add_topic(&mut image, "t", vltava_protocol::Uuid::ZERO, partitions);
        view(&image)
    }

    fn request(topics: &[(&str, &[i32])]) -> AddPartitionsToTxnRequest {
        AddPartitionsToTxnRequest {
            v3_and_below_transactional_id: "tx".into(),
            v3_and_below_topics: topics
                .iter()
                .map(|(n, ps)| AddPartitionsToTxnTopic {
                    name: (*n).into(),
                    partitions: ps.to_vec(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn known_partitions_go_to_the_coordinator() {
        assert!(refuse_unknown(&metadata(), &request(&[("t", &[0])])).is_none());
    }

    #[test]
    fn an_unknown_partition_refuses_the_whole_request() {
        let Some(ResponseBody::AddPartitionsToTxn(r)) =
            refuse_unknown(&metadata(), &request(&[("t", &[0, 5]), ("nope", &[0])]))
        else {
            panic!("not refused");
        };
        let codes: Vec<(String, i32, i16)> = r
            .results_by_topic_v3_and_below
            .iter()
            .flat_map(|t| {
                t.results_by_partition.iter().map(|p| {
                    (
                        t.name.to_string(),
                        p.partition_index,
                        p.partition_error_code,
                    )
                })
            })
            .collect();
        assert_eq!(
            codes,
            vec![
                ("t".into(), 0, OPERATION_NOT_ATTEMPTED),
                ("t".into(), 5, UNKNOWN_TOPIC_OR_PARTITION),
                ("nope".into(), 0, UNKNOWN_TOPIC_OR_PARTITION),
            ]
        );
    }
}
