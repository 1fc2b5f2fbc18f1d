//! Kafka error codes the broker answers with (numbers from Kafka's error table),
//! and the mapping of library errors onto them.

use vltava_records::RecordsError;
use vltava_storage::StorageError;
use vltava_storage::record_rules::RejectionKind;

pub use vltava_protocol::error_codes::{
    CONCURRENT_TRANSACTIONS, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE,
    CORRUPT_MESSAGE, FENCED_LEADER_EPOCH, FETCH_SESSION_ID_NOT_FOUND, INVALID_PRODUCER_EPOCH,
    INVALID_RECORD, INVALID_REPLICATION_FACTOR, INVALID_REQUEST, INVALID_REQUIRED_ACKS,
    INVALID_TIMESTAMP, INVALID_TOPIC_EXCEPTION, INVALID_TXN_STATE, KAFKA_STORAGE_ERROR,
    LEADER_NOT_AVAILABLE, MESSAGE_TOO_LARGE, NONE, NOT_COORDINATOR, NOT_ENOUGH_REPLICAS,
    NOT_LEADER_OR_FOLLOWER, OFFSET_OUT_OF_RANGE, OUT_OF_ORDER_SEQUENCE_NUMBER, POLICY_VIOLATION,
    PRODUCER_FENCED, TOPIC_ALREADY_EXISTS, TRANSACTION_COORDINATOR_FENCED,
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED, UNKNOWN_LEADER_EPOCH, UNKNOWN_SERVER_ERROR,
    UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION, UNSUPPORTED_COMPRESSION_TYPE,
    UNSUPPORTED_ENDPOINT_TYPE, UNSUPPORTED_FOR_MESSAGE_FORMAT, UNSUPPORTED_VERSION,
};

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
