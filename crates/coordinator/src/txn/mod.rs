//! Kafka's transaction coordinator (KIP-98): the sans-IO
//! [`crate::TransactionCoordinator`] over `__transaction_state`, its config, state
//! and record format. The tokio driver is `crate::txn_driver`.

pub(crate) mod admin;
pub(crate) mod config;
pub(crate) mod coordinator;
pub(crate) mod load;
pub(crate) mod records;
pub(crate) mod requests;
pub(crate) mod responses;
pub(crate) mod state;
