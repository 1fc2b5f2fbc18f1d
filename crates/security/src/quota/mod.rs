//! Client quotas as Kafka enforces them: per user, client id or both ([`entity`]), measured
//! over sampled windows ([`rate`]), one set of meters per quota key ([`meters`]) answering
//! "how long must this client wait" after each recorded request.

pub mod entity;
pub mod meters;
pub mod rate;

pub use entity::{EntityName, MeterKey, QuotaEntity, QuotaKey, QuotaTable};
pub use meters::QuotaMeters;
pub use rate::{RateConfig, SampledRate};
