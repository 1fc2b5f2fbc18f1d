//! Every answer the table makes encodes at every version of its API: whole refusals, and
//! handler answers completed with the refused items (a principal without any ACL, random
//! requests and random handler answers).

use bytes::BytesMut;
use vltava_protocol::testing::Gen;
use vltava_protocol::{ApiKey, RequestBody, ResponseBody};
use vltava_security::KafkaPrincipal;
use vltava_security::acl::{
    AccessControlEntry, AclBinding, AclOperation, AclPermissionType, Authorizer, AuthorizerConfig,
    ResourcePattern, ResourceType,
};

use super::*;

fn access(acls: &[AclBinding]) -> Access {
    Access {
        authz: Arc::new(Authorizer::new(AuthorizerConfig::default(), acls)),
        session: Arc::new(Session::anonymous(None, "PLAINTEXT")),
    }
}

fn encodes(key: ApiKey, version: i16, what: &str, resp: &ResponseBody, bad: &mut Vec<String>) {
    assert_eq!(resp.api_key(), key, "{what}");
    let mut out = BytesMut::new();
    if let Err(e) = resp.write(&mut out, version) {
        let line = format!("{key:?} v{version} ({what}): {e}");
        if !bad.contains(&line) {
            bad.push(line);
        }
    }
}

#[test]
fn every_answer_encodes_at_every_version_of_its_api() {
    // One ACL, so some topics (`a`-prefixed) are allowed and others are refused.
    let some = [AclBinding {
        pattern: ResourcePattern::prefixed(ResourceType::Topic, "a"),
        entry: AccessControlEntry {
            principal: KafkaPrincipal::anonymous().to_string(),
            host: "*".into(),
            operation: AclOperation::All,
            permission: AclPermissionType::Allow,
        },
    }];
    let mut bad = Vec::new();
    for a in [access(&[]), access(&some)] {
        for key in ApiKey::ALL.iter().copied() {
            if crate::handlers::api_versions::advertised_range(key).is_none() {
                continue;
            }
            for version in key.min_version()..=key.max_version() {
                for seed in 0..8 {
                    let mut g = Gen::new(seed);
                    let req = RequestBody::random(key, &mut g, version);
                    match check_with(&a, &MetadataView::default(), true, req, version) {
                        Checked::Answer(resp) => encodes(key, version, "refusal", &resp, &mut bad),
                        Checked::Run(req, Some(post)) => {
                            assert_eq!(req.api_key(), key);
                            let resp = ResponseBody::random(key, &mut g, version);
                            encodes(key, version, "completed", &post(resp), &mut bad);
                        }
                        Checked::Run(..) => {}
                    }
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "answers that do not encode:\n{}",
        bad.join("\n")
    );
}

#[test]
fn a_principal_without_acls_is_refused_whole_where_one_resource_decides() {
    use vltava_protocol::messages::{HeartbeatRequest, InitProducerIdRequest};
    let a = access(&[]);
    let metadata = MetadataView::default();
    let Checked::Answer(ResponseBody::Heartbeat(h)) = check_with(
        &a,
        &metadata,
        true,
        RequestBody::from(HeartbeatRequest::default()),
        4,
    ) else {
        panic!()
    };
    assert_eq!(h.error_code, GROUP_AUTHORIZATION_FAILED);
    let Checked::Answer(ResponseBody::InitProducerId(r)) = check_with(
        &a,
        &metadata,
        true,
        RequestBody::from(InitProducerIdRequest {
            transactional_id: None,
            ..Default::default()
        }),
        4,
    ) else {
        panic!()
    };
    assert_eq!(r.error_code, CLUSTER_AUTHORIZATION_FAILED);
}
