//! Test images for the controller's unit tests: brokers 0, 1 and 2 registered and live, and
//! topic "t" (id 7) with partitions given as (replicas, ISR), each led by its first ISR member
//! (or by none when the ISR is empty).

use std::collections::BTreeMap;

use vltava_protocol::Uuid;

use super::fencing::NO_LEADER;
use super::register_broker;
use crate::apply::apply_record;
use crate::image::{MetadataImage, PartitionImage, TopicImage};
use crate::records::MetadataRecord;

/// The image described in the module docs.
pub fn image(parts: &[(&[i32], &[i32])]) -> MetadataImage {
    let mut img = MetadataImage::empty("c");
    for id in 0..3 {
        let rec = register_broker(&img, id, "127.0.0.1", 9092 + id, None);
        apply_record(&mut img, &rec);
    }
    let id = Uuid::from_u128(7);
    let partitions = parts
        .iter()
        .enumerate()
        .map(|(i, (replicas, isr))| {
            let index = i32::try_from(i).unwrap_or(i32::MAX);
            let leader = isr.first().copied().unwrap_or(NO_LEADER);
            let p = PartitionImage::new(index, leader, replicas.to_vec(), isr.to_vec());
            (index, p)
        })
        .collect::<BTreeMap<_, _>>();
    img.topics.insert(
        "t".into(),
        TopicImage {
            name: "t".into(),
            id,
            partitions,
        },
    );
    img.topic_names.insert(id, "t".into());
    img
}

/// Applies `recs` in order.
pub fn apply_all(img: &mut MetadataImage, recs: &[MetadataRecord]) {
    for r in recs {
        apply_record(img, r);
    }
}
