//! Answers for the APIs this broker advertises (to look like a Kafka 4.0 broker)
//! but whose feature it does not have: delegation tokens,
//! log-directory moves, features, the quorum and
//! KIP-848 groups. Each answer mirrors the request the way Kafka's error
//! responses do: every topic, partition, user, feature or
//! entry named in the request gets its error code, plus the top-level code and
//! message where the response has them at the request's version. Where Kafka
//! itself returns an empty answer (no reassignments, no client metrics) this
//! does too.

use vltava_protocol::messages::add_raft_voter_response::AddRaftVoterResponse;
use vltava_protocol::messages::alter_replica_log_dirs_request::AlterReplicaLogDirsRequest;
use vltava_protocol::messages::alter_replica_log_dirs_response::{
    AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult, AlterReplicaLogDirsResponse,
};
use vltava_protocol::messages::consumer_group_heartbeat_response::ConsumerGroupHeartbeatResponse;
use vltava_protocol::messages::create_delegation_token_response::CreateDelegationTokenResponse;
use vltava_protocol::messages::describe_delegation_token_response::DescribeDelegationTokenResponse;
use vltava_protocol::messages::expire_delegation_token_response::ExpireDelegationTokenResponse;
use vltava_protocol::messages::list_client_metrics_resources_response::ListClientMetricsResourcesResponse;
use vltava_protocol::messages::remove_raft_voter_response::RemoveRaftVoterResponse;
use vltava_protocol::messages::renew_delegation_token_response::RenewDelegationTokenResponse;
use vltava_protocol::messages::sasl_authenticate_response::SaslAuthenticateResponse;
use vltava_protocol::messages::unregister_broker_request::UnregisterBrokerRequest;
use vltava_protocol::messages::unregister_broker_response::UnregisterBrokerResponse;
use vltava_protocol::messages::update_features_request::UpdateFeaturesRequest;
use vltava_protocol::messages::update_features_response::{
    UpdatableFeatureResult, UpdateFeaturesResponse,
};
use vltava_protocol::{ApiKey, RequestBody, ResponseBody, SharedStr};

use crate::error_codes::*;
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::handlers::security;
use crate::metadata_view::MetadataView;
use crate::session::Session;

use vltava_protocol::error_codes::BROKER_ID_NOT_REGISTERED;
/// Kafka's answer to a token request on a SASL-authenticated connection when tokens are
/// not enabled (no `delegation.token.secret.key`), as here.
use vltava_protocol::error_codes::DELEGATION_TOKEN_AUTH_DISABLED;
/// Kafka's answer to a token request on a connection not authenticated with SASL, checked
/// before whether tokens are enabled.
use vltava_protocol::error_codes::DELEGATION_TOKEN_REQUEST_NOT_ALLOWED;
use vltava_protocol::error_codes::ILLEGAL_SASL_STATE;
use vltava_protocol::error_codes::INVALID_UPDATE_VERSION;

/// The error an API's items get, and the message where the response has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub code: i16,
    pub message: &'static str,
}

/// The error each unavailable feature answers with (one row per API key).
const REFUSALS: &[(ApiKey, i16, &str)] = &[
    (
        ApiKey::SaslAuthenticate,
        ILLEGAL_SASL_STATE,
        "no SASL mechanism is enabled on this listener",
    ),
    (
        ApiKey::CreateDelegationToken,
        DELEGATION_TOKEN_REQUEST_NOT_ALLOWED,
        NO_TOKENS,
    ),
    (
        ApiKey::RenewDelegationToken,
        DELEGATION_TOKEN_REQUEST_NOT_ALLOWED,
        NO_TOKENS,
    ),
    (
        ApiKey::ExpireDelegationToken,
        DELEGATION_TOKEN_REQUEST_NOT_ALLOWED,
        NO_TOKENS,
    ),
    (
        ApiKey::DescribeDelegationToken,
        DELEGATION_TOKEN_REQUEST_NOT_ALLOWED,
        NO_TOKENS,
    ),
    (
        ApiKey::AlterReplicaLogDirs,
        UNSUPPORTED_VERSION,
        "moving replicas between log directories is not supported by this broker",
    ),
    (
        ApiKey::UpdateFeatures,
        INVALID_UPDATE_VERSION,
        "feature levels cannot be changed on this broker",
    ),
    (
        ApiKey::UnregisterBroker,
        UNSUPPORTED_VERSION,
        "unregistering a broker is not supported by this broker",
    ),
    (
        ApiKey::ConsumerGroupHeartbeat,
        UNSUPPORTED_VERSION,
        "the consumer group protocol (KIP-848) is not supported: use the classic protocol",
    ),
    (ApiKey::ListClientMetricsResources, NONE, ""),
    (ApiKey::AddRaftVoter, UNSUPPORTED_VERSION, STATIC_QUORUM),
    (ApiKey::RemoveRaftVoter, UNSUPPORTED_VERSION, STATIC_QUORUM),
];

const NO_TOKENS: &str = "delegation token requests are not allowed on PLAINTEXT or 1-way SSL \
     channels, nor on token-authenticated ones";
const STATIC_QUORUM: &str = "the metadata quorum has a static voter set";

/// How this broker refuses `key`, or `None` when `key` is not answered here.
pub fn refusal(key: ApiKey) -> Option<Refusal> {
    REFUSALS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|&(_, code, message)| Refusal { code, message })
}

/// Every API key answered by this module.
pub fn keys() -> impl Iterator<Item = ApiKey> {
    REFUSALS.iter().map(|(k, _, _)| *k)
}

fn msg(s: &str) -> Option<SharedStr> {
    (!s.is_empty()).then(|| s.into())
}

/// Whether the metadata has `topic`-`partition`.
fn exists(metadata: &MetadataView, topic: &str, partition: i32) -> bool {
    metadata
        .topic(topic)
        .is_some_and(|t| t.partitions.contains_key(&partition))
}

/// Handles every other advertised API: SaslHandshake and the ACL APIs as `security`
/// answers them, the APIs of the features this broker lacks with Kafka's refusal.
pub async fn handle(cx: &RequestContext<'_>, body: RequestBody) -> Answer {
    if let Some(response) = security::response(&body) {
        return respond(response);
    }
    match response(&cx.metadata(), cx.session, &body, cx.version) {
        Some(response) => respond(response),
        None => Err(cx.not_advertised()),
    }
}

/// The answer for `body` at `version`, or `None` when it is not one of these
/// APIs. `metadata` is the broker's metadata (which partitions exist and who
/// leads them).
pub fn response(
    metadata: &MetadataView,
    session: &Session,
    body: &RequestBody,
    version: i16,
) -> Option<ResponseBody> {
    let r = refusal_on(body.api_key(), session)?;
    match body {
        RequestBody::CreateDelegationToken(_)
        | RequestBody::RenewDelegationToken(_)
        | RequestBody::ExpireDelegationToken(_)
        | RequestBody::DescribeDelegationToken(_) => delegation_token(body, r, session, version),
        RequestBody::AlterReplicaLogDirs(req) => Some(alter_replica_log_dirs(metadata, req, r)),
        RequestBody::UpdateFeatures(req) => Some(update_features(req, r, version)),
        RequestBody::UnregisterBroker(req) => Some(unregister_broker(metadata, req, r)),
        _ => top_level_only(body, r),
    }
}

/// How `key` is refused on `session`: [`refusal`], except that a token request on a
/// SASL-authenticated connection gets Kafka's second check (tokens are off).
fn refusal_on(key: ApiKey, session: &Session) -> Option<Refusal> {
    let r = refusal(key)?;
    let token_api = matches!(
        key,
        ApiKey::CreateDelegationToken
            | ApiKey::RenewDelegationToken
            | ApiKey::ExpireDelegationToken
            | ApiKey::DescribeDelegationToken
    );
    Some(if token_api && session.sasl {
        Refusal {
            code: DELEGATION_TOKEN_AUTH_DISABLED,
            message: "delegation tokens are not enabled on this broker",
        }
    } else {
        r
    })
}

/// The delegation token APIs' answers (`None` for any other body).
fn delegation_token(
    body: &RequestBody,
    r: Refusal,
    session: &Session,
    version: i16,
) -> Option<ResponseBody> {
    Some(match body {
        RequestBody::CreateDelegationToken(req) => {
            let requester = (
                SharedStr::from(session.principal.principal_type.as_str()),
                SharedStr::from(session.principal.name.as_str()),
            );
            // As Kafka: the owner asked for (the requester when none), the requester, and
            // -1 timestamps (found by the differential test against Kafka, every_api).
            let owner = match &req.owner_principal_name {
                Some(name) if !name.is_empty() => (req.owner_principal_type.clone(), name.clone()),
                _ => (Some(requester.0.clone()), requester.1.clone()),
            };
            let mut answer = CreateDelegationTokenResponse {
                error_code: r.code,
                principal_type: owner.0.unwrap_or_default(),
                principal_name: owner.1,
                issue_timestamp_ms: -1,
                expiry_timestamp_ms: -1,
                max_timestamp_ms: -1,
                ..Default::default()
            };
            // The requester's fields exist from v3.
            if version >= 3 {
                answer.token_requester_principal_type = requester.0;
                answer.token_requester_principal_name = requester.1;
            }
            ResponseBody::from(answer)
        }
        RequestBody::RenewDelegationToken(_) => ResponseBody::from(RenewDelegationTokenResponse {
            error_code: r.code,
            expiry_timestamp_ms: -1,
            ..Default::default()
        }),
        RequestBody::ExpireDelegationToken(_) => {
            ResponseBody::from(ExpireDelegationTokenResponse {
                error_code: r.code,
                expiry_timestamp_ms: -1,
                ..Default::default()
            })
        }
        RequestBody::DescribeDelegationToken(_) => {
            ResponseBody::from(DescribeDelegationTokenResponse {
                error_code: r.code,
                ..Default::default()
            })
        }
        _ => return None,
    })
}

/// AlterReplicaLogDirs: each named partition gets the refusal, or
/// UNKNOWN_TOPIC_OR_PARTITION when the metadata lacks it.
fn alter_replica_log_dirs(
    metadata: &MetadataView,
    req: &AlterReplicaLogDirsRequest,
    r: Refusal,
) -> ResponseBody {
    ResponseBody::from(AlterReplicaLogDirsResponse {
        results: req
            .dirs
            .iter()
            .flat_map(|d| d.topics.iter())
            .map(|t| AlterReplicaLogDirTopicResult {
                topic_name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| AlterReplicaLogDirPartitionResult {
                        partition_index: *p,
                        error_code: if exists(metadata, t.name.as_str(), *p) {
                            r.code
                        } else {
                            UNKNOWN_TOPIC_OR_PARTITION
                        },
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

/// UpdateFeatures: nothing to change is a success in Kafka (found by the differential
/// test); otherwise the refusal, per feature where the version has results (v0-1).
fn update_features(req: &UpdateFeaturesRequest, r: Refusal, version: i16) -> ResponseBody {
    if req.feature_updates.is_empty() {
        return ResponseBody::from(UpdateFeaturesResponse::default());
    }
    ResponseBody::from(UpdateFeaturesResponse {
        error_code: r.code,
        error_message: msg(r.message),
        results: if version <= 1 {
            req.feature_updates
                .iter()
                .map(|f| UpdatableFeatureResult {
                    feature: f.feature.clone(),
                    error_code: r.code,
                    error_message: msg(r.message),
                    ..Default::default()
                })
                .collect()
        } else {
            Vec::new()
        },
        ..Default::default()
    })
}

/// UnregisterBroker: the refusal for a registered broker, BROKER_ID_NOT_REGISTERED for
/// another id.
fn unregister_broker(
    metadata: &MetadataView,
    req: &UnregisterBrokerRequest,
    r: Refusal,
) -> ResponseBody {
    let (code, message) = if metadata.image().live_broker(req.broker_id).is_some() {
        (r.code, r.message)
    } else {
        (
            BROKER_ID_NOT_REGISTERED,
            "no broker with this id is registered",
        )
    };
    ResponseBody::from(UnregisterBrokerResponse {
        error_code: code,
        error_message: msg(message),
        ..Default::default()
    })
}

/// The APIs whose answer is only the top-level code and message (SaslAuthenticate,
/// ConsumerGroupHeartbeat, the raft voter changes), or empty as Kafka's
/// (ListClientMetricsResources); `None` for any other body.
fn top_level_only(body: &RequestBody, r: Refusal) -> Option<ResponseBody> {
    Some(match body {
        RequestBody::SaslAuthenticate(_) => ResponseBody::from(SaslAuthenticateResponse {
            error_code: r.code,
            error_message: msg(r.message),
            ..Default::default()
        }),
        RequestBody::ConsumerGroupHeartbeat(_) => {
            ResponseBody::from(ConsumerGroupHeartbeatResponse {
                error_code: r.code,
                error_message: msg(r.message),
                ..Default::default()
            })
        }
        RequestBody::ListClientMetricsResources(_) => {
            ResponseBody::from(ListClientMetricsResourcesResponse::default())
        }
        RequestBody::AddRaftVoter(_) => ResponseBody::from(AddRaftVoterResponse {
            error_code: r.code,
            error_message: msg(r.message),
            ..Default::default()
        }),
        RequestBody::RemoveRaftVoter(_) => ResponseBody::from(RemoveRaftVoterResponse {
            error_code: r.code,
            error_message: msg(r.message),
            ..Default::default()
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use vltava_protocol::messages::FetchRequest;
    use vltava_protocol::messages::alter_replica_log_dirs_request::{
        AlterReplicaLogDir, AlterReplicaLogDirTopic, AlterReplicaLogDirsRequest,
    };
    use vltava_protocol::messages::update_features_request::{
        FeatureUpdateKey, UpdateFeaturesRequest,
    };
    use vltava_protocol::testing::Gen;

    use super::*;
    use crate::test_images::{add_topic, partition, view};
    use vltava_raft::MetadataImage;

    /// Metadata with topic `t` of two single-replica partitions led by node 1.
    fn anonymous() -> Session {
        Session::anonymous(None, "PLAINTEXT")
    }

    #[test]
    fn token_requests_are_not_allowed_without_sasl_and_disabled_with_it() {
        use vltava_protocol::messages::CreateDelegationTokenRequest;
        let req = RequestBody::from(CreateDelegationTokenRequest::default());
        let Some(ResponseBody::CreateDelegationToken(plain)) =
            response(&metadata(), &anonymous(), &req, 3)
        else {
            panic!("no answer")
        };
        assert_eq!(plain.error_code, DELEGATION_TOKEN_REQUEST_NOT_ALLOWED);
        assert_eq!(plain.token_requester_principal_name.as_str(), "ANONYMOUS");
        let alice = Session {
            principal: vltava_security::KafkaPrincipal::user("alice"),
            sasl: true,
            ..Session::anonymous(None, "SASL_SSL")
        };
        let Some(ResponseBody::CreateDelegationToken(sasl)) =
            response(&metadata(), &alice, &req, 3)
        else {
            panic!("no answer")
        };
        assert_eq!(sasl.error_code, DELEGATION_TOKEN_AUTH_DISABLED);
        assert_eq!(sasl.principal_name.as_str(), "alice");
        assert_eq!(sasl.token_requester_principal_name.as_str(), "alice");
    }

    fn metadata() -> MetadataView {
        let partitions = (0..2).map(|i| partition(i, 1, &[1], &[1])).collect();
        let mut image = MetadataImage::default();
        add_topic(&mut image, "t", vltava_protocol::Uuid::ZERO, partitions);
        view(&image)
    }

    fn answer(body: impl Into<RequestBody>, version: i16) -> ResponseBody {
        response(&metadata(), &anonymous(), &body.into(), version).unwrap()
    }

    #[test]
    fn alter_replica_log_dirs_errors_per_partition() {
        let req = AlterReplicaLogDirsRequest {
            dirs: vec![AlterReplicaLogDir {
                path: "/elsewhere".into(),
                topics: vec![
                    AlterReplicaLogDirTopic {
                        name: "t".into(),
                        partitions: vec![0, 7],
                        ..Default::default()
                    },
                    AlterReplicaLogDirTopic {
                        name: "missing".into(),
                        partitions: vec![0],
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let ResponseBody::AlterReplicaLogDirs(r) = answer(req, 2) else {
            panic!()
        };
        let codes: Vec<(&str, i32, i16)> = r
            .results
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(move |p| (t.topic_name.as_str(), p.partition_index, p.error_code))
            })
            .collect();
        assert_eq!(
            codes,
            vec![
                ("t", 0, UNSUPPORTED_VERSION),
                ("t", 7, UNKNOWN_TOPIC_OR_PARTITION),
                ("missing", 0, UNKNOWN_TOPIC_OR_PARTITION)
            ]
        );
    }

    #[test]
    fn update_features_lists_results_only_where_the_version_has_them() {
        let req = UpdateFeaturesRequest {
            feature_updates: vec![FeatureUpdateKey {
                feature: "metadata.version".into(),
                max_version_level: 20,
                ..Default::default()
            }],
            ..Default::default()
        };
        let ResponseBody::UpdateFeatures(r) = answer(req.clone(), 1) else {
            panic!()
        };
        assert_eq!(r.results.len(), 1);
        assert_eq!(r.results[0].error_code, INVALID_UPDATE_VERSION);
        let ResponseBody::UpdateFeatures(r) = answer(req, 2) else {
            panic!()
        };
        assert!(r.results.is_empty());
        assert_eq!(r.error_code, INVALID_UPDATE_VERSION);
    }

    #[test]
    fn every_answer_encodes_at_every_version_of_its_api() {
        for key in keys() {
            for version in key.min_version()..=key.max_version() {
                for seed in 0..20 {
                    let mut g = Gen::new(seed);
                    let req = RequestBody::random(key, &mut g, version);
                    let resp = response(&metadata(), &anonymous(), &req, version)
                        .unwrap_or_else(|| panic!("{key:?} not answered"));
                    assert_eq!(resp.api_key(), key);
                    let mut out = BytesMut::new();
                    if let Err(e) = resp.write(&mut out, version) {
                        panic!("{key:?} v{version} seed {seed}: {e}");
                    }
                }
            }
        }
    }

    #[test]
    fn other_apis_are_not_answered_here() {
        assert!(
            response(
                &metadata(),
                &anonymous(),
                &RequestBody::from(FetchRequest::default()),
                17
            )
            .is_none()
        );
        assert!(refusal(ApiKey::Produce).is_none());
    }
}
