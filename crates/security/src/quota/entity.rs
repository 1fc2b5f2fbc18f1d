//! Who a quota is for, and which quota a connection gets: Kafka's quota entities (a user, a
//! client id, or both, each by name or as the default) and their order of precedence, most
//! specific first:
//! `users/<user>/clients/<client-id>`, `users/<user>/clients/<default>`, `users/<user>`,
//! `users/<default>/clients/<client-id>`, `users/<default>/clients/<default>`,
//! `users/<default>`, `clients/<client-id>`, `clients/<default>`.

use std::collections::BTreeMap;
use std::fmt;

/// Kafka's entity type names.
pub const USER: &str = "user";
/// Kafka's entity type names.
pub const CLIENT_ID: &str = "client-id";

/// The quota keys Kafka defines for users and client ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QuotaKey {
    /// Bytes per second of Produce requests.
    ProducerByteRate,
    /// Bytes per second of Fetch responses.
    ConsumerByteRate,
    /// Percent of one request-handler thread's time.
    RequestPercentage,
    /// Partition mutations (created, deleted, added) per second (KIP-599).
    ControllerMutationRate,
}

impl QuotaKey {
    /// Every key.
    pub const ALL: [QuotaKey; 4] = [
        QuotaKey::ProducerByteRate,
        QuotaKey::ConsumerByteRate,
        QuotaKey::RequestPercentage,
        QuotaKey::ControllerMutationRate,
    ];

    /// The key as configs name it.
    pub fn name(self) -> &'static str {
        match self {
            QuotaKey::ProducerByteRate => "producer_byte_rate",
            QuotaKey::ConsumerByteRate => "consumer_byte_rate",
            QuotaKey::RequestPercentage => "request_percentage",
            QuotaKey::ControllerMutationRate => "controller_mutation_rate",
        }
    }

    /// The key named `name`.
    pub fn parse(name: &str) -> Option<QuotaKey> {
        QuotaKey::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One part of an entity's name: a given name, or the default for every name without one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityName {
    /// `<default>`: null on the wire.
    Default,
    /// A given user or client id.
    Named(String),
}

impl EntityName {
    /// From the wire's nullable name.
    pub fn from_wire(name: Option<&str>) -> Self {
        match name {
            None => EntityName::Default,
            Some(n) => EntityName::Named(n.to_string()),
        }
    }

    /// To the wire's nullable name.
    pub fn to_wire(&self) -> Option<String> {
        match self {
            EntityName::Default => None,
            EntityName::Named(n) => Some(n.clone()),
        }
    }
}

impl fmt::Display for EntityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntityName::Default => f.write_str("<default>"),
            EntityName::Named(n) => f.write_str(n),
        }
    }
}

/// A quota entity: a user, a client id, or both (at least one).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QuotaEntity {
    /// The user part, if the entity has one.
    pub user: Option<EntityName>,
    /// The client-id part, if the entity has one.
    pub client_id: Option<EntityName>,
}

/// Why an entity from the wire is not one this broker takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadEntity {
    #[error("a quota entity needs a user or a client-id")]
    Empty,
    #[error("entity type {0:?} appears twice")]
    Repeated(String),
    #[error("entity type {0:?} is not supported (only user and client-id)")]
    UnknownType(String),
}

impl QuotaEntity {
    /// The entity of `(type, nullable name)` pairs as the wire gives them.
    pub fn from_parts<'a>(
        parts: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<Self, BadEntity> {
        let mut e = QuotaEntity {
            user: None,
            client_id: None,
        };
        for (ty, name) in parts {
            let slot = match ty {
                USER => &mut e.user,
                CLIENT_ID => &mut e.client_id,
                other => return Err(BadEntity::UnknownType(other.to_string())),
            };
            if slot.is_some() {
                return Err(BadEntity::Repeated(ty.to_string()));
            }
            *slot = Some(EntityName::from_wire(name));
        }
        if e.user.is_none() && e.client_id.is_none() {
            return Err(BadEntity::Empty);
        }
        Ok(e)
    }

    /// `(type, nullable name)` pairs for the wire, user first.
    pub fn to_parts(&self) -> Vec<(&'static str, Option<String>)> {
        let mut v = Vec::new();
        if let Some(u) = &self.user {
            v.push((USER, u.to_wire()));
        }
        if let Some(c) = &self.client_id {
            v.push((CLIENT_ID, c.to_wire()));
        }
        v
    }
}

/// Whose usage a quota meters: the user and client id the matched entity names, with the
/// connection's own names in place of defaults (Kafka's quota metric tags). A default quota
/// is therefore a quota per user (or client id), never one shared by all of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MeterKey {
    /// The user, or empty when the quota is per client id only.
    pub user: String,
    /// The client id, or empty when the quota is per user only.
    pub client_id: String,
}

/// Every quota set, by entity and key.
#[derive(Debug, Clone, Default)]
pub struct QuotaTable {
    entries: BTreeMap<QuotaEntity, BTreeMap<QuotaKey, f64>>,
}

/// Equal when the same entities set the same keys to bit-identical values (so images holding
/// a table can be `Eq`).
impl PartialEq for QuotaTable {
    fn eq(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|((ea, ka), (eb, kb))| {
                    ea == eb
                        && ka.len() == kb.len()
                        && ka
                            .iter()
                            .zip(kb)
                            .all(|((a, va), (b, vb))| a == b && va.to_bits() == vb.to_bits())
                })
    }
}

impl Eq for QuotaTable {}

impl QuotaTable {
    /// Sets `key` of `entity` to `value`.
    pub fn set(&mut self, entity: QuotaEntity, key: QuotaKey, value: f64) {
        self.entries.entry(entity).or_default().insert(key, value);
    }

    /// Removes `key` of `entity` (and the entity once it has no keys).
    pub fn remove(&mut self, entity: &QuotaEntity, key: QuotaKey) {
        if let Some(keys) = self.entries.get_mut(entity) {
            keys.remove(&key);
            if keys.is_empty() {
                self.entries.remove(entity);
            }
        }
    }

    /// The keys set for `entity`.
    pub fn get(&self, entity: &QuotaEntity) -> Option<&BTreeMap<QuotaKey, f64>> {
        self.entries.get(entity)
    }

    /// Every entity with its keys.
    pub fn iter(&self) -> impl Iterator<Item = (&QuotaEntity, &BTreeMap<QuotaKey, f64>)> {
        self.entries.iter()
    }

    /// Whether no quota is set at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The quota of `key` for a connection of `user` with `client_id`: the most specific
    /// entity that sets it, and whose usage it meters. `None`: unlimited.
    pub fn resolve(&self, user: &str, client_id: &str, key: QuotaKey) -> Option<(f64, MeterKey)> {
        let named = |s: &str| Some(EntityName::Named(s.to_string()));
        let default = || Some(EntityName::Default);
        let both = || MeterKey {
            user: user.to_string(),
            client_id: client_id.to_string(),
        };
        let user_only = || MeterKey {
            user: user.to_string(),
            client_id: String::new(),
        };
        let client_only = || MeterKey {
            user: String::new(),
            client_id: client_id.to_string(),
        };
        let order: [(Option<EntityName>, Option<EntityName>, MeterKey); 8] = [
            (named(user), named(client_id), both()),
            (named(user), default(), both()),
            (named(user), None, user_only()),
            (default(), named(client_id), both()),
            (default(), default(), both()),
            (default(), None, user_only()),
            (None, named(client_id), client_only()),
            (None, default(), client_only()),
        ];
        order.into_iter().find_map(|(u, c, meter)| {
            let entity = QuotaEntity {
                user: u,
                client_id: c,
            };
            let value = *self.entries.get(&entity)?.get(&key)?;
            Some((value, meter))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entity(user: Option<Option<&str>>, client: Option<Option<&str>>) -> QuotaEntity {
        QuotaEntity {
            user: user.map(EntityName::from_wire),
            client_id: client.map(EntityName::from_wire),
        }
    }

    #[test]
    fn the_most_specific_entity_wins_in_kafkas_order() {
        let mut t = QuotaTable::default();
        let k = QuotaKey::ProducerByteRate;
        let levels = [
            (entity(None, Some(None)), 8.0),
            (entity(None, Some(Some("c"))), 7.0),
            (entity(Some(None), None), 6.0),
            (entity(Some(None), Some(None)), 5.0),
            (entity(Some(None), Some(Some("c"))), 4.0),
            (entity(Some(Some("u")), None), 3.0),
            (entity(Some(Some("u")), Some(None)), 2.0),
            (entity(Some(Some("u")), Some(Some("c"))), 1.0),
        ];
        // Adding levels from least to most specific: each one takes over.
        for (e, v) in &levels {
            t.set(e.clone(), k, *v);
            assert_eq!(t.resolve("u", "c", k).unwrap().0, *v, "{e:?}");
        }
        // Removing them from most to least specific: the next one shows.
        for (e, v) in levels.iter().rev() {
            assert_eq!(t.resolve("u", "c", k).unwrap().0, *v);
            t.remove(e, k);
        }
        assert!(t.resolve("u", "c", k).is_none());
        assert!(t.is_empty());
    }

    #[test]
    fn defaults_meter_each_user_or_client_on_its_own() {
        let mut t = QuotaTable::default();
        t.set(entity(Some(None), None), QuotaKey::ConsumerByteRate, 10.0);
        let (_, a) = t.resolve("alice", "x", QuotaKey::ConsumerByteRate).unwrap();
        let (_, b) = t.resolve("bob", "x", QuotaKey::ConsumerByteRate).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.client_id, "");
        t.set(entity(None, Some(None)), QuotaKey::ProducerByteRate, 10.0);
        let (_, c) = t.resolve("alice", "x", QuotaKey::ProducerByteRate).unwrap();
        assert_eq!((c.user.as_str(), c.client_id.as_str()), ("", "x"));
        assert!(
            t.resolve("alice", "x", QuotaKey::RequestPercentage)
                .is_none()
        );
    }

    #[test]
    fn entities_from_the_wire_are_checked() {
        assert_eq!(
            QuotaEntity::from_parts([("user", Some("a")), ("client-id", None)]).unwrap(),
            entity(Some(Some("a")), Some(None))
        );
        assert_eq!(QuotaEntity::from_parts([]), Err(BadEntity::Empty));
        assert!(matches!(
            QuotaEntity::from_parts([("user", None), ("user", Some("b"))]),
            Err(BadEntity::Repeated(_))
        ));
        assert!(matches!(
            QuotaEntity::from_parts([("ip", Some("1.2.3.4"))]),
            Err(BadEntity::UnknownType(_))
        ));
        assert_eq!(
            QuotaKey::parse("request_percentage"),
            Some(QuotaKey::RequestPercentage)
        );
        assert_eq!(QuotaKey::parse("bogus"), None);
    }
}
