//! An ACL: a resource pattern (type, name, literal or prefixed) and an access control entry
//! (principal, host, operation, allow or deny), with the checks Kafka makes before it stores
//! one.

use std::fmt;

use super::types::{AclOperation, AclPermissionType, PatternType, ResourceType};
use crate::principal::KafkaPrincipal;

/// The name that stands for every resource of a type in a LITERAL pattern.
pub const WILDCARD_RESOURCE: &str = "*";
/// The principal that stands for every principal.
pub const WILDCARD_PRINCIPAL: &str = "User:*";
/// The host that stands for every host.
pub const WILDCARD_HOST: &str = "*";
/// The name of the cluster resource.
pub const CLUSTER_NAME: &str = "kafka-cluster";

/// Which resources an ACL applies to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourcePattern {
    pub resource_type: ResourceType,
    pub name: String,
    /// LITERAL or PREFIXED.
    pub pattern_type: PatternType,
}

/// Who may (or may not) do what from where.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessControlEntry {
    /// `Type:name`, or `User:*` for everyone.
    pub principal: String,
    /// An IP address, or `*` for every host.
    pub host: String,
    pub operation: AclOperation,
    /// ALLOW or DENY.
    pub permission: AclPermissionType,
}

/// One ACL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    pub pattern: ResourcePattern,
    pub entry: AccessControlEntry,
}

/// Why an ACL cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAcl {
    #[error("resource type {0} cannot be used in an ACL")]
    ResourceType(ResourceType),
    #[error("pattern type {0} cannot be used in an ACL")]
    PatternType(PatternType),
    #[error("operation {0} cannot be used in an ACL")]
    Operation(AclOperation),
    #[error("permission type {0} cannot be used in an ACL")]
    Permission(AclPermissionType),
    #[error("resource name must not be empty")]
    EmptyName,
    #[error("the cluster resource is named {CLUSTER_NAME}, not {0:?}")]
    ClusterName(String),
    #[error(transparent)]
    Principal(#[from] crate::principal::BadPrincipal),
    #[error("host must not be empty")]
    EmptyHost,
}

impl ResourcePattern {
    /// A LITERAL pattern.
    pub fn literal(resource_type: ResourceType, name: impl Into<String>) -> Self {
        ResourcePattern {
            resource_type,
            name: name.into(),
            pattern_type: PatternType::Literal,
        }
    }

    /// A PREFIXED pattern.
    pub fn prefixed(resource_type: ResourceType, name: impl Into<String>) -> Self {
        ResourcePattern {
            resource_type,
            name: name.into(),
            pattern_type: PatternType::Prefixed,
        }
    }

    /// Whether this pattern applies to resource `name` of its type.
    pub fn applies_to(&self, name: &str) -> bool {
        match self.pattern_type {
            PatternType::Literal => self.name == name || self.name == WILDCARD_RESOURCE,
            PatternType::Prefixed => name.starts_with(&self.name),
            _ => false,
        }
    }
}

impl AccessControlEntry {
    /// Whether the entry names `principal` (or everyone).
    pub fn matches_principal(&self, principal: &KafkaPrincipal) -> bool {
        if self.principal == WILDCARD_PRINCIPAL {
            return true;
        }
        match self.principal.split_once(':') {
            Some((t, n)) => t == principal.principal_type && n == principal.name,
            None => false,
        }
    }

    /// Whether the entry applies to a client at `host` (`None`: address unknown, which only
    /// the wildcard host matches).
    pub fn matches_host(&self, host: Option<std::net::IpAddr>) -> bool {
        if self.host == WILDCARD_HOST {
            return true;
        }
        let Some(ip) = host else {
            return false;
        };
        match self.host.parse::<std::net::IpAddr>() {
            Ok(acl_ip) => acl_ip == ip,
            Err(_) => self.host == ip.to_string(),
        }
    }
}

impl AclBinding {
    /// Checks that the binding can be stored, as Kafka's CreateAcls does.
    pub fn validate(&self) -> Result<(), InvalidAcl> {
        let p = &self.pattern;
        let e = &self.entry;
        if matches!(p.resource_type, ResourceType::Any | ResourceType::Unknown) {
            return Err(InvalidAcl::ResourceType(p.resource_type));
        }
        if !matches!(p.pattern_type, PatternType::Literal | PatternType::Prefixed) {
            return Err(InvalidAcl::PatternType(p.pattern_type));
        }
        if !e.operation.is_concrete() {
            return Err(InvalidAcl::Operation(e.operation));
        }
        if !matches!(
            e.permission,
            AclPermissionType::Allow | AclPermissionType::Deny
        ) {
            return Err(InvalidAcl::Permission(e.permission));
        }
        if p.name.is_empty() {
            return Err(InvalidAcl::EmptyName);
        }
        if p.resource_type == ResourceType::Cluster && p.name != CLUSTER_NAME {
            return Err(InvalidAcl::ClusterName(p.name.clone()));
        }
        KafkaPrincipal::parse(&e.principal)?;
        if e.host.is_empty() {
            return Err(InvalidAcl::EmptyHost);
        }
        Ok(())
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResourcePattern(resourceType={}, name={}, patternType={})",
            self.resource_type, self.name, self.pattern_type
        )
    }
}

impl fmt::Display for AccessControlEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(principal={}, host={}, operation={}, permissionType={})",
            self.principal, self.host, self.operation, self.permission
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(rt: ResourceType, name: &str, pt: PatternType) -> AclBinding {
        AclBinding {
            pattern: ResourcePattern {
                resource_type: rt,
                name: name.into(),
                pattern_type: pt,
            },
            entry: AccessControlEntry {
                principal: "User:alice".into(),
                host: "*".into(),
                operation: AclOperation::Read,
                permission: AclPermissionType::Allow,
            },
        }
    }

    #[test]
    fn validation_refuses_filter_values_and_bad_names() {
        assert!(
            binding(ResourceType::Topic, "t", PatternType::Literal)
                .validate()
                .is_ok()
        );
        assert!(
            binding(ResourceType::Topic, "t", PatternType::Match)
                .validate()
                .is_err()
        );
        assert!(
            binding(ResourceType::Any, "t", PatternType::Literal)
                .validate()
                .is_err()
        );
        assert!(
            binding(ResourceType::Topic, "", PatternType::Prefixed)
                .validate()
                .is_err()
        );
        assert!(
            binding(ResourceType::Cluster, "other", PatternType::Literal)
                .validate()
                .is_err()
        );
        let mut b = binding(ResourceType::Topic, "t", PatternType::Literal);
        b.entry.principal = "alice".into();
        assert!(b.validate().is_err());
        b.entry.principal = "User:alice".into();
        b.entry.operation = AclOperation::Any;
        assert!(b.validate().is_err());
    }

    #[test]
    fn patterns_apply_by_literal_wildcard_and_prefix() {
        let lit = ResourcePattern::literal(ResourceType::Topic, "orders");
        assert!(lit.applies_to("orders"));
        assert!(!lit.applies_to("orders2"));
        assert!(ResourcePattern::literal(ResourceType::Topic, "*").applies_to("x"));
        let pre = ResourcePattern::prefixed(ResourceType::Topic, "ord");
        assert!(pre.applies_to("orders"));
        assert!(!pre.applies_to("or"));
        // A prefixed `*` is a prefix like any other, not a wildcard.
        assert!(!ResourcePattern::prefixed(ResourceType::Topic, "*").applies_to("x"));
    }

    #[test]
    fn entries_match_principals_and_hosts() {
        let mut e = binding(ResourceType::Topic, "t", PatternType::Literal).entry;
        assert!(e.matches_principal(&KafkaPrincipal::user("alice")));
        assert!(!e.matches_principal(&KafkaPrincipal::user("bob")));
        e.principal = WILDCARD_PRINCIPAL.into();
        assert!(e.matches_principal(&KafkaPrincipal::user("bob")));
        assert!(e.matches_host(None));
        e.host = "10.0.0.1".into();
        assert!(e.matches_host(Some("10.0.0.1".parse().unwrap())));
        assert!(!e.matches_host(Some("10.0.0.2".parse().unwrap())));
        assert!(!e.matches_host(None));
        e.host = "::1".into();
        assert!(e.matches_host(Some("0:0:0:0:0:0:0:1".parse().unwrap())));
    }
}
