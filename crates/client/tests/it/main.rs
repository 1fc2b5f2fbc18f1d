//! vltava-client's integration tests, linked as one binary (one module per topic;
//! a binary per file cost a statically linked executable each). `support` holds the
//! in-process test double; the real broker comes from `vltava_testkit::broker_process`.

mod broker_integration;
mod cli_tools;
mod consumer_fake;
mod cross_client;
mod murmur2_java;
mod ordering;
mod producer_fake;
mod security;
mod support;
mod transactions;
