//! Producer batches in the simulated logs. A [`Rec`]'s value is one record; the values of
//! idempotent and transactional producers and of transaction markers carry, packed into
//! the `u64`, what the batch header of a real one-record batch says: producer id, epoch,
//! sequence, the transactional and control flags, and for a COMMIT/ABORT marker its
//! outcome and coordinator epoch. [`header`] turns a record back into the real
//! `vltava_records::BatchHeader` (and [`marker`] into the marker), which the brokers' producer
//! state (`vltava_storage::producer_state`) checks and applies. Other values (plain
//! produces, coordinator record ids) have the top bit clear: batches without a producer.

use vltava_records::batch_header::{NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE};
use vltava_records::{Attributes, BatchHeader, Compression, TimestampType};
use vltava_storage::producer_state::TxnMarker;

use crate::log::Rec;

const PRODUCER_BIT: u64 = 1 << 63;
const TRANSACTIONAL_BIT: u64 = 1 << 62;
const CONTROL_BIT: u64 = 1 << 61;
const COMMIT_BIT: u64 = 1 << 60;
/// Producer ids fit in 12 bits.
pub const MAX_PRODUCER_ID: i64 = 0xFFF;

/// What one producer value says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Batch {
    /// A data record of a producer (idempotent, or in a transaction).
    Data {
        producer_id: i64,
        epoch: i16,
        sequence: i32,
        transactional: bool,
    },
    /// A COMMIT or ABORT marker.
    Marker {
        producer_id: i64,
        epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
    },
}

impl Batch {
    /// The value a log holds for this batch (`None`: a producer id out of range).
    pub fn encode(self) -> Option<u64> {
        let (pid, epoch, low, flags) = match self {
            Batch::Data {
                producer_id,
                epoch,
                sequence,
                transactional,
            } => (
                producer_id,
                epoch,
                sequence as u32,
                if transactional { TRANSACTIONAL_BIT } else { 0 },
            ),
            Batch::Marker {
                producer_id,
                epoch,
                commit,
                coordinator_epoch,
            } => (
                producer_id,
                epoch,
                coordinator_epoch as u32,
                TRANSACTIONAL_BIT | CONTROL_BIT | if commit { COMMIT_BIT } else { 0 },
            ),
        };
        if !(0..=MAX_PRODUCER_ID).contains(&pid) {
            return None;
        }
        Some(
            PRODUCER_BIT
                | flags
                | ((pid as u64) << 48)
                | (u64::from(epoch as u16) << 32)
                | u64::from(low),
        )
    }

    /// The batch a value holds, if a producer wrote it.
    pub fn decode(value: u64) -> Option<Batch> {
        if value & PRODUCER_BIT == 0 {
            return None;
        }
        let producer_id = ((value >> 48) & 0xFFF) as i64;
        let epoch = ((value >> 32) & 0xFFFF) as u16 as i16;
        let low = (value & 0xFFFF_FFFF) as u32 as i32;
        Some(if value & CONTROL_BIT != 0 {
            Batch::Marker {
                producer_id,
                epoch,
                commit: value & COMMIT_BIT != 0,
                coordinator_epoch: low,
            }
        } else {
            Batch::Data {
                producer_id,
                epoch,
                sequence: low,
                transactional: value & TRANSACTIONAL_BIT != 0,
            }
        })
    }

    /// The producer id.
    pub fn producer_id(self) -> i64 {
        match self {
            Batch::Data { producer_id, .. } | Batch::Marker { producer_id, .. } => producer_id,
        }
    }
}

/// The header of the one-record batch `rec` at `offset`, as the broker's log parses it.
pub fn header(rec: Rec, offset: u64) -> BatchHeader {
    let (producer_id, producer_epoch, base_sequence, transactional, control) =
        match Batch::decode(rec.value) {
            None => (NO_PRODUCER_ID, NO_PRODUCER_EPOCH, NO_SEQUENCE, false, false),
            Some(Batch::Data {
                producer_id,
                epoch,
                sequence,
                transactional,
            }) => (producer_id, epoch, sequence, transactional, false),
            Some(Batch::Marker {
                producer_id, epoch, ..
            }) => (producer_id, epoch, NO_SEQUENCE, true, true),
        };
    BatchHeader {
        base_offset: i64::try_from(offset).unwrap_or(i64::MAX),
        batch_length: 0,
        partition_leader_epoch: rec.epoch,
        magic: 2,
        crc: 0,
        attributes: Attributes::new(
            Compression::None,
            TimestampType::CreateTime,
            transactional,
            control,
        ),
        last_offset_delta: 0,
        base_timestamp: 0,
        max_timestamp: 0,
        producer_id,
        producer_epoch,
        base_sequence,
        record_count: 1,
    }
}

/// What the control record of marker `rec` says (`None`: not a marker).
pub fn marker(rec: Rec) -> Option<TxnMarker> {
    match Batch::decode(rec.value)? {
        Batch::Marker {
            commit,
            coordinator_epoch,
            ..
        } => Some(TxnMarker {
            commit,
            coordinator_epoch,
        }),
        Batch::Data { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_plain_values_have_no_producer() {
        let data = Batch::Data {
            producer_id: 4095,
            epoch: 32_000,
            sequence: i32::MAX,
            transactional: true,
        };
        let marker_batch = Batch::Marker {
            producer_id: 3,
            epoch: 0,
            commit: false,
            coordinator_epoch: 17,
        };
        for b in [data, marker_batch] {
            assert_eq!(b.encode().and_then(Batch::decode), Some(b));
        }
        assert_eq!(Batch::decode(12), None);
        let h = header(
            Rec {
                epoch: 1,
                value: 12,
            },
            5,
        );
        assert_eq!(h.producer_id, NO_PRODUCER_ID);
        let v = marker_batch.encode().unwrap_or(0);
        let h = header(Rec { epoch: 1, value: v }, 5);
        assert!(h.attributes.is_control() && h.attributes.is_transactional());
        assert_eq!(
            marker(Rec { epoch: 1, value: v }).map(|m| m.coordinator_epoch),
            Some(17)
        );
        let too_big = Batch::Data {
            producer_id: 4096,
            epoch: 0,
            sequence: 0,
            transactional: false,
        };
        assert_eq!(too_big.encode(), None);
    }
}
