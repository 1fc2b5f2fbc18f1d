//! Replay of metadata records into a `MetadataImage` (deterministic: the same records in the
//! same order always give the same image), and the inverse: an image written out as the
//! records that rebuild it (the content of a snapshot).

use std::collections::BTreeMap;

use vltava_protocol::metadata::{
    ClientQuotaRecord, ConfigRecord, FeatureLevelRecord, PartitionRecord, ProducerIdsRecord,
    RegisterBrokerRecord, TopicRecord, UserScramCredentialRecord, client_quota_record,
};
use vltava_security::quota::{QuotaEntity, QuotaKey};

use crate::image::{
    BrokerImage, ConfigResource, ConfigResourceKind, ListenerEndpoint, MetadataImage,
    PartitionImage, ScramCredential, ScramMechanism, TopicImage,
};
use crate::records::MetadataRecord;

/// Leader value in a `PartitionChangeRecord` meaning "unchanged".
const LEADER_UNCHANGED: i32 = -2;

/// Applies one record. Records that do not fit the image (a partition of an unknown topic, a
/// config of an unknown type, an unknown record type) change nothing.
// Long, and kept whole: one arm per metadata record type, the image's state
// machine; every arm is read against Kafka's replay of that record, and one
// match shows that every record type is handled.
pub fn apply_record(image: &mut MetadataImage, record: &MetadataRecord) {
    match record {
        MetadataRecord::RegisterBroker(r) => {
            let (host, port) = r
                .end_points
                .first()
                .map(|e| (e.host.to_string(), i32::from(e.port)))
                .unwrap_or_default();
            let endpoints = r
                .end_points
                .iter()
                .map(|e| ListenerEndpoint {
                    name: e.name.to_string(),
                    host: e.host.to_string(),
                    port: i32::from(e.port),
                    security_protocol: e.security_protocol,
                })
                .collect();
            image.brokers.insert(
                r.broker_id,
                BrokerImage {
                    id: r.broker_id,
                    host,
                    port,
                    endpoints,
                    rack: r.rack.as_ref().map(|s| s.to_string()),
                    fenced: r.fenced,
                    epoch: r.broker_epoch,
                },
            );
        }
        MetadataRecord::UnregisterBroker(r) => {
            image.brokers.remove(&r.broker_id);
        }
        MetadataRecord::FenceBroker(r) => {
            if let Some(b) = image.brokers.get_mut(&r.id) {
                b.fenced = true;
            }
        }
        MetadataRecord::UnfenceBroker(r) => {
            if let Some(b) = image.brokers.get_mut(&r.id) {
                b.fenced = false;
            }
        }
        MetadataRecord::Topic(r) => {
            let name = r.name.to_string();
            if image.topics.contains_key(&name) || image.topic_names.contains_key(&r.topic_id) {
                return;
            }
            image.topic_names.insert(r.topic_id, name.clone());
            image.topics.insert(
                name.clone(),
                TopicImage {
                    name,
                    id: r.topic_id,
                    partitions: BTreeMap::new(),
                },
            );
        }
        MetadataRecord::Partition(r) => {
            let Some(name) = image.topic_names.get(&r.topic_id) else {
                return;
            };
            if let Some(t) = image.topics.get_mut(name) {
                t.partitions.insert(
                    r.partition_id,
                    PartitionImage {
                        partition: r.partition_id,
                        leader: r.leader,
                        leader_epoch: r.leader_epoch,
                        partition_epoch: r.partition_epoch,
                        replicas: r.replicas.clone(),
                        isr: r.isr.clone(),
                        adding_replicas: r.adding_replicas.clone(),
                        removing_replicas: r.removing_replicas.clone(),
                    },
                );
            }
        }
        MetadataRecord::PartitionChange(r) => {
            let Some(name) = image.topic_names.get(&r.topic_id) else {
                return;
            };
            let Some(p) = image
                .topics
                .get_mut(name)
                .and_then(|t| t.partitions.get_mut(&r.partition_id))
            else {
                return;
            };
            if let Some(isr) = &r.isr {
                p.isr = isr.clone();
            }
            if let Some(replicas) = &r.replicas {
                p.replicas = replicas.clone();
            }
            if let Some(adding) = &r.adding_replicas {
                p.adding_replicas = adding.clone();
            }
            if let Some(removing) = &r.removing_replicas {
                p.removing_replicas = removing.clone();
            }
            if r.leader != LEADER_UNCHANGED && r.leader != p.leader {
                p.leader = r.leader;
                p.leader_epoch += 1;
            }
            p.partition_epoch += 1;
        }
        MetadataRecord::RemoveTopic(r) => {
            if let Some(name) = image.topic_names.remove(&r.topic_id) {
                image.topics.remove(&name);
                image.configs.remove(&ConfigResource::topic(&name));
            }
        }
        MetadataRecord::Config(r) => {
            let Some(kind) = ConfigResourceKind::from_code(r.resource_type) else {
                return;
            };
            let resource = ConfigResource {
                kind,
                name: r.resource_name.to_string(),
            };
            match &r.value {
                Some(v) => {
                    image
                        .configs
                        .entry(resource)
                        .or_default()
                        .insert(r.name.to_string(), v.to_string());
                }
                None => {
                    if let Some(map) = image.configs.get_mut(&resource) {
                        map.remove(r.name.as_str());
                        if map.is_empty() {
                            image.configs.remove(&resource);
                        }
                    }
                }
            }
        }
        MetadataRecord::ProducerIds(r) => {
            if r.next_producer_id > image.next_producer_id {
                image.next_producer_id = r.next_producer_id;
            }
        }
        MetadataRecord::FeatureLevel(r) => {
            if r.feature_level == 0 {
                image.features.remove(r.name.as_str());
            } else {
                image.features.insert(r.name.to_string(), r.feature_level);
            }
        }
        MetadataRecord::ClientQuota(r) => {
            let entity = QuotaEntity::from_parts(
                r.entity
                    .iter()
                    .map(|e| (e.entity_type.as_str(), e.entity_name.as_deref())),
            );
            // The controller only writes entities and keys it accepts; others are skipped.
            let (Ok(entity), Some(key)) = (entity, QuotaKey::parse(r.key.as_str())) else {
                return;
            };
            if r.remove {
                image.client_quotas.remove(&entity, key);
            } else {
                image.client_quotas.set(entity, key, r.value);
            }
        }
        MetadataRecord::UserScramCredential(r) => {
            let Some(mechanism) = ScramMechanism::from_code(r.mechanism) else {
                return;
            };
            image
                .scram_credentials
                .entry(r.name.to_string())
                .or_default()
                .insert(
                    mechanism,
                    ScramCredential {
                        salt: r.salt.to_vec(),
                        stored_key: r.stored_key.to_vec(),
                        server_key: r.server_key.to_vec(),
                        iterations: r.iterations,
                    },
                );
        }
        MetadataRecord::RemoveUserScramCredential(r) => {
            let Some(mechanism) = ScramMechanism::from_code(r.mechanism) else {
                return;
            };
            if let Some(map) = image.scram_credentials.get_mut(r.name.as_str()) {
                map.remove(&mechanism);
                if map.is_empty() {
                    image.scram_credentials.remove(r.name.as_str());
                }
            }
        }
        MetadataRecord::AccessControlEntry(r) => {
            if let Some(b) = crate::acl_records::binding_of(r) {
                image.acls.insert(r.id, b);
            }
        }
        MetadataRecord::RemoveAccessControlEntry(r) => {
            image.acls.remove(&r.id);
        }
        MetadataRecord::NoOp(_) | MetadataRecord::Unknown { .. } => {}
    }
}

/// Applies records in order.
pub fn replay<'a>(
    image: &mut MetadataImage,
    records: impl IntoIterator<Item = &'a MetadataRecord>,
) {
    for r in records {
        apply_record(image, r);
    }
}

/// The records that rebuild `image`'s content from an empty image (cluster id, controller id
/// and offset are not records; a snapshot stores them beside the records).
pub fn image_to_records(image: &MetadataImage) -> Vec<MetadataRecord> {
    let mut out = Vec::new();
    for (name, level) in &image.features {
        out.push(MetadataRecord::FeatureLevel(FeatureLevelRecord {
            name: name.as_str().into(),
            feature_level: *level,
            ..Default::default()
        }));
    }
    for b in image.brokers.values() {
        out.push(MetadataRecord::RegisterBroker(RegisterBrokerRecord {
            broker_id: b.id,
            broker_epoch: b.epoch,
            end_points: crate::controller::endpoints_record(&b.endpoints, &b.host, b.port),
            rack: b.rack.as_deref().map(Into::into),
            fenced: b.fenced,
            ..Default::default()
        }));
    }
    for t in image.topics.values() {
        out.push(MetadataRecord::Topic(TopicRecord {
            name: t.name.as_str().into(),
            topic_id: t.id,
            ..Default::default()
        }));
        for p in t.partitions.values() {
            out.push(MetadataRecord::Partition(partition_record(t.id, p)));
        }
    }
    let mut resources: Vec<_> = image.configs.iter().collect();
    resources.sort_by(|a, b| a.0.cmp(b.0));
    for (res, map) in resources {
        for (k, v) in map {
            out.push(MetadataRecord::Config(ConfigRecord {
                resource_type: res.kind.code(),
                resource_name: res.name.as_str().into(),
                name: k.as_str().into(),
                value: Some(v.as_str().into()),
                ..Default::default()
            }));
        }
    }
    for (entity, keys) in image.client_quotas.iter() {
        for (key, value) in keys {
            out.push(MetadataRecord::ClientQuota(client_quota_record(
                entity,
                *key,
                Some(*value),
            )));
        }
    }
    for (user, creds) in &image.scram_credentials {
        for (mechanism, c) in creds {
            out.push(MetadataRecord::UserScramCredential(scram_record(
                user, *mechanism, c,
            )));
        }
    }
    for (id, b) in &image.acls {
        out.push(crate::acl_records::create_record(*id, b));
    }
    if image.next_producer_id > 0 {
        out.push(MetadataRecord::ProducerIds(ProducerIdsRecord {
            broker_id: -1,
            broker_epoch: -1,
            next_producer_id: image.next_producer_id,
            ..Default::default()
        }));
    }
    out
}

/// The `ClientQuotaRecord` that sets `key` of `entity` to `value` (`None`: removes it).
pub fn client_quota_record(
    entity: &QuotaEntity,
    key: QuotaKey,
    value: Option<f64>,
) -> ClientQuotaRecord {
    ClientQuotaRecord {
        entity: entity
            .to_parts()
            .into_iter()
            .map(|(ty, name)| client_quota_record::EntityData {
                entity_type: ty.into(),
                entity_name: name.map(Into::into),
                ..Default::default()
            })
            .collect(),
        key: key.name().into(),
        value: value.unwrap_or(0.0),
        remove: value.is_none(),
        ..Default::default()
    }
}

/// The `UserScramCredentialRecord` that stores `credential` of `user`.
pub fn scram_record(
    user: &str,
    mechanism: ScramMechanism,
    credential: &ScramCredential,
) -> UserScramCredentialRecord {
    UserScramCredentialRecord {
        name: user.into(),
        mechanism: mechanism.code(),
        salt: credential.salt.clone().into(),
        stored_key: credential.stored_key.clone().into(),
        server_key: credential.server_key.clone().into(),
        iterations: credential.iterations,
        ..Default::default()
    }
}

/// The `PartitionRecord` that creates `p` of topic `topic_id`.
pub fn partition_record(topic_id: vltava_protocol::Uuid, p: &PartitionImage) -> PartitionRecord {
    PartitionRecord {
        partition_id: p.partition,
        topic_id,
        replicas: p.replicas.clone(),
        isr: p.isr.clone(),
        adding_replicas: p.adding_replicas.clone(),
        removing_replicas: p.removing_replicas.clone(),
        leader: p.leader,
        leader_epoch: p.leader_epoch,
        partition_epoch: p.partition_epoch,
        ..Default::default()
    }
}
