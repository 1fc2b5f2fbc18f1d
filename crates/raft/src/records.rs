//! Metadata records and their framing in the metadata log, as in Kafka's KRaft log:
//! each record is `frame version (uvarint, 1) | record type = schema apiKey (uvarint) |
//! record version (uvarint) | record body`. One raft entry carries one batch of records,
//! each prefixed by its framed length (u32, big-endian), applied atomically.

use bytes::{BufMut, Bytes, BytesMut};
use vltava_protocol::Message;
use vltava_protocol::metadata::{
    AccessControlEntryRecord, ClientQuotaRecord, ConfigRecord, FeatureLevelRecord,
    FenceBrokerRecord, NoOpRecord, PartitionChangeRecord, PartitionRecord, ProducerIdsRecord,
    RegisterBrokerRecord, RemoveAccessControlEntryRecord, RemoveTopicRecord,
    RemoveUserScramCredentialRecord, TopicRecord, UnfenceBrokerRecord, UnregisterBrokerRecord,
    UserScramCredentialRecord,
};

use crate::error::RaftError;

/// The only frame version Kafka defines.
pub const FRAME_VERSION: u32 = 1;
/// Largest framed record accepted when decoding an entry.
pub const MAX_RECORD_BYTES: usize = 8 * 1024 * 1024;
/// Largest batch of records (one raft entry) the controller proposes.
pub const MAX_ENTRY_BYTES: usize = 32 * 1024 * 1024;

/// One record of the metadata log.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataRecord {
    RegisterBroker(RegisterBrokerRecord),
    UnregisterBroker(UnregisterBrokerRecord),
    Topic(TopicRecord),
    Partition(PartitionRecord),
    Config(ConfigRecord),
    PartitionChange(PartitionChangeRecord),
    FenceBroker(FenceBrokerRecord),
    UnfenceBroker(UnfenceBrokerRecord),
    RemoveTopic(RemoveTopicRecord),
    UserScramCredential(UserScramCredentialRecord),
    RemoveUserScramCredential(RemoveUserScramCredentialRecord),
    FeatureLevel(FeatureLevelRecord),
    ProducerIds(ProducerIdsRecord),
    ClientQuota(ClientQuotaRecord),
    /// An ACL created (record type 18).
    AccessControlEntry(AccessControlEntryRecord),
    /// An ACL deleted (record type 19).
    RemoveAccessControlEntry(RemoveAccessControlEntryRecord),
    NoOp(NoOpRecord),
    /// A record type this version does not apply; kept so replay skips it deterministically.
    Unknown {
        record_type: u32,
        version: u32,
        body: Bytes,
    },
}

fn encode_body<M: Message>(m: &M, version: i16) -> Result<Bytes, RaftError> {
    m.encode_to_bytes(version)
        .map_err(|e| RaftError::Codec(format!("{}: {e}", M::NAME)))
}

fn decode_body<M: Message>(body: &Bytes, version: u32) -> Result<M, RaftError> {
    let v = i16::try_from(version)
        .map_err(|_| RaftError::Codec(format!("{} version {version} out of range", M::NAME)))?;
    M::decode(body, v).map_err(|e| RaftError::Codec(format!("{}: {e}", M::NAME)))
}

impl MetadataRecord {
    /// The record type id (the schema's apiKey) and the version written.
    pub fn type_and_version(&self) -> (u32, u32) {
        match self {
            MetadataRecord::RegisterBroker(_) => (0, RegisterBrokerRecord::MAX_VERSION as u32),
            MetadataRecord::UnregisterBroker(_) => (1, UnregisterBrokerRecord::MAX_VERSION as u32),
            MetadataRecord::Topic(_) => (2, TopicRecord::MAX_VERSION as u32),
            MetadataRecord::Partition(_) => (3, PartitionRecord::MAX_VERSION as u32),
            MetadataRecord::Config(_) => (4, ConfigRecord::MAX_VERSION as u32),
            MetadataRecord::PartitionChange(_) => (5, PartitionChangeRecord::MAX_VERSION as u32),
            MetadataRecord::FenceBroker(_) => (7, FenceBrokerRecord::MAX_VERSION as u32),
            MetadataRecord::UnfenceBroker(_) => (8, UnfenceBrokerRecord::MAX_VERSION as u32),
            MetadataRecord::RemoveTopic(_) => (9, RemoveTopicRecord::MAX_VERSION as u32),
            MetadataRecord::UserScramCredential(_) => {
                (11, UserScramCredentialRecord::MAX_VERSION as u32)
            }
            MetadataRecord::RemoveUserScramCredential(_) => {
                (22, RemoveUserScramCredentialRecord::MAX_VERSION as u32)
            }
            MetadataRecord::FeatureLevel(_) => (12, FeatureLevelRecord::MAX_VERSION as u32),
            MetadataRecord::ProducerIds(_) => (15, ProducerIdsRecord::MAX_VERSION as u32),
            MetadataRecord::ClientQuota(_) => (14, ClientQuotaRecord::MAX_VERSION as u32),
            MetadataRecord::AccessControlEntry(_) => {
                (18, AccessControlEntryRecord::MAX_VERSION as u32)
            }
            MetadataRecord::RemoveAccessControlEntry(_) => {
                (19, RemoveAccessControlEntryRecord::MAX_VERSION as u32)
            }
            MetadataRecord::NoOp(_) => (20, NoOpRecord::MAX_VERSION as u32),
            MetadataRecord::Unknown {
                record_type,
                version,
                ..
            } => (*record_type, *version),
        }
    }

    fn body(&self) -> Result<Bytes, RaftError> {
        let (_, v) = self.type_and_version();
        let v = v as i16;
        match self {
            MetadataRecord::RegisterBroker(r) => encode_body(r, v),
            MetadataRecord::UnregisterBroker(r) => encode_body(r, v),
            MetadataRecord::Topic(r) => encode_body(r, v),
            MetadataRecord::Partition(r) => encode_body(r, v),
            MetadataRecord::Config(r) => encode_body(r, v),
            MetadataRecord::PartitionChange(r) => encode_body(r, v),
            MetadataRecord::FenceBroker(r) => encode_body(r, v),
            MetadataRecord::UnfenceBroker(r) => encode_body(r, v),
            MetadataRecord::RemoveTopic(r) => encode_body(r, v),
            MetadataRecord::UserScramCredential(r) => encode_body(r, v),
            MetadataRecord::RemoveUserScramCredential(r) => encode_body(r, v),
            MetadataRecord::FeatureLevel(r) => encode_body(r, v),
            MetadataRecord::ProducerIds(r) => encode_body(r, v),
            MetadataRecord::ClientQuota(r) => encode_body(r, v),
            MetadataRecord::AccessControlEntry(r) => encode_body(r, v),
            MetadataRecord::RemoveAccessControlEntry(r) => encode_body(r, v),
            MetadataRecord::NoOp(r) => encode_body(r, v),
            MetadataRecord::Unknown { body, .. } => Ok(body.clone()),
        }
    }

    /// Encodes the framed record (frame version, type, version, body).
    pub fn encode_framed(&self) -> Result<Bytes, RaftError> {
        let (t, v) = self.type_and_version();
        let body = self.body()?;
        let mut out = BytesMut::with_capacity(body.len() + 8);
        put_uvarint(&mut out, FRAME_VERSION);
        put_uvarint(&mut out, t);
        put_uvarint(&mut out, v);
        out.put_slice(&body);
        Ok(out.freeze())
    }

    /// Decodes one framed record.
    pub fn decode_framed(buf: &Bytes) -> Result<MetadataRecord, RaftError> {
        let mut pos = 0usize;
        let frame = get_uvarint(buf, &mut pos)?;
        if frame != FRAME_VERSION {
            return Err(RaftError::Codec(format!("unknown frame version {frame}")));
        }
        let t = get_uvarint(buf, &mut pos)?;
        let v = get_uvarint(buf, &mut pos)?;
        let body = buf.slice(pos..);
        Ok(match t {
            0 => MetadataRecord::RegisterBroker(decode_body(&body, v)?),
            1 => MetadataRecord::UnregisterBroker(decode_body(&body, v)?),
            2 => MetadataRecord::Topic(decode_body(&body, v)?),
            3 => MetadataRecord::Partition(decode_body(&body, v)?),
            4 => MetadataRecord::Config(decode_body(&body, v)?),
            5 => MetadataRecord::PartitionChange(decode_body(&body, v)?),
            7 => MetadataRecord::FenceBroker(decode_body(&body, v)?),
            8 => MetadataRecord::UnfenceBroker(decode_body(&body, v)?),
            9 => MetadataRecord::RemoveTopic(decode_body(&body, v)?),
            11 => MetadataRecord::UserScramCredential(decode_body(&body, v)?),
            12 => MetadataRecord::FeatureLevel(decode_body(&body, v)?),
            14 => MetadataRecord::ClientQuota(decode_body(&body, v)?),
            15 => MetadataRecord::ProducerIds(decode_body(&body, v)?),
            18 => MetadataRecord::AccessControlEntry(decode_body(&body, v)?),
            19 => MetadataRecord::RemoveAccessControlEntry(decode_body(&body, v)?),
            20 => MetadataRecord::NoOp(decode_body(&body, v)?),
            22 => MetadataRecord::RemoveUserScramCredential(decode_body(&body, v)?),
            _ => MetadataRecord::Unknown {
                record_type: t,
                version: v,
                body,
            },
        })
    }
}

/// Encodes a batch of records as one raft entry payload.
pub fn encode_batch(records: &[MetadataRecord]) -> Result<Bytes, RaftError> {
    let mut out = BytesMut::new();
    for r in records {
        let framed = r.encode_framed()?;
        if framed.len() > MAX_RECORD_BYTES {
            return Err(RaftError::Limit(format!(
                "a metadata record of {} bytes exceeds {MAX_RECORD_BYTES}",
                framed.len()
            )));
        }
        out.put_u32(framed.len() as u32);
        out.put_slice(&framed);
        if out.len() > MAX_ENTRY_BYTES {
            return Err(RaftError::Limit(format!(
                "a metadata batch exceeds {MAX_ENTRY_BYTES} bytes"
            )));
        }
    }
    Ok(out.freeze())
}

/// Decodes a raft entry payload into its records.
pub fn decode_batch(buf: &Bytes) -> Result<Vec<MetadataRecord>, RaftError> {
    let mut records = Vec::new();
    let mut pos = 0usize;
    while pos < buf.len() {
        let Some(len_bytes) = buf.get(pos..pos + 4) else {
            return Err(RaftError::Codec("truncated record length".into()));
        };
        let len =
            u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
        pos += 4;
        if len > MAX_RECORD_BYTES || pos + len > buf.len() {
            return Err(RaftError::Codec(format!("bad record length {len}")));
        }
        records.push(MetadataRecord::decode_framed(&buf.slice(pos..pos + len))?);
        pos += len;
    }
    Ok(records)
}

fn put_uvarint(out: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

fn get_uvarint(buf: &[u8], pos: &mut usize) -> Result<u32, RaftError> {
    let mut v: u32 = 0;
    for shift in (0..35).step_by(7) {
        let Some(&b) = buf.get(*pos) else {
            return Err(RaftError::Codec("truncated varint".into()));
        };
        *pos += 1;
        v |= u32::from(b & 0x7f)
            .checked_shl(shift)
            .ok_or_else(|| RaftError::Codec("varint overflow".into()))?;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(RaftError::Codec("varint too long".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vltava_protocol::Uuid;

    #[test]
    fn framed_record_round_trips_and_starts_with_kafka_frame() {
        let r = MetadataRecord::Topic(TopicRecord {
            name: "orders".into(),
            topic_id: Uuid::from_u128(7),
            ..Default::default()
        });
        let framed = r.encode_framed().unwrap();
        assert_eq!(&framed[..3], &[1, 2, 0]);
        assert_eq!(MetadataRecord::decode_framed(&framed).unwrap(), r);
    }

    #[test]
    fn batch_round_trips_and_rejects_truncation() {
        let recs = vec![
            MetadataRecord::RemoveTopic(RemoveTopicRecord {
                topic_id: Uuid::from_u128(9),
                ..Default::default()
            }),
            MetadataRecord::ProducerIds(ProducerIdsRecord {
                broker_id: 1,
                broker_epoch: -1,
                next_producer_id: 1000,
                ..Default::default()
            }),
        ];
        let b = encode_batch(&recs).unwrap();
        assert_eq!(decode_batch(&b).unwrap(), recs);
        assert!(decode_batch(&b.slice(..b.len() - 1)).is_err());
    }

    #[test]
    fn acl_records_use_kafkas_types_18_and_19() {
        let add = MetadataRecord::AccessControlEntry(AccessControlEntryRecord {
            id: Uuid::from_u128(5),
            resource_type: 2,
            resource_name: "orders".into(),
            pattern_type: 3,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: 3,
            permission_type: 3,
            ..Default::default()
        });
        let remove = MetadataRecord::RemoveAccessControlEntry(RemoveAccessControlEntryRecord {
            id: Uuid::from_u128(5),
            ..Default::default()
        });
        for (r, t) in [(add, 18), (remove, 19)] {
            let framed = r.encode_framed().unwrap();
            assert_eq!(&framed[..3], &[1, t, 0]);
            assert_eq!(MetadataRecord::decode_framed(&framed).unwrap(), r);
        }
    }

    #[test]
    fn unknown_record_types_are_kept() {
        let framed = Bytes::from_static(&[1, 99, 0, 5, 6]);
        let r = MetadataRecord::decode_framed(&framed).unwrap();
        assert!(matches!(
            r,
            MetadataRecord::Unknown {
                record_type: 99,
                ..
            }
        ));
        assert_eq!(r.encode_framed().unwrap(), framed);
    }
}
