//! Response builders that fill only the fields a response version has
//! (the codec refuses values in fields a version lacks).

use bytes::Bytes;
use vltava_protocol::messages::join_group_response::JoinGroupResponseMember;
use vltava_protocol::messages::{
    ConsumerGroupDescribeResponse, DeleteGroupsResponse, DescribeGroupsResponse, HeartbeatResponse,
    JoinGroupResponse, LeaveGroupResponse, ListGroupsResponse, OffsetCommitResponse,
    OffsetDeleteResponse, OffsetFetchResponse, SyncGroupResponse,
};
use vltava_protocol::{ApiKey, ResponseBody};

/// What a successful or failed JoinGroup answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct JoinResult {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    pub members: Vec<JoinGroupResponseMember>,
    pub skip_assignment: bool,
}

impl JoinResult {
    /// A failed join for `member_id`.
    pub fn error(member_id: &str, error: i16) -> JoinResult {
        JoinResult {
            error,
            generation: -1,
            member_id: member_id.to_owned(),
            ..JoinResult::default()
        }
    }

    /// The response at `version`.
    pub fn to_body(&self, version: i16) -> ResponseBody {
        let protocol_name = if version >= 7 {
            self.protocol_name.as_deref().map(Into::into)
        } else {
            Some(self.protocol_name.as_deref().unwrap_or("").into())
        };
        let members = self
            .members
            .iter()
            .cloned()
            .map(|mut m| {
                if version < 5 {
                    m.group_instance_id = None;
                }
                m
            })
            .collect();
        ResponseBody::JoinGroup(JoinGroupResponse {
            error_code: self.error,
            generation_id: self.generation,
            protocol_type: if version >= 7 {
                self.protocol_type.as_deref().map(Into::into)
            } else {
                None
            },
            protocol_name,
            leader: self.leader.as_str().into(),
            skip_assignment: version >= 9 && self.skip_assignment,
            member_id: self.member_id.as_str().into(),
            members,
            ..JoinGroupResponse::default()
        })
    }
}

/// A SyncGroup response at `version`.
pub(crate) fn sync_body(
    version: i16,
    error: i16,
    assignment: Bytes,
    protocol_type: Option<&str>,
    protocol_name: Option<&str>,
) -> ResponseBody {
    let v5 = version >= 5 && error == 0;
    ResponseBody::SyncGroup(SyncGroupResponse {
        error_code: error,
        assignment,
        protocol_type: if v5 {
            protocol_type.map(Into::into)
        } else {
            None
        },
        protocol_name: if v5 {
            protocol_name.map(Into::into)
        } else {
            None
        },
        ..SyncGroupResponse::default()
    })
}

/// A Heartbeat response.
pub(crate) fn heartbeat_body(error: i16) -> ResponseBody {
    ResponseBody::Heartbeat(HeartbeatResponse {
        error_code: error,
        ..HeartbeatResponse::default()
    })
}

/// A response of `api` carrying only a top-level error, for requests that
/// fail as a whole (bad version, wrong API). `None` for APIs the coordinator
/// does not serve.
pub(crate) fn error_response(api: ApiKey, version: i16, code: i16) -> Option<ResponseBody> {
    Some(match api {
        ApiKey::JoinGroup => JoinResult::error("", code).to_body(version),
        ApiKey::SyncGroup => sync_body(version, code, Bytes::new(), None, None),
        ApiKey::Heartbeat => heartbeat_body(code),
        ApiKey::LeaveGroup => ResponseBody::LeaveGroup(LeaveGroupResponse {
            error_code: code,
            ..Default::default()
        }),
        ApiKey::OffsetCommit => ResponseBody::OffsetCommit(OffsetCommitResponse::default()),
        ApiKey::OffsetFetch => ResponseBody::OffsetFetch(OffsetFetchResponse {
            error_code: if (2..=7).contains(&version) { code } else { 0 },
            ..Default::default()
        }),
        ApiKey::OffsetDelete => ResponseBody::OffsetDelete(OffsetDeleteResponse {
            error_code: code,
            ..Default::default()
        }),
        ApiKey::DescribeGroups => ResponseBody::DescribeGroups(DescribeGroupsResponse::default()),
        ApiKey::ListGroups => ResponseBody::ListGroups(ListGroupsResponse {
            error_code: code,
            ..Default::default()
        }),
        ApiKey::DeleteGroups => ResponseBody::DeleteGroups(DeleteGroupsResponse::default()),
        ApiKey::ConsumerGroupDescribe => {
            ResponseBody::ConsumerGroupDescribe(ConsumerGroupDescribeResponse::default())
        }
        // No top-level error field: an empty response (the request's
        // partitions are answered per partition wherever they are known).
        ApiKey::TxnOffsetCommit => ResponseBody::TxnOffsetCommit(
            vltava_protocol::messages::TxnOffsetCommitResponse::default(),
        ),
        _ => return None,
    })
}

/// [`error_response`], or for an API the coordinator does not serve (which
/// the broker should not route to it) a Heartbeat-shaped INVALID_REQUEST, so
/// that no request is left without an answer.
pub(crate) fn any_error_response(api: ApiKey, version: i16, code: i16) -> ResponseBody {
    error_response(api, version, code).unwrap_or_else(|| {
        ResponseBody::Heartbeat(HeartbeatResponse {
            error_code: crate::codes::INVALID_REQUEST,
            ..Default::default()
        })
    })
}
