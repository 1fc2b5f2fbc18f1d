//! The `__consumer_offsets` record format: keys and values exactly as Kafka
//! writes them (a 2-byte schema version, then the schema at that version),
//! built from the generated `vltava_protocol::coordinator` types.
//!
//! Key version 0 or 1 is an `OffsetCommitKey`, key version 2 a
//! `GroupMetadataKey`; a null value is a tombstone. Other key versions belong
//! to record types this coordinator does not own (KIP-848 groups, share
//! groups) and are skipped when loading.

use bytes::{BufMut, Bytes, BytesMut};
use vltava_protocol::coordinator::{
    GroupMetadataKey, GroupMetadataValue, OffsetCommitKey, OffsetCommitValue,
};
use vltava_protocol::{Encode, Message};

use crate::error::CoordinatorError;

/// Key version written for offset commits (Kafka writes 1).
pub const OFFSET_COMMIT_KEY_VERSION: i16 = 1;
/// Key version of group metadata records.
pub const GROUP_METADATA_KEY_VERSION: i16 = 2;
/// Value version written for offset commits without an expire timestamp
/// (what Kafka 3.x and 4.0 write).
pub const OFFSET_COMMIT_VALUE_VERSION: i16 = 3;
/// Value version written for offset commits that carry an explicit expire
/// timestamp (OffsetCommit v1 commit timestamps, v2–v4 retention times).
pub const OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY: i16 = 1;
/// Value version written for group metadata (what Kafka 3.x and 4.0 write).
pub const GROUP_METADATA_VALUE_VERSION: i16 = 3;

/// One record of `__consumer_offsets` as raw key and optional value bytes.
pub type RawRecord = (Bytes, Option<Bytes>);

/// A decoded `__consumer_offsets` record that this coordinator owns.
#[derive(Debug, Clone, PartialEq)]
pub enum CoordinatorRecord {
    /// A committed offset, or its tombstone (`value: None`).
    Offset {
        /// The group the offset belongs to.
        group: String,
        /// The topic of the committed partition.
        topic: String,
        /// The committed partition.
        partition: i32,
        /// The committed offset, or `None` when deleted.
        value: Option<OffsetCommitValue>,
    },
    /// A group's metadata after a rebalance, or its tombstone.
    Group {
        /// The group id.
        group: String,
        /// The group's metadata, or `None` when deleted.
        value: Option<GroupMetadataValue>,
    },
}

/// `version` (i16) then the message at that version: the framing of every
/// coordinator record key and value.
pub(crate) fn versioned<M: Encode>(msg: &M, version: i16) -> Result<Bytes, CoordinatorError> {
    let mut out = BytesMut::with_capacity(2 + msg.encoded_len(version));
    out.put_i16(version);
    msg.write(&mut out, version)
        .map_err(|e| CoordinatorError::Encode(e.to_string()))?;
    Ok(out.freeze())
}

/// The key and value of an offset commit record. The value version is 1 when
/// `value.expire_timestamp` is set, else 3, as Kafka chooses.
pub fn offset_commit_record(
    group: &str,
    topic: &str,
    partition: i32,
    value: Option<&OffsetCommitValue>,
) -> Result<RawRecord, CoordinatorError> {
    let key = OffsetCommitKey {
        group: group.into(),
        topic: topic.into(),
        partition,
    };
    let key = versioned(&key, OFFSET_COMMIT_KEY_VERSION)?;
    let value = match value {
        None => None,
        Some(v) => {
            let version = if v.expire_timestamp >= 0 {
                OFFSET_COMMIT_VALUE_VERSION_WITH_EXPIRY
            } else {
                OFFSET_COMMIT_VALUE_VERSION
            };
            Some(versioned(v, version)?)
        }
    };
    Ok((key, value))
}

/// The key and value of a group metadata record (value version 3).
pub fn group_metadata_record(
    group: &str,
    value: Option<&GroupMetadataValue>,
) -> Result<RawRecord, CoordinatorError> {
    let key = versioned(
        &GroupMetadataKey {
            group: group.into(),
        },
        GROUP_METADATA_KEY_VERSION,
    )?;
    let value = match value {
        None => None,
        Some(v) => Some(versioned(v, GROUP_METADATA_VALUE_VERSION)?),
    };
    Ok((key, value))
}

/// Splits a record key or value into its version and body.
pub(crate) fn split_version(buf: &Bytes, what: &str) -> Result<(i16, Bytes), CoordinatorError> {
    if buf.len() < 2 {
        return Err(CoordinatorError::BadRecord(format!(
            "{what} of {} bytes has no version",
            buf.len()
        )));
    }
    let version = i16::from_be_bytes([buf[0], buf[1]]);
    Ok((version, buf.slice(2..)))
}

pub(crate) fn decode_at<M: Message>(buf: &Bytes, version: i16) -> Result<M, CoordinatorError> {
    M::decode(buf, version)
        .map_err(|e| CoordinatorError::BadRecord(format!("{} v{version}: {e}", M::NAME)))
}

/// Decodes one `__consumer_offsets` record. Returns `Ok(None)` for record
/// types this coordinator does not own (key versions above 2).
pub fn decode_record(
    key: &Bytes,
    value: Option<&Bytes>,
) -> Result<Option<CoordinatorRecord>, CoordinatorError> {
    let (key_version, key_body) = split_version(key, "key")?;
    match key_version {
        0 | 1 => {
            let k: OffsetCommitKey = decode_at(&key_body, key_version)?;
            let value = match value {
                None => None,
                Some(v) => {
                    let (vv, body) = split_version(v, "offset commit value")?;
                    Some(decode_at::<OffsetCommitValue>(&body, vv)?)
                }
            };
            Ok(Some(CoordinatorRecord::Offset {
                group: k.group.as_str().to_owned(),
                topic: k.topic.as_str().to_owned(),
                partition: k.partition,
                value,
            }))
        }
        2 => {
            let k: GroupMetadataKey = decode_at(&key_body, key_version)?;
            let value = match value {
                None => None,
                Some(v) => {
                    let (vv, body) = split_version(v, "group metadata value")?;
                    Some(decode_at::<GroupMetadataValue>(&body, vv)?)
                }
            };
            Ok(Some(CoordinatorRecord::Group {
                group: k.group.as_str().to_owned(),
                value,
            }))
        }
        v if v < 0 => Err(CoordinatorError::BadRecord(format!(
            "negative key version {v}"
        ))),
        _ => Ok(None),
    }
}
