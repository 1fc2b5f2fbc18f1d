//! Whole-request refusals: the answer Kafka gives when a request's one resource (its group,
//! transactional id, or the cluster) is not authorized, shaped like the API's own answers:
//! the top-level error code where the response has one, else the code on every item the
//! request names.

use vltava_protocol::messages::*;
use vltava_protocol::{RequestBody, ResponseBody, SharedStr};

/// The refusal of `body` at `version` with `code`; `None` for an API this module does not
/// shape (the table never refuses those whole).
// Long, and kept whole: a table, one arm per API and its refusal's shape; split,
// the arms would only move apart.
pub fn refuse(body: &RequestBody, version: i16, code: i16) -> Option<ResponseBody> {
    let msg = Some(SharedStr::from("not authorized"));
    Some(match body {
        RequestBody::JoinGroup(_) => ResponseBody::from(JoinGroupResponse {
            error_code: code,
            generation_id: -1,
            ..Default::default()
        }),
        RequestBody::SyncGroup(_) => ResponseBody::from(SyncGroupResponse {
            error_code: code,
            ..Default::default()
        }),
        RequestBody::Heartbeat(_) => ResponseBody::from(HeartbeatResponse {
            error_code: code,
            ..Default::default()
        }),
        RequestBody::LeaveGroup(_) => ResponseBody::from(LeaveGroupResponse {
            error_code: code,
            ..Default::default()
        }),
        RequestBody::ConsumerGroupHeartbeat(_) => {
            ResponseBody::from(ConsumerGroupHeartbeatResponse {
                error_code: code,
                error_message: msg,
                ..Default::default()
            })
        }
        // The coordinator's own all-partitions answers, so the two never drift apart.
        RequestBody::OffsetCommit(r) => vltava_coordinator::commit_answer_all(r, code),
        RequestBody::TxnOffsetCommit(r) => vltava_coordinator::txn_commit_answer_all(r, code),
        RequestBody::OffsetFetch(r) => {
            use offset_fetch_response::*;
            // v0-1 have no top-level code: every named partition carries it.
            ResponseBody::from(OffsetFetchResponse {
                error_code: code,
                topics: r
                    .topics
                    .iter()
                    .flatten()
                    .map(|t| OffsetFetchResponseTopic {
                        name: t.name.clone(),
                        partitions: t
                            .partition_indexes
                            .iter()
                            .map(|p| OffsetFetchResponsePartition {
                                partition_index: *p,
                                committed_offset: -1,
                                committed_leader_epoch: -1,
                                error_code: code,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::OffsetDelete(_) => ResponseBody::from(OffsetDeleteResponse {
            error_code: code,
            ..Default::default()
        }),
        RequestBody::InitProducerId(_) => ResponseBody::from(InitProducerIdResponse {
            error_code: code,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        }),
        RequestBody::AddOffsetsToTxn(_) => ResponseBody::from(AddOffsetsToTxnResponse {
            error_code: code,
            ..Default::default()
        }),
        RequestBody::EndTxn(_) => ResponseBody::from(EndTxnResponse {
            error_code: code,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        }),
        RequestBody::AddPartitionsToTxn(r) if version <= 3 => {
            use add_partitions_to_txn_response::*;
            ResponseBody::from(AddPartitionsToTxnResponse {
                results_by_topic_v3_and_below: r
                    .v3_and_below_topics
                    .iter()
                    .map(|t| AddPartitionsToTxnTopicResult {
                        name: t.name.clone(),
                        results_by_partition: t
                            .partitions
                            .iter()
                            .map(|p| AddPartitionsToTxnPartitionResult {
                                partition_index: *p,
                                partition_error_code: code,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::AddPartitionsToTxn(_) => ResponseBody::from(AddPartitionsToTxnResponse {
            error_code: code,
            ..Default::default()
        }),
        RequestBody::WriteTxnMarkers(r) => {
            use write_txn_markers_response::*;
            ResponseBody::from(WriteTxnMarkersResponse {
                markers: r
                    .markers
                    .iter()
                    .map(|m| WritableTxnMarkerResult {
                        producer_id: m.producer_id,
                        topics: m
                            .topics
                            .iter()
                            .map(|t| WritableTxnMarkerTopicResult {
                                name: t.name.clone(),
                                partitions: t
                                    .partition_indexes
                                    .iter()
                                    .map(|p| WritableTxnMarkerPartitionResult {
                                        partition_index: *p,
                                        error_code: code,
                                        ..Default::default()
                                    })
                                    .collect(),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::Fetch(_) => ResponseBody::from(FetchResponse {
            error_code: code,
            ..Default::default()
        }),
        RequestBody::ElectLeaders(r) => {
            use elect_leaders_response::*;
            ResponseBody::from(ElectLeadersResponse {
                // v0 has no top-level code: each partition carries it.
                error_code: if version >= 1 { code } else { 0 },
                replica_election_results: r
                    .topic_partitions
                    .iter()
                    .flatten()
                    .map(|t| ReplicaElectionResult {
                        topic: t.topic.clone(),
                        partition_result: t
                            .partitions
                            .iter()
                            .map(|p| PartitionResult {
                                partition_id: *p,
                                error_code: code,
                                error_message: msg.clone(),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::DescribeLogDirs(_) => ResponseBody::from(DescribeLogDirsResponse {
            error_code: code,
            ..Default::default()
        }),
        RequestBody::DescribeQuorum(_) => ResponseBody::from(DescribeQuorumResponse {
            error_code: code,
            error_message: msg,
            ..Default::default()
        }),
        RequestBody::DescribeAcls(_) => ResponseBody::from(DescribeAclsResponse {
            error_code: code,
            error_message: msg,
            ..Default::default()
        }),
        RequestBody::CreateAcls(r) => ResponseBody::from(CreateAclsResponse {
            results: r
                .creations
                .iter()
                .map(|_| create_acls_response::AclCreationResult {
                    error_code: code,
                    error_message: msg.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::DeleteAcls(r) => ResponseBody::from(DeleteAclsResponse {
            filter_results: r
                .filters
                .iter()
                .map(|_| delete_acls_response::DeleteAclsFilterResult {
                    error_code: code,
                    error_message: msg.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::DescribeClientQuotas(_) => ResponseBody::from(DescribeClientQuotasResponse {
            error_code: code,
            error_message: msg,
            entries: None,
            ..Default::default()
        }),
        RequestBody::DescribeUserScramCredentials(_) => {
            ResponseBody::from(DescribeUserScramCredentialsResponse {
                error_code: code,
                error_message: msg,
                ..Default::default()
            })
        }
        RequestBody::AlterUserScramCredentials(r) => {
            use alter_user_scram_credentials_response::*;
            let users = r
                .deletions
                .iter()
                .map(|d| d.name.clone())
                .chain(r.upsertions.iter().map(|u| u.name.clone()));
            ResponseBody::from(AlterUserScramCredentialsResponse {
                results: users
                    .map(|user| AlterUserScramCredentialsResult {
                        user,
                        error_code: code,
                        error_message: msg.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestBody::ListPartitionReassignments(_) => {
            ResponseBody::from(ListPartitionReassignmentsResponse {
                error_code: code,
                error_message: msg,
                ..Default::default()
            })
        }
        RequestBody::AlterPartitionReassignments(_) => {
            ResponseBody::from(AlterPartitionReassignmentsResponse {
                error_code: code,
                error_message: msg,
                ..Default::default()
            })
        }
        RequestBody::UpdateFeatures(_) => ResponseBody::from(UpdateFeaturesResponse {
            error_code: code,
            error_message: msg,
            ..Default::default()
        }),
        RequestBody::UnregisterBroker(_) => ResponseBody::from(UnregisterBrokerResponse {
            error_code: code,
            error_message: msg,
            ..Default::default()
        }),
        RequestBody::AddRaftVoter(_) => ResponseBody::from(AddRaftVoterResponse {
            error_code: code,
            error_message: msg,
            ..Default::default()
        }),
        RequestBody::RemoveRaftVoter(_) => ResponseBody::from(RemoveRaftVoterResponse {
            error_code: code,
            error_message: msg,
            ..Default::default()
        }),
        RequestBody::ListClientMetricsResources(_) => {
            ResponseBody::from(ListClientMetricsResourcesResponse {
                error_code: code,
                ..Default::default()
            })
        }
        RequestBody::ListGroups(_) => ResponseBody::from(ListGroupsResponse {
            error_code: code,
            ..Default::default()
        }),
        _ => return None,
    })
}
