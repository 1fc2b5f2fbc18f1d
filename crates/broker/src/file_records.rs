//! Record bytes that stay in their segment file until the connection sends them
//! (`sendfile` on plaintext connections, one copy on TLS ones).
//!
//! A Fetch answer's `records` field is a `Bytes`, and everything between the
//! handler and the writer (fetch sessions, quotas, authorization) looks only at
//! its length. So a [`FileSlice`] goes into the answer as a stand-in: a `Bytes` of
//! the slice's length over a read-only anonymous mapping that is never read (its
//! pages are the kernel's zero page if anything does), registered under its
//! address. The writer encodes with `vltava_protocol::frame_parts`, marking the
//! stand-ins external ([`is_file_records`]), and finds each one's slice again
//! with [`resolve`]. The stand-in owns its registration: dropping the answer (a
//! throttled fetch stripped of its records, a closed connection) frees it.

use std::sync::{Mutex, MutexGuard, OnceLock};

use bytes::Bytes;
use vltava_storage::FileSlice;

/// Address space reserved for stand-ins (never backed by memory): a stand-in in
/// slot `i` of length `n` covers bytes `i..i + n` of it.
const REGION_BYTES: usize = 1 << 36;

/// The reserved range, or `None` if it could not be mapped (then every slice is
/// copied, as before).
fn region() -> Option<&'static [u8]> {
    static REGION: OnceLock<Option<&'static [u8]>> = OnceLock::new();
    *REGION.get_or_init(|| {
        use rustix::mm::{MapFlags, ProtFlags, mmap_anonymous};
        // SAFETY: with a null address the kernel picks a range that overlaps no
        // existing memory, so no Rust object is affected by the new mapping.
        let ptr = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                REGION_BYTES,
                ProtFlags::READ,
                MapFlags::PRIVATE | MapFlags::NORESERVE,
            )
        }
        .ok()?;
        // SAFETY: the mapping is REGION_BYTES long, readable (zero-filled), never
        // written and never unmapped, so a shared 'static slice over it is valid.
        Some(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>().cast_const(), REGION_BYTES) })
    })
}

/// The slices of live stand-ins, by slot.
#[derive(Default)]
struct Slots {
    slices: Vec<Option<FileSlice>>,
    free: Vec<usize>,
}

fn slots() -> MutexGuard<'static, Slots> {
    static SLOTS: OnceLock<Mutex<Slots>> = OnceLock::new();
    let m = SLOTS.get_or_init(Mutex::default);
    // The slots hold no invariant a panic elsewhere could break half-way.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A stand-in's registration; freed with its last `Bytes`.
struct StandIn {
    slot: usize,
    bytes: &'static [u8],
}

impl AsRef<[u8]> for StandIn {
    fn as_ref(&self) -> &[u8] {
        self.bytes
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let mut s = slots();
        if let Some(entry) = s.slices.get_mut(self.slot) {
            *entry = None;
            s.free.push(self.slot);
        }
    }
}

/// `slice` as a stand-in `Bytes` of its length, or `None` when it cannot be one
/// (empty, too long, or no reserved range): the caller then copies it.
pub fn share(slice: FileSlice) -> Option<Bytes> {
    let region = region()?;
    let len = usize::try_from(slice.len).ok().filter(|&n| n > 0)?;
    let mut s = slots();
    let slot = match s.free.pop() {
        Some(i) => i,
        None => {
            s.slices.push(None);
            s.slices.len() - 1
        }
    };
    let Some(bytes) = slot.checked_add(len).and_then(|end| region.get(slot..end)) else {
        s.free.push(slot);
        return None;
    };
    s.slices[slot] = Some(slice);
    drop(s);
    Some(Bytes::from_owner(StandIn { slot, bytes }))
}

/// Whether `v` is a stand-in (for `frame_parts::encode_response_parts`).
pub fn is_file_records(v: &[u8]) -> bool {
    let Some(region) = region() else {
        return false;
    };
    let (base, p) = (region.as_ptr() as usize, v.as_ptr() as usize);
    p >= base && p - base < REGION_BYTES
}

/// The slice behind the stand-in at `addr` of `len` bytes, while it lives.
pub fn resolve(addr: usize, len: usize) -> Option<FileSlice> {
    let base = region()?.as_ptr() as usize;
    let slot = addr.checked_sub(base)?;
    let s = slots();
    let slice = s.slices.get(slot)?.as_ref()?;
    (usize::try_from(slice.len).ok() == Some(len)).then(|| slice.clone())
}

#[cfg(test)]
mod tests {
    use vltava_storage::{FileSlice, StdStorage, Storage};

    use super::*;

    fn file_slice(len: u64) -> FileSlice {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("seg.log");
        std::fs::write(&path, vec![7u8; 4096]).expect("write");
        let file = StdStorage.open(&path, false).expect("open");
        FileSlice {
            file,
            position: 10,
            len,
            end_offset: 5,
        }
    }

    #[test]
    fn a_stand_in_has_the_slice_length_and_resolves_to_it_until_dropped() {
        let a = share(file_slice(1000)).expect("stand-in");
        let b = share(file_slice(30)).expect("stand-in");
        assert_eq!((a.len(), b.len()), (1000, 30));
        // The mapping is readable (zero pages): reading a stand-in is harmless.
        assert!(a.iter().all(|&x| x == 0));
        assert!(is_file_records(&a) && is_file_records(&b));
        assert!(!is_file_records(b"plain bytes"));
        let ra = resolve(a.as_ptr() as usize, a.len()).expect("a resolves");
        assert_eq!((ra.position, ra.len, ra.end_offset), (10, 1000, 5));
        assert!(resolve(a.as_ptr() as usize, 999).is_none(), "wrong length");
        let copy = a.clone();
        drop(a);
        assert!(
            resolve(copy.as_ptr() as usize, 1000).is_some(),
            "a clone keeps it"
        );
        let addr = copy.as_ptr() as usize;
        drop(copy);
        assert!(resolve(addr, 1000).is_none(), "freed with its last Bytes");
        let b_addr = b.as_ptr() as usize;
        drop(b);
        assert!(resolve(b_addr, 30).is_none());
        assert!(
            share(file_slice(0)).is_none(),
            "an empty slice is not shared"
        );
    }
}
