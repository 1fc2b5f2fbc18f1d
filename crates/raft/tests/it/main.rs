//! vltava-raft's integration tests, linked as one binary (one module per topic;
//! a binary per file cost a statically linked executable each).

mod controller_channel;
mod controller_restart;
mod controller_validation;
mod multi_voter;
mod observers;
mod replay_properties;
mod storage_recovery;
mod support;
mod tcp_transport;
