//! vltava-storage's integration tests, linked as one binary (one module per topic;
//! a binary per file cost a statically linked executable each).

mod cleaner;
mod cleaner_txn;
mod common;
mod crash;
mod crash_cleaner;
mod crash_txn;
mod disk_full;
mod fuzz_corpus;
mod log_basic;
mod model;
mod transactions;
