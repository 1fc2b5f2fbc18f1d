//! The fixed 61-byte header of a RecordBatch v2 (magic 2), read and patched in place.
//!
//! Layout (offsets in bytes from the start of the batch):
//!
//! | offset | field                  | type  |
//! |--------|------------------------|-------|
//! | 0      | base offset            | i64   |
//! | 8      | batch length           | i32   | (bytes after this field)
//! | 12     | partition leader epoch | i32   |
//! | 16     | magic                  | i8    |
//! | 17     | crc (CRC-32C)          | u32   | (covers offset 21 .. end of batch)
//! | 21     | attributes             | i16   |
//! | 23     | last offset delta      | i32   |
//! | 27     | base timestamp         | i64   |
//! | 35     | max timestamp          | i64   |
//! | 43     | producer id            | i64   |
//! | 51     | producer epoch         | i16   |
//! | 53     | base sequence          | i32   |
//! | 57     | record count           | i32   |
//! | 61     | records ...            |       |
//!
//! Nothing here decompresses records: the broker's hot path reads and patches
//! header fields and checks the CRC over the bytes as they arrived.

use crate::error::RecordsError;

/// Size of the v2 batch header, up to and including the record count.
pub const BATCH_HEADER_LEN: usize = 61;
/// Bytes before the batch-length field's coverage starts (base offset + length).
pub const LOG_OVERHEAD: usize = 12;
/// Offset of the partition leader epoch field.
pub const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
/// Offset of the magic byte (the same position in every message format).
pub const MAGIC_OFFSET: usize = 16;
/// Offset of the CRC field.
pub const CRC_OFFSET: usize = 17;
/// Offset of the attributes field: the CRC covers everything from here on.
pub const ATTRIBUTES_OFFSET: usize = 21;
const LAST_OFFSET_DELTA_OFFSET: usize = 23;
const BASE_TIMESTAMP_OFFSET: usize = 27;
const MAX_TIMESTAMP_OFFSET: usize = 35;
const PRODUCER_ID_OFFSET: usize = 43;
const PRODUCER_EPOCH_OFFSET: usize = 51;
const BASE_SEQUENCE_OFFSET: usize = 53;
const RECORD_COUNT_OFFSET: usize = 57;

/// The current record batch format.
pub const MAGIC_V2: i8 = 2;
/// Producer id value meaning "no producer" (non-idempotent batch).
pub const NO_PRODUCER_ID: i64 = -1;
/// Producer epoch value meaning "no producer".
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// Sequence value meaning "no sequence".
pub const NO_SEQUENCE: i32 = -1;
/// Partition leader epoch value meaning "unknown".
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;

/// Compression codec stored in attribute bits 0..=2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Compression {
    /// The codec id as stored in the attributes (0..=4).
    pub fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec for an id, `None` for ids Kafka does not define.
    pub fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => return None,
        })
    }
}

/// Which clock a batch's timestamps come from (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// The batch attributes word, with accessors for each flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Attributes(pub i16);

impl Attributes {
    const COMPRESSION_MASK: i16 = 0x07;
    const TIMESTAMP_TYPE_BIT: i16 = 0x08;
    const TRANSACTIONAL_BIT: i16 = 0x10;
    const CONTROL_BIT: i16 = 0x20;
    const DELETE_HORIZON_BIT: i16 = 0x40;

    /// The raw codec id (0..=7); see [`Attributes::compression`].
    pub fn compression_id(self) -> u8 {
        (self.0 & Self::COMPRESSION_MASK) as u8
    }
    /// The codec, or `None` for an id Kafka does not define.
    pub fn compression(self) -> Option<Compression> {
        Compression::from_id(self.compression_id())
    }
    /// The codec, or `UnknownCompression` with the id the attributes carry.
    pub fn codec(self) -> Result<Compression, RecordsError> {
        self.compression()
            .ok_or(RecordsError::UnknownCompression(self.compression_id()))
    }
    pub fn timestamp_type(self) -> TimestampType {
        if self.0 & Self::TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }
    pub fn is_transactional(self) -> bool {
        self.0 & Self::TRANSACTIONAL_BIT != 0
    }
    pub fn is_control(self) -> bool {
        self.0 & Self::CONTROL_BIT != 0
    }
    pub fn has_delete_horizon(self) -> bool {
        self.0 & Self::DELETE_HORIZON_BIT != 0
    }
    /// Builds an attributes word from its parts.
    pub fn new(
        compression: Compression,
        timestamp_type: TimestampType,
        transactional: bool,
        control: bool,
    ) -> Self {
        let mut v = compression.id() as i16;
        if timestamp_type == TimestampType::LogAppendTime {
            v |= Self::TIMESTAMP_TYPE_BIT;
        }
        if transactional {
            v |= Self::TRANSACTIONAL_BIT;
        }
        if control {
            v |= Self::CONTROL_BIT;
        }
        Attributes(v)
    }
    /// The same attributes with the timestamp type replaced.
    pub fn with_timestamp_type(self, t: TimestampType) -> Self {
        match t {
            TimestampType::CreateTime => Attributes(self.0 & !Self::TIMESTAMP_TYPE_BIT),
            TimestampType::LogAppendTime => Attributes(self.0 | Self::TIMESTAMP_TYPE_BIT),
        }
    }
    /// The same attributes with the delete-horizon flag set or cleared.
    pub fn with_delete_horizon(self, on: bool) -> Self {
        if on {
            Attributes(self.0 | Self::DELETE_HORIZON_BIT)
        } else {
            Attributes(self.0 & !Self::DELETE_HORIZON_BIT)
        }
    }
}

/// The decoded fixed header of a v2 batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// Bytes after the length field; the whole batch is `batch_length + 12` bytes.
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: Attributes,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: i32,
}

impl BatchHeader {
    /// Total size of the batch in bytes, header included.
    pub fn total_size(&self) -> usize {
        self.batch_length as usize + LOG_OVERHEAD
    }
    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }
    /// Offset the next batch after this one starts at.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }
    /// Sequence number of the batch's last record (wrapping as Kafka does).
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            NO_SEQUENCE
        } else {
            let last = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
            (last % (i64::from(i32::MAX) + 1)) as i32
        }
    }

    /// Writes the header into the first [`BATCH_HEADER_LEN`] bytes of `out`.
    /// The CRC written is `self.crc`; use [`update_crc`] once the records follow.
    pub fn write_to(&self, out: &mut [u8; BATCH_HEADER_LEN]) {
        out[0..8].copy_from_slice(&self.base_offset.to_be_bytes());
        out[8..12].copy_from_slice(&self.batch_length.to_be_bytes());
        out[12..16].copy_from_slice(&self.partition_leader_epoch.to_be_bytes());
        out[16] = self.magic as u8;
        out[17..21].copy_from_slice(&self.crc.to_be_bytes());
        out[21..23].copy_from_slice(&self.attributes.0.to_be_bytes());
        out[23..27].copy_from_slice(&self.last_offset_delta.to_be_bytes());
        out[27..35].copy_from_slice(&self.base_timestamp.to_be_bytes());
        out[35..43].copy_from_slice(&self.max_timestamp.to_be_bytes());
        out[43..51].copy_from_slice(&self.producer_id.to_be_bytes());
        out[51..53].copy_from_slice(&self.producer_epoch.to_be_bytes());
        out[53..57].copy_from_slice(&self.base_sequence.to_be_bytes());
        out[57..61].copy_from_slice(&self.record_count.to_be_bytes());
    }
}

fn be_i16(buf: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([buf[at], buf[at + 1]])
}
fn be_i32(buf: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}
fn be_i64(buf: &[u8], at: usize) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[at..at + 8]);
    i64::from_be_bytes(b)
}

/// Reads the size of the batch (or legacy message) starting at `buf[0]`, from its
/// offset/length prefix alone. Errors if the prefix is incomplete or the length is
/// below the v2 minimum or above `max_size`.
pub fn read_batch_size(buf: &[u8], max_size: usize) -> Result<usize, RecordsError> {
    if buf.len() < LOG_OVERHEAD {
        return Err(RecordsError::Truncated {
            needed: LOG_OVERHEAD,
            available: buf.len(),
        });
    }
    let len = be_i32(buf, 8);
    let total = i64::from(len) + LOG_OVERHEAD as i64;
    if len < 0 || total > max_size as i64 {
        return Err(RecordsError::InvalidLength(i64::from(len)));
    }
    Ok(total as usize)
}

/// Parses the header of the v2 batch at the start of `buf`. Does not check the CRC
/// and does not require the whole batch to be present, only its header.
pub fn parse_header(buf: &[u8]) -> Result<BatchHeader, RecordsError> {
    if buf.len() < BATCH_HEADER_LEN {
        // Report the magic first when we have it: a legacy message is shorter.
        if buf.len() > MAGIC_OFFSET && buf[MAGIC_OFFSET] as i8 != MAGIC_V2 {
            return Err(RecordsError::BadMagic(buf[MAGIC_OFFSET] as i8));
        }
        return Err(RecordsError::Truncated {
            needed: BATCH_HEADER_LEN,
            available: buf.len(),
        });
    }
    let magic = buf[MAGIC_OFFSET] as i8;
    if magic != MAGIC_V2 {
        return Err(RecordsError::BadMagic(magic));
    }
    let batch_length = be_i32(buf, 8);
    if (batch_length as i64) < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i64 {
        return Err(RecordsError::InvalidLength(i64::from(batch_length)));
    }
    Ok(BatchHeader {
        base_offset: be_i64(buf, 0),
        batch_length,
        partition_leader_epoch: be_i32(buf, PARTITION_LEADER_EPOCH_OFFSET),
        magic,
        crc: be_i32(buf, CRC_OFFSET) as u32,
        attributes: Attributes(be_i16(buf, ATTRIBUTES_OFFSET)),
        last_offset_delta: be_i32(buf, LAST_OFFSET_DELTA_OFFSET),
        base_timestamp: be_i64(buf, BASE_TIMESTAMP_OFFSET),
        max_timestamp: be_i64(buf, MAX_TIMESTAMP_OFFSET),
        producer_id: be_i64(buf, PRODUCER_ID_OFFSET),
        producer_epoch: be_i16(buf, PRODUCER_EPOCH_OFFSET),
        base_sequence: be_i32(buf, BASE_SEQUENCE_OFFSET),
        record_count: be_i32(buf, RECORD_COUNT_OFFSET),
    })
}

/// CRC-32C of the batch bytes the CRC field covers (attributes to the end).
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_OFFSET.min(batch.len())..])
}

/// A whole v2 batch whose length prefix has been checked against the buffer.
#[derive(Debug, Clone, Copy)]
pub struct BatchView<'a> {
    bytes: &'a [u8],
    header: BatchHeader,
}

impl<'a> BatchView<'a> {
    /// Views the batch at the start of `buf`; `buf` may hold more after it.
    pub fn new(buf: &'a [u8]) -> Result<Self, RecordsError> {
        let header = parse_header(buf)?;
        let total = header.total_size();
        if buf.len() < total {
            return Err(RecordsError::Truncated {
                needed: total,
                available: buf.len(),
            });
        }
        Ok(BatchView {
            bytes: &buf[..total],
            header,
        })
    }
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }
    /// The batch's bytes, header included.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// The bytes after the header: the (possibly compressed) records.
    pub fn records_bytes(&self) -> &'a [u8] {
        &self.bytes[BATCH_HEADER_LEN..]
    }
    /// Checks the stored CRC against the bytes.
    pub fn validate_crc(&self) -> Result<(), RecordsError> {
        let computed = compute_crc(self.bytes);
        if computed == self.header.crc {
            Ok(())
        } else {
            Err(RecordsError::CorruptCrc {
                stored: self.header.crc,
                computed,
            })
        }
    }
}

/// Iterates the whole v2 batches concatenated in a buffer. A partial batch at the
/// end is reported once as `Truncated` (callers that read a byte range from a log
/// expect one and simply stop there).
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> BatchIter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        BatchIter {
            rest: buf,
            done: false,
        }
    }
    /// Bytes not yet consumed.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<BatchView<'a>, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        match BatchView::new(self.rest) {
            Ok(view) => {
                self.rest = &self.rest[view.bytes().len()..];
                Some(Ok(view))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Sets the base offset of the batch at the start of `batch`. The CRC does not cover it.
pub fn set_base_offset(batch: &mut [u8], base_offset: i64) -> Result<(), RecordsError> {
    check_len(batch, BATCH_HEADER_LEN)?;
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    Ok(())
}

/// Sets the partition leader epoch. The CRC does not cover it.
pub fn set_partition_leader_epoch(batch: &mut [u8], epoch: i32) -> Result<(), RecordsError> {
    check_len(batch, BATCH_HEADER_LEN)?;
    batch[PARTITION_LEADER_EPOCH_OFFSET..PARTITION_LEADER_EPOCH_OFFSET + 4]
        .copy_from_slice(&epoch.to_be_bytes());
    Ok(())
}

/// Stamps a batch with broker time (`message.timestamp.type=LogAppendTime`): sets the
/// timestamp-type bit and the max timestamp, then recomputes the CRC, as Kafka does.
pub fn set_log_append_time(batch: &mut [u8], timestamp: i64) -> Result<(), RecordsError> {
    let header = parse_header(batch)?;
    let total = header.total_size();
    check_len(batch, total)?;
    let attrs = header
        .attributes
        .with_timestamp_type(TimestampType::LogAppendTime);
    batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attrs.0.to_be_bytes());
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&timestamp.to_be_bytes());
    update_crc(&mut batch[..total]);
    Ok(())
}

/// [`set_log_append_time`] for a batch held in two parts: `header`, its first
/// [`BATCH_HEADER_LEN`] bytes (patched), and `rest`, every byte after them (not
/// written: the CRC is computed over the patched header's covered part, then `rest`).
pub fn set_log_append_time_split(
    header: &mut [u8],
    rest: &[u8],
    timestamp: i64,
) -> Result<(), RecordsError> {
    let parsed = parse_header(header)?;
    check_len(header, BATCH_HEADER_LEN)?;
    if BATCH_HEADER_LEN + rest.len() != parsed.total_size() {
        return Err(RecordsError::InvalidLength(i64::from(parsed.batch_length)));
    }
    let attrs = parsed
        .attributes
        .with_timestamp_type(TimestampType::LogAppendTime);
    header[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attrs.0.to_be_bytes());
    header[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8]
        .copy_from_slice(&timestamp.to_be_bytes());
    let crc = crc32c::crc32c_append(
        crc32c::crc32c(&header[ATTRIBUTES_OFFSET..BATCH_HEADER_LEN]),
        rest,
    );
    header[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    Ok(())
}

/// Sets the max timestamp (e.g. after the broker rewrote record timestamps) and
/// recomputes the CRC, which covers it.
pub fn set_max_timestamp(batch: &mut [u8], timestamp: i64) -> Result<(), RecordsError> {
    let header = parse_header(batch)?;
    let total = header.total_size();
    check_len(batch, total)?;
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&timestamp.to_be_bytes());
    update_crc(&mut batch[..total]);
    Ok(())
}

/// Recomputes and stores the CRC of a complete batch (`batch` is exactly one batch).
pub fn update_crc(batch: &mut [u8]) {
    if batch.len() < BATCH_HEADER_LEN {
        return;
    }
    let crc = compute_crc(batch);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

fn check_len(buf: &[u8], needed: usize) -> Result<(), RecordsError> {
    if buf.len() < needed {
        Err(RecordsError::Truncated {
            needed,
            available: buf.len(),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_batch(base_offset: i64, records: &[u8]) -> Vec<u8> {
        let header = BatchHeader {
            base_offset,
            batch_length: (BATCH_HEADER_LEN - LOG_OVERHEAD + records.len()) as i32,
            partition_leader_epoch: 3,
            magic: MAGIC_V2,
            crc: 0,
            attributes: Attributes::new(Compression::Lz4, TimestampType::CreateTime, false, false),
            last_offset_delta: 4,
            base_timestamp: 1_000,
            max_timestamp: 1_004,
            producer_id: 7,
            producer_epoch: 1,
            base_sequence: i32::MAX - 1,
            record_count: 5,
        };
        let mut h = [0u8; BATCH_HEADER_LEN];
        header.write_to(&mut h);
        let mut v = h.to_vec();
        v.extend_from_slice(records);
        update_crc(&mut v);
        v
    }

    #[test]
    fn header_round_trips_and_crc_validates() {
        let b = empty_batch(100, b"opaque-records");
        let view = BatchView::new(&b).expect("valid batch");
        let h = view.header();
        assert_eq!(h.base_offset, 100);
        assert_eq!(h.last_offset(), 104);
        assert_eq!(h.attributes.compression(), Some(Compression::Lz4));
        assert_eq!(h.last_sequence(), 2, "sequence wraps past i32::MAX");
        assert_eq!(view.records_bytes(), b"opaque-records");
        view.validate_crc().expect("crc ok");
    }

    #[test]
    fn patching_offset_and_epoch_keeps_crc_valid() {
        let mut b = empty_batch(0, b"xyz");
        set_base_offset(&mut b, 42).expect("patch");
        set_partition_leader_epoch(&mut b, 9).expect("patch");
        let view = BatchView::new(&b).expect("valid");
        assert_eq!(view.header().base_offset, 42);
        assert_eq!(view.header().partition_leader_epoch, 9);
        view.validate_crc().expect("crc still valid");
    }

    #[test]
    fn log_append_time_on_a_split_batch_matches_the_whole() {
        let mut whole = empty_batch(0, b"some records");
        let mut head = [0u8; BATCH_HEADER_LEN];
        head.copy_from_slice(&whole[..BATCH_HEADER_LEN]);
        set_log_append_time_split(&mut head, &whole[BATCH_HEADER_LEN..], 77).expect("patch");
        set_log_append_time(&mut whole, 77).expect("patch");
        assert_eq!(&head[..], &whole[..BATCH_HEADER_LEN]);
        assert!(set_log_append_time_split(&mut head, b"short", 77).is_err());
    }

    #[test]
    fn log_append_time_rewrites_crc() {
        let mut b = empty_batch(0, b"xyz");
        set_log_append_time(&mut b, 99).expect("patch");
        let view = BatchView::new(&b).expect("valid");
        assert_eq!(
            view.header().attributes.timestamp_type(),
            TimestampType::LogAppendTime
        );
        assert_eq!(view.header().max_timestamp, 99);
        view.validate_crc().expect("crc recomputed");
    }

    #[test]
    fn max_timestamp_patch_rewrites_crc() {
        let mut b = empty_batch(0, b"xyz");
        set_max_timestamp(&mut b, 12_345).expect("patch");
        let view = BatchView::new(&b).expect("valid");
        assert_eq!(view.header().max_timestamp, 12_345);
        view.validate_crc().expect("crc recomputed");
        assert!(set_max_timestamp(&mut b[..30], 1).is_err());
    }

    #[test]
    fn flipped_byte_in_crc_range_is_caught() {
        let b = empty_batch(0, b"some records");
        for i in ATTRIBUTES_OFFSET..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x01;
            if let Ok(v) = BatchView::new(&c) {
                assert!(v.validate_crc().is_err(), "flip at {i} not detected");
            }
        }
    }

    #[test]
    fn iterator_stops_at_torn_tail() {
        let mut buf = empty_batch(0, b"a");
        buf.extend(empty_batch(5, b"b"));
        let full = buf.len();
        buf.extend(&empty_batch(10, b"c")[..20]);
        let mut it = BatchIter::new(&buf);
        assert_eq!(
            it.next().map(|r| r.map(|v| v.header().base_offset)),
            Some(Ok(0))
        );
        assert_eq!(
            it.next().map(|r| r.map(|v| v.header().base_offset)),
            Some(Ok(5))
        );
        assert!(matches!(
            it.next(),
            Some(Err(RecordsError::Truncated { .. }))
        ));
        assert!(it.next().is_none());
        assert_eq!(full + 20, buf.len());
    }
}
