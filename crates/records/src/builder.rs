//! Building v2 batches for producers (and for the log cleaner): append records up
//! to a size limit, then compress and seal the batch with its header and CRC.

use bytes::Bytes;

use crate::batch_header::{
    Attributes, BATCH_HEADER_LEN, BatchHeader, Compression, LOG_OVERHEAD, MAGIC_V2,
    NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, TimestampType,
    update_crc,
};
use crate::compression::compress_into;
use crate::error::RecordsError;
use crate::record::{Header, body_len, encoded_len, write_record};

/// Kafka's default `message.max.bytes` (1 MiB plus the log overhead).
pub const DEFAULT_MAX_BATCH_BYTES: usize = 1_048_588;

/// What a [`BatchBuilder`] writes into the batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchBuilderConfig {
    pub compression: Compression,
    pub base_offset: i64,
    pub partition_leader_epoch: i32,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub transactional: bool,
    pub control: bool,
    pub timestamp_type: TimestampType,
    /// Size target for the batch. Checked against the uncompressed size, so a
    /// compressed batch always ends up smaller. The first record is always
    /// accepted, as Kafka's producer does with a record larger than `batch.size`.
    pub max_batch_bytes: usize,
}

impl Default for BatchBuilderConfig {
    fn default() -> Self {
        BatchBuilderConfig {
            compression: Compression::None,
            base_offset: 0,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            transactional: false,
            control: false,
            timestamp_type: TimestampType::CreateTime,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
        }
    }
}

/// Most bytes reserved up front for a batch's records; a larger `max_batch_bytes`
/// grows the buffer as records arrive.
const INITIAL_RESERVE: usize = 64 * 1024;

/// Largest `max_batch_bytes` a buffer grows to in one step once past
/// [`INITIAL_RESERVE`]; a larger (or unbounded) limit grows by doubling.
const MAX_ONE_STEP_GROWTH: usize = 16 << 20;

/// Accumulates records for one v2 batch.
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    config: BatchBuilderConfig,
    /// The batch as it will be written: `BATCH_HEADER_LEN` bytes left for the
    /// header (filled by `build`), then the records, so an uncompressed batch is
    /// sealed without copying its records.
    records: Vec<u8>,
    count: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    last_offset_delta: i32,
    /// KIP-534's delete horizon: the base timestamp, flagged in the attributes.
    delete_horizon: Option<i64>,
}

impl BatchBuilder {
    pub fn new(config: BatchBuilderConfig) -> Self {
        Self::with_buffer(config, Vec::new())
    }

    /// A builder writing into `buffer` (cleared; its capacity kept), for a producer
    /// that reuses the buffers of finished batches: pages already touched, no
    /// allocation per batch.
    pub fn with_buffer(config: BatchBuilderConfig, mut buffer: Vec<u8>) -> Self {
        buffer.clear();
        buffer.reserve(BATCH_HEADER_LEN + config.max_batch_bytes.min(INITIAL_RESERVE));
        buffer.resize(BATCH_HEADER_LEN, 0);
        let records = buffer;
        BatchBuilder {
            config,
            records,
            count: 0,
            base_timestamp: 0,
            max_timestamp: i64::MIN,
            last_offset_delta: -1,
            delete_horizon: None,
        }
    }

    /// Stamps the batch with a delete horizon (KIP-534, what Kafka's log cleaner
    /// writes into a batch it will delete later): the base timestamp becomes
    /// `horizon_ms` and the attributes get the delete-horizon flag; record
    /// timestamps stay as appended (their deltas are taken from the horizon).
    /// Call before the first append.
    pub fn set_delete_horizon(&mut self, horizon_ms: i64) -> Result<(), RecordsError> {
        if !self.is_empty() {
            return Err(RecordsError::InvalidArgument(
                "the delete horizon is set before the first record",
            ));
        }
        self.delete_horizon = Some(horizon_ms);
        self.base_timestamp = horizon_ms;
        Ok(())
    }

    pub fn config(&self) -> &BatchBuilderConfig {
        &self.config
    }

    /// True while no record has been appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Records appended so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// The batch's size if built uncompressed now.
    pub fn uncompressed_size(&self) -> usize {
        self.records.len()
    }

    /// Appends a record at the next offset (base offset + records so far, or just
    /// after the last appended offset). Returns `Ok(false)` without appending when
    /// the record would take the batch past `max_batch_bytes`.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<bool, RecordsError> {
        let delta = self
            .last_offset_delta
            .checked_add(1)
            .ok_or(RecordsError::InvalidArgument("offset delta overflows i32"))?;
        self.append_at_delta(delta, timestamp, key, value, headers)
    }

    /// Appends a record at an explicit offset, for rewriting batches whose offsets
    /// have gaps (compaction). Offsets must increase and stay within i32 of the
    /// base offset.
    pub fn append_with_offset(
        &mut self,
        offset: i64,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<bool, RecordsError> {
        let delta = offset
            .checked_sub(self.config.base_offset)
            .and_then(|d| i32::try_from(d).ok())
            .filter(|&d| d >= 0)
            .ok_or(RecordsError::InvalidArgument(
                "offset must be within i32 above the base offset",
            ))?;
        if delta <= self.last_offset_delta {
            return Err(RecordsError::InvalidArgument(
                "offsets must increase within a batch",
            ));
        }
        self.append_at_delta(delta, timestamp, key, value, headers)
    }

    fn append_at_delta(
        &mut self,
        offset_delta: i32,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<bool, RecordsError> {
        let base_timestamp = match self.delete_horizon {
            Some(h) => h,
            None if self.is_empty() => timestamp,
            None => self.base_timestamp,
        };
        let timestamp_delta =
            timestamp
                .checked_sub(base_timestamp)
                .ok_or(RecordsError::InvalidArgument(
                    "timestamp delta overflows i64",
                ))?;
        let body = body_len(timestamp_delta, offset_delta, key, value, headers)?;
        if body > i32::MAX as usize {
            return Err(RecordsError::Oversized {
                what: "record",
                limit: i32::MAX as usize,
            });
        }
        let needed = encoded_len(body);
        let total = self.uncompressed_size() + needed;
        if !self.is_empty() && total > self.config.max_batch_bytes {
            return Ok(false);
        }
        if total - LOG_OVERHEAD > i32::MAX as usize {
            return Err(RecordsError::Oversized {
                what: "batch",
                limit: i32::MAX as usize,
            });
        }
        let len = self.records.len();
        if self.records.capacity() - len < needed {
            if self.config.max_batch_bytes <= MAX_ONE_STEP_GROWTH {
                // Past the initial reserve, one step to the batch's limit rather than
                // doubling: each doubling copies every record so far into fresh pages
                // (a 1 MB batch grown from 64 KiB is written about twice). Kafka's
                // producer also takes `batch.size` for a batch at once.
                let target = (BATCH_HEADER_LEN + self.config.max_batch_bytes).max(len + needed);
                self.records.reserve_exact(target - len);
            } else {
                self.records.reserve(needed);
            }
        }
        write_record(
            &mut self.records,
            body,
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers,
        );
        self.base_timestamp = base_timestamp;
        self.max_timestamp = self.max_timestamp.max(timestamp);
        self.last_offset_delta = offset_delta;
        self.count += 1;
        Ok(true)
    }

    /// Compresses the records and seals the batch: header, then records, CRC set.
    /// An empty builder is an error (Kafka never produces an empty batch).
    pub fn build(self) -> Result<Bytes, RecordsError> {
        self.build_into(Vec::new()).map(|(batch, _)| batch)
    }

    /// [`BatchBuilder::build`], a compressed batch written into `spare` (cleared; its
    /// capacity reused). Also returns the buffer the caller may reuse: the records'
    /// buffer of a compressed batch, else `spare` untouched.
    pub fn build_into(self, spare: Vec<u8>) -> Result<(Bytes, Vec<u8>), RecordsError> {
        if self.is_empty() {
            return Err(RecordsError::InvalidArgument("cannot build an empty batch"));
        }
        let (compressed, spare) = match self.config.compression {
            Compression::None => (None, spare),
            codec => {
                let mut out = spare;
                out.clear();
                out.reserve(self.records.len() / 2 + 32);
                out.resize(BATCH_HEADER_LEN, 0);
                compress_into(codec, &self.records[BATCH_HEADER_LEN..], &mut out)?;
                (Some(out), Vec::new())
            }
        };
        let payload_len = compressed
            .as_ref()
            .map_or(self.records.len() - BATCH_HEADER_LEN, |c| {
                c.len() - BATCH_HEADER_LEN
            });
        let batch_length =
            i32::try_from(BATCH_HEADER_LEN - LOG_OVERHEAD + payload_len).map_err(|_| {
                RecordsError::Oversized {
                    what: "batch",
                    limit: i32::MAX as usize,
                }
            })?;
        let c = &self.config;
        let header = BatchHeader {
            base_offset: c.base_offset,
            batch_length,
            partition_leader_epoch: c.partition_leader_epoch,
            magic: MAGIC_V2,
            crc: 0,
            attributes: Attributes::new(
                c.compression,
                c.timestamp_type,
                c.transactional,
                c.control,
            )
            .with_delete_horizon(self.delete_horizon.is_some()),
            last_offset_delta: self.last_offset_delta,
            base_timestamp: self.base_timestamp,
            max_timestamp: self.max_timestamp,
            producer_id: c.producer_id,
            producer_epoch: c.producer_epoch,
            base_sequence: c.base_sequence,
            record_count: self.count,
        };
        let mut head = [0u8; BATCH_HEADER_LEN];
        header.write_to(&mut head);
        // The header goes into the space left for it (before the records, or before
        // the compressed payload).
        let (mut out, reusable) = match compressed {
            None => (self.records, spare),
            Some(out) => (out, self.records),
        };
        out[..BATCH_HEADER_LEN].copy_from_slice(&head);
        update_crc(&mut out);
        Ok((Bytes::from(out), reusable))
    }
}

/// A batch with no records, as Kafka's log cleaner writes when compaction
/// removes every record of a batch whose producer state must be kept: the header
/// keeps the offset range up to `last_offset` and the producer fields of
/// `config`; both timestamps are `timestamp`; no compression.
pub fn empty_batch(
    config: &BatchBuilderConfig,
    last_offset: i64,
    timestamp: i64,
) -> Result<Bytes, RecordsError> {
    let last_offset_delta = last_offset
        .checked_sub(config.base_offset)
        .and_then(|d| i32::try_from(d).ok())
        .filter(|&d| d >= 0)
        .ok_or(RecordsError::InvalidArgument(
            "last offset must be within i32 above the base offset",
        ))?;
    let header = BatchHeader {
        base_offset: config.base_offset,
        batch_length: (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32,
        partition_leader_epoch: config.partition_leader_epoch,
        magic: MAGIC_V2,
        crc: 0,
        attributes: Attributes::new(
            Compression::None,
            config.timestamp_type,
            config.transactional,
            config.control,
        ),
        last_offset_delta,
        base_timestamp: timestamp,
        max_timestamp: timestamp,
        producer_id: config.producer_id,
        producer_epoch: config.producer_epoch,
        base_sequence: config.base_sequence,
        record_count: 0,
    };
    let mut out = [0u8; BATCH_HEADER_LEN];
    header.write_to(&mut out);
    update_crc(&mut out);
    Ok(Bytes::copy_from_slice(&out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchView, DecodeLimits};

    #[test]
    fn builds_a_valid_batch_with_header_fields() {
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            base_offset: 100,
            producer_id: 5,
            producer_epoch: 2,
            base_sequence: 10,
            transactional: true,
            compression: Compression::Gzip,
            ..BatchBuilderConfig::default()
        });
        assert!(b.append(1000, Some(b"k"), Some(b"v"), &[]).expect("append"));
        assert!(b.append(990, None, Some(b"w"), &[]).expect("append"));
        let bytes = b.build().expect("build");
        let view = BatchView::new(&bytes).expect("view");
        view.validate_crc().expect("crc");
        let h = view.header();
        assert_eq!(h.base_offset, 100);
        assert_eq!(h.last_offset_delta, 1);
        assert_eq!(h.base_timestamp, 1000);
        assert_eq!(h.max_timestamp, 1000);
        assert_eq!(h.record_count, 2);
        assert!(h.attributes.is_transactional());
        assert_eq!(h.attributes.compression(), Some(Compression::Gzip));
        let recs = view.records(&DecodeLimits::default()).expect("records");
        assert_eq!(recs[1].timestamp(h), 990);
        assert_eq!(recs[1].offset(h), 101);
    }

    #[test]
    fn a_delete_horizon_is_the_base_timestamp_and_records_keep_theirs() {
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            control: true,
            transactional: true,
            ..BatchBuilderConfig::default()
        });
        b.set_delete_horizon(5_000).expect("horizon");
        assert!(
            b.append(1_000, Some(b"k"), Some(b"v"), &[])
                .expect("append")
        );
        assert!(b.set_delete_horizon(6_000).is_err());
        let bytes = b.build().expect("build");
        let view = BatchView::new(&bytes).expect("view");
        view.validate_crc().expect("crc");
        let h = view.header();
        assert!(h.attributes.has_delete_horizon());
        assert!(h.attributes.is_control() && h.attributes.is_transactional());
        assert_eq!((h.base_timestamp, h.max_timestamp), (5_000, 1_000));
        let recs = view.records(&DecodeLimits::default()).expect("records");
        assert_eq!(recs[0].timestamp(h), 1_000);
    }

    #[test]
    fn a_buffer_past_the_initial_reserve_grows_once_to_the_limit() {
        let limit = 1 << 20;
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            max_batch_bytes: limit,
            ..BatchBuilderConfig::default()
        });
        let value = vec![7u8; 1000];
        let mut capacities = std::collections::BTreeSet::new();
        while b.append(0, None, Some(&value), &[]).expect("append") {
            capacities.insert(b.records.capacity());
        }
        // The initial reserve, then the limit: no doubling steps between.
        let expected: std::collections::BTreeSet<usize> =
            [BATCH_HEADER_LEN + INITIAL_RESERVE, BATCH_HEADER_LEN + limit].into();
        assert_eq!(capacities, expected);
        assert!(b.uncompressed_size() <= limit);

        // An unbounded builder (the cleaner's, the metadata log's) still doubles.
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            max_batch_bytes: usize::MAX,
            ..BatchBuilderConfig::default()
        });
        for _ in 0..100 {
            assert!(b.append(0, None, Some(&value), &[]).expect("append"));
        }
        assert!(b.records.capacity() < 1 << 20);
    }

    #[test]
    fn size_limit_refuses_but_first_record_always_fits() {
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            max_batch_bytes: 100,
            ..BatchBuilderConfig::default()
        });
        assert!(b.append(0, None, Some(&[1; 200]), &[]).expect("first"));
        assert!(!b.append(0, None, Some(b"x"), &[]).expect("second"));
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn offsets_with_gaps_and_their_rules() {
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            base_offset: 50,
            ..BatchBuilderConfig::default()
        });
        assert!(b.append_with_offset(52, 0, None, None, &[]).expect("52"));
        assert!(b.append_with_offset(57, 0, None, None, &[]).expect("57"));
        assert!(b.append_with_offset(57, 0, None, None, &[]).is_err());
        assert!(b.append_with_offset(49, 0, None, None, &[]).is_err());
        let bytes = b.build().expect("build");
        let view = BatchView::new(&bytes).expect("view");
        assert_eq!(view.header().last_offset(), 57);
        let offs: Vec<i64> = view
            .records(&DecodeLimits::default())
            .expect("records")
            .iter()
            .map(|r| r.offset(view.header()))
            .collect();
        assert_eq!(offs, vec![52, 57]);
    }

    #[test]
    fn empty_batch_keeps_offsets_and_producer_state() {
        let config = BatchBuilderConfig {
            base_offset: 10,
            producer_id: 9,
            producer_epoch: 1,
            base_sequence: 40,
            ..BatchBuilderConfig::default()
        };
        let bytes = empty_batch(&config, 14, 777).expect("empty batch");
        let view = BatchView::new(&bytes).expect("view");
        view.validate_crc().expect("crc");
        let h = view.header();
        assert_eq!(
            (h.base_offset, h.last_offset(), h.record_count),
            (10, 14, 0)
        );
        assert_eq!((h.producer_id, h.last_sequence()), (9, 44));
        assert_eq!(view.records(&DecodeLimits::default()), Ok(vec![]));
        assert!(empty_batch(&config, 9, 0).is_err());
    }

    #[test]
    fn empty_compressed_batch_reads_as_empty() {
        // Kafka keeps the codec bit on empty batches; there is nothing to inflate.
        let mut bytes = empty_batch(&BatchBuilderConfig::default(), 0, 0)
            .expect("empty")
            .to_vec();
        let attrs = Attributes::new(Compression::Gzip, TimestampType::CreateTime, false, false);
        bytes[21..23].copy_from_slice(&attrs.0.to_be_bytes());
        update_crc(&mut bytes);
        let view = BatchView::new(&bytes).expect("view");
        assert_eq!(view.records(&DecodeLimits::default()), Ok(vec![]));
    }

    #[test]
    fn reused_buffers_build_the_same_batches() {
        for compression in [Compression::None, Compression::Lz4, Compression::Snappy] {
            let config = BatchBuilderConfig {
                compression,
                ..BatchBuilderConfig::default()
            };
            let fill = |mut b: BatchBuilder| {
                for i in 0..50u8 {
                    assert!(b.append(7, None, Some(&[i; 40]), &[]).expect("append"));
                }
                b
            };
            let fresh = fill(BatchBuilder::new(config)).build().expect("build");
            let stale = vec![0xAB; 10_000];
            let reused = fill(BatchBuilder::with_buffer(config, stale.clone()));
            let (batch, back) = reused.build_into(stale).expect("build_into");
            assert_eq!(batch, fresh, "{compression:?}");
            // Compressed: the records' buffer comes back; else the spare one.
            assert!(back.capacity() >= 2000, "{compression:?}");
        }
    }

    #[test]
    fn empty_build_is_an_error() {
        assert!(
            BatchBuilder::new(BatchBuilderConfig::default())
                .build()
                .is_err()
        );
    }
}
