//! Glue between request types and the response variants they are answered with.

use vltava_protocol::messages::*;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};

/// A request this client sends: its API key and how to take its response out
/// of a decoded [`ResponseBody`].
pub trait ApiRequest: Into<RequestBody> + Send + 'static {
    const KEY: ApiKey;
    type Response: Send + 'static;
    fn take(body: ResponseBody) -> Option<Self::Response>;
}

macro_rules! api_requests {
    ($($variant:ident: $req:ty => $resp:ty),* $(,)?) => {
        $(impl ApiRequest for $req {
            const KEY: ApiKey = ApiKey::$variant;
            type Response = $resp;
            fn take(body: ResponseBody) -> Option<$resp> {
                match body {
                    ResponseBody::$variant(r) => Some(r),
                    _ => None,
                }
            }
        })*
    };
}

api_requests! {
    Produce: ProduceRequest => ProduceResponse,
    Fetch: FetchRequest => FetchResponse,
    ListOffsets: ListOffsetsRequest => ListOffsetsResponse,
    Metadata: MetadataRequest => MetadataResponse,
    OffsetCommit: OffsetCommitRequest => OffsetCommitResponse,
    OffsetFetch: OffsetFetchRequest => OffsetFetchResponse,
    FindCoordinator: FindCoordinatorRequest => FindCoordinatorResponse,
    JoinGroup: JoinGroupRequest => JoinGroupResponse,
    Heartbeat: HeartbeatRequest => HeartbeatResponse,
    LeaveGroup: LeaveGroupRequest => LeaveGroupResponse,
    SyncGroup: SyncGroupRequest => SyncGroupResponse,
    DescribeGroups: DescribeGroupsRequest => DescribeGroupsResponse,
    ListGroups: ListGroupsRequest => ListGroupsResponse,
    ApiVersions: ApiVersionsRequest => ApiVersionsResponse,
    CreateTopics: CreateTopicsRequest => CreateTopicsResponse,
    DeleteTopics: DeleteTopicsRequest => DeleteTopicsResponse,
    DeleteRecords: DeleteRecordsRequest => DeleteRecordsResponse,
    InitProducerId: InitProducerIdRequest => InitProducerIdResponse,
    DescribeConfigs: DescribeConfigsRequest => DescribeConfigsResponse,
    IncrementalAlterConfigs: IncrementalAlterConfigsRequest => IncrementalAlterConfigsResponse,
    CreatePartitions: CreatePartitionsRequest => CreatePartitionsResponse,
    DeleteGroups: DeleteGroupsRequest => DeleteGroupsResponse,
    DescribeCluster: DescribeClusterRequest => DescribeClusterResponse,
    DescribeQuorum: DescribeQuorumRequest => DescribeQuorumResponse,
    AddPartitionsToTxn: AddPartitionsToTxnRequest => AddPartitionsToTxnResponse,
    AddOffsetsToTxn: AddOffsetsToTxnRequest => AddOffsetsToTxnResponse,
    EndTxn: EndTxnRequest => EndTxnResponse,
    TxnOffsetCommit: TxnOffsetCommitRequest => TxnOffsetCommitResponse,
    ListTransactions: ListTransactionsRequest => ListTransactionsResponse,
    DescribeTransactions: DescribeTransactionsRequest => DescribeTransactionsResponse,
    DescribeProducers: DescribeProducersRequest => DescribeProducersResponse,
    DescribeClientQuotas: DescribeClientQuotasRequest => DescribeClientQuotasResponse,
    AlterClientQuotas: AlterClientQuotasRequest => AlterClientQuotasResponse,
    DescribeUserScramCredentials: DescribeUserScramCredentialsRequest => DescribeUserScramCredentialsResponse,
    AlterUserScramCredentials: AlterUserScramCredentialsRequest => AlterUserScramCredentialsResponse,
    DescribeAcls: DescribeAclsRequest => DescribeAclsResponse,
    CreateAcls: CreateAclsRequest => CreateAclsResponse,
    DeleteAcls: DeleteAclsRequest => DeleteAclsResponse,
    AlterPartitionReassignments: AlterPartitionReassignmentsRequest => AlterPartitionReassignmentsResponse,
    ListPartitionReassignments: ListPartitionReassignmentsRequest => ListPartitionReassignmentsResponse,
}
