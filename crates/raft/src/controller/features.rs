//! Finalized features written when a cluster's metadata log starts: `metadata.version`, as
//! Kafka's bootstrap does.

use vltava_protocol::metadata::FeatureLevelRecord;

use crate::image::MetadataImage;
use crate::records::MetadataRecord;

/// Name of the metadata version feature.
pub const METADATA_VERSION: &str = "metadata.version";
/// The metadata version Vltava writes: Kafka's 4.0-IV3 (feature level 25), the release line
/// of the schemas the records are generated from.
pub const METADATA_VERSION_LEVEL: i16 = 25;

/// The records that bootstrap `image` if it has no metadata version yet (else none).
pub fn bootstrap_records(image: &MetadataImage) -> Vec<MetadataRecord> {
    if image.features.contains_key(METADATA_VERSION) {
        return Vec::new();
    }
    vec![MetadataRecord::FeatureLevel(FeatureLevelRecord {
        name: METADATA_VERSION.into(),
        feature_level: METADATA_VERSION_LEVEL,
        ..Default::default()
    })]
}
