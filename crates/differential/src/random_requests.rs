//! The seeded random requests of the `every_api` scenario: a valid body per API and version
//! (`RequestBody::random`, the same bytes for the same seed), with the fields that would make
//! a broker wait, change the cluster for later requests, or answer from state other
//! scenarios left behind set to safe values ([`safe_body`]); and the variant whose topics are
//! replaced by ones the scenario created ([`aim`]), so handlers do real work.

use vltava_protocol::messages::describe_configs_request::DescribeConfigsResource;
use vltava_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use vltava_protocol::messages::metadata_request::MetadataRequestTopic;
use vltava_protocol::testing::Gen;
use vltava_protocol::{ApiKey, RequestBody, SharedStr, Uuid};

/// The topics the aimed requests name, created identically on both brokers.
#[derive(Debug, Clone)]
pub struct Targets {
    /// Read and written (produced to, fetched, committed against); never deleted.
    pub topic: String,
    /// This broker's id of [`Targets::topic`].
    pub topic_id: Uuid,
    /// Partitions of every target topic.
    pub partitions: i32,
    /// The topic DeleteRecords truncates.
    pub scratch: String,
    /// The topic DeleteTopics deletes.
    pub doomed: String,
}

/// Broker id no broker of a differential run has (UnregisterBroker's target).
const NO_SUCH_BROKER: i32 = 999;
/// Timeout for requests that would otherwise wait a random time (or not at all).
const TIMEOUT_MS: i32 = 30_000;

/// The random body of `key` at `version` for `seed`, made safe ([`safe_body`]).
pub fn body_for(key: ApiKey, version: i16, seed: u64) -> RequestBody {
    let mut g = Gen::new(seed * 1000 + u64::from(key.as_i16().unsigned_abs()));
    let mut body = RequestBody::random(key, &mut g, version);
    safe_body(&mut body);
    body
}

/// Sets the fields of `body` that would make a broker wait, send no answer, change what
/// later requests see, or list what other scenarios left behind.
pub fn safe_body(body: &mut RequestBody) {
    match body {
        RequestBody::Produce(r) => {
            r.acks = 1;
            r.timeout_ms = TIMEOUT_MS;
        }
        RequestBody::Fetch(r) => {
            r.max_wait_ms = 0;
            // A consumer's fetch (a follower's would be answered from replication state).
            r.replica_id = -1;
            r.replica_state.replica_id = -1;
        }
        RequestBody::ListOffsets(r) => {
            r.replica_id = -1;
            r.timeout_ms = TIMEOUT_MS;
        }
        RequestBody::Metadata(r) => {
            r.allow_auto_topic_creation = false;
            // "All topics" would list other scenarios' topics.
            r.topics.get_or_insert_with(Vec::new);
        }
        RequestBody::CreateTopics(r) => {
            r.validate_only = true;
            r.timeout_ms = TIMEOUT_MS;
        }
        RequestBody::DeleteTopics(r) => r.timeout_ms = TIMEOUT_MS,
        RequestBody::DeleteRecords(r) => r.timeout_ms = TIMEOUT_MS,
        RequestBody::CreatePartitions(r) => {
            r.validate_only = true;
            r.timeout_ms = TIMEOUT_MS;
        }
        RequestBody::AlterConfigs(r) => r.validate_only = true,
        RequestBody::IncrementalAlterConfigs(r) => r.validate_only = true,
        RequestBody::AlterClientQuotas(r) => r.validate_only = true,
        RequestBody::UpdateFeatures(r) => {
            r.validate_only = true;
            r.timeout_ms = TIMEOUT_MS;
        }
        RequestBody::UnregisterBroker(r) => r.broker_id = NO_SUCH_BROKER,
        RequestBody::ElectLeaders(r) => {
            // Every partition would include other scenarios' topics.
            r.topic_partitions.get_or_insert_with(Vec::new);
            r.timeout_ms = TIMEOUT_MS;
        }
        RequestBody::AlterPartitionReassignments(r) => r.timeout_ms = TIMEOUT_MS,
        RequestBody::ListPartitionReassignments(r) => {
            r.timeout_ms = TIMEOUT_MS;
            r.topics.get_or_insert_with(Vec::new);
        }
        RequestBody::DescribeLogDirs(r) => {
            r.topics.get_or_insert_with(Vec::new);
        }
        RequestBody::JoinGroup(r) => {
            // A new dynamic member is told its id at once (MEMBER_ID_REQUIRED); a static
            // one would wait out the rebalance.
            r.member_id = "".into();
            r.group_instance_id = None;
        }
        _ => {}
    }
}

/// Partitions from -1 to one past the last, each once, in an order fixed by a seed.
struct Partitions {
    order: Vec<i32>,
}

impl Partitions {
    fn new(count: i32, seed: u64) -> Partitions {
        let mut order: Vec<i32> = (-1..=count).collect();
        let mut state = seed;
        for i in (1..order.len()).rev() {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let j = usize::try_from((state >> 33) % (i as u64 + 1)).unwrap_or(0);
            order.swap(i, j);
        }
        Partitions { order }
    }

    /// Renumbers `items` with distinct partitions (dropping those beyond the last one).
    fn assign<T>(&self, items: &mut Vec<T>, mut set: impl FnMut(&mut T, i32)) {
        items.truncate(self.order.len());
        items
            .iter_mut()
            .zip(&self.order)
            .for_each(|(item, p)| set(item, *p));
    }
}

/// Keeps the first of `topics` and renames it with `rename`; false if there is none.
fn first_only<T>(topics: &mut Vec<T>, rename: impl FnOnce(&mut T)) -> bool {
    topics.truncate(1);
    topics.first_mut().map(rename).is_some()
}

/// Points `body` at the [`Targets`]: its first topic (the others dropped: real clients
/// name a topic once) renamed, its partitions renumbered from -1 to one past the last, each
/// once. False for APIs that name no topics, and for bodies that name none (the aimed
/// variant is then not sent).
// Long, and kept whole: one match over the request bodies, one short arm per API.
pub fn aim(body: &mut RequestBody, t: &Targets, seed: u64) -> bool {
    let p = Partitions::new(t.partitions, seed);
    let name = || SharedStr::from(t.topic.as_str());
    match body {
        RequestBody::Produce(r) => first_only(&mut r.topic_data, |d| {
            d.name = name();
            p.assign(&mut d.partition_data, |x, i| x.index = i);
        }),
        RequestBody::Fetch(r) => {
            // As a consumer fetches: no session, a known isolation level.
            r.session_id = 0;
            r.session_epoch = -1;
            r.isolation_level &= 1;
            r.forgotten_topics_data.clear();
            first_only(&mut r.topics, |d| {
                d.topic = name();
                d.topic_id = t.topic_id;
                p.assign(&mut d.partitions, |x, i| x.partition = i);
            })
        }
        RequestBody::ListOffsets(r) => {
            r.isolation_level &= 1;
            first_only(&mut r.topics, |d| {
                d.name = name();
                p.assign(&mut d.partitions, |x, i| x.partition_index = i);
            })
        }
        RequestBody::Metadata(r) => {
            r.topics = Some(vec![MetadataRequestTopic {
                name: Some(name()),
                ..Default::default()
            }]);
            true
        }
        RequestBody::OffsetCommit(r) => first_only(&mut r.topics, |d| {
            d.name = name();
            p.assign(&mut d.partitions, |x, i| x.partition_index = i);
        }),
        RequestBody::OffsetFetch(r) => {
            let mut named = false;
            if let Some(topics) = r.topics.as_mut() {
                named |= first_only(topics, |d| {
                    d.name = name();
                    p.assign(&mut d.partition_indexes, |x, i| *x = i);
                });
            }
            for g in &mut r.groups {
                if let Some(topics) = g.topics.as_mut() {
                    named |= first_only(topics, |d| {
                        d.name = name();
                        p.assign(&mut d.partition_indexes, |x, i| *x = i);
                    });
                }
            }
            named
        }
        RequestBody::DeleteTopics(r) => {
            // Only the throwaway topic, by name (ids are each broker's own).
            let doomed = || SharedStr::from(t.doomed.as_str());
            first_only(&mut r.topic_names, |n| *n = doomed())
                | first_only(&mut r.topics, |d| {
                    d.name = Some(doomed());
                    d.topic_id = Uuid::default();
                })
        }
        RequestBody::DeleteRecords(r) => first_only(&mut r.topics, |d| {
            d.name = t.scratch.as_str().into();
            p.assign(&mut d.partitions, |x, i| x.partition_index = i);
        }),
        RequestBody::OffsetForLeaderEpoch(r) => {
            r.replica_id = -1;
            first_only(&mut r.topics, |d| {
                d.topic = name();
                p.assign(&mut d.partitions, |x, i| x.partition = i);
            })
        }
        RequestBody::TxnOffsetCommit(r) => first_only(&mut r.topics, |d| {
            d.name = name();
            p.assign(&mut d.partitions, |x, i| x.partition_index = i);
        }),
        RequestBody::DescribeConfigs(r) => {
            r.resources = vec![DescribeConfigsResource {
                resource_type: 2,
                resource_name: name(),
                configuration_keys: Some(vec!["cleanup.policy".into(), "retention.ms".into()]),
                ..Default::default()
            }];
            true
        }
        RequestBody::CreatePartitions(r) => first_only(&mut r.topics, |d| d.name = name()),
        RequestBody::ElectLeaders(r) => r.topic_partitions.as_mut().is_some_and(|topics| {
            first_only(topics, |d| {
                d.topic = name();
                p.assign(&mut d.partitions, |x, i| *x = i);
            })
        }),
        RequestBody::DescribeLogDirs(r) => {
            r.topics = Some(vec![DescribableLogDirTopic {
                topic: name(),
                partitions: vec![0, t.partitions],
                ..Default::default()
            }]);
            true
        }
        RequestBody::ListPartitionReassignments(r) => r.topics.as_mut().is_some_and(|topics| {
            first_only(topics, |d| {
                d.name = name();
                p.assign(&mut d.partition_indexes, |x, i| *x = i);
            })
        }),
        RequestBody::DescribeProducers(r) => first_only(&mut r.topics, |d| {
            d.name = name();
            p.assign(&mut d.partition_indexes, |x, i| *x = i);
        }),
        RequestBody::DescribeTopicPartitions(r) => {
            r.cursor = None;
            first_only(&mut r.topics, |d| d.name = name())
        }
        _ => false,
    }
}
