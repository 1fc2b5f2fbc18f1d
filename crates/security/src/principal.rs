//! The principal a connection acts as, Kafka's `KafkaPrincipal`: a type and a name, written
//! `Type:name` (`User:alice`) in ACLs, `super.users` and tools.

use std::fmt;

/// The principal type of every authenticated or anonymous user.
pub const USER_TYPE: &str = "User";
/// The name of the principal of a connection that did not authenticate (PLAINTEXT, or SSL
/// without a client certificate).
pub const ANONYMOUS: &str = "ANONYMOUS";

/// A principal: `User:alice`, `User:ANONYMOUS`, `User:CN=client,O=org`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KafkaPrincipal {
    /// `User` for every principal Kafka's own authenticators make.
    pub principal_type: String,
    /// The user name (after `ssl.principal.mapping.rules` for certificates).
    pub name: String,
}

/// A principal string that is not `Type:name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("principal {0:?} is not of the form Type:name")]
pub struct BadPrincipal(pub String);

impl KafkaPrincipal {
    /// `User:name`.
    pub fn user(name: impl Into<String>) -> Self {
        KafkaPrincipal {
            principal_type: USER_TYPE.to_string(),
            name: name.into(),
        }
    }

    /// `User:ANONYMOUS`, the principal of an unauthenticated connection.
    pub fn anonymous() -> Self {
        Self::user(ANONYMOUS)
    }

    /// Whether this is `User:ANONYMOUS`.
    pub fn is_anonymous(&self) -> bool {
        self.principal_type == USER_TYPE && self.name == ANONYMOUS
    }

    /// Parses `Type:name` (the name may itself hold colons: only the first one splits). As
    /// Kafka's `SecurityUtils.parseKafkaPrincipal`, only the colon is required: the type or the
    /// name may be empty (`User:` and `:alice` are principals no connection ever has).
    pub fn parse(s: &str) -> Result<Self, BadPrincipal> {
        match s.split_once(':') {
            Some((t, n)) => Ok(KafkaPrincipal {
                principal_type: t.to_string(),
                name: n.to_string(),
            }),
            None => Err(BadPrincipal(s.to_string())),
        }
    }
}

impl fmt::Display for KafkaPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.principal_type, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_print_and_parse_as_kafka_writes_them() {
        assert_eq!(KafkaPrincipal::anonymous().to_string(), "User:ANONYMOUS");
        assert!(KafkaPrincipal::anonymous().is_anonymous());
        assert_eq!(
            KafkaPrincipal::parse("User:CN=a,O=b:c"),
            Ok(KafkaPrincipal::user("CN=a,O=b:c"))
        );
        assert!(!KafkaPrincipal::user("alice").is_anonymous());
        assert!(KafkaPrincipal::parse("alice").is_err());
        assert!(KafkaPrincipal::parse("").is_err());
    }

    #[test]
    fn only_the_colon_is_required_as_in_kafka() {
        assert_eq!(KafkaPrincipal::parse("User:"), Ok(KafkaPrincipal::user("")));
        let typeless = |name: &str| KafkaPrincipal {
            principal_type: String::new(),
            name: name.to_string(),
        };
        assert_eq!(KafkaPrincipal::parse(":alice"), Ok(typeless("alice")));
        assert_eq!(KafkaPrincipal::parse(":"), Ok(typeless("")));
    }
}
