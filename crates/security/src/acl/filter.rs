//! ACL binding filters, as DescribeAcls and DeleteAcls carry them: each field either names a
//! value or leaves it open (no name, ANY), and the pattern type MATCH selects every stored
//! pattern that applies to the named resource (the literal name, the `*` wildcard, and every
//! prefix of it).

use super::binding::{AccessControlEntry, AclBinding, ResourcePattern, WILDCARD_RESOURCE};
use super::types::{AclOperation, AclPermissionType, PatternType, ResourceType};

/// Which resource patterns a filter selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourcePatternFilter {
    /// ANY for every type.
    pub resource_type: ResourceType,
    /// `None` for every name.
    pub name: Option<String>,
    /// ANY, MATCH, LITERAL or PREFIXED.
    pub pattern_type: PatternType,
}

/// Which access control entries a filter selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessControlEntryFilter {
    /// `None` for every principal.
    pub principal: Option<String>,
    /// `None` for every host.
    pub host: Option<String>,
    /// ANY for every operation.
    pub operation: AclOperation,
    /// ANY for both.
    pub permission: AclPermissionType,
}

/// A filter over ACL bindings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBindingFilter {
    pub pattern: ResourcePatternFilter,
    pub entry: AccessControlEntryFilter,
}

/// A filter Kafka refuses (a value it does not know).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the filter holds an unknown {0}")]
pub struct InvalidFilter(pub &'static str);

impl ResourcePatternFilter {
    /// Whether `pattern` is selected.
    pub fn matches(&self, pattern: &ResourcePattern) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != pattern.resource_type {
            return false;
        }
        if !matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            && self.pattern_type != pattern.pattern_type
        {
            return false;
        }
        let Some(name) = &self.name else {
            return true;
        };
        if self.pattern_type == PatternType::Any || self.pattern_type == pattern.pattern_type {
            return *name == pattern.name;
        }
        match pattern.pattern_type {
            PatternType::Literal => *name == pattern.name || pattern.name == WILDCARD_RESOURCE,
            PatternType::Prefixed => name.starts_with(&pattern.name),
            _ => false,
        }
    }
}

impl AccessControlEntryFilter {
    /// Whether `entry` is selected.
    pub fn matches(&self, entry: &AccessControlEntry) -> bool {
        self.principal
            .as_ref()
            .is_none_or(|p| *p == entry.principal)
            && self.host.as_ref().is_none_or(|h| *h == entry.host)
            && (self.operation == AclOperation::Any || self.operation == entry.operation)
            && (self.permission == AclPermissionType::Any || self.permission == entry.permission)
    }
}

impl AclBindingFilter {
    /// The filter that selects every binding.
    pub fn any() -> Self {
        AclBindingFilter {
            pattern: ResourcePatternFilter {
                resource_type: ResourceType::Any,
                name: None,
                pattern_type: PatternType::Any,
            },
            entry: AccessControlEntryFilter {
                principal: None,
                host: None,
                operation: AclOperation::Any,
                permission: AclPermissionType::Any,
            },
        }
    }

    /// Whether `binding` is selected.
    pub fn matches(&self, binding: &AclBinding) -> bool {
        self.pattern.matches(&binding.pattern) && self.entry.matches(&binding.entry)
    }

    /// Refuses the UNKNOWN values (the broker answers INVALID_REQUEST).
    pub fn validate(&self) -> Result<(), InvalidFilter> {
        if self.pattern.resource_type == ResourceType::Unknown {
            return Err(InvalidFilter("resource type"));
        }
        if self.pattern.pattern_type == PatternType::Unknown {
            return Err(InvalidFilter("pattern type"));
        }
        if self.entry.operation == AclOperation::Unknown {
            return Err(InvalidFilter("operation"));
        }
        if self.entry.permission == AclPermissionType::Unknown {
            return Err(InvalidFilter("permission type"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(rt: ResourceType, name: Option<&str>, pt: PatternType) -> ResourcePatternFilter {
        ResourcePatternFilter {
            resource_type: rt,
            name: name.map(Into::into),
            pattern_type: pt,
        }
    }

    #[test]
    fn match_selects_literal_wildcard_and_prefixes() {
        let f = filter(ResourceType::Topic, Some("orders"), PatternType::Match);
        assert!(f.matches(&ResourcePattern::literal(ResourceType::Topic, "orders")));
        assert!(f.matches(&ResourcePattern::literal(ResourceType::Topic, "*")));
        assert!(f.matches(&ResourcePattern::prefixed(ResourceType::Topic, "ord")));
        assert!(f.matches(&ResourcePattern::prefixed(ResourceType::Topic, "orders")));
        assert!(!f.matches(&ResourcePattern::prefixed(ResourceType::Topic, "orders-")));
        assert!(!f.matches(&ResourcePattern::literal(ResourceType::Topic, "ord")));
        assert!(!f.matches(&ResourcePattern::literal(ResourceType::Group, "orders")));
    }

    #[test]
    fn any_and_exact_pattern_types_compare_names_exactly() {
        let any = filter(ResourceType::Any, Some("orders"), PatternType::Any);
        assert!(any.matches(&ResourcePattern::prefixed(ResourceType::Group, "orders")));
        assert!(!any.matches(&ResourcePattern::literal(ResourceType::Topic, "*")));
        let lit = filter(ResourceType::Topic, Some("orders"), PatternType::Literal);
        assert!(lit.matches(&ResourcePattern::literal(ResourceType::Topic, "orders")));
        assert!(!lit.matches(&ResourcePattern::prefixed(ResourceType::Topic, "orders")));
        assert!(!lit.matches(&ResourcePattern::literal(ResourceType::Topic, "*")));
        let all_prefixed = filter(ResourceType::Any, None, PatternType::Prefixed);
        assert!(all_prefixed.matches(&ResourcePattern::prefixed(ResourceType::Topic, "x")));
        assert!(!all_prefixed.matches(&ResourcePattern::literal(ResourceType::Topic, "x")));
    }

    #[test]
    fn entry_filters_leave_open_what_they_do_not_name() {
        let e = AccessControlEntry {
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermissionType::Deny,
        };
        let mut f = AclBindingFilter::any().entry;
        assert!(f.matches(&e));
        f.principal = Some("User:bob".into());
        assert!(!f.matches(&e));
        f.principal = Some("User:alice".into());
        f.operation = AclOperation::Write;
        assert!(!f.matches(&e));
        f.operation = AclOperation::Read;
        f.permission = AclPermissionType::Allow;
        assert!(!f.matches(&e));
        f.permission = AclPermissionType::Deny;
        assert!(f.matches(&e));
        let mut bad = AclBindingFilter::any();
        assert!(bad.validate().is_ok());
        bad.entry.operation = AclOperation::Unknown;
        assert!(bad.validate().is_err());
    }
}
