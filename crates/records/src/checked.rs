//! [`CheckedBatches`]: record batches whose CRCs have been checked, so the next
//! layer (the log's append) does not check them again. A produce's batches are
//! checked once, where they enter the broker (the produce handler's validation),
//! and the log trusts the proof instead of recomputing the CRC of the same bytes.

use crate::batch_header::BatchIter;
use crate::error::RecordsError;

/// Whole v2 batches, every one with a CRC that matches its bytes. Only
/// [`CheckedBatches::check`] makes one.
#[derive(Debug, Clone, Copy)]
pub struct CheckedBatches<'a> {
    bytes: &'a [u8],
}

impl<'a> CheckedBatches<'a> {
    /// Checks the CRC of every batch in `bytes` (which must hold whole batches only:
    /// a torn batch at the end is an error).
    pub fn check(bytes: &'a [u8]) -> Result<Self, RecordsError> {
        for view in BatchIter::new(bytes) {
            view?.validate_crc()?;
        }
        Ok(CheckedBatches { bytes })
    }

    /// The batches' bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{BatchBuilder, BatchBuilderConfig};

    fn batch() -> Vec<u8> {
        let mut b = BatchBuilder::new(BatchBuilderConfig::default());
        b.append(1, Some(b"k"), Some(b"v"), &[]).unwrap();
        b.build().unwrap().to_vec()
    }

    #[test]
    fn checks_every_crc() {
        let two = [batch(), batch()].concat();
        assert_eq!(CheckedBatches::check(&two).unwrap().bytes(), &two[..]);
        let mut bad = two.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(matches!(
            CheckedBatches::check(&bad),
            Err(RecordsError::CorruptCrc { .. })
        ));
        assert!(CheckedBatches::check(&two[..two.len() - 1]).is_err());
    }
}
