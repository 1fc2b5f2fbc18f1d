//! Answers for features this broker does not have, in the form Kafka gives them
//! when they are switched off: SASL (PLAINTEXT listeners only: no mechanism is
//! enabled) and ACLs (no authorizer: SECURITY_DISABLED).

use vltava_protocol::messages::create_acls_response::{AclCreationResult, CreateAclsResponse};
use vltava_protocol::messages::delete_acls_response::{DeleteAclsFilterResult, DeleteAclsResponse};
use vltava_protocol::messages::describe_acls_response::DescribeAclsResponse;
use vltava_protocol::messages::sasl_handshake_response::SaslHandshakeResponse;
use vltava_protocol::{RequestBody, ResponseBody};

use crate::handlers::context::{Answer, RequestContext, respond};

pub use vltava_protocol::error_codes::{SECURITY_DISABLED, UNSUPPORTED_SASL_MECHANISM};

const NO_AUTHORIZER: &str = "no authorizer is configured on this broker";

/// Handles SaslHandshake (on a listener without SASL) and the ACL APIs without an
/// authorizer; any other API is not advertised.
pub async fn handle(cx: &RequestContext<'_>, body: RequestBody) -> Answer {
    match response(&body) {
        Some(response) => respond(response),
        None => Err(cx.not_advertised()),
    }
}

/// The answer for `body`, or `None` when it is not one of these APIs.
pub fn response(body: &RequestBody) -> Option<ResponseBody> {
    let resp = match body {
        RequestBody::SaslHandshake(_) => ResponseBody::from(SaslHandshakeResponse {
            error_code: UNSUPPORTED_SASL_MECHANISM,
            mechanisms: Vec::new(),
        }),
        RequestBody::DescribeAcls(_) => ResponseBody::from(DescribeAclsResponse {
            error_code: SECURITY_DISABLED,
            error_message: Some(NO_AUTHORIZER.into()),
            ..Default::default()
        }),
        RequestBody::CreateAcls(r) => ResponseBody::from(CreateAclsResponse {
            results: r
                .creations
                .iter()
                .map(|_| AclCreationResult {
                    error_code: SECURITY_DISABLED,
                    error_message: Some(NO_AUTHORIZER.into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestBody::DeleteAcls(r) => ResponseBody::from(DeleteAclsResponse {
            filter_results: r
                .filters
                .iter()
                .map(|_| DeleteAclsFilterResult {
                    error_code: SECURITY_DISABLED,
                    error_message: Some(NO_AUTHORIZER.into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        _ => return None,
    };
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_protocol::messages::create_acls_request::AclCreation;
    use vltava_protocol::messages::{CreateAclsRequest, DescribeAclsRequest, FetchRequest};

    #[test]
    fn acl_requests_say_security_is_disabled() {
        let Some(ResponseBody::DescribeAcls(r)) =
            response(&RequestBody::from(DescribeAclsRequest::default()))
        else {
            panic!()
        };
        assert_eq!(r.error_code, SECURITY_DISABLED);
        let req = CreateAclsRequest {
            creations: vec![AclCreation::default(), AclCreation::default()],
            ..Default::default()
        };
        let Some(ResponseBody::CreateAcls(r)) = response(&RequestBody::from(req)) else {
            panic!()
        };
        assert_eq!(r.results.len(), 2);
        assert!(r.results.iter().all(|x| x.error_code == SECURITY_DISABLED));
        assert!(response(&RequestBody::from(FetchRequest::default())).is_none());
    }
}
