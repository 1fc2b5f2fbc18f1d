//! Partition assignors of the classic consumer group protocol (range,
//! roundrobin, sticky, cooperative-sticky) and the consumer protocol's
//! subscription/assignment encoding (a version prefix plus the message).

use crate::error::{ClientError, Result};
use bytes::{BufMut, Bytes, BytesMut};
use std::collections::{BTreeMap, BTreeSet};
use vltava_protocol::Message;
use vltava_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTp;
use vltava_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedTp;
use vltava_protocol::messages::{ConsumerProtocolAssignment, ConsumerProtocolSubscription};

pub type Tp = (String, i32);

/// One member's subscription as the group leader sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberSubscription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub topics: Vec<String>,
    pub owned: Vec<Tp>,
    pub generation: i32,
}

/// Whether members give up partitions all at once (eager) or only those that move (cooperative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebalanceProtocol {
    Eager,
    Cooperative,
}

/// Computes the assignment of a group (run by the group leader).
pub trait Assignor: Send + Sync + std::fmt::Debug {
    /// The protocol name in JoinGroup (`range`, `roundrobin`, `sticky`, `cooperative-sticky`).
    fn name(&self) -> &'static str;
    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Eager
    }
    /// `partitions`: partition count of every subscribed topic.
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Vec<Tp>>;
}

fn sorted_members(members: &[MemberSubscription]) -> Vec<&MemberSubscription> {
    let mut m: Vec<&MemberSubscription> = members.iter().collect();
    // Static members sort by instance id so their assignment survives restarts.
    m.sort_by(|a, b| {
        (
            a.instance_id.as_deref().unwrap_or(&a.member_id),
            &a.member_id,
        )
            .cmp(&(
                b.instance_id.as_deref().unwrap_or(&b.member_id),
                &b.member_id,
            ))
    });
    m
}

fn empty_result(members: &[MemberSubscription]) -> BTreeMap<String, Vec<Tp>> {
    members
        .iter()
        .map(|m| (m.member_id.clone(), Vec::new()))
        .collect()
}

/// `range`: per topic, consecutive ranges of partitions; the first members get one extra.
#[derive(Debug, Default)]
pub struct RangeAssignor;

impl Assignor for RangeAssignor {
    fn name(&self) -> &'static str {
        "range"
    }
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Vec<Tp>> {
        let mut out = empty_result(members);
        let sorted = sorted_members(members);
        for (topic, count) in partitions {
            let subs: Vec<&&MemberSubscription> =
                sorted.iter().filter(|m| m.topics.contains(topic)).collect();
            if subs.is_empty() {
                continue;
            }
            let n = subs.len() as i32;
            let (per, extra) = (count / n, count % n);
            let mut next = 0;
            for (i, m) in subs.iter().enumerate() {
                let take = per + i32::from((i as i32) < extra);
                let list = out.entry(m.member_id.clone()).or_default();
                for p in next..next + take {
                    list.push((topic.clone(), p));
                }
                next += take;
            }
        }
        out
    }
}

/// `roundrobin`: every partition of every topic dealt in turn to the subscribed members.
#[derive(Debug, Default)]
pub struct RoundRobinAssignor;

impl Assignor for RoundRobinAssignor {
    fn name(&self) -> &'static str {
        "roundrobin"
    }
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Vec<Tp>> {
        let mut out = empty_result(members);
        let sorted = sorted_members(members);
        if sorted.is_empty() {
            return out;
        }
        let mut i = 0usize;
        for (topic, count) in partitions {
            for p in 0..*count {
                for _ in 0..sorted.len() {
                    let m = sorted[i % sorted.len()];
                    i += 1;
                    if m.topics.contains(topic) {
                        out.entry(m.member_id.clone())
                            .or_default()
                            .push((topic.clone(), p));
                        break;
                    }
                }
            }
        }
        out
    }
}

/// Balanced assignment that keeps each member's previously owned partitions
/// where balance allows.
fn sticky_assign(
    members: &[MemberSubscription],
    partitions: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<Tp>> {
    let mut out = empty_result(members);
    let sorted = sorted_members(members);
    let all: BTreeSet<Tp> = partitions
        .iter()
        .flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p)))
        .collect();
    let eligible = |m: &MemberSubscription, tp: &Tp| m.topics.contains(&tp.0);
    let total_eligible: usize = all.len();
    let n = sorted.len().max(1);
    let quota = total_eligible.div_ceil(n);
    let mut taken: BTreeSet<Tp> = BTreeSet::new();
    // Keep owned partitions up to the quota (highest generation wins a conflict).
    let mut by_gen: Vec<&&MemberSubscription> = sorted.iter().collect();
    by_gen.sort_by_key(|m| std::cmp::Reverse(m.generation));
    for m in by_gen {
        let list = out.entry(m.member_id.clone()).or_default();
        for tp in &m.owned {
            if list.len() >= quota {
                break;
            }
            if all.contains(tp) && eligible(m, tp) && taken.insert(tp.clone()) {
                list.push(tp.clone());
            }
        }
    }
    // Hand out the rest to the least loaded eligible member.
    for tp in &all {
        if taken.contains(tp) {
            continue;
        }
        let target = sorted
            .iter()
            .filter(|m| eligible(m, tp))
            .min_by_key(|m| out.get(&m.member_id).map_or(0, Vec::len));
        if let Some(m) = target {
            out.entry(m.member_id.clone()).or_default().push(tp.clone());
            taken.insert(tp.clone());
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    out
}

/// `sticky` (eager).
#[derive(Debug, Default)]
pub struct StickyAssignor;

impl Assignor for StickyAssignor {
    fn name(&self) -> &'static str {
        "sticky"
    }
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Vec<Tp>> {
        sticky_assign(members, partitions)
    }
}

/// `cooperative-sticky`: the sticky assignment, minus partitions that change
/// owner this round (their owner revokes them first, then rejoins).
#[derive(Debug, Default)]
pub struct CooperativeStickyAssignor;

impl Assignor for CooperativeStickyAssignor {
    fn name(&self) -> &'static str {
        "cooperative-sticky"
    }
    fn protocol(&self) -> RebalanceProtocol {
        RebalanceProtocol::Cooperative
    }
    fn assign(
        &self,
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Vec<Tp>> {
        let mut out = sticky_assign(members, partitions);
        let owner: BTreeMap<&Tp, &str> = members
            .iter()
            .flat_map(|m| m.owned.iter().map(move |tp| (tp, m.member_id.as_str())))
            .collect();
        for (member, list) in out.iter_mut() {
            list.retain(|tp| owner.get(tp).is_none_or(|o| *o == member));
        }
        out
    }
}

/// An assignor by protocol name.
pub fn by_name(name: &str) -> Option<Box<dyn Assignor>> {
    match name {
        "range" => Some(Box::new(RangeAssignor)),
        "roundrobin" => Some(Box::new(RoundRobinAssignor)),
        "sticky" => Some(Box::new(StickyAssignor)),
        "cooperative-sticky" => Some(Box::new(CooperativeStickyAssignor)),
        _ => None,
    }
}

fn with_version<M: Message>(m: &M, version: i16) -> Result<Bytes> {
    let body = m
        .encode_to_bytes(version)
        .map_err(|e| ClientError::Protocol(format!("encoding consumer protocol: {e}")))?;
    let mut out = BytesMut::with_capacity(body.len() + 2);
    out.put_i16(version);
    out.extend_from_slice(&body);
    Ok(out.freeze())
}

fn split_version<M: Message>(b: &Bytes, max: i16) -> Result<(M, i16)> {
    if b.len() < 2 {
        return Err(ClientError::Protocol(
            "consumer protocol data shorter than its version".into(),
        ));
    }
    let v = i16::from_be_bytes([b[0], b[1]]);
    if v < 0 {
        return Err(ClientError::Protocol(format!(
            "consumer protocol version {v}"
        )));
    }
    // Newer versions only add fields: read what this version knows.
    let v = v.min(max);
    let (m, _) = M::decode_prefix(&b.slice(2..), v)
        .map_err(|e| ClientError::Protocol(format!("decoding consumer protocol: {e}")))?;
    Ok((m, v))
}

/// JoinGroup metadata for a member subscribing to `topics`.
pub fn encode_subscription(
    topics: &[String],
    owned: &[Tp],
    generation: i32,
    rack: Option<&str>,
) -> Result<Bytes> {
    let mut grouped: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in owned {
        grouped.entry(t).or_default().push(*p);
    }
    let m = ConsumerProtocolSubscription {
        topics: topics.iter().map(|t| t.as_str().into()).collect(),
        user_data: None,
        owned_partitions: grouped
            .into_iter()
            .map(|(t, ps)| OwnedTp {
                topic: t.into(),
                partitions: ps,
            })
            .collect(),
        generation_id: generation,
        rack_id: rack.map(Into::into),
    };
    with_version(&m, 3)
}

/// Reads a member's JoinGroup metadata.
pub fn decode_subscription(
    member_id: &str,
    instance_id: Option<&str>,
    b: &Bytes,
) -> Result<MemberSubscription> {
    let (m, _v): (ConsumerProtocolSubscription, i16) =
        split_version(b, ConsumerProtocolSubscription::MAX_VERSION)?;
    Ok(MemberSubscription {
        member_id: member_id.to_string(),
        instance_id: instance_id.map(str::to_string),
        topics: m.topics.iter().map(|t| t.to_string()).collect(),
        owned: m
            .owned_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().map(move |p| (t.topic.to_string(), *p)))
            .collect(),
        generation: m.generation_id,
    })
}

/// SyncGroup assignment bytes.
pub fn encode_assignment(parts: &[Tp]) -> Result<Bytes> {
    let mut grouped: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in parts {
        grouped.entry(t).or_default().push(*p);
    }
    let m = ConsumerProtocolAssignment {
        assigned_partitions: grouped
            .into_iter()
            .map(|(t, ps)| AssignedTp {
                topic: t.into(),
                partitions: ps,
            })
            .collect(),
        user_data: None,
    };
    with_version(&m, 0)
}

/// Reads assignment bytes (empty bytes: nothing assigned).
pub fn decode_assignment(b: &Bytes) -> Result<Vec<Tp>> {
    if b.is_empty() {
        return Ok(Vec::new());
    }
    let (m, _v): (ConsumerProtocolAssignment, i16) =
        split_version(b, ConsumerProtocolAssignment::MAX_VERSION)?;
    Ok(m.assigned_partitions
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.topic.to_string(), *p)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str], owned: &[(&str, i32)]) -> MemberSubscription {
        MemberSubscription {
            member_id: id.into(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            owned: owned.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
            generation: 1,
            ..Default::default()
        }
    }

    fn parts(v: &[(&str, i32)]) -> BTreeMap<String, i32> {
        v.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn tps(v: &[(&str, i32)]) -> Vec<Tp> {
        v.iter().map(|(t, p)| (t.to_string(), *p)).collect()
    }

    #[test]
    fn range_gives_the_first_members_the_extra_partitions() {
        let m = [member("a", &["t"], &[]), member("b", &["t"], &[])];
        let r = RangeAssignor.assign(&m, &parts(&[("t", 5)]));
        assert_eq!(r["a"], tps(&[("t", 0), ("t", 1), ("t", 2)]));
        assert_eq!(r["b"], tps(&[("t", 3), ("t", 4)]));
    }

    #[test]
    fn roundrobin_deals_in_turn() {
        let m = [member("a", &["t", "u"], &[]), member("b", &["t", "u"], &[])];
        let r = RoundRobinAssignor.assign(&m, &parts(&[("t", 2), ("u", 1)]));
        assert_eq!(r["a"], tps(&[("t", 0), ("u", 0)]));
        assert_eq!(r["b"], tps(&[("t", 1)]));
    }

    #[test]
    fn sticky_keeps_owned_partitions_and_balances() {
        let m = [
            member("a", &["t"], &[("t", 0), ("t", 1), ("t", 2), ("t", 3)]),
            member("b", &["t"], &[]),
        ];
        let r = StickyAssignor.assign(&m, &parts(&[("t", 4)]));
        assert_eq!(r["a"].len(), 2);
        assert_eq!(r["b"].len(), 2);
        assert!(r["a"].iter().all(|tp| tp.1 < 4));
        // Cooperative: the two partitions that move are withheld this round.
        let c = CooperativeStickyAssignor.assign(&m, &parts(&[("t", 4)]));
        assert_eq!(c["a"], r["a"]);
        assert!(c["b"].is_empty());
        // Next round, once "a" owns only its share, "b" gets the rest.
        let m2 = [
            member("a", &["t"], &[("t", 0), ("t", 1)]),
            member("b", &["t"], &[]),
        ];
        let c2 = CooperativeStickyAssignor.assign(&m2, &parts(&[("t", 4)]));
        assert_eq!(c2["b"], tps(&[("t", 2), ("t", 3)]));
    }

    #[test]
    fn subscription_and_assignment_roundtrip() {
        let b = encode_subscription(&["t".into()], &tps(&[("t", 1)]), 4, None).unwrap();
        let s = decode_subscription("m", None, &b).unwrap();
        assert_eq!(s.topics, vec!["t".to_string()]);
        assert_eq!(s.owned, tps(&[("t", 1)]));
        assert_eq!(s.generation, 4);
        let a = encode_assignment(&tps(&[("t", 0), ("u", 2)])).unwrap();
        assert_eq!(decode_assignment(&a).unwrap(), tps(&[("t", 0), ("u", 2)]));
        assert!(decode_assignment(&Bytes::from_static(&[0])).is_err());
    }
}
