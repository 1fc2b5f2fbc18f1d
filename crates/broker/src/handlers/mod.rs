//! One module per API family; each turns a decoded request into its answer through a
//! handler of one shape, `handle(cx: &RequestContext<'_>, request) -> Answer` (see
//! [`context`]). `per_partition` is the lookup the per-partition requests share.

pub use context::{Answer, RequestContext, Unanswered, respond};

pub mod acls;
pub mod add_partitions_to_txn;
pub mod admin;
pub mod api_versions;
pub mod commit_split;
pub mod config_synonyms;
pub mod context;
pub mod delete_records;
pub mod describe_broker_configs;
pub mod describe_client_quotas;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_quorum;
pub mod describe_scram_credentials;
pub mod describe_topic_partitions;
pub mod fetch;
pub mod find_coordinator;
pub mod follower_fetch;
pub mod groups;
pub mod init_producer_id;
pub mod leader_hint;
pub mod list_offsets;
pub mod metadata;
pub mod mutation_quota;
pub mod offset_for_leader_epoch;
pub mod partition_entry;
pub mod per_partition;
pub mod produce;
pub mod security;
pub mod transactions;
pub mod unsupported;
pub mod write_txn_markers;
