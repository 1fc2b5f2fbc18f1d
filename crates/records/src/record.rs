//! One record of a v2 batch: its wire encoding (length-prefixed, varint fields,
//! headers) and the owned [`Record`] / [`Header`] types readers return.

use bytes::Bytes;

use crate::batch_header::{BatchHeader, TimestampType};
use crate::error::RecordsError;
use crate::varint::{get_varint, get_varlong, put_varint, put_varlong, varint_len, varlong_len};

/// Smallest possible encoded record, length prefix included: length, attributes,
/// timestamp delta, offset delta, key length, value length, header count.
pub const MIN_RECORD_LEN: usize = 7;

/// A record header. The key is a UTF-8 string on the wire; it is kept as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    pub key: Bytes,
    pub value: Option<Bytes>,
}

impl Header {
    /// A header from borrowed parts (copies them).
    pub fn new(key: &[u8], value: Option<&[u8]>) -> Self {
        Header {
            key: Bytes::copy_from_slice(key),
            value: value.map(Bytes::copy_from_slice),
        }
    }
}

/// One decoded record of a v2 batch. Offset and timestamp are relative to the
/// batch header: see [`Record::offset`] and [`Record::timestamp`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub attributes: i8,
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
}

impl Record {
    /// The record's absolute offset.
    pub fn offset(&self, h: &BatchHeader) -> i64 {
        absolute_offset(h, self.offset_delta)
    }

    /// The record's timestamp: the batch's max timestamp when the batch uses
    /// log-append time (as Kafka defines it), else base timestamp + delta.
    pub fn timestamp(&self, h: &BatchHeader) -> i64 {
        record_timestamp(h, self.timestamp_delta)
    }
}

fn opt_len(b: Option<&[u8]>) -> Result<i32, RecordsError> {
    match b {
        None => Ok(-1),
        Some(b) => i32::try_from(b.len()).map_err(|_| RecordsError::Oversized {
            what: "record field",
            limit: i32::MAX as usize,
        }),
    }
}

/// Size of the record body (everything after the length prefix).
pub fn body_len(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header],
) -> Result<usize, RecordsError> {
    let mut n = 1 + varlong_len(timestamp_delta) + varint_len(offset_delta);
    for field in [key, value] {
        let l = opt_len(field)?;
        n += varint_len(l) + field.map_or(0, <[u8]>::len);
    }
    let count = i32::try_from(headers.len()).map_err(|_| RecordsError::Oversized {
        what: "header count",
        limit: i32::MAX as usize,
    })?;
    n += varint_len(count);
    for h in headers {
        n += varint_len(opt_len(Some(&h.key))?) + h.key.len();
        n += varint_len(opt_len(h.value.as_deref())?) + h.value.as_ref().map_or(0, Bytes::len);
    }
    Ok(n)
}

/// Size of the record with its length prefix.
pub fn encoded_len(body: usize) -> usize {
    varint_len(body as i32) + body
}

/// Appends one encoded record (length prefix included). `body` must come from
/// [`body_len`] with the same arguments.
pub fn write_record(
    out: &mut Vec<u8>,
    body: usize,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header],
) {
    put_varint(out, body as i32);
    out.push(0); // record attributes: unused, always zero
    put_varlong(out, timestamp_delta);
    put_varint(out, offset_delta);
    for field in [key, value] {
        write_opt(out, field);
    }
    put_varint(out, headers.len() as i32);
    for h in headers {
        write_opt(out, Some(&h.key));
        write_opt(out, h.value.as_deref());
    }
}

fn write_opt(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varint(out, -1),
        Some(b) => {
            put_varint(out, b.len() as i32);
            out.extend_from_slice(b);
        }
    }
}

/// The byte range of the record whose length prefix is at `*pos` in `buf`, with `pos`
/// moved past the prefix: an error when the length is negative or runs past `buf`.
fn record_bounds(buf: &[u8], pos: &mut usize) -> Result<(usize, usize), RecordsError> {
    let len = get_varint(buf, pos)?;
    let len =
        usize::try_from(len).map_err(|_| RecordsError::Malformed("negative record length"))?;
    let start = *pos;
    let end =
        start
            .checked_add(len)
            .filter(|&e| e <= buf.len())
            .ok_or(RecordsError::Truncated {
                needed: start.saturating_add(len),
                available: buf.len(),
            })?;
    Ok((start, end))
}

/// Reads one record from `buf` (a shared buffer of decoded record bytes) at `*pos`,
/// advancing `pos` past it. Keys, values and headers are zero-copy slices of `buf`.
pub fn read_record(buf: &Bytes, pos: &mut usize) -> Result<Record, RecordsError> {
    let (start, end) = record_bounds(buf, pos)?;
    let body = buf.slice(start..end);
    let mut p = 0;
    let attributes = *body
        .first()
        .ok_or(RecordsError::Malformed("empty record"))? as i8;
    p += 1;
    let timestamp_delta = get_varlong(&body, &mut p)?;
    let offset_delta = get_varint(&body, &mut p)?;
    let key = read_opt(&body, &mut p)?;
    let value = read_opt(&body, &mut p)?;
    let count = get_varint(&body, &mut p)?;
    let count =
        usize::try_from(count).map_err(|_| RecordsError::Malformed("negative header count"))?;
    // Each header takes at least two bytes: never allocate more than the body allows.
    if count > (body.len() - p) / 2 {
        return Err(RecordsError::Malformed("header count exceeds record size"));
    }
    let mut headers = Vec::with_capacity(count);
    for _ in 0..count {
        let key = read_opt(&body, &mut p)?.ok_or(RecordsError::Malformed("null header key"))?;
        let value = read_opt(&body, &mut p)?;
        headers.push(Header { key, value });
    }
    if p != body.len() {
        return Err(RecordsError::Malformed(
            "record length disagrees with its fields",
        ));
    }
    *pos = end;
    Ok(Record {
        attributes,
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers,
    })
}

/// What a record says about itself besides its bytes: enough for the broker's
/// per-record rules (a key present, its timestamp and offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordMeta {
    pub attributes: i8,
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub has_key: bool,
}

impl RecordMeta {
    /// The record's absolute offset ([`Record::offset`]).
    pub fn offset(&self, h: &BatchHeader) -> i64 {
        absolute_offset(h, self.offset_delta)
    }

    /// The record's timestamp ([`Record::timestamp`]).
    pub fn timestamp(&self, h: &BatchHeader) -> i64 {
        record_timestamp(h, self.timestamp_delta)
    }
}

/// [`read_record`] without building the record: the same checks, on borrowed bytes,
/// with no allocation.
pub fn scan_record(buf: &[u8], pos: &mut usize) -> Result<RecordMeta, RecordsError> {
    let (start, end) = record_bounds(buf, pos)?;
    let body = &buf[start..end];
    let mut p = 0;
    let attributes = *body
        .first()
        .ok_or(RecordsError::Malformed("empty record"))? as i8;
    p += 1;
    let timestamp_delta = get_varlong(body, &mut p)?;
    let offset_delta = get_varint(body, &mut p)?;
    let has_key = skip_opt(body, &mut p)?;
    skip_opt(body, &mut p)?;
    let count = get_varint(body, &mut p)?;
    let count =
        usize::try_from(count).map_err(|_| RecordsError::Malformed("negative header count"))?;
    if count > (body.len() - p) / 2 {
        return Err(RecordsError::Malformed("header count exceeds record size"));
    }
    for _ in 0..count {
        if !skip_opt(body, &mut p)? {
            return Err(RecordsError::Malformed("null header key"));
        }
        skip_opt(body, &mut p)?;
    }
    if p != body.len() {
        return Err(RecordsError::Malformed(
            "record length disagrees with its fields",
        ));
    }
    *pos = end;
    Ok(RecordMeta {
        attributes,
        timestamp_delta,
        offset_delta,
        has_key,
    })
}

/// Skips a nullable field as [`read_opt`] reads it; whether it was present.
fn skip_opt(body: &[u8], p: &mut usize) -> Result<bool, RecordsError> {
    let len = get_varint(body, p)?;
    if len < 0 {
        if len != -1 {
            return Err(RecordsError::Malformed("negative field length"));
        }
        return Ok(false);
    }
    let end = p
        .checked_add(len as usize)
        .filter(|&e| e <= body.len())
        .ok_or(RecordsError::Malformed(
            "field runs past the end of its record",
        ))?;
    *p = end;
    Ok(true)
}

fn read_opt(body: &Bytes, p: &mut usize) -> Result<Option<Bytes>, RecordsError> {
    let len = get_varint(body, p)?;
    if len < 0 {
        if len != -1 {
            return Err(RecordsError::Malformed("negative field length"));
        }
        return Ok(None);
    }
    let len = len as usize;
    let end = p
        .checked_add(len)
        .filter(|&e| e <= body.len())
        .ok_or(RecordsError::Malformed(
            "field runs past the end of its record",
        ))?;
    let out = body.slice(*p..end);
    *p = end;
    Ok(Some(out))
}

/// A record's absolute offset in batch `h`.
fn absolute_offset(h: &BatchHeader, offset_delta: i32) -> i64 {
    h.base_offset.wrapping_add(i64::from(offset_delta))
}

/// A record's timestamp in batch `h`: the batch's max timestamp under log-append time,
/// else base timestamp + delta.
fn record_timestamp(h: &BatchHeader, timestamp_delta: i64) -> i64 {
    match h.attributes.timestamp_type() {
        TimestampType::LogAppendTime => h.max_timestamp,
        TimestampType::CreateTime => h.base_timestamp.wrapping_add(timestamp_delta),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[Header]) -> Vec<u8> {
        let body = body_len(-5, 3, key, value, headers).expect("sizes fit");
        let mut out = Vec::new();
        write_record(&mut out, body, -5, 3, key, value, headers);
        assert_eq!(out.len(), encoded_len(body));
        out
    }

    #[test]
    fn round_trip_with_headers_and_nulls() {
        let headers = vec![Header::new(b"h1", Some(b"v1")), Header::new(b"h2", None)];
        let bytes = Bytes::from(encode(None, Some(b"value"), &headers));
        let mut pos = 0;
        let r = read_record(&bytes, &mut pos).expect("decodes");
        assert_eq!(pos, bytes.len());
        assert_eq!(r.timestamp_delta, -5);
        assert_eq!(r.offset_delta, 3);
        assert_eq!(r.key, None);
        assert_eq!(r.value.as_deref(), Some(&b"value"[..]));
        assert_eq!(r.headers, headers);
    }

    #[test]
    fn known_bytes() {
        // Body of 7 bytes (zig-zag 14), attributes 0, timestamp delta -5 (zig-zag 9),
        // offset delta 3 (6), key length 1 (2) "k", null value (-1 → 1), no headers.
        let bytes = encode(Some(b"k"), None, &[]);
        assert_eq!(bytes, vec![14, 0, 9, 6, 2, b'k', 1, 0]);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = encode(
            Some(b"key"),
            Some(b"value"),
            &[Header::new(b"h", Some(b"v"))],
        );
        for cut in 0..bytes.len() {
            let b = Bytes::copy_from_slice(&bytes[..cut]);
            let mut pos = 0;
            assert!(read_record(&b, &mut pos).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn inner_length_disagreement_is_caught() {
        let mut bytes = encode(Some(b"key"), None, &[]);
        bytes[0] += 2; // claim two more bytes than the fields use
        bytes.extend_from_slice(&[0, 0]);
        let mut pos = 0;
        assert_eq!(
            read_record(&Bytes::from(bytes), &mut pos),
            Err(RecordsError::Malformed(
                "record length disagrees with its fields"
            ))
        );
    }
}
