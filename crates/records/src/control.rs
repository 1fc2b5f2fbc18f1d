//! Control records: the commit/abort markers a transaction coordinator writes
//! into each partition. A control batch (attribute bit 5) holds one record whose
//! key is `version: i16, type: i16` and, for commit/abort, whose value is an
//! end-transaction marker `version: i16, coordinator_epoch: i32`.

use bytes::Bytes;

use crate::builder::{BatchBuilder, BatchBuilderConfig};
use crate::error::RecordsError;

/// Current version of the control key and of the end-transaction marker value.
pub const CONTROL_KEY_VERSION: i16 = 0;
pub const END_TXN_MARKER_VERSION: i16 = 0;

/// The kind of a control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordType {
    /// Type 0: the transaction aborted.
    Abort,
    /// Type 1: the transaction committed.
    Commit,
    /// Any other type (KRaft uses further ones); kept so readers can skip it.
    Other(i16),
}

impl ControlRecordType {
    pub fn id(self) -> i16 {
        match self {
            ControlRecordType::Abort => 0,
            ControlRecordType::Commit => 1,
            ControlRecordType::Other(t) => t,
        }
    }

    pub fn from_id(id: i16) -> Self {
        match id {
            0 => ControlRecordType::Abort,
            1 => ControlRecordType::Commit,
            t => ControlRecordType::Other(t),
        }
    }
}

/// Encodes a control record key.
pub fn encode_key(t: ControlRecordType) -> [u8; 4] {
    let mut out = [0u8; 4];
    out[..2].copy_from_slice(&CONTROL_KEY_VERSION.to_be_bytes());
    out[2..].copy_from_slice(&t.id().to_be_bytes());
    out
}

/// Decodes a control record key into `(version, type)`.
pub fn decode_key(key: &[u8]) -> Result<(i16, ControlRecordType), RecordsError> {
    let [v0, v1, t0, t1, ..] = *key else {
        return Err(RecordsError::Truncated {
            needed: 4,
            available: key.len(),
        });
    };
    let version = i16::from_be_bytes([v0, v1]);
    if version < 0 {
        return Err(RecordsError::Malformed("negative control key version"));
    }
    Ok((
        version,
        ControlRecordType::from_id(i16::from_be_bytes([t0, t1])),
    ))
}

/// The value of a commit or abort control record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndTxnMarker {
    pub version: i16,
    pub coordinator_epoch: i32,
}

impl EndTxnMarker {
    pub fn new(coordinator_epoch: i32) -> Self {
        EndTxnMarker {
            version: END_TXN_MARKER_VERSION,
            coordinator_epoch,
        }
    }

    pub fn encode(&self) -> [u8; 6] {
        let mut out = [0u8; 6];
        out[..2].copy_from_slice(&self.version.to_be_bytes());
        out[2..].copy_from_slice(&self.coordinator_epoch.to_be_bytes());
        out
    }

    pub fn decode(value: &[u8]) -> Result<Self, RecordsError> {
        let [v0, v1, e0, e1, e2, e3, ..] = *value else {
            return Err(RecordsError::Truncated {
                needed: 6,
                available: value.len(),
            });
        };
        let version = i16::from_be_bytes([v0, v1]);
        if version < 0 {
            return Err(RecordsError::Malformed("negative end-txn marker version"));
        }
        Ok(EndTxnMarker {
            version,
            coordinator_epoch: i32::from_be_bytes([e0, e1, e2, e3]),
        })
    }
}

/// Builds a one-record control batch holding a commit or abort marker. The
/// config's producer fields and offset are used; the control and transactional
/// flags are forced on and compression off.
pub fn build_end_txn_batch(
    config: BatchBuilderConfig,
    marker: ControlRecordType,
    coordinator_epoch: i32,
    timestamp: i64,
) -> Result<Bytes, RecordsError> {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        control: true,
        transactional: true,
        compression: crate::Compression::None,
        ..config
    });
    let key = encode_key(marker);
    let value = EndTxnMarker::new(coordinator_epoch).encode();
    b.append(timestamp, Some(&key), Some(&value), &[])?;
    b.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchView, DecodeLimits};

    #[test]
    fn key_and_value_bytes() {
        assert_eq!(encode_key(ControlRecordType::Commit), [0, 0, 0, 1]);
        assert_eq!(encode_key(ControlRecordType::Abort), [0, 0, 0, 0]);
        assert_eq!(EndTxnMarker::new(7).encode(), [0, 0, 0, 0, 0, 7]);
        assert_eq!(
            decode_key(&[0, 0, 0, 1]),
            Ok((0, ControlRecordType::Commit))
        );
        assert_eq!(
            decode_key(&[0, 0, 0, 4]),
            Ok((0, ControlRecordType::Other(4)))
        );
        assert!(decode_key(&[0, 0, 0]).is_err());
        assert!(EndTxnMarker::decode(&[0, 0, 0, 0, 7]).is_err());
    }

    #[test]
    fn marker_batch_reads_back() {
        let bytes = build_end_txn_batch(
            BatchBuilderConfig {
                base_offset: 9,
                producer_id: 44,
                producer_epoch: 3,
                ..BatchBuilderConfig::default()
            },
            ControlRecordType::Abort,
            12,
            5_000,
        )
        .expect("marker");
        let view = BatchView::new(&bytes).expect("view");
        view.validate_crc().expect("crc");
        assert!(view.header().attributes.is_control());
        assert!(view.header().attributes.is_transactional());
        let recs = view.records(&DecodeLimits::default()).expect("records");
        assert_eq!(recs.len(), 1);
        let key = recs[0].key.as_deref().expect("key");
        assert_eq!(decode_key(key), Ok((0, ControlRecordType::Abort)));
        let value = recs[0].value.as_deref().expect("value");
        assert_eq!(
            EndTxnMarker::decode(value).map(|m| m.coordinator_epoch),
            Ok(12)
        );
    }
}
