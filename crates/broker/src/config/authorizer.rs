//! The authorizer settings: `authorizer.class.name` (empty: no authorizer, and the ACL APIs
//! answer SECURITY_DISABLED; Kafka's `StandardAuthorizer`, or the ZooKeeper-era
//! `AclAuthorizer` name taken as the same: every request is checked against the ACLs),
//! `super.users` and `allow.everyone.if.no.acl.found`.

use vltava_security::acl::AuthorizerConfig;

use super::broker_config::ConfigError;
use super::properties::Properties;

/// Kafka's KRaft authorizer.
pub const STANDARD_AUTHORIZER: &str = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";
/// The ZooKeeper-era authorizer, whose rules the StandardAuthorizer kept.
pub const ACL_AUTHORIZER: &str = "kafka.security.authorizer.AclAuthorizer";

/// The authorizer `raw` configures, `None` when `authorizer.class.name` is empty.
pub fn authorizer_config(raw: &Properties) -> Result<Option<AuthorizerConfig>, ConfigError> {
    let get = |k: &str| raw.get(k).map(|v| v.trim()).unwrap_or_default();
    let invalid = |key: &str, value: &str, reason: &str| ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let class = get("authorizer.class.name");
    if class.is_empty() {
        return Ok(None);
    }
    if class != STANDARD_AUTHORIZER && class != ACL_AUTHORIZER {
        return Err(invalid(
            "authorizer.class.name",
            class,
            "the only authorizer is org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        ));
    }
    let super_users = AuthorizerConfig::parse_super_users(get("super.users"))
        .map_err(|e| invalid("super.users", get("super.users"), &e.to_string()))?;
    let allow = get("allow.everyone.if.no.acl.found");
    let allow_everyone_if_no_acl_found = match allow {
        "" => false,
        v if v.eq_ignore_ascii_case("true") => true,
        v if v.eq_ignore_ascii_case("false") => false,
        v => {
            return Err(invalid(
                "allow.everyone.if.no.acl.found",
                v,
                "not true/false",
            ));
        }
    };
    Ok(Some(AuthorizerConfig {
        super_users,
        allow_everyone_if_no_acl_found,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_properties;

    #[test]
    fn authorizer_settings_parse_as_kafkas() {
        assert_eq!(authorizer_config(&parse_properties("")).unwrap(), None);
        let c = authorizer_config(&parse_properties(
            "authorizer.class.name=kafka.security.authorizer.AclAuthorizer\n\
             super.users=User:admin;User:ANONYMOUS\n",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(c.super_users.len(), 2);
        assert!(!c.allow_everyone_if_no_acl_found);
        let open = authorizer_config(&parse_properties(&format!(
            "authorizer.class.name={STANDARD_AUTHORIZER}\nallow.everyone.if.no.acl.found=true"
        )))
        .unwrap()
        .unwrap();
        assert!(open.allow_everyone_if_no_acl_found);
        assert!(authorizer_config(&parse_properties("authorizer.class.name=x.Y")).is_err());
        assert!(
            authorizer_config(&parse_properties(&format!(
                "authorizer.class.name={STANDARD_AUTHORIZER}\nsuper.users=admin"
            )))
            .is_err()
        );
    }
}
