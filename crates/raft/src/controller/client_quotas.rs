//! AlterClientQuotas: each entry's entity and keys checked as Kafka's controller checks them
//! (user and client-id entities only, never with an empty name; the four quota keys; whole
//! numbers for the byte rates),
//! then one `ClientQuotaRecord` per changed key. An entry is applied whole or not at all.
//! `ip` entities (connection-rate quotas) are refused: this broker has none.

use vltava_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, alter_client_quotas_response,
};
use vltava_security::quota::{QuotaEntity, QuotaKey};

use super::TopicError;
use crate::apply::client_quota_record;
use crate::error::codes;
use crate::image::MetadataImage;
use crate::records::MetadataRecord;

/// Validates and plans an AlterClientQuotas request.
pub fn alter_client_quotas(
    _image: &MetadataImage,
    req: &AlterClientQuotasRequest,
    _version: i16,
) -> (AlterClientQuotasResponse, Vec<MetadataRecord>) {
    let mut records = Vec::new();
    let mut entries = Vec::with_capacity(req.entries.len());
    for entry in &req.entries {
        let planned = plan_entry(entry);
        let (error_code, error_message) = match planned {
            Ok(mut recs) => {
                if !req.validate_only {
                    records.append(&mut recs);
                }
                (codes::NONE, None)
            }
            Err(e) => (e.code, Some(e.message.into())),
        };
        entries.push(alter_client_quotas_response::EntryData {
            error_code,
            error_message,
            entity: entry
                .entity
                .iter()
                .map(|e| alter_client_quotas_response::EntityData {
                    entity_type: e.entity_type.clone(),
                    entity_name: e.entity_name.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
    }
    (
        AlterClientQuotasResponse {
            entries,
            ..Default::default()
        },
        records,
    )
}

fn invalid(message: impl Into<String>) -> TopicError {
    TopicError::new(codes::INVALID_REQUEST, message)
}

fn plan_entry(
    entry: &vltava_protocol::messages::alter_client_quotas_request::EntryData,
) -> Result<Vec<MetadataRecord>, TopicError> {
    if entry.entity.iter().any(|e| e.entity_type.as_str() == "ip") {
        return Err(invalid(
            "ip quota entities (connection_creation_rate) are not supported by this broker",
        ));
    }
    // Kafka refuses an empty name (a null name is the default entity).
    if let Some(e) = entry
        .entity
        .iter()
        .find(|e| e.entity_name.as_deref() == Some(""))
        .filter(|e| matches!(e.entity_type.as_str(), "user" | "client-id"))
    {
        return Err(invalid(format!(
            "Empty {} not supported",
            e.entity_type.as_str()
        )));
    }
    let entity = QuotaEntity::from_parts(
        entry
            .entity
            .iter()
            .map(|e| (e.entity_type.as_str(), e.entity_name.as_deref())),
    )
    .map_err(|e| invalid(format!("invalid quota entity: {e}")))?;
    let mut records = Vec::with_capacity(entry.ops.len());
    for op in &entry.ops {
        let key = QuotaKey::parse(op.key.as_str())
            .ok_or_else(|| invalid(format!("invalid configuration key {}", op.key.as_str())))?;
        if op.remove {
            records.push(MetadataRecord::ClientQuota(client_quota_record(
                &entity, key, None,
            )));
            continue;
        }
        check_value(key, op.value)?;
        records.push(MetadataRecord::ClientQuota(client_quota_record(
            &entity,
            key,
            Some(op.value),
        )));
    }
    Ok(records)
}

/// Byte rates are whole numbers (Kafka types them LONG); every value is finite and positive.
fn check_value(key: QuotaKey, value: f64) -> Result<(), TopicError> {
    if !value.is_finite() || value <= 0.0 {
        return Err(invalid(format!(
            "invalid value {value} for {}: must be a positive number",
            key.name()
        )));
    }
    let whole = matches!(key, QuotaKey::ProducerByteRate | QuotaKey::ConsumerByteRate);
    if whole && (value.fract() != 0.0 || value > i64::MAX as f64) {
        return Err(invalid(format!(
            "invalid value {value} for {}: must be a whole number of bytes per second",
            key.name()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use vltava_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};

    use super::*;
    use crate::apply::replay;

    fn entry(entity: &[(&str, Option<&str>)], ops: &[(&str, f64, bool)]) -> EntryData {
        EntryData {
            entity: entity
                .iter()
                .map(|(t, n)| EntityData {
                    entity_type: (*t).into(),
                    entity_name: n.map(Into::into),
                    ..Default::default()
                })
                .collect(),
            ops: ops
                .iter()
                .map(|(k, v, r)| OpData {
                    key: (*k).into(),
                    value: *v,
                    remove: *r,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn alter(
        image: &MetadataImage,
        entries: Vec<EntryData>,
        validate_only: bool,
    ) -> (Vec<i16>, Vec<MetadataRecord>) {
        let req = AlterClientQuotasRequest {
            entries,
            validate_only,
            ..Default::default()
        };
        let (resp, records) = alter_client_quotas(image, &req, 1);
        (resp.entries.iter().map(|e| e.error_code).collect(), records)
    }

    #[test]
    fn quotas_are_set_and_removed_through_records() {
        let mut image = MetadataImage::empty("c");
        let (codes_, records) = alter(
            &image,
            vec![
                entry(
                    &[("user", Some("alice"))],
                    &[("producer_byte_rate", 1048576.0, false)],
                ),
                entry(
                    &[("user", None), ("client-id", Some("app"))],
                    &[
                        ("request_percentage", 12.5, false),
                        ("consumer_byte_rate", 2048.0, false),
                    ],
                ),
            ],
            false,
        );
        assert_eq!(codes_, vec![0, 0]);
        replay(&mut image, &records);
        let (v, _) = image
            .client_quotas
            .resolve("alice", "x", QuotaKey::ProducerByteRate)
            .unwrap();
        assert_eq!(v, 1048576.0);
        let (v, _) = image
            .client_quotas
            .resolve("bob", "app", QuotaKey::RequestPercentage)
            .unwrap();
        assert_eq!(v, 12.5);
        let (_, records) = alter(
            &image,
            vec![entry(
                &[("user", Some("alice"))],
                &[("producer_byte_rate", 0.0, true)],
            )],
            false,
        );
        replay(&mut image, &records);
        assert!(
            image
                .client_quotas
                .resolve("alice", "x", QuotaKey::ProducerByteRate)
                .is_none()
        );
        // A snapshot of the image rebuilds it.
        let mut rebuilt = MetadataImage::empty("c");
        replay(&mut rebuilt, &crate::apply::image_to_records(&image));
        assert_eq!(rebuilt.client_quotas, image.client_quotas);
    }

    #[test]
    fn bad_entries_are_refused_whole_and_validate_only_writes_nothing() {
        let image = MetadataImage::empty("c");
        let (codes_, records) = alter(
            &image,
            vec![
                entry(&[], &[("producer_byte_rate", 1.0, false)]),
                entry(&[("user", Some("a")), ("user", Some("b"))], &[]),
                entry(
                    &[("ip", Some("1.2.3.4"))],
                    &[("connection_creation_rate", 1.0, false)],
                ),
                entry(
                    &[("user", Some("a"))],
                    &[("producer_byte_rate", 1.0, false), ("bogus", 1.0, false)],
                ),
                entry(
                    &[("user", Some("a"))],
                    &[("producer_byte_rate", 1.5, false)],
                ),
                entry(
                    &[("user", Some("a"))],
                    &[("request_percentage", -1.0, false)],
                ),
            ],
            false,
        );
        assert_eq!(codes_, vec![42; 6]);
        assert!(records.is_empty());
        let (codes_, records) = alter(
            &image,
            vec![entry(
                &[("client-id", None)],
                &[("controller_mutation_rate", 2.5, false)],
            )],
            true,
        );
        assert_eq!(codes_, vec![0]);
        assert!(records.is_empty());
    }

    #[test]
    fn empty_names_are_refused_as_kafka_does_and_null_is_the_default() {
        let image = MetadataImage::empty("c");
        let set = |entity: &[(&str, Option<&str>)]| {
            let req = AlterClientQuotasRequest {
                entries: vec![entry(entity, &[("producer_byte_rate", 5.0, false)])],
                ..Default::default()
            };
            let (resp, _) = alter_client_quotas(&image, &req, 1);
            let e = &resp.entries[0];
            (e.error_code, e.error_message.as_deref().map(str::to_string))
        };
        assert_eq!(
            set(&[("user", Some(""))]),
            (42, Some("Empty user not supported".to_string()))
        );
        assert_eq!(
            set(&[("user", Some("a")), ("client-id", Some(""))]),
            (42, Some("Empty client-id not supported".to_string()))
        );
        assert_eq!(set(&[("user", None), ("client-id", Some("c"))]), (0, None));
    }
}
