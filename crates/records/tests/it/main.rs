//! vltava-records' integration tests, linked as one binary (one module per topic;
//! a binary per file cost a statically linked executable each).

mod fuzz_corpus;
mod kafka_protocol_interop;
mod legacy;
mod properties;
mod real_clients;
