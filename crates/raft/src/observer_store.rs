//! An observer's local copy of the metadata: its image at an offset, CRC-sealed in
//! `<metadata dir>/observer-image` (`VOBS | crc32c | offset | image_to_records`), replaced
//! atomically at most every [`SAVE_INTERVAL`] while the image moves. A restarted observer
//! starts from it and fetches only what came after (or the leader's snapshot, if its log no
//! longer reaches back that far). The copy is a cache of committed metadata: a missing, torn
//! or corrupt one means fetching everything again, never a failed start. `meta.properties`
//! in the same dir ties it to the node and cluster, as for voters.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::apply::{image_to_records, replay};
use crate::config::QuorumConfig;
use crate::error::RaftError;
use crate::image::MetadataImage;
use crate::records::{decode_batch, encode_batch};
use crate::storage::files::{Reader, seal, unseal, write_atomic};

/// File name inside the metadata dir.
pub const FILE: &str = "observer-image";
const MAGIC: &[u8; 4] = b"VOBS";
/// Shortest time between two rewrites of the copy.
pub const SAVE_INTERVAL: Duration = Duration::from_secs(2);

/// Where an observer of `cfg` keeps its copy; checks (or writes) `meta.properties` first.
pub(crate) fn prepare(cfg: &QuorumConfig) -> Result<PathBuf, RaftError> {
    crate::node::format_or_check(&cfg.metadata_dir, cfg)?;
    Ok(cfg.metadata_dir.join(FILE))
}

/// The copy at `path` as an image (its `offset` the raft index it covers), `None` when there
/// is none or it cannot be used.
pub fn load(path: &Path, cluster_id: &str) -> Option<MetadataImage> {
    let bytes = std::fs::read(path).ok()?;
    let body = unseal(path, MAGIC, &bytes).ok()?;
    let mut r = Reader::new(body);
    let offset = r.u64()?;
    let records = decode_batch(&bytes::Bytes::copy_from_slice(r.rest())).ok()?;
    let mut image = MetadataImage::empty(cluster_id);
    replay(&mut image, &records);
    image.offset = i64::try_from(offset).ok()?;
    Some(image)
}

/// The bytes [`save`] writes for `image`.
pub(crate) fn encode(image: &MetadataImage) -> Result<Vec<u8>, RaftError> {
    let records = encode_batch(&image_to_records(image))?;
    let mut body = Vec::with_capacity(records.len() + 8);
    body.extend_from_slice(&(image.offset.max(0) as u64).to_be_bytes());
    body.extend_from_slice(&records);
    Ok(seal(MAGIC, &body))
}

/// Replaces the copy at `path` with `bytes` (from [`encode`]).
pub(crate) fn save(path: &Path, bytes: &[u8]) -> Result<(), RaftError> {
    write_atomic(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::MetadataRecord;
    use vltava_protocol::metadata::TopicRecord;

    #[test]
    fn a_copy_round_trips_and_a_broken_one_is_ignored() {
        let dir = std::env::temp_dir().join(format!(
            "vltava-observer-store-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE);
        assert!(load(&path, "c").is_none());
        let mut image = MetadataImage::empty("c");
        crate::apply::apply_record(
            &mut image,
            &MetadataRecord::Topic(TopicRecord {
                name: "t".into(),
                topic_id: vltava_protocol::Uuid::from_u128(9),
                ..Default::default()
            }),
        );
        image.offset = 42;
        save(&path, &encode(&image).unwrap()).unwrap();
        let back = load(&path, "c").unwrap();
        assert_eq!(back.offset, 42);
        assert_eq!(back.topics, image.topics);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(load(&path, "c").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
