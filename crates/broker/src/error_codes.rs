//! Kafka error codes the broker answers with (numbers from Kafka's error table),
//! and the mapping of library errors onto them.

use vltava_records::RecordsError;
use vltava_storage::StorageError;
use vltava_storage::record_rules::RejectionKind;

pub const NONE: i16 = 0;
pub const UNKNOWN_SERVER_ERROR: i16 = -1;
pub const OFFSET_OUT_OF_RANGE: i16 = 1;
pub const CORRUPT_MESSAGE: i16 = 2;
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
pub const LEADER_NOT_AVAILABLE: i16 = 5;
pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
pub const MESSAGE_TOO_LARGE: i16 = 10;
pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
pub const NOT_COORDINATOR: i16 = 16;
pub const NOT_ENOUGH_REPLICAS: i16 = 19;
pub const INVALID_TIMESTAMP: i16 = 32;
pub const INVALID_REQUIRED_ACKS: i16 = 21;
pub const UNSUPPORTED_VERSION: i16 = 35;
pub const INVALID_REPLICATION_FACTOR: i16 = 38;
pub const TOPIC_ALREADY_EXISTS: i16 = 36;
pub const INVALID_REQUEST: i16 = 42;
pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: i16 = 43;
pub const POLICY_VIOLATION: i16 = 44;
pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
pub const INVALID_PRODUCER_EPOCH: i16 = 47;
pub const INVALID_TXN_STATE: i16 = 48;
pub const CONCURRENT_TRANSACTIONS: i16 = 51;
pub const TRANSACTION_COORDINATOR_FENCED: i16 = 52;
pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
pub const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
pub const KAFKA_STORAGE_ERROR: i16 = 56;
pub const FENCED_LEADER_EPOCH: i16 = 74;
pub const UNKNOWN_LEADER_EPOCH: i16 = 75;
pub const UNSUPPORTED_COMPRESSION_TYPE: i16 = 76;
pub const INVALID_RECORD: i16 = 87;
pub const PRODUCER_FENCED: i16 = 90;
pub const UNKNOWN_TOPIC_ID: i16 = 100;
pub const UNSUPPORTED_ENDPOINT_TYPE: i16 = 115;

/// The error code a client gets for a failed append or read.
pub fn for_storage(e: &StorageError) -> i16 {
    match e {
        StorageError::InvalidBatch(r) => for_records(r),
        StorageError::InvalidRecord(_) => INVALID_RECORD,
        StorageError::RecordsRejected(r) => match r.kind {
            RejectionKind::InvalidRecord => INVALID_RECORD,
            RejectionKind::InvalidTimestamp => INVALID_TIMESTAMP,
        },
        StorageError::BatchTooLarge { .. } => MESSAGE_TOO_LARGE,
        StorageError::OffsetOutOfRange { .. } => OFFSET_OUT_OF_RANGE,
        StorageError::OutOfOrderSequence { .. } => OUT_OF_ORDER_SEQUENCE_NUMBER,
        StorageError::InvalidProducerEpoch { .. } => INVALID_PRODUCER_EPOCH,
        StorageError::InvalidTxnState { .. } => INVALID_TXN_STATE,
        StorageError::TransactionCoordinatorFenced { .. } => TRANSACTION_COORDINATOR_FENCED,
        StorageError::Io { .. } | StorageError::LogOffline(_) | StorageError::Corrupt { .. } => {
            KAFKA_STORAGE_ERROR
        }
        // Closed for a shutdown: retriable, the client finds the partition again.
        StorageError::LogClosed(_) => NOT_LEADER_OR_FOLLOWER,
        _ => UNKNOWN_SERVER_ERROR,
    }
}

/// The error code for a batch the records crate rejects.
pub fn for_records(e: &RecordsError) -> i16 {
    match e {
        RecordsError::CorruptCrc { .. }
        | RecordsError::Truncated { .. }
        | RecordsError::InvalidLength(_) => CORRUPT_MESSAGE,
        RecordsError::UnknownCompression(_) | RecordsError::UnsupportedCompression(_) => {
            UNSUPPORTED_COMPRESSION_TYPE
        }
        _ => INVALID_RECORD,
    }
}
