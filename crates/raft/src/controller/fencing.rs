//! Broker liveness as metadata: fencing a broker (its session expired, or it asked to shut
//! down) and unfencing it (it registered or heartbeats again), with the partition leadership
//! changes each implies. A fenced broker leads nothing: each partition it led gets the first
//! other in-sync, unfenced replica (in replica order) as leader, or none (-1, offline) when
//! there is no such replica; the fenced broker leaves the ISR unless it is the last member
//! (Kafka keeps the last one, so the partition can come back on it without data loss). When a
//! broker is unfenced, every offline partition whose ISR holds it is led by it again. Unclean
//! election (a replica outside the ISR) never happens here.

use vltava_protocol::metadata::{FenceBrokerRecord, PartitionChangeRecord, UnfenceBrokerRecord};

use crate::apply::apply_record;
use crate::image::MetadataImage;
use crate::records::MetadataRecord;

/// `leader` of a PartitionChangeRecord that leaves the leader as it is.
const LEADER_UNCHANGED: i32 = -2;
/// A partition without a leader.
pub const NO_LEADER: i32 = -1;

/// The records fencing broker `id`; empty when it is unknown or already fenced.
pub fn fence_broker(image: &MetadataImage, id: i32) -> Vec<MetadataRecord> {
    let Some(b) = image.brokers.get(&id) else {
        return Vec::new();
    };
    if b.fenced {
        return Vec::new();
    }
    let mut out = vec![MetadataRecord::FenceBroker(FenceBrokerRecord {
        id,
        epoch: b.epoch,
        ..Default::default()
    })];
    let fenced = |r: i32| r == id || image.brokers.get(&r).is_none_or(|b| b.fenced);
    for t in image.topics.values() {
        for p in t.partitions.values() {
            if !p.isr.contains(&id) && p.leader != id {
                continue;
            }
            let mut isr: Vec<i32> = p.isr.iter().copied().filter(|r| *r != id).collect();
            if isr.is_empty() {
                isr = p.isr.clone();
            }
            let leader = if p.leader == id {
                p.replicas
                    .iter()
                    .copied()
                    .find(|r| isr.contains(r) && !fenced(*r))
                    .unwrap_or(NO_LEADER)
            } else {
                LEADER_UNCHANGED
            };
            if leader == LEADER_UNCHANGED && isr == p.isr {
                continue;
            }
            out.push(MetadataRecord::PartitionChange(PartitionChangeRecord {
                topic_id: t.id,
                partition_id: p.partition,
                leader,
                isr: (isr != p.isr).then_some(isr),
                ..Default::default()
            }));
        }
    }
    out
}

/// The records unfencing broker `id` and giving it back the offline partitions whose ISR holds
/// it; empty when it is unknown or not fenced.
pub fn unfence_broker(image: &MetadataImage, id: i32) -> Vec<MetadataRecord> {
    let Some(b) = image.brokers.get(&id) else {
        return Vec::new();
    };
    if !b.fenced {
        return Vec::new();
    }
    let mut out = vec![MetadataRecord::UnfenceBroker(UnfenceBrokerRecord {
        id,
        epoch: b.epoch,
        ..Default::default()
    })];
    out.extend(elect_offline_leaders(image, id));
    out
}

/// Partition changes that make live broker `id` the leader of every partition without a
/// leader whose ISR holds it.
pub fn elect_offline_leaders(image: &MetadataImage, id: i32) -> Vec<MetadataRecord> {
    let mut out = Vec::new();
    for t in image.topics.values() {
        for p in t.partitions.values() {
            if p.leader == NO_LEADER && p.isr.contains(&id) {
                out.push(MetadataRecord::PartitionChange(PartitionChangeRecord {
                    topic_id: t.id,
                    partition_id: p.partition,
                    leader: id,
                    ..Default::default()
                }));
            }
        }
    }
    out
}

/// Registration records followed by the elections the registered broker makes possible; a
/// live broker registering again is fenced first (its leaderships move or get a new epoch).
pub fn register_and_elect(image: &MetadataImage, register: MetadataRecord) -> Vec<MetadataRecord> {
    let id = match &register {
        MetadataRecord::RegisterBroker(r) => r.broker_id,
        _ => return vec![register],
    };
    let mut after = image.clone();
    let mut out = Vec::new();
    // Registering again while still registered and unfenced: the broker restarted before
    // its session expired and may have lost its unsynced log tail, so it must not go on
    // leading in the same leader epoch (followers holding records it lost would never see a
    // divergence). Fence it first, as Kafka does once the old session ends: leadership moves
    // to another in-sync replica, or the partition goes offline and comes back to it below
    // with a new leader epoch.
    if image.brokers.get(&id).is_some_and(|b| !b.fenced) {
        for r in fence_broker(image, id) {
            apply_record(&mut after, &r);
            out.push(r);
        }
    }
    apply_record(&mut after, &register);
    out.push(register);
    out.extend(elect_offline_leaders(&after, id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controller::register_broker;
    use crate::controller::test_image::{self, apply_all};

    /// Partition 0 on broker 1 alone, partition 1 on 1, 2, 0; both led by 1.
    fn image() -> MetadataImage {
        test_image::image(&[(&[1], &[1]), (&[1, 2, 0], &[1, 2, 0])])
    }

    #[test]
    fn fencing_moves_leadership_to_the_next_in_sync_replica_or_none() {
        let mut img = image();
        let recs = fence_broker(&img, 1);
        apply_all(&mut img, &recs);
        let t = &img.topics["t"];
        assert!(img.brokers[&1].fenced);
        assert_eq!(t.partitions[&0].leader, NO_LEADER, "no other replica");
        assert_eq!(t.partitions[&0].isr, vec![1], "the last ISR member stays");
        assert_eq!(t.partitions[&0].leader_epoch, 1);
        assert_eq!(t.partitions[&1].leader, 2, "next in replica order");
        assert_eq!(t.partitions[&1].isr, vec![2, 0]);
        assert!(fence_broker(&img, 1).is_empty(), "already fenced");
    }

    #[test]
    fn a_fenced_replica_is_never_elected() {
        let mut img = image();
        let recs = fence_broker(&img, 2);
        apply_all(&mut img, &recs);
        let recs = fence_broker(&img, 1);
        apply_all(&mut img, &recs);
        assert_eq!(img.topics["t"].partitions[&1].leader, 0);
    }

    #[test]
    fn unfencing_brings_offline_partitions_back() {
        let mut img = image();
        let recs = fence_broker(&img, 1);
        apply_all(&mut img, &recs);
        let recs = unfence_broker(&img, 1);
        apply_all(&mut img, &recs);
        let t = &img.topics["t"];
        assert!(!img.brokers[&1].fenced);
        assert_eq!(t.partitions[&0].leader, 1);
        assert_eq!(t.partitions[&0].leader_epoch, 2, "epochs only grow");
        assert_eq!(
            t.partitions[&1].leader, 2,
            "an online partition keeps its leader"
        );
    }

    #[test]
    fn a_live_re_registration_never_keeps_a_leader_epoch() {
        let mut img = image();
        let reg = register_broker(&img, 1, "127.0.0.1", 9093, None);
        let recs = register_and_elect(&img, reg);
        apply_all(&mut img, &recs);
        let t = &img.topics["t"];
        assert!(!img.brokers[&1].fenced);
        assert_eq!(t.partitions[&0].leader, 1, "its only replica leads again");
        assert_eq!(t.partitions[&0].leader_epoch, 2, "in a new leader epoch");
        assert_eq!(
            t.partitions[&1].leader, 2,
            "leadership moved to an in-sync replica"
        );
        assert_eq!(t.partitions[&1].leader_epoch, 1);
        assert_eq!(
            t.partitions[&1].isr,
            vec![2, 0],
            "it rejoins the ISR by catching up"
        );
    }

    #[test]
    fn re_registration_elects_like_unfencing() {
        let mut img = image();
        let recs = fence_broker(&img, 1);
        apply_all(&mut img, &recs);
        let reg = register_broker(&img, 1, "127.0.0.1", 9093, None);
        let recs = register_and_elect(&img, reg);
        apply_all(&mut img, &recs);
        assert_eq!(img.topics["t"].partitions[&0].leader, 1);
        assert!(!img.brokers[&1].fenced);
    }
}
