//! Allocation stays proportional to the input: a frame full of forged array
//! counts cannot make the decoder reserve more than a small multiple of its size.
//! A counting global allocator measures the peak bytes the decoding thread has
//! live while it decodes.
//!
//! Its own test binary on purpose (not a module of `tests/it/`): a
//! `#[global_allocator]` replaces the allocator of the whole binary, so every
//! test linked with it would run on the counting allocator, and measurements
//! are only meaningful in a binary that holds nothing else.

use bytes::{BufMut, Bytes, BytesMut};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use vltava_protocol::frame::decode_request;

struct Counting;

thread_local! {
    // Const-initialised cells: reading them never allocates, so the allocator
    // can use them. Only the measuring thread's own allocations are counted.
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn record(delta: isize) {
    if MEASURING.with(Cell::get) {
        let live = LIVE.with(|l| {
            l.set(l.get() + delta);
            l.get()
        });
        PEAK.with(|p| p.set(p.get().max(live)));
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size() as isize);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record(-(layout.size() as isize));
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A request header for `api_key` v`version`, then an array claiming `count`
/// entries, padded to `size` bytes with `fill`.
fn forged(api_key: u8, version: u8, count: i32, size: usize, fill: u8) -> Bytes {
    let mut f = BytesMut::with_capacity(size);
    f.put_slice(&[0, api_key, 0, version, 0, 0, 0, 1, 0, 1, b'c']);
    f.put_i32(count);
    f.resize(size, fill);
    f.freeze()
}

/// Metadata v1: an array of topics (strings).
fn forged_metadata(count: i32, size: usize) -> Bytes {
    forged(3, 1, count, size, 0)
}

/// CreateTopics v0: an array of large structs (each holds vectors and strings).
fn forged_create_topics(count: i32, size: usize) -> Bytes {
    forged(19, 0, count, size, 0)
}

/// Peak bytes this thread had live while decoding `frame` (result included).
fn peak_while_decoding(frame: &Bytes) -> usize {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    MEASURING.with(|m| m.set(true));
    let result = decode_request(frame);
    drop(result);
    MEASURING.with(|m| m.set(false));
    PEAK.with(Cell::get).max(0) as usize
}

#[test]
fn a_small_frame_claiming_huge_arrays_allocates_little() {
    // 2^31-1 topics, or as many as bytes remain, in 1 KiB: rejected or cut short
    // long before anything large is reserved.
    for frame in [
        forged_metadata(i32::MAX, 1024),
        forged_metadata(1000, 1024),
        forged_create_topics(i32::MAX, 1024),
        forged_create_topics(1000, 1024),
    ] {
        let peak = peak_while_decoding(&frame);
        assert!(peak < 512 * 1024, "a 1 KiB frame peaked at {peak} bytes");
    }
}

#[test]
fn a_large_frame_whose_first_element_is_broken_reserves_little() {
    // As many elements claimed as bytes remain, but the first one is already
    // invalid (0xff.. = a null non-nullable string): nothing past a bounded
    // reservation may be allocated.
    const SIZE: usize = 1 << 20;
    for (key, version) in [(3, 1), (19, 0)] {
        let peak = peak_while_decoding(&forged(key, version, SIZE as i32 - 20, SIZE, 0xff));
        assert!(
            peak < 512 * 1024,
            "api {key}: a broken {SIZE}-byte frame peaked at {peak} bytes"
        );
    }
}

#[test]
fn memory_grows_only_with_elements_that_really_decode() {
    // A 1 MiB frame of zeros really does hold ~500k empty-named topics (2 bytes
    // each); each is a struct of a few dozen bytes in memory. The peak stays
    // within that genuine expansion (plus vector doubling), not the forged count.
    const SIZE: usize = 1 << 20;
    for frame in [
        forged_metadata(i32::MAX, SIZE),
        forged_metadata(SIZE as i32 - 20, SIZE),
        forged_create_topics(SIZE as i32 - 20, SIZE),
    ] {
        let peak = peak_while_decoding(&frame);
        assert!(
            peak < 128 * SIZE,
            "decoding a {SIZE}-byte frame peaked at {peak} bytes"
        );
    }
}
