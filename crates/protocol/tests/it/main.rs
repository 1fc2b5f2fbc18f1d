//! vltava-protocol's integration tests, linked as one binary (one module per topic;
//! a binary per file cost a statically linked executable each). `tests/alloc_bound.rs`
//! stays its own binary: its counting global allocator would apply to every test here.

mod bad_input;
mod cross_check;
mod frame_parts;
mod fuzz_corpus;
mod leader_hints;
mod real_clients;
mod roundtrip;
