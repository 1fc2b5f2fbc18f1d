//! vltava-broker's integration tests, linked as one binary (one module per topic;
//! a binary per file cost a statically linked executable each). `support` starts
//! in-process nodes; `cli` runs the `vltava` binary itself through
//! `vltava_testkit::broker_process`.

mod acks_pipelining;
mod acls;
mod bad_input;
mod cli;
mod cluster;
mod controller_pause;
mod coordinator_failover;
mod describe_quorum;
mod every_api;
mod fetch_sessions;
mod hw_checkpoint;
mod inter_broker_security;
mod internal_topics;
mod leader_hints;
mod limits;
mod many_partitions;
mod marker_acks;
mod member_ids;
mod out_of_descriptors;
mod out_of_disk;
mod pipelining;
mod produce_rules;
mod quotas;
mod replica_manager;
mod replication;
mod retention;
mod scram_credentials;
mod security;
mod split_roles;
mod support;
mod ten_thousand_partitions;
mod transactions;
mod zero_copy_fetch;
