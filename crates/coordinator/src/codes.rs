//! The Kafka error codes the group coordinator answers with.

/// No error.
pub const NONE: i16 = 0;
/// The server hit an unexpected error.
pub const UNKNOWN_SERVER_ERROR: i16 = -1;
/// Committed metadata longer than `offset.metadata.max.bytes`.
pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
/// The coordinator is still loading `__consumer_offsets`.
pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
/// The coordinator cannot serve the group right now.
pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
/// The generation in the request is not the group's.
pub const ILLEGAL_GENERATION: i16 = 22;
/// The member's protocol type or protocols do not fit the group.
pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
/// The group id is empty.
pub const INVALID_GROUP_ID: i16 = 24;
/// The member id is not a member of the group.
pub const UNKNOWN_MEMBER_ID: i16 = 25;
/// The session timeout is outside the broker's bounds.
pub const INVALID_SESSION_TIMEOUT: i16 = 26;
/// The group is rebalancing; rejoin.
pub const REBALANCE_IN_PROGRESS: i16 = 27;
/// The group still has members.
pub const NON_EMPTY_GROUP: i16 = 68;
/// No such group.
pub const GROUP_ID_NOT_FOUND: i16 = 69;
/// The first JoinGroup (v4+) of a member: rejoin with the given member id.
pub const MEMBER_ID_REQUIRED: i16 = 79;
/// The group has `group.max.size` members.
pub const GROUP_MAX_SIZE_REACHED: i16 = 81;
/// Another member now holds this `group.instance.id`.
pub const FENCED_INSTANCE_ID: i16 = 82;
/// The group's members are subscribed to the topic.
pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
/// The request is not one the group coordinator serves.
pub const INVALID_REQUEST: i16 = 42;
/// The API version is not supported.
pub const UNSUPPORTED_VERSION: i16 = 35;
/// A committed offset record too large to write.
pub const INVALID_COMMIT_OFFSET_SIZE: i16 = 28;
/// The topic or partition does not exist.
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
/// The request timed out.
pub const REQUEST_TIMED_OUT: i16 = 7;
/// This broker is not the coordinator of the key.
pub const NOT_COORDINATOR: i16 = 16;
/// The producer's epoch is older than the one the log holds.
pub const INVALID_PRODUCER_EPOCH: i16 = 47;
/// The request does not fit the transaction's state.
pub const INVALID_TXN_STATE: i16 = 48;
/// The producer id is not the one the transactional id uses.
pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
/// The transaction timeout is above `transaction.max.timeout.ms` (or not positive).
pub const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
/// Another operation on the transaction is in progress; retry.
pub const CONCURRENT_TRANSACTIONS: i16 = 51;
/// A newer coordinator epoch wrote to the partition.
pub const TRANSACTION_COORDINATOR_FENCED: i16 = 52;
/// Offsets of the partition are part of a transaction not yet completed.
pub const UNSTABLE_OFFSET_COMMIT: i16 = 88;
/// Another producer with the same transactional id has a newer epoch.
pub const PRODUCER_FENCED: i16 = 90;
/// No such transactional id.
pub const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
/// Record batch too large (mapped like Kafka does for coordinator writes).
pub const MESSAGE_TOO_LARGE: i16 = 10;
/// Record list too large.
pub const RECORD_LIST_TOO_LARGE: i16 = 18;
/// Not enough in-sync replicas.
pub const NOT_ENOUGH_REPLICAS: i16 = 19;
/// Not enough in-sync replicas after the append.
pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
/// The broker is not the partition's leader.
pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
/// A disk error on the broker.
pub const KAFKA_STORAGE_ERROR: i16 = 56;
/// The partition cannot hold the record format.
pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: i16 = 43;
