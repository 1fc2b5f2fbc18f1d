//! Differential tests against Apache Kafka (issue 13): the same request sequences
//! ([`scenarios`], and the [`recorded`] frames of real clients) sent to Kafka and to Vltava at the API versions both support
//! ([`session`]), every recorded answer normalised ([`normalize`]) so that the two
//! transcripts differ only where the brokers behave differently. Binary
//! `vltava-differential`; `tests/interop/test_differential.py` starts both brokers, runs it
//! and compares the transcripts with the differences already explained
//! (`tests/interop/differential/`).
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod every_api;
pub mod normalize;
pub mod random_requests;
pub mod raw;
pub mod recorded;
pub mod scenarios;
pub mod session;
pub mod unordered;
pub mod validation;
