//! Properties of replay: random admin operations go through the sans-IO controller; replaying
//! the records they produced is deterministic, equals the image the controller evolved, survives
//! the log framing, and snapshot(prefix) + tail == full replay at every split point.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use vltava_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use vltava_protocol::messages::create_acls_request::AclCreation;
use vltava_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use vltava_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use vltava_protocol::messages::delete_acls_request::DeleteAclsFilter;
use vltava_protocol::messages::{
    AlterUserScramCredentialsRequest, CreateAclsRequest, CreatePartitionsRequest,
    CreateTopicsRequest, DeleteAclsRequest, DeleteTopicsRequest, IncrementalAlterConfigsRequest,
    incremental_alter_configs_request,
};
use vltava_raft::apply::{image_to_records, replay};
use vltava_raft::controller::{self, SequentialIds};
use vltava_raft::records::{decode_batch, encode_batch};
use vltava_raft::{MetadataImage, MetadataRecord, TopicDefaults};

#[derive(Debug, Clone)]
enum Op {
    Register(i32),
    Create(u8, i32, i16, Option<(u8, u8)>),
    Delete(u8),
    Grow(u8, i32),
    Config(u8, u8, i8, u8),
    ProducerIds(i32),
    /// SCRAM credential of user n, mechanism code, delete?, iterations.
    Scram(u8, i8, bool, i32),
    /// CreateAcls of one ACL: (name, pattern type, operation).
    AddAcl(u8, i8, i8),
    /// DeleteAcls with one filter: (name or any, pattern type filter).
    RemoveAcls(Option<u8>, i8),
}

const NAMES: [&str; 6] = ["a", "b", "c.d", "c_d", "orders", "x-1"];
const CONFIG_KEYS: [&str; 4] = ["cleanup.policy", "retention.ms", "segment.bytes", "bogus"];
const CONFIG_VALUES: [&str; 4] = ["compact", "1000", "-5", "delete"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4i32).prop_map(Op::Register),
        (
            0..6u8,
            -1..5i32,
            -1..3i16,
            proptest::option::of((0..4u8, 0..4u8))
        )
            .prop_map(|(n, p, r, c)| Op::Create(n, p, r, c)),
        (0..6u8).prop_map(Op::Delete),
        (0..6u8, 0..8i32).prop_map(|(n, c)| Op::Grow(n, c)),
        (0..6u8, 0..4u8, 0..4i8, 0..4u8).prop_map(|(n, k, o, v)| Op::Config(n, k, o, v)),
        (-1..2000i32).prop_map(Op::ProducerIds),
        (0..3u8, 0..4i8, any::<bool>(), 4000..4200i32)
            .prop_map(|(u, m, d, i)| Op::Scram(u, m, d, i)),
        (0..6u8, 3..5i8, 2..13i8).prop_map(|(n, p, o)| Op::AddAcl(n, p, o)),
        (proptest::option::of(0..6u8), 1..5i8).prop_map(|(n, p)| Op::RemoveAcls(n, p)),
    ]
}

/// Runs the ops through the controller, committing each batch to `image`.
fn run(ops: &[Op]) -> (MetadataImage, Vec<Vec<MetadataRecord>>) {
    let mut image = MetadataImage::empty("prop");
    let mut ids = SequentialIds::default();
    let mut batches = Vec::new();
    for op in ops {
        let records = match op {
            Op::Register(id) => vec![controller::register_broker(&image, *id, "h", 9092, None)],
            Op::Create(n, p, r, cfg) => {
                let mut t = CreatableTopic {
                    name: NAMES[*n as usize].into(),
                    num_partitions: *p,
                    replication_factor: *r,
                    ..Default::default()
                };
                if let Some((k, v)) = cfg {
                    t.configs.push(CreatableTopicConfig {
                        name: CONFIG_KEYS[*k as usize].into(),
                        value: Some(CONFIG_VALUES[*v as usize].into()),
                        ..Default::default()
                    });
                }
                let req = CreateTopicsRequest {
                    topics: vec![t],
                    ..Default::default()
                };
                controller::create_topics(&image, &req, 7, &TopicDefaults::default(), &mut ids).1
            }
            Op::Delete(n) => {
                let req = DeleteTopicsRequest {
                    topic_names: vec![NAMES[*n as usize].into()],
                    ..Default::default()
                };
                controller::delete_topics(&image, &req, 5).1
            }
            Op::Grow(n, c) => {
                let req = CreatePartitionsRequest {
                    topics: vec![CreatePartitionsTopic {
                        name: NAMES[*n as usize].into(),
                        count: *c,
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                controller::create_partitions(&image, &req, 3).1
            }
            Op::Config(n, k, o, v) => {
                let req = IncrementalAlterConfigsRequest {
                    resources: vec![incremental_alter_configs_request::AlterConfigsResource {
                        resource_type: 2,
                        resource_name: NAMES[*n as usize].into(),
                        configs: vec![incremental_alter_configs_request::AlterableConfig {
                            name: CONFIG_KEYS[*k as usize].into(),
                            config_operation: *o,
                            value: Some(CONFIG_VALUES[*v as usize].into()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                controller::incremental_alter_configs(&image, &req, 1).1
            }
            Op::ProducerIds(count) => {
                vec![controller::allocate_producer_ids(&image, 0, *count).2]
            }
            Op::Scram(u, m, delete, iterations) => {
                let name = NAMES[*u as usize];
                let mut req = AlterUserScramCredentialsRequest::default();
                if *delete {
                    req.deletions.push(ScramCredentialDeletion {
                        name: name.into(),
                        mechanism: *m,
                        ..Default::default()
                    });
                } else {
                    let len = if *m == 2 { 64 } else { 32 };
                    req.upsertions.push(ScramCredentialUpsertion {
                        name: name.into(),
                        mechanism: *m,
                        iterations: *iterations,
                        salt: vec![*u; 16].into(),
                        salted_password: vec![*m as u8; len].into(),
                        ..Default::default()
                    });
                }
                controller::alter_user_scram_credentials(&image, &req).1
            }
            Op::AddAcl(n, p, o) => {
                let req = CreateAclsRequest {
                    creations: vec![AclCreation {
                        resource_type: 2,
                        resource_name: NAMES[*n as usize].into(),
                        resource_pattern_type: *p,
                        principal: "User:alice".into(),
                        host: "*".into(),
                        operation: *o,
                        permission_type: 3,
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                controller::create_acls(&image, &req, &mut ids).1
            }
            Op::RemoveAcls(n, p) => {
                let req = DeleteAclsRequest {
                    filters: vec![DeleteAclsFilter {
                        resource_type_filter: 1,
                        resource_name_filter: n.map(|n| NAMES[n as usize].into()),
                        pattern_type_filter: *p,
                        principal_filter: None,
                        host_filter: None,
                        operation: 1,
                        permission_type: 1,
                        ..Default::default()
                    }],
                    ..Default::default()
                };
                controller::delete_acls(&image, &req).1
            }
        };
        replay(&mut image, &records);
        batches.push(records);
    }
    (image, batches)
}

fn replay_all(batches: &[Vec<MetadataRecord>]) -> MetadataImage {
    let mut image = MetadataImage::empty("prop");
    for b in batches {
        replay(&mut image, b);
    }
    image
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn replay_is_deterministic_and_snapshot_plus_tail_equals_full(
        ops in proptest::collection::vec(op(), 0..60),
        split in 0usize..60,
    ) {
        let (evolved, batches) = run(&ops);
        let full = replay_all(&batches);
        prop_assert_eq!(&full, &evolved);
        prop_assert_eq!(&replay_all(&batches), &full);

        // Through the log framing.
        let decoded: Vec<Vec<MetadataRecord>> = batches
            .iter()
            .map(|b| decode_batch(&encode_batch(b).unwrap()).unwrap())
            .collect();
        prop_assert_eq!(&decoded, &batches);

        // Snapshot of a prefix, then the tail.
        let k = split.min(batches.len());
        let prefix = replay_all(&batches[..k]);
        let snapshot = decode_batch(&encode_batch(&image_to_records(&prefix)).unwrap()).unwrap();
        let mut restored = MetadataImage::empty("prop");
        replay(&mut restored, &snapshot);
        prop_assert_eq!(&restored, &prefix);
        for b in &batches[k..] {
            replay(&mut restored, b);
        }
        prop_assert_eq!(&restored, &full);
    }
}
