//! The four enumerations of Kafka's ACL model, with their wire codes (the int8 values of
//! CreateAcls/DescribeAcls/DeleteAcls and of `AccessControlEntryRecord`) and the names
//! Kafka's tools print and parse (`TOPIC`, `PREFIXED`, `DESCRIBE_CONFIGS`, `ALLOW`).

use std::fmt;

/// A code or a name that is not one of an enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a known {kind}")]
pub struct UnknownValue {
    /// Which enumeration (`resource type`, `pattern type`, `operation`, `permission type`).
    pub kind: &'static str,
    /// The value as given.
    pub value: String,
}

macro_rules! acl_enum {
    ($(#[$doc:meta])* $name:ident, $kind:literal, { $($(#[$vdoc:meta])* $variant:ident = $code:literal, $text:literal;)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in code order.
            pub const ALL_VALUES: &'static [$name] = &[$($name::$variant,)*];

            /// The wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code,)* }
            }

            /// The value of wire code `code`.
            pub fn from_code(code: i8) -> Result<Self, UnknownValue> {
                match code {
                    $($code => Ok($name::$variant),)*
                    _ => Err(UnknownValue { kind: $kind, value: code.to_string() }),
                }
            }

            /// Kafka's name of the value (`TOPIC`, `DESCRIBE_CONFIGS`, ...).
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }

            /// The value named `s` (case-insensitive; `-` and `_` alike, as Kafka's tools
            /// accept `TransactionalId` and `transactional-id` alike).
            pub fn parse(s: &str) -> Result<Self, UnknownValue> {
                let norm: String = s
                    .chars()
                    .filter(|c| *c != '_' && *c != '-')
                    .map(|c| c.to_ascii_uppercase())
                    .collect();
                $(if norm == $text.replace('_', "") { return Ok($name::$variant); })*
                Err(UnknownValue { kind: $kind, value: s.to_string() })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

acl_enum!(
    /// What kind of thing an ACL protects.
    ResourceType, "resource type", {
        /// A value this version does not know.
        Unknown = 0, "UNKNOWN";
        /// Filters only: any resource type.
        Any = 1, "ANY";
        /// A topic.
        Topic = 2, "TOPIC";
        /// A consumer group.
        Group = 3, "GROUP";
        /// The cluster (its one resource is named `kafka-cluster`).
        Cluster = 4, "CLUSTER";
        /// A transactional id.
        TransactionalId = 5, "TRANSACTIONAL_ID";
        /// A delegation token.
        DelegationToken = 6, "DELEGATION_TOKEN";
        /// A user (for delegation tokens created on another's behalf).
        User = 7, "USER";
    }
);

acl_enum!(
    /// How an ACL's resource name is matched.
    PatternType, "pattern type", {
        /// A value this version does not know.
        Unknown = 0, "UNKNOWN";
        /// Filters only: any pattern type, name compared exactly.
        Any = 1, "ANY";
        /// Filters only: every pattern that would apply to the named resource.
        Match = 2, "MATCH";
        /// The name as written (`*` stands for every resource of the type).
        Literal = 3, "LITERAL";
        /// Every resource whose name starts with the name.
        Prefixed = 4, "PREFIXED";
    }
);

acl_enum!(
    /// What an ACL lets (or forbids) a principal do.
    AclOperation, "operation", {
        /// A value this version does not know.
        Unknown = 0, "UNKNOWN";
        /// Filters only: any operation.
        Any = 1, "ANY";
        /// Every operation.
        All = 2, "ALL";
        /// Consume, commit offsets, join groups.
        Read = 3, "READ";
        /// Produce.
        Write = 4, "WRITE";
        /// Create topics.
        Create = 5, "CREATE";
        /// Delete topics, records, groups.
        Delete = 6, "DELETE";
        /// Change partitions, ACLs, elect leaders.
        Alter = 7, "ALTER";
        /// See the resource (metadata, offsets, group state).
        Describe = 8, "DESCRIBE";
        /// Inter-broker requests.
        ClusterAction = 9, "CLUSTER_ACTION";
        /// Read configs.
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        /// Change configs.
        AlterConfigs = 11, "ALTER_CONFIGS";
        /// Idempotent produce.
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        /// Create delegation tokens.
        CreateTokens = 13, "CREATE_TOKENS";
        /// Describe delegation tokens.
        DescribeTokens = 14, "DESCRIBE_TOKENS";
    }
);

acl_enum!(
    /// Whether an ACL grants or forbids.
    AclPermissionType, "permission type", {
        /// A value this version does not know.
        Unknown = 0, "UNKNOWN";
        /// Filters only: either.
        Any = 1, "ANY";
        /// Forbids; wins over every allow.
        Deny = 2, "DENY";
        /// Grants.
        Allow = 3, "ALLOW";
    }
);

impl AclOperation {
    /// The operations an ALLOW entry for `self` also grants (Kafka's implications):
    /// READ, WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS implies
    /// DESCRIBE_CONFIGS; ALL implies everything. A DENY entry forbids only its own
    /// operation (ALL: every one).
    pub fn allow_grants(self, wanted: AclOperation) -> bool {
        self == wanted
            || self == AclOperation::All
            || (wanted == AclOperation::Describe
                && matches!(
                    self,
                    AclOperation::Read
                        | AclOperation::Write
                        | AclOperation::Delete
                        | AclOperation::Alter
                ))
            || (wanted == AclOperation::DescribeConfigs && self == AclOperation::AlterConfigs)
    }

    /// Whether a DENY entry for `self` forbids `wanted`.
    pub fn deny_forbids(self, wanted: AclOperation) -> bool {
        self == wanted || self == AclOperation::All
    }

    /// Whether a binding may name this operation (not a filter-only or unknown value).
    pub fn is_concrete(self) -> bool {
        !matches!(self, AclOperation::Unknown | AclOperation::Any)
    }
}

impl ResourceType {
    /// The operations Kafka reports in `*_authorized_operations` for this resource type.
    pub fn reported_operations(self) -> &'static [AclOperation] {
        use AclOperation::*;
        match self {
            ResourceType::Topic => &[
                Read,
                Write,
                Create,
                Delete,
                Alter,
                Describe,
                DescribeConfigs,
                AlterConfigs,
            ],
            ResourceType::Group => &[Read, Describe, Delete],
            ResourceType::Cluster => &[
                Create,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
                Alter,
                Describe,
            ],
            ResourceType::TransactionalId => &[Describe, Write],
            ResourceType::DelegationToken => &[Describe],
            ResourceType::User => &[CreateTokens, DescribeTokens],
            ResourceType::Unknown | ResourceType::Any => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for t in ResourceType::ALL_VALUES {
            assert_eq!(ResourceType::from_code(t.code()), Ok(*t));
            assert_eq!(ResourceType::parse(t.name()), Ok(*t));
        }
        for o in AclOperation::ALL_VALUES {
            assert_eq!(AclOperation::from_code(o.code()), Ok(*o));
            assert_eq!(AclOperation::parse(o.name()), Ok(*o));
        }
        assert_eq!(ResourceType::Topic.code(), 2);
        assert_eq!(ResourceType::User.code(), 7);
        assert_eq!(PatternType::Prefixed.code(), 4);
        assert_eq!(AclOperation::IdempotentWrite.code(), 12);
        assert_eq!(AclPermissionType::Allow.code(), 3);
        assert_eq!(
            ResourceType::parse("TransactionalId"),
            Ok(ResourceType::TransactionalId)
        );
        assert_eq!(
            AclOperation::parse("describe-configs"),
            Ok(AclOperation::DescribeConfigs)
        );
        assert!(AclOperation::parse("Dance").is_err());
        assert!(ResourceType::from_code(8).is_err());
    }

    #[test]
    fn allow_implications_are_kafkas() {
        use AclOperation::*;
        for op in [Read, Write, Delete, Alter] {
            assert!(op.allow_grants(Describe));
            assert!(!op.deny_forbids(Describe));
        }
        assert!(!Create.allow_grants(Describe));
        assert!(AlterConfigs.allow_grants(DescribeConfigs));
        assert!(!DescribeConfigs.allow_grants(AlterConfigs));
        assert!(!Describe.allow_grants(Read));
        for op in AclOperation::ALL_VALUES {
            assert!(All.allow_grants(*op));
            assert!(All.deny_forbids(*op));
        }
    }
}
