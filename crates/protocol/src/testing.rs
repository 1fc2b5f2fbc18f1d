//! Seeded random messages for property tests and fuzz seeds (feature `testing`).
//! `Random::random(g, version)` only produces values that are valid at `version`:
//! fields the version lacks keep their defaults, and null appears only where the
//! version allows it.

use crate::codec::{RawTaggedField, SharedStr, Uuid};
use bytes::Bytes;

/// A message or struct that can be generated at random for a version.
pub trait Random: Sized {
    fn random(g: &mut Gen, version: i16) -> Self;
}

/// A small deterministic generator (SplitMix64) with Kafka-flavoured helpers.
#[derive(Debug, Clone)]
pub struct Gen {
    state: u64,
    depth: u32,
}

impl Gen {
    pub fn new(seed: u64) -> Self {
        Gen {
            state: seed,
            depth: 0,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Mostly small values, sometimes the type's edges.
    fn int(&mut self, min: i64, max: i64) -> i64 {
        match self.below(8) {
            0 => min,
            1 => max,
            2 => 0,
            3 => -1i64.clamp(min, max),
            4..=5 => (self.below(1000) as i64).clamp(min, max),
            _ => {
                let span = (max as i128 - min as i128 + 1) as u128;
                (min as i128 + (self.next_u64() as u128 % span) as i128) as i64
            }
        }
    }

    pub fn bool(&mut self) -> bool {
        self.below(2) == 1
    }
    pub fn i8(&mut self) -> i8 {
        self.int(i8::MIN.into(), i8::MAX.into()) as i8
    }
    pub fn i16(&mut self) -> i16 {
        self.int(i16::MIN.into(), i16::MAX.into()) as i16
    }
    pub fn u16(&mut self) -> u16 {
        self.int(0, u16::MAX.into()) as u16
    }
    pub fn i32(&mut self) -> i32 {
        self.int(i32::MIN.into(), i32::MAX.into()) as i32
    }
    pub fn u32(&mut self) -> u32 {
        self.int(0, u32::MAX.into()) as u32
    }
    pub fn i64(&mut self) -> i64 {
        self.int(i64::MIN, i64::MAX)
    }
    /// A finite float (NaN would break equality checks).
    pub fn f64(&mut self) -> f64 {
        (self.i32() as f64) / 8.0
    }
    pub fn uuid(&mut self) -> Uuid {
        Uuid(((self.next_u64() as u128) << 64 | self.next_u64() as u128).to_be_bytes())
    }
    pub fn string(&mut self) -> SharedStr {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789._-";
        let len = self.below(12) as usize;
        let mut s = String::with_capacity(len + 2);
        for _ in 0..len {
            s.push(ALPHABET[self.below(ALPHABET.len() as u64) as usize] as char);
        }
        if self.below(10) == 0 {
            s.push('é');
        }
        SharedStr::from(s)
    }
    pub fn bytes(&mut self) -> Bytes {
        let len = self.below(24) as usize;
        (0..len)
            .map(|_| self.next_u64() as u8)
            .collect::<Vec<u8>>()
            .into()
    }

    /// `None` one time in five where null is allowed.
    pub fn maybe<T>(&mut self, nullable: bool, f: impl FnOnce(&mut Gen) -> T) -> Option<T> {
        if nullable && self.below(5) == 0 {
            None
        } else {
            Some(f(self))
        }
    }

    /// Zero to three elements, fewer the deeper the nesting.
    pub fn vec<T>(&mut self, mut f: impl FnMut(&mut Gen) -> T) -> Vec<T> {
        let max = 4u64.saturating_sub(u64::from(self.depth)).max(1);
        let n = self.below(max);
        self.depth += 1;
        let v = (0..n).map(|_| f(self)).collect();
        self.depth -= 1;
        v
    }

    /// Occasionally a few tagged fields no schema knows (tags from 1000 up, in order).
    pub fn unknown_tagged_fields(&mut self) -> Vec<RawTaggedField> {
        if self.below(4) != 0 {
            return Vec::new();
        }
        let n = 1 + self.below(2) as u32;
        (0..n)
            .map(|k| RawTaggedField {
                tag: 1000 + k * 7,
                data: self.bytes(),
            })
            .collect()
    }
}

/// One schema and a check that round-trips a random value of it.
#[derive(Debug, Clone, Copy)]
pub struct SchemaCheck {
    /// `messages`, `metadata` or `coordinator`.
    pub group: &'static str,
    pub name: &'static str,
    pub min_version: i16,
    pub max_version: i16,
    /// The API key (requests/responses) or record type (metadata records).
    pub api_key: Option<i16>,
    pub roundtrip: fn(&mut Gen, i16) -> Result<(), String>,
}

/// Encodes a random `T` at `version`, checks `encoded_len`, decodes it back,
/// and checks the value and a second encoding are identical.
pub fn roundtrip<T: crate::Message + Random>(g: &mut Gen, version: i16) -> Result<(), String> {
    let value = T::random(g, version);
    let bytes = value
        .encode_to_bytes(version)
        .map_err(|e| format!("{} v{version}: encode failed: {e}\n{value:?}", T::NAME))?;
    let expected_len = crate::Encode::encoded_len(&value, version);
    if bytes.len() != expected_len {
        return Err(format!(
            "{} v{version}: encoded {} bytes, encoded_len said {expected_len}",
            T::NAME,
            bytes.len()
        ));
    }
    let back = T::decode(&bytes, version)
        .map_err(|e| format!("{} v{version}: decode failed: {e}\n{value:?}", T::NAME))?;
    if back != value {
        return Err(format!(
            "{} v{version}: value changed\n before {value:?}\n after  {back:?}",
            T::NAME
        ));
    }
    let again = back
        .encode_to_bytes(version)
        .map_err(|e| format!("{} v{version}: re-encode: {e}", T::NAME))?;
    if again != bytes {
        return Err(format!("{} v{version}: re-encoding differs", T::NAME));
    }
    Ok(())
}
