//! Sans-IO controller: validation and Kafka error codes per request, checked against an image
//! built by replaying the records the controller itself produced.

#![allow(clippy::unwrap_used)]

use vltava_protocol::Uuid;
use vltava_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use vltava_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use vltava_protocol::messages::delete_topics_request::DeleteTopicState;
use vltava_protocol::messages::{
    AlterConfigsRequest, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    IncrementalAlterConfigsRequest, alter_configs_request, incremental_alter_configs_request,
};
use vltava_raft::apply::replay;
use vltava_raft::controller::{self, SequentialIds};
use vltava_raft::{
    ConfigResource, ConfigResourceKind, MetadataImage, MetadataRecord, TopicDefaults,
};

use vltava_protocol::error_codes::INVALID_CONFIG;
use vltava_protocol::error_codes::INVALID_PARTITIONS;
use vltava_protocol::error_codes::INVALID_REPLICA_ASSIGNMENT;
use vltava_protocol::error_codes::INVALID_REPLICATION_FACTOR;
use vltava_protocol::error_codes::INVALID_REQUEST;
use vltava_protocol::error_codes::INVALID_TOPIC_EXCEPTION;
use vltava_protocol::error_codes::NONE;
use vltava_protocol::error_codes::TOPIC_ALREADY_EXISTS;
use vltava_protocol::error_codes::UNKNOWN_TOPIC_ID;
use vltava_protocol::error_codes::UNKNOWN_TOPIC_OR_PARTITION;

struct World {
    image: MetadataImage,
    ids: SequentialIds,
}

impl World {
    /// An image with brokers 1..=n registered.
    fn with_brokers(n: i32) -> World {
        let mut image = MetadataImage::empty("c");
        for id in 1..=n {
            let r = controller::register_broker(&image, id, "h", 9092 + id, None);
            replay(&mut image, [&r]);
        }
        World {
            image,
            ids: SequentialIds::default(),
        }
    }

    fn commit(&mut self, records: &[MetadataRecord]) {
        replay(&mut self.image, records);
    }

    fn create(&mut self, topics: Vec<CreatableTopic>, version: i16) -> Vec<(i16, Option<String>)> {
        let req = CreateTopicsRequest {
            topics,
            ..Default::default()
        };
        let (resp, records) = controller::create_topics(
            &self.image,
            &req,
            version,
            &TopicDefaults {
                num_partitions: 2,
                replication_factor: 1,
            },
            &mut self.ids,
        );
        self.commit(&records);
        resp.topics
            .iter()
            .map(|t| {
                (
                    t.error_code,
                    t.error_message.as_ref().map(|m| m.to_string()),
                )
            })
            .collect()
    }

    fn create_codes(&mut self, topics: Vec<CreatableTopic>) -> Vec<i16> {
        self.create(topics, 7).into_iter().map(|(c, _)| c).collect()
    }
}

fn topic(name: &str, partitions: i32, rf: i16) -> CreatableTopic {
    CreatableTopic {
        name: name.into(),
        num_partitions: partitions,
        replication_factor: rf,
        ..Default::default()
    }
}

fn with_config(mut t: CreatableTopic, k: &str, v: Option<&str>) -> CreatableTopic {
    t.configs.push(CreatableTopicConfig {
        name: k.into(),
        value: v.map(Into::into),
        ..Default::default()
    });
    t
}

#[test]
fn create_topics_error_codes() {
    let mut w = World::with_brokers(3);
    assert_eq!(w.create_codes(vec![topic("a", 3, 2)]), [NONE]);
    assert_eq!(
        w.create_codes(vec![topic("a", 3, 2)]),
        [TOPIC_ALREADY_EXISTS]
    );
    assert_eq!(
        w.create_codes(vec![
            topic("bad name", 1, 1),
            topic(".", 1, 1),
            topic("", 1, 1)
        ]),
        [INVALID_TOPIC_EXCEPTION; 3]
    );
    assert_eq!(
        w.create_codes(vec![topic(&"x".repeat(250), 1, 1)]),
        [INVALID_TOPIC_EXCEPTION]
    );
    assert_eq!(w.create_codes(vec![topic(&"x".repeat(249), 1, 1)]), [NONE]);
    assert_eq!(
        w.create_codes(vec![topic("p0", 0, 1)]),
        [INVALID_PARTITIONS]
    );
    assert_eq!(
        w.create_codes(vec![topic("p1", -5, 1)]),
        [INVALID_PARTITIONS]
    );
    assert_eq!(
        w.create_codes(vec![topic("r0", 1, 0)]),
        [INVALID_REPLICATION_FACTOR]
    );
    assert_eq!(
        w.create_codes(vec![topic("r4", 1, 4)]),
        [INVALID_REPLICATION_FACTOR]
    );
    assert_eq!(
        w.create_codes(vec![topic("dup", 1, 1), topic("dup", 1, 1)]),
        [INVALID_REQUEST, INVALID_REQUEST]
    );
    assert!(!w.image.topics.contains_key("dup"));
    // '.' and '_' collide, with existing topics and within one request.
    assert_eq!(w.create_codes(vec![topic("m.x", 1, 1)]), [NONE]);
    assert_eq!(
        w.create_codes(vec![topic("m_x", 1, 1)]),
        [INVALID_TOPIC_EXCEPTION]
    );
    assert_eq!(
        w.create_codes(vec![topic("n.y", 1, 1), topic("n_y", 1, 1)]),
        [NONE, INVALID_TOPIC_EXCEPTION]
    );
    assert_eq!(
        w.create_codes(vec![topic(
            "huge",
            controller::create_topics::MAX_PARTITIONS_PER_TOPIC + 1,
            1
        )]),
        [INVALID_PARTITIONS]
    );
}

#[test]
fn create_topics_defaults_and_placement() {
    let mut w = World::with_brokers(3);
    assert_eq!(w.create_codes(vec![topic("d", -1, -1)]), [NONE]);
    let d = &w.image.topics["d"];
    assert_eq!(d.partitions.len(), 2);
    assert_eq!(d.partitions[&0].replicas.len(), 1);
    assert_eq!(w.create_codes(vec![topic("spread", 3, 3)]), [NONE]);
    let s = &w.image.topics["spread"];
    let leaders: Vec<i32> = s.partitions.values().map(|p| p.leader).collect();
    assert_eq!(leaders, [1, 2, 3]);
    for p in s.partitions.values() {
        assert_eq!(p.isr, p.replicas);
        assert_eq!(p.leader, p.replicas[0]);
        assert_eq!(p.leader_epoch, 0);
    }
}

#[test]
fn create_topics_manual_assignments() {
    let mut w = World::with_brokers(3);
    let assign = |parts: &[(i32, &[i32])]| -> CreatableTopic {
        CreatableTopic {
            name: "m".into(),
            num_partitions: -1,
            replication_factor: -1,
            assignments: parts
                .iter()
                .map(|(i, b)| CreatableReplicaAssignment {
                    partition_index: *i,
                    broker_ids: b.to_vec(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    };
    assert_eq!(
        w.create_codes(vec![assign(&[(0, &[1, 1])])]),
        [INVALID_REPLICA_ASSIGNMENT]
    );
    assert_eq!(
        w.create_codes(vec![assign(&[(0, &[9])])]),
        [INVALID_REPLICA_ASSIGNMENT]
    );
    assert_eq!(
        w.create_codes(vec![assign(&[(1, &[1])])]),
        [INVALID_REPLICA_ASSIGNMENT]
    );
    assert_eq!(
        w.create_codes(vec![assign(&[(0, &[1]), (1, &[1, 2])])]),
        [INVALID_REPLICA_ASSIGNMENT]
    );
    let mut t = assign(&[(0, &[1])]);
    t.num_partitions = 1;
    assert_eq!(w.create_codes(vec![t]), [INVALID_REQUEST]);
    assert_eq!(
        w.create_codes(vec![assign(&[(1, &[3, 1]), (0, &[2, 3])])]),
        [NONE]
    );
    let m = &w.image.topics["m"];
    assert_eq!(m.partitions[&0].replicas, [2, 3]);
    assert_eq!(m.partitions[&1].replicas, [3, 1]);
    assert_eq!(m.partitions[&1].leader, 3);
}

#[test]
fn manual_assignments_never_make_a_fenced_broker_leader() {
    // Kafka: the ISR of a new partition is its unfenced replicas and the first of them
    // leads; only fenced replicas is INVALID_REPLICA_ASSIGNMENT.
    let mut w = World::with_brokers(4);
    for id in [1, 2] {
        let fence = controller::fencing::fence_broker(&w.image, id);
        w.commit(&fence);
        assert!(w.image.brokers[&id].fenced);
    }
    let manual = |name: &str, parts: &[&[i32]]| CreatableTopic {
        name: name.into(),
        num_partitions: -1,
        replication_factor: -1,
        assignments: parts
            .iter()
            .enumerate()
            .map(|(i, b)| CreatableReplicaAssignment {
                partition_index: i as i32,
                broker_ids: b.to_vec(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let all_fenced = |p: i32| {
        format!(
            "All brokers specified in the manual partition assignment for partition {p} are fenced or in controlled shutdown."
        )
    };
    let answer = w.create(vec![manual("only-fenced", &[&[3, 4], &[1, 2]])], 7);
    assert_eq!(answer[0], (INVALID_REPLICA_ASSIGNMENT, Some(all_fenced(1))));
    assert!(!w.image.topics.contains_key("only-fenced"));
    assert_eq!(
        w.create_codes(vec![manual("some-fenced", &[&[1, 3], &[2, 4]])]),
        [NONE]
    );
    let t = &w.image.topics["some-fenced"];
    assert_eq!(t.partitions[&0].replicas, [1, 3]);
    assert_eq!(
        (t.partitions[&0].leader, t.partitions[&0].isr.clone()),
        (3, vec![3])
    );
    assert_eq!(
        (t.partitions[&1].leader, t.partitions[&1].isr.clone()),
        (4, vec![4])
    );

    // CreatePartitions with an assignment: the same rule.
    let add = |w: &World, replicas: Vec<i32>| {
        let req = CreatePartitionsRequest {
            topics: vec![CreatePartitionsTopic {
                name: "some-fenced".into(),
                count: 3,
                assignments: Some(vec![CreatePartitionsAssignment {
                    broker_ids: replicas,
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        };
        controller::create_partitions(&w.image, &req, 3)
    };
    let (resp, records) = add(&w, vec![2, 1]);
    assert_eq!(resp.results[0].error_code, INVALID_REPLICA_ASSIGNMENT);
    assert_eq!(
        resp.results[0].error_message.as_deref(),
        Some(all_fenced(2).as_str())
    );
    assert!(records.is_empty());
    let (resp, records) = add(&w, vec![2, 4]);
    assert_eq!(resp.results[0].error_code, NONE);
    w.commit(&records);
    let p = &w.image.topics["some-fenced"].partitions[&2];
    assert_eq!((p.leader, p.isr.clone()), (4, vec![4]));
}

#[test]
fn create_topics_configs() {
    let mut w = World::with_brokers(1);
    let codes = w.create_codes(vec![
        with_config(topic("c1", 1, 1), "cleanup.policy", Some("compact")),
        with_config(topic("c2", 1, 1), "no.such.config", Some("1")),
        with_config(topic("c3", 1, 1), "retention.ms", Some("forever")),
        with_config(topic("c4", 1, 1), "segment.bytes", None),
        with_config(topic("c5", 1, 1), "min.insync.replicas", Some("0")),
        with_config(
            topic("c6", 1, 1),
            "message.timestamp.type",
            Some("LogAppendTime"),
        ),
    ]);
    assert_eq!(
        codes,
        [
            NONE,
            INVALID_CONFIG,
            INVALID_CONFIG,
            INVALID_CONFIG,
            INVALID_CONFIG,
            NONE
        ]
    );
    let res = ConfigResource::topic("c1");
    assert_eq!(w.image.configs[&res]["cleanup.policy"], "compact");
    assert!(!w.image.topics.contains_key("c2"));
}

#[test]
fn create_topics_response_fields_by_version() {
    let mut w = World::with_brokers(1);
    let req = CreateTopicsRequest {
        topics: vec![
            with_config(topic("v", 2, 1), "retention.ms", Some("1000")),
            topic("v", 1, 1),
        ],
        ..Default::default()
    };
    for version in [0i16, 1, 4, 5, 7] {
        let (resp, _) = controller::create_topics(
            &w.image,
            &req,
            version,
            &TopicDefaults::default(),
            &mut w.ids,
        );
        let bad = &resp.topics[1];
        assert_eq!(bad.error_code, INVALID_REQUEST);
        assert_eq!(bad.error_message.is_some(), version >= 1);
        // Every response must encode at its version.
        vltava_protocol::Message::encode_to_bytes(&resp, version).unwrap();
    }
    let req = CreateTopicsRequest {
        topics: vec![with_config(topic("v", 2, 1), "retention.ms", Some("1000"))],
        ..Default::default()
    };
    let (resp, _) =
        controller::create_topics(&w.image, &req, 5, &TopicDefaults::default(), &mut w.ids);
    let t = &resp.topics[0];
    assert_eq!((t.num_partitions, t.replication_factor), (2, 1));
    assert!(t.topic_id.is_zero());
    let configs = t.configs.as_ref().unwrap();
    let retention = configs.iter().find(|c| c.name == "retention.ms").unwrap();
    assert_eq!(retention.value.as_deref(), Some("1000"));
    assert_eq!(retention.config_source, 1);
    let cleanup = configs.iter().find(|c| c.name == "cleanup.policy").unwrap();
    assert_eq!(
        (cleanup.value.as_deref(), cleanup.config_source),
        (Some("delete"), 5)
    );
    let (resp, _) =
        controller::create_topics(&w.image, &req, 7, &TopicDefaults::default(), &mut w.ids);
    assert!(!resp.topics[0].topic_id.is_zero());
    let (resp, _) =
        controller::create_topics(&w.image, &req, 4, &TopicDefaults::default(), &mut w.ids);
    assert_eq!(resp.topics[0].num_partitions, -1);
    assert!(resp.topics[0].configs.as_ref().is_none_or(|c| c.is_empty()));
}

#[test]
fn validate_only_creates_nothing() {
    let w = World::with_brokers(1);
    let req = CreateTopicsRequest {
        topics: vec![topic("vo", 1, 1)],
        validate_only: true,
        ..Default::default()
    };
    let (resp, records) = controller::create_topics(
        &w.image,
        &req,
        5,
        &TopicDefaults::default(),
        &mut SequentialIds::default(),
    );
    assert_eq!(resp.topics[0].error_code, NONE);
    assert!(records.is_empty());
}

#[test]
fn delete_topics_by_name_and_id() {
    let mut w = World::with_brokers(1);
    w.create_codes(vec![topic("a", 1, 1), topic("b", 1, 1), topic("c", 1, 1)]);
    let b_id = w.image.topics["b"].id;
    // v5: names.
    let (resp, records) = controller::delete_topics(
        &w.image,
        &DeleteTopicsRequest {
            topic_names: vec!["a".into(), "nope".into()],
            ..Default::default()
        },
        5,
    );
    assert_eq!(resp.responses[0].error_code, NONE);
    assert_eq!(resp.responses[1].error_code, UNKNOWN_TOPIC_OR_PARTITION);
    w.commit(&records);
    assert!(!w.image.topics.contains_key("a"));
    // v6: ids or names, not both.
    let (resp, records) = controller::delete_topics(
        &w.image,
        &DeleteTopicsRequest {
            topics: vec![
                DeleteTopicState {
                    name: None,
                    topic_id: b_id,
                    ..Default::default()
                },
                DeleteTopicState {
                    name: None,
                    topic_id: Uuid::from_u128(999),
                    ..Default::default()
                },
                DeleteTopicState {
                    name: Some("c".into()),
                    topic_id: b_id,
                    ..Default::default()
                },
                DeleteTopicState {
                    name: Some("c".into()),
                    topic_id: Uuid::ZERO,
                    ..Default::default()
                },
            ],
            ..Default::default()
        },
        6,
    );
    let codes: Vec<i16> = resp.responses.iter().map(|r| r.error_code).collect();
    assert_eq!(codes, [NONE, UNKNOWN_TOPIC_ID, INVALID_REQUEST, NONE]);
    assert_eq!(resp.responses[0].name.as_deref(), Some("b"));
    assert_eq!(resp.responses[3].topic_id, w.image.topics["c"].id);
    vltava_protocol::Message::encode_to_bytes(&resp, 6).unwrap();
    w.commit(&records);
    assert!(w.image.topics.is_empty());
    assert!(w.image.topic_names.is_empty());
}

#[test]
fn delete_removes_topic_configs() {
    let mut w = World::with_brokers(1);
    w.create_codes(vec![with_config(
        topic("cfg", 1, 1),
        "retention.ms",
        Some("5"),
    )]);
    assert!(w.image.configs.contains_key(&ConfigResource::topic("cfg")));
    let (_, records) = controller::delete_topics(
        &w.image,
        &DeleteTopicsRequest {
            topic_names: vec!["cfg".into()],
            ..Default::default()
        },
        4,
    );
    w.commit(&records);
    assert!(w.image.configs.is_empty());
}

#[test]
fn create_partitions_only_grows() {
    let mut w = World::with_brokers(2);
    w.create_codes(vec![topic("g", 2, 2)]);
    let run =
        |w: &mut World, count: i32, assignments: Option<Vec<Vec<i32>>>, validate_only: bool| {
            let req = CreatePartitionsRequest {
                topics: vec![CreatePartitionsTopic {
                    name: "g".into(),
                    count,
                    assignments: assignments.map(|a| {
                        a.into_iter()
                            .map(|b| CreatePartitionsAssignment {
                                broker_ids: b,
                                ..Default::default()
                            })
                            .collect()
                    }),
                    ..Default::default()
                }],
                validate_only,
                ..Default::default()
            };
            let (resp, records) = controller::create_partitions(&w.image, &req, 3);
            w.commit(&records);
            resp.results[0].error_code
        };
    assert_eq!(run(&mut w, 1, None, false), INVALID_PARTITIONS);
    assert_eq!(run(&mut w, 2, None, false), INVALID_PARTITIONS);
    assert_eq!(run(&mut w, 4, None, true), NONE);
    assert_eq!(w.image.topics["g"].partitions.len(), 2);
    assert_eq!(
        run(&mut w, 4, Some(vec![vec![1, 2]]), false),
        INVALID_REPLICA_ASSIGNMENT
    );
    assert_eq!(
        run(&mut w, 3, Some(vec![vec![1]]), false),
        INVALID_REPLICA_ASSIGNMENT
    );
    assert_eq!(run(&mut w, 3, Some(vec![vec![2, 1]]), false), NONE);
    assert_eq!(w.image.topics["g"].partitions[&2].leader, 2);
    assert_eq!(run(&mut w, 5, None, false), NONE);
    assert_eq!(w.image.topics["g"].partitions.len(), 5);
    let req = CreatePartitionsRequest {
        topics: vec![CreatePartitionsTopic {
            name: "missing".into(),
            count: 3,
            ..Default::default()
        }],
        ..Default::default()
    };
    let (resp, _) = controller::create_partitions(&w.image, &req, 3);
    assert_eq!(resp.results[0].error_code, UNKNOWN_TOPIC_OR_PARTITION);
}

fn incremental(
    w: &mut World,
    resource_type: i8,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
) -> i16 {
    let req = IncrementalAlterConfigsRequest {
        resources: vec![incremental_alter_configs_request::AlterConfigsResource {
            resource_type,
            resource_name: name.into(),
            configs: ops
                .iter()
                .map(
                    |(k, op, v)| incremental_alter_configs_request::AlterableConfig {
                        name: (*k).into(),
                        config_operation: *op,
                        value: v.map(Into::into),
                        ..Default::default()
                    },
                )
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let (resp, records) = controller::incremental_alter_configs(&w.image, &req, 1);
    w.commit(&records);
    resp.responses[0].error_code
}

#[test]
fn incremental_alter_configs_ops() {
    let mut w = World::with_brokers(1);
    w.create_codes(vec![topic("t", 1, 1)]);
    let res = ConfigResource::topic("t");
    const SET: i8 = 0;
    const DELETE: i8 = 1;
    const APPEND: i8 = 2;
    const SUBTRACT: i8 = 3;
    assert_eq!(
        incremental(&mut w, 2, "t", &[("retention.ms", SET, Some("100"))]),
        NONE
    );
    assert_eq!(w.image.configs[&res]["retention.ms"], "100");
    // APPEND starts from the default ("delete").
    assert_eq!(
        incremental(
            &mut w,
            2,
            "t",
            &[("cleanup.policy", APPEND, Some("compact"))]
        ),
        NONE
    );
    assert_eq!(w.image.configs[&res]["cleanup.policy"], "delete,compact");
    assert_eq!(
        incremental(
            &mut w,
            2,
            "t",
            &[("cleanup.policy", SUBTRACT, Some("delete"))]
        ),
        NONE
    );
    assert_eq!(w.image.configs[&res]["cleanup.policy"], "compact");
    assert_eq!(
        incremental(&mut w, 2, "t", &[("retention.ms", APPEND, Some("1"))]),
        INVALID_CONFIG
    );
    assert_eq!(
        incremental(&mut w, 2, "t", &[("retention.ms", SET, Some("x"))]),
        INVALID_CONFIG
    );
    assert_eq!(
        incremental(&mut w, 2, "t", &[("bogus", SET, Some("1"))]),
        INVALID_CONFIG
    );
    assert_eq!(
        incremental(&mut w, 2, "t", &[("retention.ms", SET, None)]),
        INVALID_CONFIG
    );
    assert_eq!(
        incremental(&mut w, 2, "t", &[("retention.ms", 9, Some("1"))]),
        INVALID_REQUEST
    );
    assert_eq!(
        incremental(
            &mut w,
            2,
            "t",
            &[
                ("retention.ms", SET, Some("1")),
                ("retention.ms", DELETE, None)
            ]
        ),
        INVALID_REQUEST
    );
    assert_eq!(
        incremental(&mut w, 2, "nope", &[("retention.ms", SET, Some("1"))]),
        UNKNOWN_TOPIC_OR_PARTITION
    );
    assert_eq!(
        incremental(&mut w, 2, "t", &[("retention.ms", DELETE, None)]),
        NONE
    );
    assert!(!w.image.configs[&res].contains_key("retention.ms"));
    // Brokers: cluster default ("") or a broker id.
    assert_eq!(
        incremental(&mut w, 4, "", &[("log.retention.ms", SET, Some("1000"))]),
        NONE
    );
    assert_eq!(
        incremental(&mut w, 4, "1", &[("log.cleaner.threads", SET, Some("2"))]),
        NONE
    );
    // As Kafka 4.1 answers: a bad value and a config it cannot update without restart are
    // INVALID_REQUEST for a broker; a name it does not know is kept (a custom config).
    assert_eq!(
        incremental(&mut w, 4, "1", &[("log.cleaner.threads", SET, Some("0"))]),
        INVALID_REQUEST
    );
    assert_eq!(
        incremental(&mut w, 4, "", &[("log.retention.ms", SET, Some("abc"))]),
        INVALID_REQUEST
    );
    assert_eq!(
        incremental(&mut w, 4, "1", &[("log.dirs", SET, Some("/x"))]),
        INVALID_REQUEST
    );
    // Vltava does not resize its thread pools: read-only here, unlike Kafka.
    assert_eq!(
        incremental(&mut w, 4, "1", &[("num.io.threads", SET, Some("4"))]),
        INVALID_REQUEST
    );
    assert_eq!(
        incremental(&mut w, 4, "1", &[("custom.plugin.setting", SET, Some("4"))]),
        NONE
    );
    assert_eq!(
        incremental(&mut w, 4, "x", &[("log.cleaner.threads", SET, Some("4"))]),
        INVALID_REQUEST
    );
    let broker = ConfigResource {
        kind: ConfigResourceKind::Broker,
        name: "1".into(),
    };
    assert_eq!(w.image.configs[&broker]["log.cleaner.threads"], "2");
    assert_eq!(w.image.configs[&broker]["custom.plugin.setting"], "4");
    assert!(!w.image.configs[&broker].contains_key("log.dirs"));
    assert_eq!(
        incremental(&mut w, 8, "1", &[("x", SET, Some("4"))]),
        INVALID_REQUEST
    );
}

#[test]
fn alter_configs_replaces_all() {
    let mut w = World::with_brokers(1);
    w.create_codes(vec![with_config(
        with_config(topic("t", 1, 1), "retention.ms", Some("100")),
        "segment.ms",
        Some("1000"),
    )]);
    let req = AlterConfigsRequest {
        resources: vec![alter_configs_request::AlterConfigsResource {
            resource_type: 2,
            resource_name: "t".into(),
            configs: vec![alter_configs_request::AlterableConfig {
                name: "retention.bytes".into(),
                value: Some("5".into()),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let (resp, records) = controller::alter_configs(&w.image, &req, 1);
    assert_eq!(resp.responses[0].error_code, NONE);
    w.commit(&records);
    let got = &w.image.configs[&ConfigResource::topic("t")];
    assert_eq!(got.len(), 1);
    assert_eq!(got["retention.bytes"], "5");
}

#[test]
fn producer_id_blocks_are_consecutive() {
    let mut w = World::with_brokers(1);
    let (first, len, rec) = controller::allocate_producer_ids(&w.image, 1, 0);
    assert_eq!((first, len), (0, controller::PRODUCER_ID_BLOCK_SIZE));
    w.commit(&[rec]);
    let (first, len, rec) = controller::allocate_producer_ids(&w.image, 1, 10);
    assert_eq!((first, len), (1000, 10));
    w.commit(&[rec]);
    assert_eq!(w.image.next_producer_id, 1010);
}
