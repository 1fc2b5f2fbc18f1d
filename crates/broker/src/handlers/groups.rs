//! The group APIs (JoinGroup, SyncGroup, Heartbeat, LeaveGroup, OffsetFetch,
//! DescribeGroups, ListGroups, DeleteGroups, OffsetDelete, ConsumerGroupDescribe): passed
//! as they are to the group coordinator, with the client's id and host. OffsetCommit and
//! TxnOffsetCommit go through `commit_split` first.

use vltava_protocol::RequestBody;

use crate::handlers::context::{Answer, RequestContext, respond};

/// Handles a group API through the group coordinator.
pub async fn handle(cx: &RequestContext<'_>, body: RequestBody) -> Answer {
    let coordinator = cx.broker.coordinator().ok_or_else(|| cx.not_started())?;
    let client_host = cx.session.client_host();
    respond(
        coordinator
            .handle_from(cx.client_id, &client_host, cx.key, cx.version, body)
            .await,
    )
}
