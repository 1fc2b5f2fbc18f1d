//! The ACL APIs with an authorizer: DescribeAcls (29) answered from this broker's metadata
//! image; CreateAcls (30) and DeleteAcls (31) committed by the controller, after which the
//! broker applies the new image before answering. Without an authorizer they are answered
//! by `security` (SECURITY_DISABLED).

use std::collections::BTreeMap;

use vltava_protocol::messages::DescribeAclsRequest;
use vltava_protocol::messages::describe_acls_response::{
    AclDescription, DescribeAclsResource, DescribeAclsResponse,
};
use vltava_protocol::{RequestBody, ResponseBody};
use vltava_raft::MetadataImage;
use vltava_raft::acl_wire::filter_from_describe;
use vltava_security::acl::{AccessControlEntry, ResourcePattern};

use crate::broker::Broker;
use crate::error_codes::INVALID_REQUEST;
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::handlers::security;
use crate::metadata_sync::sync_now;

/// DescribeAcls over `image`: the ACLs the filter selects, grouped by resource pattern.
pub fn describe(image: &MetadataImage, req: &DescribeAclsRequest) -> DescribeAclsResponse {
    let filter = match filter_from_describe(req) {
        Ok(f) => f,
        Err(e) => {
            return DescribeAclsResponse {
                error_code: INVALID_REQUEST,
                error_message: Some(e.to_string().into()),
                ..Default::default()
            };
        }
    };
    let mut by_pattern: BTreeMap<&ResourcePattern, Vec<&AccessControlEntry>> = BTreeMap::new();
    for b in image.acls.values().filter(|b| filter.matches(b)) {
        by_pattern.entry(&b.pattern).or_default().push(&b.entry);
    }
    DescribeAclsResponse {
        error_message: None,
        resources: by_pattern
            .into_iter()
            .map(|(p, entries)| DescribeAclsResource {
                resource_type: p.resource_type.code(),
                resource_name: p.name.as_str().into(),
                pattern_type: p.pattern_type.code(),
                acls: entries
                    .into_iter()
                    .map(|e| AclDescription {
                        principal: e.principal.as_str().into(),
                        host: e.host.as_str().into(),
                        operation: e.operation.code(),
                        permission_type: e.permission.code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Handles DescribeAcls, CreateAcls and DeleteAcls: through the controller with an
/// authorizer, else (or before the controller is wired) as `security` answers them.
pub async fn handle(cx: &RequestContext<'_>, body: RequestBody) -> Answer {
    match with_authorizer(cx.broker, &body, cx.version).await {
        Some(response) => respond(response),
        None => security::handle(cx, body).await,
    }
}

/// The answer for an ACL API when the broker has an authorizer; `None` otherwise (or for
/// other APIs, or before the controller is wired).
async fn with_authorizer(
    broker: &Broker,
    body: &RequestBody,
    version: i16,
) -> Option<ResponseBody> {
    if !broker.acls.enabled() {
        return None;
    }
    let controller = broker.controller()?;
    let resp = match body {
        RequestBody::DescribeAcls(r) => ResponseBody::from(describe(&controller.image(), r)),
        RequestBody::CreateAcls(r) => {
            ResponseBody::from(controller.create_acls(r.clone(), version).await)
        }
        RequestBody::DeleteAcls(r) => {
            ResponseBody::from(controller.delete_acls(r.clone(), version).await)
        }
        _ => return None,
    };
    sync_now(broker);
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_protocol::Uuid;
    use vltava_security::acl::{AclBinding, AclOperation, AclPermissionType, ResourceType};

    #[test]
    fn describe_groups_the_selected_acls_by_pattern() {
        let mut image = MetadataImage::empty("c");
        let entry = |principal: &str| AccessControlEntry {
            principal: principal.into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermissionType::Allow,
        };
        for (i, (pattern, principal)) in [
            (ResourcePattern::literal(ResourceType::Topic, "t"), "User:a"),
            (ResourcePattern::literal(ResourceType::Topic, "t"), "User:b"),
            (
                ResourcePattern::prefixed(ResourceType::Topic, "t"),
                "User:a",
            ),
            (ResourcePattern::literal(ResourceType::Group, "g"), "User:a"),
        ]
        .into_iter()
        .enumerate()
        {
            image.acls.insert(
                Uuid::from_u128(i as u128 + 2),
                AclBinding {
                    pattern,
                    entry: entry(principal),
                },
            );
        }
        let req = DescribeAclsRequest {
            resource_type_filter: ResourceType::Topic.code(),
            resource_name_filter: Some("t".into()),
            pattern_type_filter: 2,
            principal_filter: None,
            host_filter: None,
            operation: 1,
            permission_type: 1,
            ..Default::default()
        };
        let resp = describe(&image, &req);
        assert_eq!(resp.error_code, 0);
        let shape: Vec<(i8, usize)> = resp
            .resources
            .iter()
            .map(|r| (r.pattern_type, r.acls.len()))
            .collect();
        assert_eq!(shape, vec![(3, 2), (4, 1)]);
        let bad = DescribeAclsRequest {
            operation: 0,
            ..req
        };
        assert_eq!(describe(&image, &bad).error_code, INVALID_REQUEST);
    }
}
