//! The broker's authorizer state: the settings from `server.properties` and the ACLs of the
//! latest metadata image, indexed once per change (a request reads a shared snapshot).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use vltava_protocol::Uuid;
use vltava_security::acl::{AclBinding, Authorizer, AuthorizerConfig};

/// The authorizer of one broker; disabled when `authorizer.class.name` is empty.
#[derive(Debug)]
pub struct AclState {
    config: Option<AuthorizerConfig>,
    current: RwLock<Arc<Authorizer>>,
    /// The ACLs `current` was built from.
    built_from: Mutex<Option<BTreeMap<Uuid, AclBinding>>>,
}

impl AclState {
    /// The state for `config` (`None`: no authorizer), without ACLs yet.
    pub fn new(config: Option<AuthorizerConfig>) -> Self {
        let empty = Authorizer::new(config.clone().unwrap_or_default(), []);
        AclState {
            config,
            current: RwLock::new(Arc::new(empty)),
            built_from: Mutex::new(None),
        }
    }

    /// Whether an authorizer is configured.
    pub fn enabled(&self) -> bool {
        self.config.is_some()
    }

    /// The authorizer over the latest ACLs, `None` when none is configured.
    pub fn authorizer(&self) -> Option<Arc<Authorizer>> {
        self.config.as_ref()?;
        Some(match self.current.read() {
            Ok(a) => a.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        })
    }

    /// Takes the ACLs of a new metadata image (rebuilds only when they changed).
    pub fn refresh(&self, acls: &BTreeMap<Uuid, AclBinding>) {
        let Some(config) = &self.config else {
            return;
        };
        let mut built = match self.built_from.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        if built.as_ref() == Some(acls) {
            return;
        }
        let next = Arc::new(Authorizer::new(config.clone(), acls.values()));
        match self.current.write() {
            Ok(mut c) => *c = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        *built = Some(acls.clone());
    }
}
