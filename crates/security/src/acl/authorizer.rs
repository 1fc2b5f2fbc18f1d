//! The StandardAuthorizer's decision: given the ACLs, `super.users` and
//! `allow.everyone.if.no.acl.found`, may a principal at a host perform an operation on a
//! resource? Super users may do everything; otherwise the ACLs that apply to the resource
//! (its literal name, the `*` wildcard, every PREFIXED pattern that is a prefix of the name)
//! and to the principal (or `User:*`) and host (or `*`) decide: any DENY for the operation (or
//! ALL) refuses, else any ALLOW that grants it (with Kafka's implications) permits. A resource
//! without any ACL is refused, unless `allow.everyone.if.no.acl.found`.

use std::collections::HashMap;
use std::net::IpAddr;

use super::binding::{AccessControlEntry, AclBinding, WILDCARD_RESOURCE};
use super::types::{AclOperation, AclPermissionType, PatternType, ResourceType};
use crate::principal::{BadPrincipal, KafkaPrincipal};

/// The authorizer's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizerConfig {
    /// `super.users`: principals every check allows.
    pub super_users: Vec<KafkaPrincipal>,
    /// `allow.everyone.if.no.acl.found` (default false).
    pub allow_everyone_if_no_acl_found: bool,
}

impl AuthorizerConfig {
    /// Parses `super.users` (principals separated by `;`, blanks ignored).
    pub fn parse_super_users(s: &str) -> Result<Vec<KafkaPrincipal>, BadPrincipal> {
        s.split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(KafkaPrincipal::parse)
            .collect()
    }
}

/// Who asks: the principal and the client's address.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub principal: &'a KafkaPrincipal,
    /// `None` when the address is unknown (only `*` hosts match).
    pub host: Option<IpAddr>,
}

/// The ACLs of one resource type, indexed for checks.
#[derive(Debug, Clone, Default)]
struct TypeAcls {
    /// LITERAL patterns by name (`*` included).
    literal: HashMap<String, Vec<AccessControlEntry>>,
    /// PREFIXED patterns.
    prefixed: Vec<(String, AccessControlEntry)>,
}

/// ACLs and settings: answers every authorization question.
#[derive(Debug, Clone, Default)]
pub struct Authorizer {
    config: AuthorizerConfig,
    by_type: HashMap<ResourceType, TypeAcls>,
    count: usize,
}

impl Authorizer {
    /// An authorizer over `acls`.
    pub fn new<'a>(
        config: AuthorizerConfig,
        acls: impl IntoIterator<Item = &'a AclBinding>,
    ) -> Self {
        let mut by_type: HashMap<ResourceType, TypeAcls> = HashMap::new();
        let mut count = 0;
        for b in acls {
            let t = by_type.entry(b.pattern.resource_type).or_default();
            match b.pattern.pattern_type {
                PatternType::Literal => t
                    .literal
                    .entry(b.pattern.name.clone())
                    .or_default()
                    .push(b.entry.clone()),
                PatternType::Prefixed => t.prefixed.push((b.pattern.name.clone(), b.entry.clone())),
                _ => continue,
            }
            count += 1;
        }
        Authorizer {
            config,
            by_type,
            count,
        }
    }

    /// The settings.
    pub fn config(&self) -> &AuthorizerConfig {
        &self.config
    }

    /// How many ACLs it holds.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether it holds no ACL.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether `who` is a super user.
    pub fn is_super_user(&self, who: &KafkaPrincipal) -> bool {
        self.config.super_users.iter().any(|s| s == who)
    }

    /// The entries of every pattern that applies to resource `name` of type `rt`.
    fn applicable<'s>(
        &'s self,
        rt: ResourceType,
        name: &'s str,
    ) -> impl Iterator<Item = &'s AccessControlEntry> + 's {
        let t = self.by_type.get(&rt);
        let literal = t.and_then(|t| t.literal.get(name)).into_iter().flatten();
        let wildcard = t
            .filter(|_| name != WILDCARD_RESOURCE)
            .and_then(|t| t.literal.get(WILDCARD_RESOURCE))
            .into_iter()
            .flatten();
        let prefixed = t
            .into_iter()
            .flat_map(|t| t.prefixed.iter())
            .filter(move |(p, _)| name.starts_with(p.as_str()))
            .map(|(_, e)| e);
        literal.chain(wildcard).chain(prefixed)
    }

    /// May `who` perform `op` on resource `name` of type `rt`?
    pub fn authorize(
        &self,
        who: Requester<'_>,
        op: AclOperation,
        rt: ResourceType,
        name: &str,
    ) -> bool {
        if self.is_super_user(who.principal) {
            return true;
        }
        let mut any_acl = false;
        let mut allowed = false;
        for e in self.applicable(rt, name) {
            any_acl = true;
            if !e.matches_principal(who.principal) || !e.matches_host(who.host) {
                continue;
            }
            match e.permission {
                AclPermissionType::Deny if e.operation.deny_forbids(op) => return false,
                AclPermissionType::Allow if e.operation.allow_grants(op) => allowed = true,
                _ => {}
            }
        }
        allowed || (!any_acl && self.config.allow_everyone_if_no_acl_found)
    }

    /// May `who` perform `op` on at least one resource of type `rt` (Kafka's
    /// `authorizeByResourceType`, which lets an idempotent producer with WRITE on some topic
    /// start without IDEMPOTENT_WRITE on the cluster)? Allowed when some ALLOW pattern for
    /// it is not covered by a DENY pattern: a literal name not denied literally nor by a
    /// denied prefix of it, a prefix not denied by a shorter-or-equal denied prefix, or the
    /// `*` wildcard when `*` itself is not denied.
    pub fn authorize_any(&self, who: Requester<'_>, op: AclOperation, rt: ResourceType) -> bool {
        if self.is_super_user(who.principal) {
            return true;
        }
        let Some(t) = self.by_type.get(&rt) else {
            return self.config.allow_everyone_if_no_acl_found;
        };
        let concerns =
            |e: &AccessControlEntry| e.matches_principal(who.principal) && e.matches_host(who.host);
        let denies = |e: &AccessControlEntry| {
            e.permission == AclPermissionType::Deny && e.operation.deny_forbids(op) && concerns(e)
        };
        let allows = |e: &AccessControlEntry| {
            e.permission == AclPermissionType::Allow && e.operation.allow_grants(op) && concerns(e)
        };
        let literal_denied =
            |name: &str| t.literal.get(name).is_some_and(|es| es.iter().any(denies));
        if literal_denied(WILDCARD_RESOURCE) {
            return false;
        }
        let denied_prefixes: Vec<&str> = t
            .prefixed
            .iter()
            .filter(|(_, e)| denies(e))
            .map(|(p, _)| p.as_str())
            .collect();
        let prefix_denied = |name: &str| denied_prefixes.iter().any(|p| name.starts_with(p));
        let literal_ok = t.literal.iter().any(|(name, es)| {
            es.iter().any(allows)
                && (name == WILDCARD_RESOURCE || (!literal_denied(name) && !prefix_denied(name)))
        });
        literal_ok
            || t.prefixed
                .iter()
                .any(|(p, e)| allows(e) && !prefix_denied(p))
    }

    /// The operations Kafka reports for resource `name` of type `rt` that `who` may perform,
    /// as the `*_authorized_operations` bit field (bit n for operation code n).
    pub fn authorized_operations(&self, who: Requester<'_>, rt: ResourceType, name: &str) -> i32 {
        rt.reported_operations()
            .iter()
            .filter(|op| self.authorize(who, **op, rt, name))
            .fold(0i32, |bits, op| bits | (1i32 << op.code()))
    }
}

#[cfg(test)]
mod tests;
