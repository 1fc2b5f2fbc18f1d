//! One module per API family; each turns a decoded request into a response body.

pub mod acls;
pub mod admin;
pub mod api_versions;
pub mod config_synonyms;
pub mod delete_records;
pub mod describe_broker_configs;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_quorum;
pub mod describe_topic_partitions;
pub mod fetch;
pub mod find_coordinator;
pub mod follower_fetch;
pub mod init_producer_id;
pub mod leader_hint;
pub mod list_offsets;
pub mod metadata;
pub mod offset_commit;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod security;
pub mod txn_verification;
pub mod unsupported;
pub mod write_txn_markers;
