//! The `__transaction_state` record format, as Kafka writes it: a 2-byte
//! schema version, then `TransactionLogKey` (version 0) or
//! `TransactionLogValue` (version 0 written, version 1 when a previous
//! producer id must be kept; both read), built
//! from the generated `vltava_protocol::coordinator` types. A null value
//! is the tombstone of an expired transactional id.

use std::collections::BTreeSet;

use bytes::Bytes;
use vltava_protocol::Message;
use vltava_protocol::coordinator::transaction_log_value::PartitionsSchema;
use vltava_protocol::coordinator::{TransactionLogKey, TransactionLogValue};

use crate::error::CoordinatorError;
use crate::records::{RawRecord, decode_at, split_version, versioned};
use crate::txn::state::{NO_PRODUCER_EPOCH, TxnSnapshot, TxnState, group_by_topic};

/// Key version Kafka writes.
pub const TXN_KEY_VERSION: i16 = 0;
/// Value version written (what Kafka writes for clients without
/// transaction version 2).
pub const TXN_VALUE_VERSION: i16 = 0;
/// Value version written when the previous producer id must be kept (after
/// a producer id rotation): version 1 has it as a tagged field.
pub const TXN_VALUE_VERSION_WITH_PREVIOUS_ID: i16 = 1;

/// The key of `transactional_id`'s records.
pub fn txn_key(transactional_id: &str) -> Result<Bytes, CoordinatorError> {
    versioned(
        &TransactionLogKey {
            transactional_id: transactional_id.into(),
        },
        TXN_KEY_VERSION,
    )
}

/// The record of `transactional_id` in state `s` (None: the tombstone).
/// Empty transactions carry null partitions, as Kafka writes them.
pub fn txn_record(
    transactional_id: &str,
    s: Option<&TxnSnapshot>,
) -> Result<RawRecord, CoordinatorError> {
    let key = txn_key(transactional_id)?;
    let Some(s) = s else {
        return Ok((key, None));
    };
    let partitions = if s.state == TxnState::Empty {
        None
    } else {
        Some(
            group_by_topic(&s.partitions)
                .into_iter()
                .map(|(topic, ids)| PartitionsSchema {
                    topic: topic.as_str().into(),
                    partition_ids: ids,
                    unknown_tagged_fields: Vec::new(),
                })
                .collect(),
        )
    };
    let value = TransactionLogValue {
        producer_id: s.producer_id,
        previous_producer_id: s.last_producer_id.max(-1),
        producer_epoch: s.producer_epoch,
        transaction_timeout_ms: s.timeout_ms,
        transaction_status: s.state.id(),
        transaction_partitions: partitions,
        transaction_last_update_timestamp_ms: s.last_update_ms,
        transaction_start_timestamp_ms: s.start_ms,
        ..TransactionLogValue::default()
    };
    let version = if value.previous_producer_id >= 0 {
        TXN_VALUE_VERSION_WITH_PREVIOUS_ID
    } else {
        TXN_VALUE_VERSION
    };
    Ok((key, Some(versioned(&value, version)?)))
}

/// Decodes one `__transaction_state` record: the transactional id and its
/// state (None for a tombstone).
pub fn decode_txn_record(
    key: &Bytes,
    value: Option<&Bytes>,
) -> Result<(String, Option<TxnSnapshot>), CoordinatorError> {
    let (kv, body) = split_version(key, "transaction log key")?;
    if kv != TXN_KEY_VERSION {
        return Err(CoordinatorError::BadRecord(format!(
            "transaction log key version {kv}"
        )));
    }
    let k: TransactionLogKey = decode_at(&body, kv)?;
    let id = k.transactional_id.as_str().to_owned();
    let Some(value) = value else {
        return Ok((id, None));
    };
    let (vv, body) = split_version(value, "transaction log value")?;
    if !TransactionLogValue::is_valid_version(vv) {
        return Err(CoordinatorError::BadRecord(format!(
            "transaction log value version {vv}"
        )));
    }
    let v: TransactionLogValue = decode_at(&body, vv)?;
    let state = TxnState::from_id(v.transaction_status).ok_or_else(|| {
        CoordinatorError::BadRecord(format!("transaction status {}", v.transaction_status))
    })?;
    let mut partitions = BTreeSet::new();
    for t in v.transaction_partitions.iter().flatten() {
        for p in &t.partition_ids {
            partitions.insert((t.topic.as_str().to_owned(), *p));
        }
    }
    Ok((
        id,
        Some(TxnSnapshot {
            producer_id: v.producer_id,
            last_producer_id: v.previous_producer_id,
            producer_epoch: v.producer_epoch,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            timeout_ms: v.transaction_timeout_ms,
            state,
            partitions,
            start_ms: v.transaction_start_timestamp_ms,
            last_update_ms: v.transaction_last_update_timestamp_ms,
        }),
    ))
}
