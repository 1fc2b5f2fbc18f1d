//! The authorizer's rules, case by case, and against a plain model (proptest).

use proptest::prelude::*;

use super::*;
use crate::acl::binding::ResourcePattern;
use crate::acl::filter::{AccessControlEntryFilter, AclBindingFilter, ResourcePatternFilter};

fn acl(
    pattern: ResourcePattern,
    principal: &str,
    host: &str,
    op: AclOperation,
    perm: AclPermissionType,
) -> AclBinding {
    AclBinding {
        pattern,
        entry: AccessControlEntry {
            principal: principal.into(),
            host: host.into(),
            operation: op,
            permission: perm,
        },
    }
}

fn topic(name: &str) -> ResourcePattern {
    ResourcePattern::literal(ResourceType::Topic, name)
}

fn alice() -> KafkaPrincipal {
    KafkaPrincipal::user("alice")
}

fn who(p: &KafkaPrincipal) -> Requester<'_> {
    Requester {
        principal: p,
        host: Some("10.0.0.1".parse().unwrap_or(IpAddr::from([10, 0, 0, 1]))),
    }
}

fn authz(acls: &[AclBinding]) -> Authorizer {
    Authorizer::new(AuthorizerConfig::default(), acls)
}

use AclOperation::*;
use AclPermissionType::{Allow, Deny};

#[test]
fn no_acl_means_denied_unless_allow_everyone() {
    let a = authz(&[]);
    let p = alice();
    assert!(!a.authorize(who(&p), Read, ResourceType::Topic, "t"));
    let open = Authorizer::new(
        AuthorizerConfig {
            allow_everyone_if_no_acl_found: true,
            ..Default::default()
        },
        &[acl(topic("other"), "User:bob", "*", Read, Allow)],
    );
    assert!(open.authorize(who(&p), Read, ResourceType::Topic, "t"));
    // A resource with ACLs (for someone else) is not "without ACLs".
    assert!(!open.authorize(who(&p), Read, ResourceType::Topic, "other"));
}

#[test]
fn deny_wins_over_allow_and_all_covers_every_operation() {
    let p = alice();
    let a = authz(&[
        acl(topic("t"), "User:alice", "*", All, Allow),
        acl(
            ResourcePattern::prefixed(ResourceType::Topic, "t"),
            "User:*",
            "*",
            Write,
            Deny,
        ),
    ]);
    assert!(a.authorize(who(&p), Read, ResourceType::Topic, "t"));
    assert!(a.authorize(who(&p), AlterConfigs, ResourceType::Topic, "t"));
    assert!(!a.authorize(who(&p), Write, ResourceType::Topic, "t"));
    let all_denied = authz(&[
        acl(topic("t"), "User:alice", "*", Read, Allow),
        acl(topic("*"), "User:alice", "*", All, Deny),
    ]);
    assert!(!all_denied.authorize(who(&p), Read, ResourceType::Topic, "t"));
}

#[test]
fn implied_describe_is_granted_but_not_denied() {
    let p = alice();
    let a = authz(&[acl(topic("t"), "User:alice", "*", Write, Allow)]);
    assert!(a.authorize(who(&p), Describe, ResourceType::Topic, "t"));
    assert!(!a.authorize(who(&p), Read, ResourceType::Topic, "t"));
    let d = authz(&[
        acl(topic("t"), "User:alice", "*", Describe, Allow),
        acl(topic("t"), "User:alice", "*", Read, Deny),
    ]);
    assert!(d.authorize(who(&p), Describe, ResourceType::Topic, "t"));
    let c = authz(&[acl(topic("t"), "User:alice", "*", AlterConfigs, Allow)]);
    assert!(c.authorize(who(&p), DescribeConfigs, ResourceType::Topic, "t"));
}

#[test]
fn prefixed_wildcard_principal_and_host_rules() {
    let p = alice();
    let a = authz(&[
        acl(
            ResourcePattern::prefixed(ResourceType::Group, "app-"),
            "User:*",
            "10.0.0.1",
            Read,
            Allow,
        ),
        acl(topic("*"), "User:alice", "10.0.0.9", Read, Allow),
    ]);
    assert!(a.authorize(who(&p), Read, ResourceType::Group, "app-1"));
    assert!(!a.authorize(who(&p), Read, ResourceType::Group, "ap"));
    assert!(
        !a.authorize(who(&p), Read, ResourceType::Topic, "t"),
        "other host"
    );
    let elsewhere = Requester {
        principal: &p,
        host: Some(IpAddr::from([10, 0, 0, 9])),
    };
    assert!(a.authorize(elsewhere, Read, ResourceType::Topic, "t"));
    assert!(!a.authorize(elsewhere, Read, ResourceType::Group, "app-1"));
}

#[test]
fn super_users_may_do_anything() {
    let supers = AuthorizerConfig::parse_super_users(" User:admin; User:ANONYMOUS ;").unwrap();
    assert_eq!(supers.len(), 2);
    assert!(AuthorizerConfig::parse_super_users("admin").is_err());
    let a = Authorizer::new(
        AuthorizerConfig {
            super_users: supers,
            ..Default::default()
        },
        &[acl(topic("*"), "User:*", "*", All, Deny)],
    );
    let admin = KafkaPrincipal::user("admin");
    assert!(a.authorize(who(&admin), Write, ResourceType::Topic, "t"));
    assert!(a.authorize_any(who(&admin), Write, ResourceType::Topic));
    assert!(!a.authorize(who(&alice()), Write, ResourceType::Topic, "t"));
}

#[test]
fn authorize_any_follows_kafkas_resource_type_rules() {
    let p = alice();
    let check =
        |acls: &[AclBinding]| authz(acls).authorize_any(who(&p), Write, ResourceType::Topic);
    assert!(!check(&[]));
    assert!(check(&[acl(topic("t"), "User:alice", "*", Write, Allow)]));
    assert!(!check(&[
        acl(topic("t"), "User:alice", "*", Write, Allow),
        acl(topic("t"), "User:alice", "*", Write, Deny),
    ]));
    assert!(!check(&[
        acl(topic("t"), "User:alice", "*", Write, Allow),
        acl(
            ResourcePattern::prefixed(ResourceType::Topic, "t"),
            "User:*",
            "*",
            All,
            Deny
        ),
    ]));
    assert!(check(&[
        acl(
            ResourcePattern::prefixed(ResourceType::Topic, "t"),
            "User:alice",
            "*",
            Write,
            Allow
        ),
        acl(topic("t"), "User:alice", "*", Write, Deny),
    ]));
    assert!(!check(&[
        acl(topic("*"), "User:alice", "*", Write, Allow),
        acl(topic("*"), "User:alice", "*", Write, Deny),
    ]));
    assert!(!check(&[acl(topic("t"), "User:alice", "*", Read, Allow)]));
}

#[test]
fn authorized_operations_set_one_bit_per_operation() {
    let p = alice();
    let a = authz(&[acl(topic("t"), "User:alice", "*", Read, Allow)]);
    let bits = a.authorized_operations(who(&p), ResourceType::Topic, "t");
    assert_eq!(bits, (1 << Read.code()) | (1 << Describe.code()));
    assert_eq!(
        a.authorized_operations(who(&p), ResourceType::Topic, "u"),
        0
    );
}

// ---- the model ----

fn arb_pattern() -> impl Strategy<Value = ResourcePattern> {
    (
        prop::sample::select(vec![ResourceType::Topic, ResourceType::Group]),
        prop::sample::select(vec!["*", "a", "ab", "abc", "b", "ba"]),
        prop::sample::select(vec![PatternType::Literal, PatternType::Prefixed]),
    )
        .prop_map(|(resource_type, name, pattern_type)| ResourcePattern {
            resource_type,
            name: name.into(),
            pattern_type,
        })
}

fn arb_binding() -> impl Strategy<Value = AclBinding> {
    (
        arb_pattern(),
        prop::sample::select(vec!["User:alice", "User:bob", "User:*"]),
        prop::sample::select(vec!["*", "10.0.0.1", "10.0.0.2"]),
        prop::sample::select(AclOperation::ALL_VALUES[2..].to_vec()),
        prop::sample::select(vec![Allow, Deny]),
    )
        .prop_map(|(pattern, principal, host, op, perm)| acl(pattern, principal, host, op, perm))
}

/// Kafka's rule written plainly over a list.
fn model(
    acls: &[AclBinding],
    principal: &KafkaPrincipal,
    op: AclOperation,
    rt: ResourceType,
    name: &str,
) -> bool {
    let applicable: Vec<&AclBinding> = acls
        .iter()
        .filter(|b| b.pattern.resource_type == rt)
        .filter(|b| match b.pattern.pattern_type {
            PatternType::Literal => b.pattern.name == name || b.pattern.name == "*",
            _ => name.starts_with(&b.pattern.name),
        })
        .collect();
    let mine: Vec<&&AclBinding> = applicable
        .iter()
        .filter(|b| {
            (b.entry.principal == "User:*" || b.entry.principal == principal.to_string())
                && (b.entry.host == "*" || b.entry.host == "10.0.0.1")
        })
        .collect();
    let denied = mine.iter().any(|b| {
        b.entry.permission == Deny && (b.entry.operation == op || b.entry.operation == All)
    });
    let implied = |granted: AclOperation| {
        granted == op
            || granted == All
            || (op == Describe && [Read, Write, Delete, Alter].contains(&granted))
            || (op == DescribeConfigs && granted == AlterConfigs)
    };
    !denied
        && mine
            .iter()
            .any(|b| b.entry.permission == Allow && implied(b.entry.operation))
}

proptest! {
    #[test]
    fn authorize_agrees_with_the_model(
        acls in prop::collection::vec(arb_binding(), 0..12),
        op in prop::sample::select(AclOperation::ALL_VALUES[2..].to_vec()),
        rt in prop::sample::select(vec![ResourceType::Topic, ResourceType::Group]),
        name in prop::sample::select(vec!["a", "ab", "abc", "b", "c", "*"]),
        principal in prop::sample::select(vec!["alice", "bob", "carol"]),
    ) {
        let p = KafkaPrincipal::user(principal);
        let a = authz(&acls);
        prop_assert_eq!(a.authorize(who(&p), op, rt, name), model(&acls, &p, op, rt, name));
    }

    /// When a resource is allowed by its ACLs, the by-type check allows too.
    #[test]
    fn an_allowed_resource_makes_its_type_allowed(
        acls in prop::collection::vec(arb_binding(), 0..12),
        op in prop::sample::select(AclOperation::ALL_VALUES[2..].to_vec()),
        name in prop::sample::select(vec!["a", "ab", "abc", "b", "c"]),
    ) {
        let p = alice();
        let a = authz(&acls);
        if a.authorize(who(&p), op, ResourceType::Topic, name) {
            prop_assert!(a.authorize_any(who(&p), op, ResourceType::Topic));
        }
    }

    /// A MATCH filter for a resource selects exactly the ACLs that decide about it: with
    /// them deleted, the resource has no ACL left (allow.everyone decides).
    #[test]
    fn match_filters_select_the_acls_that_decide(
        acls in prop::collection::vec(arb_binding(), 0..12),
        name in prop::sample::select(vec!["a", "ab", "abc", "b", "c"]),
    ) {
        let filter = AclBindingFilter {
            pattern: ResourcePatternFilter {
                resource_type: ResourceType::Topic,
                name: Some(name.into()),
                pattern_type: PatternType::Match,
            },
            entry: AccessControlEntryFilter {
                principal: None,
                host: None,
                operation: AclOperation::Any,
                permission: AclPermissionType::Any,
            },
        };
        let kept: Vec<AclBinding> = acls.iter().filter(|b| !filter.matches(b)).cloned().collect();
        let open = Authorizer::new(
            AuthorizerConfig { allow_everyone_if_no_acl_found: true, ..Default::default() },
            &kept,
        );
        let p = alice();
        for op in &AclOperation::ALL_VALUES[2..] {
            prop_assert!(open.authorize(who(&p), *op, ResourceType::Topic, name));
        }
        let selected = acls.iter().filter(|b| filter.matches(b)).count();
        let deciding = acls
            .iter()
            .filter(|b| b.pattern.resource_type == ResourceType::Topic && b.pattern.applies_to(name))
            .count();
        prop_assert_eq!(selected, deciding);
    }
}
