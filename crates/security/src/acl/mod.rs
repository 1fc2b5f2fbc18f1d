//! Kafka's ACL model and the StandardAuthorizer's rules: the enumerations
//! ([`types`]), ACL bindings and their validation ([`binding`]), the filters of
//! DescribeAcls/DeleteAcls ([`filter`]) and the decision itself ([`authorizer`]).

pub mod authorizer;
pub mod binding;
pub mod filter;
pub mod types;

pub use authorizer::{Authorizer, AuthorizerConfig, Requester};
pub use binding::{
    AccessControlEntry, AclBinding, CLUSTER_NAME, InvalidAcl, ResourcePattern, WILDCARD_HOST,
    WILDCARD_PRINCIPAL, WILDCARD_RESOURCE,
};
pub use filter::{
    AccessControlEntryFilter, AclBindingFilter, InvalidFilter, ResourcePatternFilter,
};
pub use types::{AclOperation, AclPermissionType, PatternType, ResourceType, UnknownValue};
