//! Broker configuration: Kafka's `server.properties` text format, `KAFKA_*`
//! environment variables and `--override key=value`, merged into a typed
//! [`BrokerConfig`] with Kafka's property names and defaults.

mod authorizer;
mod broker_config;
mod dynamic;
mod listener_security;
mod properties;
mod roles;

pub use authorizer::{ACL_AUTHORIZER, STANDARD_AUTHORIZER};
pub use broker_config::{BrokerConfig, ConfigError, Listener, bind_addr};
pub use dynamic::DynamicSettings;
pub use listener_security::{SecurityProtocol, listener_prop, listener_prop_name};
pub use properties::{Properties, env_key_to_property, parse_properties};
pub use roles::ProcessRoles;
