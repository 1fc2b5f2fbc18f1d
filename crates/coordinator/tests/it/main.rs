//! vltava-coordinator's integration tests, linked as one binary (one module per
//! topic; a binary per file cost a statically linked executable each).

mod common;
mod driver;
mod driver_appends;
mod group_flows;
mod offsets_admin;
mod ownership;
mod properties;
mod records;
mod txn_driver;
mod txn_flows;
mod txn_harness;
mod txn_offsets;
mod txn_offsets_properties;
mod txn_properties;
mod txn_records;
mod txn_timers_reload;
