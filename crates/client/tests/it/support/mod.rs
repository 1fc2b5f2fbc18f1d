//! Test support for the client's tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::type_complexity,
    clippy::expect_used
)]
pub mod fake_kafka;

use vltava_testkit::broker_process::BrokerProcess;

/// The real `vltava` binary on an ephemeral port (see `vltava_testkit::broker_process`);
/// a missing binary fails the test with how to build it.
pub fn real_broker() -> BrokerProcess {
    BrokerProcess::start().unwrap_or_else(|e| panic!("{e}"))
}
