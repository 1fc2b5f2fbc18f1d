//! KIP-951 leader hints: a NOT_LEADER_OR_FOLLOWER answer to Produce (v10+) or
//! Fetch (v16+, also FENCED_LEADER_EPOCH) carries the partition's current leader
//! (`CurrentLeader`: id and leader epoch) and the response carries that leader's
//! endpoint (`NodeEndpoints`), so a client moves at once instead of refreshing its
//! metadata first. As Kafka's `getCurrentLeader`: the leader and epoch this
//! broker's replica knows, else the metadata image's; the endpoint only for a
//! live (registered, unfenced) broker. No leader: no hint (see [`LeaderHint::wire`]).

use std::collections::BTreeMap;

use vltava_protocol::messages::{fetch_response, produce_response};

use crate::broker::Broker;
use crate::error_codes::{FENCED_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER};
use vltava_raft::BrokerImage;

/// Produce answers carry leader hints from this version on.
pub const PRODUCE_MIN_VERSION: i16 = 10;
/// Fetch answers carry leader hints from this version on (Kafka fills
/// `CurrentLeader` and `NodeEndpoints` together, from v16).
pub const FETCH_MIN_VERSION: i16 = 16;

/// The current leader of one partition, as a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderHint {
    /// The leader's broker id, -1 when there is none.
    pub leader_id: i32,
    /// Its leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// The leader's endpoint, when it is a live broker.
    pub endpoint: Option<BrokerImage>,
}

impl LeaderHint {
    /// The `CurrentLeader` to send: none when there is no leader, so the field keeps its
    /// default (-1/-1) and is not written. Kafka sends -1 with the known epoch there;
    /// librdkafka counts such an entry but skips it when it builds its metadata update,
    /// leaving garbage it then reads (confluentinc/librdkafka#5280: "new leader-1 not found
    /// in cache", then SIGSEGV in the fault harness). Without the hint a client refreshes
    /// its metadata, as before KIP-951.
    fn wire(&self) -> Option<(i32, i32)> {
        (self.leader_id >= 0).then_some((self.leader_id, self.leader_epoch))
    }
}

/// The leader of `topic`-`partition` as this broker knows it.
pub fn current_leader(broker: &Broker, topic: &str, partition: i32) -> LeaderHint {
    let metadata = broker.metadata();
    let local = broker.replicas.get(topic, partition).map(|h| {
        let cell = h.lock();
        (cell.replica.leader_id(), cell.replica.leader_epoch())
    });
    let (leader_id, leader_epoch) = match local {
        Some((Some(id), epoch)) => (id, epoch),
        _ => metadata
            .topic(topic)
            .and_then(|t| t.partitions.get(&partition))
            .map_or((-1, -1), |p| (p.leader, p.leader_epoch)),
    };
    LeaderHint {
        leader_id,
        leader_epoch,
        endpoint: metadata.image().live_broker(leader_id).cloned(),
    }
}

/// The endpoints named by the hints of one response, by broker id.
#[derive(Debug, Default)]
pub struct Endpoints(BTreeMap<i32, BrokerImage>);

impl Endpoints {
    fn add(&mut self, hint: &LeaderHint) {
        if let Some(node) = &hint.endpoint {
            self.0.insert(node.id, node.clone());
        }
    }

    /// Whether no hint named a live leader.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// As Produce's `NodeEndpoints`.
    pub fn produce(self) -> Vec<produce_response::NodeEndpoint> {
        self.0
            .into_values()
            .map(|b| produce_response::NodeEndpoint {
                node_id: b.id,
                host: b.host.as_str().into(),
                port: b.port,
                rack: b.rack.as_deref().map(Into::into),
                ..Default::default()
            })
            .collect()
    }

    /// As Fetch's `NodeEndpoints`.
    pub fn fetch(self) -> Vec<fetch_response::NodeEndpoint> {
        self.0
            .into_values()
            .map(|b| fetch_response::NodeEndpoint {
                node_id: b.id,
                host: b.host.as_str().into(),
                port: b.port,
                rack: b.rack.as_deref().map(Into::into),
                ..Default::default()
            })
            .collect()
    }
}

/// Fills `CurrentLeader` of every NOT_LEADER_OR_FOLLOWER partition of a
/// Produce answer (v10+) and returns the endpoints to send with it.
pub fn fill_produce(
    broker: &Broker,
    version: i16,
    topics: &mut [produce_response::TopicProduceResponse],
) -> Endpoints {
    let mut endpoints = Endpoints::default();
    if version < PRODUCE_MIN_VERSION {
        return endpoints;
    }
    for t in topics {
        for p in &mut t.partition_responses {
            if p.error_code != NOT_LEADER_OR_FOLLOWER {
                continue;
            }
            let hint = current_leader(broker, t.name.as_str(), p.index);
            if let Some((leader_id, leader_epoch)) = hint.wire() {
                p.current_leader = produce_response::LeaderIdAndEpoch {
                    leader_id,
                    leader_epoch,
                    ..Default::default()
                };
            }
            endpoints.add(&hint);
        }
    }
    endpoints
}

/// Fills `CurrentLeader` of every NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH
/// partition of a Fetch answer (v16+; topics named by id) and returns the
/// endpoints to send with it.
pub fn fill_fetch(
    broker: &Broker,
    version: i16,
    topics: &mut [fetch_response::FetchableTopicResponse],
) -> Endpoints {
    let mut endpoints = Endpoints::default();
    if version < FETCH_MIN_VERSION {
        return endpoints;
    }
    let metadata = broker.metadata();
    for t in topics {
        let Some(name) = metadata.topic_by_id(t.topic_id).map(|m| m.name.clone()) else {
            continue;
        };
        for p in &mut t.partitions {
            if p.error_code != NOT_LEADER_OR_FOLLOWER && p.error_code != FENCED_LEADER_EPOCH {
                continue;
            }
            let hint = current_leader(broker, &name, p.partition_index);
            if let Some((leader_id, leader_epoch)) = hint.wire() {
                p.current_leader = fetch_response::LeaderIdAndEpoch {
                    leader_id,
                    leader_epoch,
                    ..Default::default()
                };
            }
            endpoints.add(&hint);
        }
    }
    endpoints
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_known_leader_is_hinted() {
        let hint = |leader_id, leader_epoch| LeaderHint {
            leader_id,
            leader_epoch,
            endpoint: None,
        };
        assert_eq!(hint(2, 7).wire(), Some((2, 7)));
        assert_eq!(hint(-1, 7).wire(), None, "no leader, a known epoch");
        assert_eq!(hint(-1, -1).wire(), None);
        let mut p = produce_response::PartitionProduceResponse::default();
        if let Some((leader_id, leader_epoch)) = hint(-1, 7).wire() {
            p.current_leader.leader_id = leader_id;
            p.current_leader.leader_epoch = leader_epoch;
        }
        assert_eq!(
            p.current_leader,
            produce_response::LeaderIdAndEpoch::default(),
            "the tagged field stays at its default, so it is not written"
        );
    }
}
