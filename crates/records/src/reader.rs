//! Reading the records inside v2 batches: [`RecordIter`] over one batch (its
//! records decompressed once, on creation, within [`DecodeLimits`]) and
//! [`RecordsReader`] over a run of concatenated batches, which decompresses each
//! batch only when the iteration reaches it.

use bytes::Bytes;

use crate::batch_header::{BATCH_HEADER_LEN, BatchHeader, BatchIter, BatchView, Compression};
use crate::compression::decompress;
use crate::error::RecordsError;
use crate::limits::DecodeLimits;
use crate::record::{MIN_RECORD_LEN, Record, RecordMeta, read_record, scan_record};

/// Iterates the records of one batch. Ends with an error (then `None`) if the
/// records disagree with the header's count or leave bytes over.
#[derive(Debug, Clone)]
pub struct RecordIter {
    header: BatchHeader,
    data: Bytes,
    pos: usize,
    read: i32,
    failed: bool,
}

impl RecordIter {
    /// Iterates the records of `batch` (one whole v2 batch, as from a `Bytes`
    /// holding a log read or a produce request). Uncompressed records are
    /// sliced from `batch` without copying.
    pub fn from_batch(batch: &Bytes, limits: &DecodeLimits) -> Result<Self, RecordsError> {
        let view = BatchView::new(batch)?;
        let header = *view.header();
        let records = batch.slice(BATCH_HEADER_LEN..header.total_size());
        Self::from_parts(header, records, limits)
    }

    fn from_parts(
        header: BatchHeader,
        records: Bytes,
        limits: &DecodeLimits,
    ) -> Result<Self, RecordsError> {
        let data = match record_data(&header, &records, limits)? {
            RecordData::AsIs => records,
            RecordData::Empty => Bytes::new(),
            RecordData::Inflated(v) => Bytes::from(v),
        };
        Ok(RecordIter {
            header,
            data,
            pos: 0,
            read: 0,
            failed: false,
        })
    }

    /// The batch header the records belong to.
    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The decompressed record bytes.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    fn fail(&mut self, e: RecordsError) -> Option<Result<Record, RecordsError>> {
        self.failed = true;
        Some(Err(e))
    }
}

/// Where a batch's record bytes are, once checked against its header.
enum RecordData {
    /// The batch's own bytes (uncompressed).
    AsIs,
    /// No records.
    Empty,
    /// Decompressed.
    Inflated(Vec<u8>),
}

/// Checks the header's codec and count against `limits` and the bytes, and
/// decompresses the records if needed.
fn record_data(
    header: &BatchHeader,
    records: &[u8],
    limits: &DecodeLimits,
) -> Result<RecordData, RecordsError> {
    let codec = header.attributes.codec()?;
    if header.record_count < 0 {
        return Err(RecordsError::Malformed("negative record count"));
    }
    let count = header.record_count as usize;
    if count > limits.max_records_per_batch {
        return Err(RecordsError::Oversized {
            what: "record count",
            limit: limits.max_records_per_batch,
        });
    }
    let data = match codec {
        // An empty batch (kept by compaction to preserve producer state) has
        // no records to decompress, whatever its codec bit says; Kafka does
        // not read its payload either.
        _ if count == 0 => RecordData::Empty,
        Compression::None => RecordData::AsIs,
        _ => {
            // Even compressed, every record needs MIN_RECORD_LEN bytes once
            // inflated: refuse counts that the bound cannot hold.
            if count > limits.max_decompressed_bytes / MIN_RECORD_LEN {
                return Err(RecordsError::Oversized {
                    what: "record count",
                    limit: limits.max_decompressed_bytes / MIN_RECORD_LEN,
                });
            }
            RecordData::Inflated(decompress(codec, records, limits.max_decompressed_bytes)?)
        }
    };
    let len = match &data {
        RecordData::AsIs => records.len(),
        RecordData::Empty => 0,
        RecordData::Inflated(v) => v.len(),
    };
    if count > len / MIN_RECORD_LEN {
        return Err(RecordsError::CountMismatch {
            header: header.record_count,
            found: (len / MIN_RECORD_LEN) as i64,
        });
    }
    Ok(data)
}

impl Iterator for RecordIter {
    type Item = Result<Record, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.read == self.header.record_count {
            if self.pos != self.data.len() {
                return self.fail(RecordsError::Malformed("bytes left after the last record"));
            }
            return None;
        }
        if self.pos >= self.data.len() {
            return self.fail(RecordsError::CountMismatch {
                header: self.header.record_count,
                found: i64::from(self.read),
            });
        }
        match read_record(&self.data, &mut self.pos) {
            Ok(r) => {
                self.read += 1;
                Some(Ok(r))
            }
            Err(e) => self.fail(e),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.header.record_count - self.read).max(0) as usize;
        (0, Some(left + 1))
    }
}

impl BatchView<'_> {
    /// Number of records the header declares (no decompression).
    pub fn record_count(&self) -> i32 {
        self.header().record_count
    }

    /// Iterates the batch's records (copying uncompressed records out of the
    /// borrowed buffer once; use [`RecordIter::from_batch`] to avoid that).
    pub fn record_iter(&self, limits: &DecodeLimits) -> Result<RecordIter, RecordsError> {
        let records = Bytes::copy_from_slice(self.records_bytes());
        RecordIter::from_parts(*self.header(), records, limits)
    }

    /// Calls `f` with each record's index and [`RecordMeta`] (key presence, time and
    /// offset deltas), checking the records as [`BatchView::records`] does, without
    /// copying uncompressed records or building [`Record`]s (compressed ones are
    /// decompressed once). The broker's per-record rules need no more.
    pub fn scan_records(
        &self,
        limits: &DecodeLimits,
        mut f: impl FnMut(usize, RecordMeta),
    ) -> Result<(), RecordsError> {
        let header = self.header();
        let inflated;
        let data: &[u8] = match record_data(header, self.records_bytes(), limits)? {
            RecordData::AsIs => self.records_bytes(),
            RecordData::Empty => &[],
            RecordData::Inflated(v) => {
                inflated = v;
                &inflated
            }
        };
        let count = usize::try_from(header.record_count).unwrap_or(0);
        let mut pos = 0;
        for i in 0..count {
            if pos >= data.len() {
                return Err(RecordsError::CountMismatch {
                    header: header.record_count,
                    found: i as i64,
                });
            }
            f(i, scan_record(data, &mut pos)?);
        }
        if pos != data.len() {
            return Err(RecordsError::Malformed("bytes left after the last record"));
        }
        Ok(())
    }

    /// Decodes every record of the batch. Does not check the CRC: call
    /// [`BatchView::validate_crc`] first for data from the network or disk.
    pub fn records(&self, limits: &DecodeLimits) -> Result<Vec<Record>, RecordsError> {
        let iter = self.record_iter(limits)?;
        let mut out = Vec::with_capacity(iter.header.record_count as usize);
        for r in iter {
            out.push(r?);
        }
        Ok(out)
    }
}

/// Iterates every record of a run of concatenated v2 batches, decompressing one
/// batch at a time as the iteration reaches it. Yields each record with its
/// batch's header. Stops after the first error; a torn batch at the end of the
/// buffer is reported as `Truncated` like [`BatchIter`] does.
#[derive(Debug)]
pub struct RecordsReader<'a> {
    batches: BatchIter<'a>,
    /// The buffer the batches are in, when it is a `Bytes`: uncompressed records are
    /// then sliced from it instead of copied out.
    owner: Option<&'a Bytes>,
    current: Option<RecordIter>,
    limits: DecodeLimits,
    verify_crc: bool,
    failed: bool,
}

impl<'a> RecordsReader<'a> {
    /// Reads the batches in `buf`, checking each batch's CRC before its records.
    pub fn new(buf: &'a [u8], limits: DecodeLimits) -> Self {
        RecordsReader {
            batches: BatchIter::new(buf),
            owner: None,
            current: None,
            limits,
            verify_crc: true,
            failed: false,
        }
    }

    /// Reads the batches in `buf` as [`RecordsReader::new`] does, without copying:
    /// uncompressed records (keys, values, headers) are slices of `buf`.
    pub fn from_bytes(buf: &'a Bytes, limits: DecodeLimits) -> Self {
        RecordsReader {
            owner: Some(buf),
            ..RecordsReader::new(buf, limits)
        }
    }

    /// Turns CRC checks off (for bytes already validated, e.g. by the log).
    pub fn without_crc_check(mut self) -> Self {
        self.verify_crc = false;
        self
    }
}

impl Iterator for RecordsReader<'_> {
    type Item = Result<(BatchHeader, Record), RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            if let Some(iter) = self.current.as_mut() {
                match iter.next() {
                    Some(Ok(r)) => return Some(Ok((iter.header, r))),
                    Some(Err(e)) => {
                        self.failed = true;
                        return Some(Err(e));
                    }
                    None => self.current = None,
                }
            }
            let view = match self.batches.next()? {
                Ok(v) => v,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            };
            let owner = self.owner;
            let limits = &self.limits;
            let iter = || match owner {
                // `records_bytes` borrows from `owner` (the batches are read from it).
                Some(b) => RecordIter::from_parts(
                    *view.header(),
                    b.slice_ref(view.records_bytes()),
                    limits,
                ),
                None => view.record_iter(limits),
            };
            let started = if self.verify_crc {
                view.validate_crc().and_then(|()| iter())
            } else {
                iter()
            };
            match started {
                Ok(iter) => self.current = Some(iter),
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch_header::{CRC_OFFSET, update_crc};
    use crate::builder::{BatchBuilder, BatchBuilderConfig};

    fn batch(codec: Compression, base: i64, n: usize) -> Vec<u8> {
        let mut b = BatchBuilder::new(BatchBuilderConfig {
            compression: codec,
            base_offset: base,
            ..BatchBuilderConfig::default()
        });
        for i in 0..n {
            let v = format!("v{}", base + i as i64);
            assert!(b.append(0, None, Some(v.as_bytes()), &[]).expect("append"));
        }
        b.build().expect("build").to_vec()
    }

    /// `scan_records` sees what `records` decodes, and fails where it fails.
    #[test]
    fn scanning_agrees_with_decoding() {
        fn both(
            b: &[u8],
        ) -> (
            Result<Vec<RecordMeta>, String>,
            Result<Vec<RecordMeta>, String>,
        ) {
            let Ok(view) = BatchView::new(b) else {
                return (Ok(Vec::new()), Ok(Vec::new()));
            };
            let limits = DecodeLimits::default();
            let decoded = view
                .records(&limits)
                .map(|rs| {
                    rs.iter()
                        .map(|r| RecordMeta {
                            attributes: r.attributes,
                            timestamp_delta: r.timestamp_delta,
                            offset_delta: r.offset_delta,
                            has_key: r.key.is_some(),
                        })
                        .collect()
                })
                .map_err(|e| e.to_string());
            let mut scanned = Vec::new();
            let scanned = view
                .scan_records(&limits, |i, m| {
                    assert_eq!(i, scanned.len());
                    scanned.push(m);
                })
                .map(|()| scanned)
                .map_err(|e| e.to_string());
            (decoded, scanned)
        }
        for codec in [Compression::None, Compression::Lz4] {
            let mut b = BatchBuilder::new(BatchBuilderConfig {
                compression: codec,
                ..BatchBuilderConfig::default()
            });
            for i in 0..5i64 {
                let key = (i % 2 == 0).then_some(&b"key"[..]);
                let headers = [crate::record::Header::new(b"h", Some(b"x"))];
                assert!(
                    b.append(100 + i, key, Some(b"value"), &headers)
                        .expect("append")
                );
            }
            let good = b.build().expect("build").to_vec();
            let (decoded, scanned) = both(&good);
            assert_eq!(decoded.as_ref().map(Vec::len), Ok(5));
            assert_eq!(decoded, scanned);
            if codec != Compression::None {
                continue;
            }
            for at in BATCH_HEADER_LEN..good.len() {
                for v in [0u8, 1, 0x7f, 0x80, 0xff] {
                    let mut bad = good.clone();
                    bad[at] = v;
                    let (decoded, scanned) = both(&bad);
                    assert_eq!(decoded, scanned, "byte {at} set to {v}");
                }
            }
        }
    }

    fn offsets(reader: RecordsReader<'_>) -> Vec<Result<i64, RecordsError>> {
        reader.map(|r| r.map(|(h, rec)| rec.offset(&h))).collect()
    }

    #[test]
    fn reads_a_run_of_mixed_codec_batches() {
        let mut log = batch(Compression::Zstd, 0, 2);
        log.extend(batch(Compression::None, 2, 1));
        log.extend(batch(Compression::Snappy, 3, 3));
        let got = offsets(RecordsReader::new(&log, DecodeLimits::default()));
        assert_eq!(got, (0..6).map(Ok).collect::<Vec<_>>());
    }

    #[test]
    fn from_bytes_reads_the_same_records_without_copying_uncompressed_ones() {
        let mut log = batch(Compression::None, 0, 2);
        log.extend(batch(Compression::Lz4, 2, 2));
        log.extend(batch(Compression::None, 4, 1));
        let log = Bytes::from(log);
        let copied: Vec<_> = RecordsReader::new(&log, DecodeLimits::default())
            .collect::<Result<_, _>>()
            .expect("read");
        let sliced: Vec<_> = RecordsReader::from_bytes(&log, DecodeLimits::default())
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(copied, sliced);
        let inside = |v: &Bytes| log.as_ptr_range().contains(&v.as_ptr());
        let values: Vec<bool> = sliced
            .iter()
            .map(|(_, r)| inside(r.value.as_ref().expect("value")))
            .collect();
        // The uncompressed batches' values point into `log`; the lz4 batch's do not.
        assert_eq!(values, [true, true, false, false, true]);
        let copied_inside = copied
            .iter()
            .filter(|(_, r)| inside(r.value.as_ref().expect("value")))
            .count();
        assert_eq!(copied_inside, 0);
    }

    #[test]
    fn torn_tail_ends_with_one_truncated() {
        let mut log = batch(Compression::Gzip, 0, 2);
        let next = batch(Compression::Gzip, 2, 2);
        log.extend_from_slice(&next[..next.len() - 1]);
        let got = offsets(RecordsReader::new(&log, DecodeLimits::default()));
        assert_eq!(got.len(), 3);
        assert_eq!(got[..2], [Ok(0), Ok(1)]);
        assert!(matches!(got[2], Err(RecordsError::Truncated { .. })));
    }

    #[test]
    fn corrupt_crc_stops_unless_checks_are_off() {
        let mut log = batch(Compression::None, 0, 1);
        let mut second = batch(Compression::None, 1, 1);
        second[CRC_OFFSET] ^= 1;
        log.extend(second);
        let got = offsets(RecordsReader::new(&log, DecodeLimits::default()));
        assert!(matches!(
            got[..],
            [Ok(0), Err(RecordsError::CorruptCrc { .. })]
        ));
        let unchecked =
            offsets(RecordsReader::new(&log, DecodeLimits::default()).without_crc_check());
        assert_eq!(unchecked, vec![Ok(0), Ok(1)]);
    }

    #[test]
    fn count_disagreeing_with_records_is_an_error() {
        // Header claims one record more than present.
        let mut b = batch(Compression::None, 0, 2);
        b[57..61].copy_from_slice(&3i32.to_be_bytes());
        update_crc(&mut b);
        let view = BatchView::new(&b).expect("view");
        assert!(matches!(
            view.records(&DecodeLimits::default()),
            Err(RecordsError::CountMismatch {
                header: 3,
                found: 2
            })
        ));
        // ... and one fewer: bytes are left over.
        b[57..61].copy_from_slice(&1i32.to_be_bytes());
        update_crc(&mut b);
        let view = BatchView::new(&b).expect("view");
        assert_eq!(
            view.records(&DecodeLimits::default()),
            Err(RecordsError::Malformed("bytes left after the last record"))
        );
    }

    #[test]
    fn record_count_beyond_the_bytes_is_refused_before_allocating() {
        let mut b = batch(Compression::None, 0, 1);
        b[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        update_crc(&mut b);
        let view = BatchView::new(&b).expect("view");
        assert!(matches!(
            view.records(&DecodeLimits::default()),
            Err(RecordsError::CountMismatch { .. })
        ));
    }
}
