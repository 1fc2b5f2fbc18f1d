//! Test support for the client's tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::type_complexity,
    clippy::expect_used
)]
pub mod fake_kafka;
pub mod real_broker;
