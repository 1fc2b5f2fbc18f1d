//! Metadata (key 3): brokers, cluster id, controller and topics from the
//! metadata image; topics named but missing are reported (or auto-created by
//! the caller before this runs, see `dispatch`).

use vltava_protocol::messages::MetadataRequest;
use vltava_protocol::messages::metadata_request::MetadataRequestTopic;
use vltava_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use vltava_protocol::{ResponseBody, Uuid};

use crate::error_codes::*;
use crate::handlers::admin;
use crate::handlers::context::{Answer, RequestContext, respond};
use crate::handlers::partition_entry::partition_entry;
use crate::metadata_view::MetadataView;
use vltava_raft::TopicImage;
use vltava_raft::controller::topic_name::validate_topic_name;

/// Kafka's "not requested" value for authorized-operations fields.
const AUTHORIZED_OPS_OMITTED: i32 = i32::MIN;

/// A topic's entry. A partition without a leader, or whose leader is not an alive broker of
/// this answer (fenced or gone), is answered LEADER_NOT_AVAILABLE with leader -1 (clients
/// retry): an answer never names a leader missing from its brokers, which librdkafka ≥ 2.10
/// drops ("new leader not found in cache"). Replicas on brokers that are not alive are its
/// offline replicas.
fn topic_entry(t: &TopicImage, metadata: &MetadataView) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: NONE,
        name: Some(t.name.as_str().into()),
        topic_id: t.id,
        is_internal: t.is_internal(),
        partitions: t
            .partitions
            .values()
            .map(|p| {
                let mut entry = partition_entry!(MetadataResponsePartition, p, metadata);
                if entry.leader_id < 0 {
                    entry.error_code = LEADER_NOT_AVAILABLE;
                }
                entry
            })
            .collect(),
        topic_authorized_operations: AUTHORIZED_OPS_OMITTED,
        ..Default::default()
    }
}

/// The names a Metadata request asks for (`None`: all topics).
pub fn requested_names(req: &MetadataRequest, metadata: &MetadataView) -> Option<Vec<String>> {
    req.topics.as_ref().map(|ts| {
        ts.iter()
            .filter_map(|t| match &t.name {
                Some(n) => Some(n.as_str().to_string()),
                None => metadata.topic_by_id(t.topic_id).map(|m| m.name.clone()),
            })
            .collect()
    })
}

/// The topics of a request naming topic ids: as Kafka, every name in it is then ignored and
/// each distinct id answered, an unknown one UNKNOWN_TOPIC_ID without a name (found by the
/// differential test against Kafka, `every_api`: Vltava answered by the names).
fn by_ids(metadata: &MetadataView, ts: &[MetadataRequestTopic]) -> Vec<MetadataResponseTopic> {
    let mut ids: Vec<Uuid> = ts
        .iter()
        .map(|t| t.topic_id)
        .filter(|id| *id != Uuid::default())
        .collect();
    ids.sort_unstable_by_key(|id| id.0);
    ids.dedup();
    ids.into_iter()
        .map(|id| match metadata.topic_by_id(id) {
            Some(m) => topic_entry(m, metadata),
            None => MetadataResponseTopic {
                error_code: UNKNOWN_TOPIC_ID,
                name: None,
                topic_id: id,
                topic_authorized_operations: AUTHORIZED_OPS_OMITTED,
                ..Default::default()
            },
        })
        .collect()
}

/// Handles Metadata: auto-creates the missing topics it may (`admin::auto_create_for_metadata`),
/// then answers from the metadata image.
pub async fn handle(cx: &RequestContext<'_>, req: MetadataRequest) -> Answer {
    let pending = admin::auto_create_for_metadata(cx.broker, &req, cx.version).await;
    respond(response(&cx.metadata(), &req, cx.version, &pending))
}

/// Builds the Metadata response. `pending` are topics being auto-created
/// (answered LEADER_NOT_AVAILABLE so clients retry).
pub fn response(
    metadata: &MetadataView,
    req: &MetadataRequest,
    version: i16,
    pending: &[String],
) -> ResponseBody {
    let brokers = metadata
        .image()
        .live_broker_images()
        .map(|b| MetadataResponseBroker {
            node_id: b.id,
            host: b.host.as_str().into(),
            port: b.port,
            rack: b.rack.as_deref().map(Into::into),
            ..Default::default()
        })
        .collect();
    // v0 has no null list: an empty one means every topic.
    let all =
        req.topics.is_none() || (version == 0 && req.topics.as_ref().is_some_and(Vec::is_empty));
    let topics = match &req.topics {
        _ if all => metadata
            .topics()
            .map(|t| topic_entry(t, metadata))
            .collect(),
        None => Vec::new(),
        Some(ts) if version >= 12 && ts.iter().any(|t| t.topic_id != Uuid::default()) => {
            by_ids(metadata, ts)
        }
        Some(ts) => ts
            .iter()
            .map(|t| named_topic(t, metadata, version, pending))
            .collect(),
    };
    ResponseBody::from(MetadataResponse {
        brokers,
        cluster_id: Some(metadata.cluster_id().into()),
        controller_id: metadata.controller_id(),
        topics,
        cluster_authorized_operations: AUTHORIZED_OPS_OMITTED,
        ..Default::default()
    })
}

/// The answer for topic `t`, asked for by name (or, from v12, by id). `pending` are
/// topics being auto-created.
fn named_topic(
    t: &MetadataRequestTopic,
    metadata: &MetadataView,
    version: i16,
    pending: &[String],
) -> MetadataResponseTopic {
    // Topic ids and null names arrive only from v12 on (v10/v11 carry the
    // fields but, like Kafka, refuse them); their answers need a name.
    if version < 12 && (t.name.is_none() || t.topic_id != Uuid::default()) {
        return MetadataResponseTopic {
            error_code: INVALID_REQUEST,
            name: Some(t.name.clone().unwrap_or_default()),
            topic_id: t.topic_id,
            topic_authorized_operations: AUTHORIZED_OPS_OMITTED,
            ..Default::default()
        };
    }
    let found = match &t.name {
        Some(n) => metadata.topic(n.as_str()),
        None => metadata.topic_by_id(t.topic_id),
    };
    match found {
        Some(m) => topic_entry(m, metadata),
        None => {
            let pend = t
                .name
                .as_ref()
                .is_some_and(|n| pending.iter().any(|p| p == n.as_str()));
            MetadataResponseTopic {
                error_code: if pend {
                    LEADER_NOT_AVAILABLE
                } else if t.name.is_none() {
                    UNKNOWN_TOPIC_ID
                } else if t
                    .name
                    .as_ref()
                    .is_some_and(|n| validate_topic_name(n.as_str()).is_err())
                {
                    // As Kafka: an illegal name is no unknown topic, whether or
                    // not auto-creation was asked for.
                    INVALID_TOPIC_EXCEPTION
                } else {
                    UNKNOWN_TOPIC_OR_PARTITION
                },
                name: t.name.clone(),
                topic_id: t.topic_id,
                topic_authorized_operations: AUTHORIZED_OPS_OMITTED,
                ..Default::default()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_images::{add_broker, add_topic, broker, partition, view};
    use vltava_protocol::Uuid;
    use vltava_raft::MetadataImage;

    fn image() -> MetadataImage {
        let mut image = MetadataImage::default();
        add_topic(
            &mut image,
            "t",
            Uuid::from_u128(7),
            vec![partition(0, 1, &[1], &[1])],
        );
        image
    }

    fn metadata() -> MetadataView {
        view(&image())
    }

    fn topics(r: ResponseBody) -> Vec<(Option<String>, i16)> {
        let ResponseBody::Metadata(m) = r else {
            panic!()
        };
        m.topics
            .iter()
            .map(|t| {
                (
                    t.name.as_ref().map(|n| n.as_str().to_string()),
                    t.error_code,
                )
            })
            .collect()
    }

    /// A leader that is not an alive broker of the answer (fenced, gone) is never named:
    /// the partition is LEADER_NOT_AVAILABLE with leader -1 (librdkafka drops a leader that
    /// is missing from the brokers; the fault harness's long run hung its client after it).
    #[test]
    fn a_leader_missing_from_the_brokers_is_not_named() {
        let all = MetadataRequest {
            topics: None,
            ..Default::default()
        };
        let partition = |c: &MetadataView| {
            let ResponseBody::Metadata(m) = response(c, &all, 12, &[]) else {
                panic!()
            };
            let p = &m.topics[0].partitions[0];
            (p.error_code, p.leader_id)
        };
        let mut image = image();
        assert_eq!(
            partition(&view(&image)),
            (LEADER_NOT_AVAILABLE, -1),
            "broker 1 is not registered"
        );
        let mut fenced = broker(1, 9092, &[]);
        fenced.fenced = true;
        add_broker(&mut image, fenced);
        let fenced_answer = view(&image);
        assert_eq!(
            partition(&fenced_answer),
            (LEADER_NOT_AVAILABLE, -1),
            "broker 1 is fenced"
        );
        let ResponseBody::Metadata(m) = response(&fenced_answer, &all, 12, &[]) else {
            panic!()
        };
        assert!(m.brokers.is_empty(), "a fenced broker is left out");
        add_broker(&mut image, broker(1, 9092, &[]));
        assert_eq!(partition(&view(&image)), (NONE, 1));
    }

    #[test]
    fn empty_list_means_all_topics_only_in_v0() {
        let empty = MetadataRequest {
            topics: Some(vec![]),
            ..Default::default()
        };
        assert_eq!(
            topics(response(&metadata(), &empty, 0, &[])),
            vec![(Some("t".into()), 0)]
        );
        assert!(topics(response(&metadata(), &empty, 1, &[])).is_empty());
        let all = MetadataRequest {
            topics: None,
            ..Default::default()
        };
        assert_eq!(topics(response(&metadata(), &all, 12, &[])).len(), 1);
    }

    /// As Kafka: once a topic id is named, names are ignored (found by the differential
    /// test against Kafka).
    #[test]
    fn a_request_with_topic_ids_is_answered_by_id_only() {
        let req = MetadataRequest {
            topics: Some(vec![
                MetadataRequestTopic {
                    name: Some("t".into()),
                    topic_id: Uuid::from_u128(9),
                    ..Default::default()
                },
                MetadataRequestTopic {
                    name: Some("ignored".into()),
                    topic_id: Uuid::from_u128(7),
                    ..Default::default()
                },
                MetadataRequestTopic {
                    name: Some("t".into()),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        let mut got = topics(response(&metadata(), &req, 12, &[]));
        got.sort();
        assert_eq!(
            got,
            vec![(None, UNKNOWN_TOPIC_ID), (Some("t".into()), NONE)]
        );
    }

    #[test]
    fn missing_and_pending_topics_get_errors() {
        let req = MetadataRequest {
            topics: Some(vec![
                MetadataRequestTopic {
                    name: Some("nope".into()),
                    ..Default::default()
                },
                MetadataRequestTopic {
                    name: Some("soon".into()),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        assert_eq!(
            topics(response(&metadata(), &req, 12, &["soon".to_string()])),
            vec![
                (Some("nope".into()), UNKNOWN_TOPIC_OR_PARTITION),
                (Some("soon".into()), LEADER_NOT_AVAILABLE)
            ]
        );
    }

    #[test]
    fn topic_ids_and_null_names_before_v12_are_invalid_but_answered() {
        let req = MetadataRequest {
            topics: Some(vec![
                MetadataRequestTopic {
                    name: None,
                    topic_id: Uuid::from_u128(7),
                    ..Default::default()
                },
                MetadataRequestTopic {
                    name: Some("t".into()),
                    topic_id: Uuid::from_u128(7),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        for version in [10, 11] {
            let resp = response(&metadata(), &req, version, &[]);
            // It must encode at that version (names are not nullable before v12).
            vltava_protocol::frame::encode_response(1, version, &resp).unwrap();
            assert_eq!(
                topics(resp),
                vec![
                    (Some("".into()), INVALID_REQUEST),
                    (Some("t".into()), INVALID_REQUEST)
                ]
            );
        }
    }
}
