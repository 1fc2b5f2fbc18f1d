//! Embeds a `vltava-storage` log without any broker: appends a few batches, reads
//! them back as a zero-copy file range and as bytes, looks up an offset by
//! timestamp, closes, and reopens (recovering) from disk.
//!
//! Run: `cargo run -p vltava-storage --example embed_log [DIR]`

use vltava_records::{BatchBuilder, BatchBuilderConfig, BatchIter, DecodeLimits};
use vltava_storage::{FetchIsolation, Log, LogConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!("vltava-embed-{}", std::process::id()))
        });
    let partition_dir = dir.join("greetings-0");
    let config = LogConfig::parse("segment.bytes=1048576\nretention.ms=-1\n")?;
    let mut log = Log::open_path(&partition_dir, config.clone())?;

    for (i, word) in ["hello", "ahoj", "hallo", "bonjour"].iter().enumerate() {
        let mut builder = BatchBuilder::new(BatchBuilderConfig::default());
        builder.append(
            1_700_000_000_000 + i as i64,
            Some(b"lang"),
            Some(word.as_bytes()),
            &[],
        )?;
        let mut batch = builder.build()?.to_vec();
        let info = log.append_as_leader(&mut batch, 0)?;
        println!("appended {word:?} at offset {}", info.first_offset);
    }
    log.flush()?;
    log.set_high_watermark(log.log_end_offset());

    let read = log.read(0, 1 << 20, FetchIsolation::HighWatermark, true)?;
    if let Some(slice) = &read.slice {
        println!(
            "a fetch would send bytes {}..{} of {:?} (sendfile-able: {})",
            slice.position,
            slice.position + slice.len,
            log.segments().next().map(|s| s.log_path().to_path_buf()),
            slice.file.as_std_file().is_some()
        );
    }
    let bytes = log.read_bytes(1, 1 << 20, FetchIsolation::HighWatermark, true)?;
    for batch in BatchIter::new(&bytes) {
        let batch = batch?;
        for record in batch.records(&DecodeLimits::default())? {
            let value = record.value.as_deref().unwrap_or_default();
            println!(
                "offset {}: {}",
                record.offset(batch.header()),
                String::from_utf8_lossy(value)
            );
        }
    }
    if let Some(found) = log.offset_for_timestamp(1_700_000_000_002)? {
        println!("first record at or after t+2ms: offset {}", found.offset);
    }
    let end = log.log_end_offset();
    log.close()?;

    let reopened = Log::open_path(&partition_dir, config)?;
    assert_eq!(reopened.log_end_offset(), end);
    println!("reopened {}: log end offset {end}", partition_dir.display());
    Ok(())
}
