//! Writes the seed corpus of the `records_batch` fuzz target:
//! `cargo run -p vltava-records --example fuzz_seeds -- fuzz/corpus/records_batch`.
//! Valid v2 batches per codec, a control batch, a run with a torn tail, legacy
//! sets (magic 0 and 1, each codec, via down-conversion), and broken inputs.

use std::path::PathBuf;

use vltava_records::batch_header::{CRC_OFFSET, update_crc};
use vltava_records::{
    BatchBuilder, BatchBuilderConfig, Compression, DecodeLimits, Header, control, down_convert,
};

fn batch(codec: Compression, base: i64, n: usize) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut b = BatchBuilder::new(BatchBuilderConfig {
        compression: codec,
        base_offset: base,
        producer_id: 3,
        producer_epoch: 0,
        base_sequence: 0,
        ..BatchBuilderConfig::default()
    });
    for i in 0..n {
        let key = format!("k{i}");
        let value = format!("v{i}-").repeat(i + 1);
        let headers = [Header::new(b"h", Some(b"x")), Header::new(b"n", None)];
        b.append(
            1_000 + i as i64,
            Some(key.as_bytes()),
            Some(value.as_bytes()),
            &headers,
        )?;
    }
    Ok(b.build()?.to_vec())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: fuzz_seeds <corpus dir>")?,
    );
    std::fs::create_dir_all(&dir)?;
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes);
    let codecs = [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ];
    for (name, codec) in codecs {
        let b = batch(codec, 10, 6)?;
        write(&format!("v2-{name}"), &b)?;
        if codec != Compression::Zstd {
            for magic in [0, 1] {
                let set = down_convert(&b, magic, &DecodeLimits::default())?;
                write(&format!("legacy-magic{magic}-{name}"), &set)?;
            }
        }
    }
    let marker = control::build_end_txn_batch(
        BatchBuilderConfig::default(),
        control::ControlRecordType::Commit,
        5,
        2_000,
    )?;
    write("v2-control-commit", &marker)?;

    let mut run = batch(Compression::None, 0, 2)?;
    run.extend(batch(Compression::Lz4, 2, 3)?);
    let torn = batch(Compression::Gzip, 5, 2)?;
    run.extend_from_slice(&torn[..torn.len() / 2]);
    write("v2-run-torn-tail", &run)?;

    let good = batch(Compression::None, 0, 3)?;
    let mut bad_crc = good.clone();
    bad_crc[CRC_OFFSET] ^= 0xff;
    write("broken-crc", &bad_crc)?;
    write("broken-truncated", &good[..good.len() - 5])?;
    let mut bad_magic = good.clone();
    bad_magic[16] = 7;
    write("broken-magic", &bad_magic)?;
    let mut huge_count = good.clone();
    huge_count[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
    update_crc(&mut huge_count);
    write("broken-record-count-valid-crc", &huge_count)?;
    // A gzip "bomb": a batch claiming one record whose payload inflates to 8 MiB.
    let bomb = batch(Compression::Gzip, 0, 1)?;
    let zeros = vec![0u8; 8 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &zeros)?;
    let payload = gz.finish()?;
    let mut bomb = bomb[..61].to_vec();
    bomb.extend_from_slice(&payload);
    let len = (bomb.len() - 12) as i32;
    bomb[8..12].copy_from_slice(&len.to_be_bytes());
    update_crc(&mut bomb);
    write("broken-gzip-bomb", &bomb)?;
    Ok(())
}
