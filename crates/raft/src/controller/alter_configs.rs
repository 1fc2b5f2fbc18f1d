//! IncrementalAlterConfigs (SET / DELETE / APPEND / SUBTRACT per key) and the legacy
//! AlterConfigs (the given set replaces every explicit config of the resource) for topics and
//! brokers. Each changed key becomes a ConfigRecord (a null value deletes it).

use std::collections::{BTreeMap, HashSet};

use vltava_protocol::SharedStr;
use vltava_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, alter_configs_response, incremental_alter_configs_response,
};
use vltava_protocol::metadata::ConfigRecord;

use super::TopicError;
use super::broker_config_table::broker_config_def;
use super::configs_schema::{
    ConfigDef, broker_config, is_list, list_items, topic_config, validate_value,
};
use crate::error::codes;
use crate::image::{ConfigResource, ConfigResourceKind, MetadataImage};
use crate::records::MetadataRecord;

/// One requested change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigOp {
    Set,
    Delete,
    Append,
    Subtract,
}

impl ConfigOp {
    /// Kafka's `ConfigOperation` codes 0..=3.
    pub fn from_code(c: i8) -> Option<Self> {
        match c {
            0 => Some(ConfigOp::Set),
            1 => Some(ConfigOp::Delete),
            2 => Some(ConfigOp::Append),
            3 => Some(ConfigOp::Subtract),
            _ => None,
        }
    }
}

struct Change<'a> {
    name: &'a str,
    op: Option<ConfigOp>,
    value: Option<&'a str>,
}

/// Validates and plans an IncrementalAlterConfigs request.
pub fn incremental_alter_configs(
    image: &MetadataImage,
    req: &IncrementalAlterConfigsRequest,
    _version: i16,
) -> (IncrementalAlterConfigsResponse, Vec<MetadataRecord>) {
    let dups = duplicate_resources(
        req.resources
            .iter()
            .map(|r| (r.resource_type, &r.resource_name)),
    );
    let mut records = Vec::new();
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in &req.resources {
        let changes: Vec<Change<'_>> = r
            .configs
            .iter()
            .map(|c| Change {
                name: c.name.as_str(),
                op: ConfigOp::from_code(c.config_operation),
                value: c.value.as_deref(),
            })
            .collect();
        let outcome = if dups.contains(&(r.resource_type, r.resource_name.to_string())) {
            Err(duplicate_resource_error())
        } else {
            plan_resource(image, r.resource_type, &r.resource_name, &changes, false)
        };
        let (code, msg) = split(outcome, req.validate_only, &mut records);
        responses.push(
            incremental_alter_configs_response::AlterConfigsResourceResponse {
                error_code: code,
                error_message: msg,
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                ..Default::default()
            },
        );
    }
    (
        IncrementalAlterConfigsResponse {
            responses,
            ..Default::default()
        },
        records,
    )
}

/// Validates and plans a (legacy, replace-all) AlterConfigs request.
pub fn alter_configs(
    image: &MetadataImage,
    req: &AlterConfigsRequest,
    _version: i16,
) -> (AlterConfigsResponse, Vec<MetadataRecord>) {
    let dups = duplicate_resources(
        req.resources
            .iter()
            .map(|r| (r.resource_type, &r.resource_name)),
    );
    let mut records = Vec::new();
    let mut responses = Vec::with_capacity(req.resources.len());
    for r in &req.resources {
        let changes: Vec<Change<'_>> = r
            .configs
            .iter()
            .map(|c| Change {
                name: c.name.as_str(),
                op: Some(ConfigOp::Set),
                value: c.value.as_deref(),
            })
            .collect();
        let outcome = if dups.contains(&(r.resource_type, r.resource_name.to_string())) {
            Err(duplicate_resource_error())
        } else {
            plan_resource(image, r.resource_type, &r.resource_name, &changes, true)
        };
        let (code, msg) = split(outcome, req.validate_only, &mut records);
        responses.push(alter_configs_response::AlterConfigsResourceResponse {
            error_code: code,
            error_message: msg,
            resource_type: r.resource_type,
            resource_name: r.resource_name.clone(),
            ..Default::default()
        });
    }
    (
        AlterConfigsResponse {
            responses,
            ..Default::default()
        },
        records,
    )
}

fn duplicate_resource_error() -> TopicError {
    TopicError::new(codes::INVALID_REQUEST, "Duplicate resource in the request.")
}

fn duplicate_resources<'a>(it: impl Iterator<Item = (i8, &'a SharedStr)>) -> HashSet<(i8, String)> {
    let mut seen = HashSet::new();
    let mut dups = HashSet::new();
    for (t, n) in it {
        if !seen.insert((t, n.to_string())) {
            dups.insert((t, n.to_string()));
        }
    }
    dups
}

fn split(
    outcome: Result<Vec<MetadataRecord>, TopicError>,
    validate_only: bool,
    records: &mut Vec<MetadataRecord>,
) -> (i16, Option<SharedStr>) {
    match outcome {
        Ok(new) => {
            if !validate_only {
                records.extend(new);
            }
            (codes::NONE, None)
        }
        Err(e) => (e.code, Some(e.message.into())),
    }
}

/// The records that change one resource's configs as `changes` ask (all of them
/// replaced when `replace_all`: the legacy AlterConfigs), or the error that refuses
/// the whole resource.
fn plan_resource(
    image: &MetadataImage,
    resource_type: i8,
    resource_name: &str,
    changes: &[Change<'_>],
    replace_all: bool,
) -> Result<Vec<MetadataRecord>, TopicError> {
    let (kind, lookup) = resource_kind(image, resource_type, resource_name)?;
    let resource = ConfigResource {
        kind,
        name: resource_name.to_string(),
    };
    let old = image.configs.get(&resource).cloned().unwrap_or_default();
    let mut new: BTreeMap<String, String> = if replace_all {
        BTreeMap::new()
    } else {
        old.clone()
    };
    let is_broker = kind == ConfigResourceKind::Broker;
    if is_broker {
        refuse_read_only(changes)?;
    }
    let mut seen = HashSet::new();
    for c in changes {
        if !seen.insert(c.name) {
            return Err(TopicError::new(
                codes::INVALID_REQUEST,
                format!("Error due to duplicate config keys: {}", c.name),
            ));
        }
        apply_change(&mut new, c, lookup, is_broker)?;
    }
    Ok(diff_records(&resource, &old, &new))
}

/// A config definition by name, for one kind of resource.
type ConfigLookup = fn(&str) -> Option<&'static ConfigDef>;

/// The resource's kind and its config definitions, once the resource is known to
/// exist (a topic) or to be well named (a broker: empty or a broker id).
fn resource_kind(
    image: &MetadataImage,
    resource_type: i8,
    resource_name: &str,
) -> Result<(ConfigResourceKind, ConfigLookup), TopicError> {
    let Some(kind) = ConfigResourceKind::from_code(resource_type) else {
        return Err(TopicError::new(
            codes::INVALID_REQUEST,
            format!("Unsupported resource type {resource_type}."),
        ));
    };
    let lookup: ConfigLookup = match kind {
        ConfigResourceKind::Topic => {
            if !image.topics.contains_key(resource_name) {
                return Err(TopicError::new(
                    codes::UNKNOWN_TOPIC_OR_PARTITION,
                    format!("The topic '{resource_name}' does not exist."),
                ));
            }
            topic_config
        }
        ConfigResourceKind::Broker => {
            if !resource_name.is_empty() && resource_name.parse::<u32>().is_err() {
                return Err(TopicError::new(
                    codes::INVALID_REQUEST,
                    format!(
                        "Broker resource name must be empty or a broker id, not '{resource_name}'."
                    ),
                ));
            }
            broker_config
        }
    };
    Ok((kind, lookup))
}

/// Kafka refuses a broker change naming any config it cannot update without restart,
/// listing them all.
fn refuse_read_only(changes: &[Change<'_>]) -> Result<(), TopicError> {
    let read_only: Vec<&str> = changes
        .iter()
        .filter(|c| c.op.is_some_and(|op| op != ConfigOp::Delete))
        .filter(|c| broker_config(c.name).is_none() && broker_config_def(c.name).is_some())
        .map(|c| c.name)
        .collect();
    if read_only.is_empty() {
        return Ok(());
    }
    Err(TopicError::new(
        codes::INVALID_REQUEST,
        format!(
            "Cannot update these configs dynamically: Set({})",
            read_only.join(", ")
        ),
    ))
}

/// Applies one change to `new`, the resource's configs being planned.
fn apply_change(
    new: &mut BTreeMap<String, String>,
    c: &Change<'_>,
    lookup: ConfigLookup,
    is_broker: bool,
) -> Result<(), TopicError> {
    // Values a broker refuses are INVALID_REQUEST in Kafka.
    let invalid_value = if is_broker {
        codes::INVALID_REQUEST
    } else {
        codes::INVALID_CONFIG
    };
    let Some(op) = c.op else {
        return Err(TopicError::new(
            codes::INVALID_REQUEST,
            format!("Unknown config operation for {}.", c.name),
        ));
    };
    let Some(def) = lookup(c.name) else {
        if is_broker && broker_config_def(c.name).is_none() {
            return apply_custom_broker_change(new, c, op);
        }
        return Err(TopicError::new(
            codes::INVALID_CONFIG,
            format!(
                "Unknown or not dynamically updatable config name: {}",
                c.name
            ),
        ));
    };
    if op != ConfigOp::Delete && c.value.is_none() {
        return Err(TopicError::new(
            codes::INVALID_CONFIG,
            format!("Null value not supported for : {}", c.name),
        ));
    }
    let value = c.value.unwrap_or_default();
    match op {
        ConfigOp::Set => {
            validate_value(def, value).map_err(|m| TopicError::new(invalid_value, m))?;
            new.insert(c.name.to_string(), value.to_string());
        }
        ConfigOp::Delete => {
            new.remove(c.name);
        }
        ConfigOp::Append | ConfigOp::Subtract => {
            if !is_list(def) {
                return Err(TopicError::new(
                    codes::INVALID_CONFIG,
                    format!(
                        "Config value append/subtract is not allowed for config key: {}",
                        c.name
                    ),
                ));
            }
            let base = new.get(c.name).map(String::as_str).unwrap_or(def.default);
            let mut items: Vec<&str> = list_items(base).collect();
            for item in list_items(value) {
                if op == ConfigOp::Append {
                    if !items.contains(&item) {
                        items.push(item);
                    }
                } else {
                    items.retain(|x| *x != item);
                }
            }
            let joined = items.join(",");
            validate_value(def, &joined).map_err(|m| TopicError::new(invalid_value, m))?;
            new.insert(c.name.to_string(), joined);
        }
    }
    Ok(())
}

/// A broker config name Kafka does not know: kept as given, as Kafka keeps custom
/// broker configs (a plugin's); a list operation on it has no list to work on.
fn apply_custom_broker_change(
    new: &mut BTreeMap<String, String>,
    c: &Change<'_>,
    op: ConfigOp,
) -> Result<(), TopicError> {
    match (op, c.value) {
        (ConfigOp::Delete, _) => {
            new.remove(c.name);
        }
        (ConfigOp::Set, Some(v)) => {
            new.insert(c.name.to_string(), v.to_string());
        }
        _ => {
            return Err(TopicError::new(
                codes::INVALID_REQUEST,
                format!("Invalid config value for resource: {}", c.name),
            ));
        }
    }
    Ok(())
}

/// The config records that turn `old` into `new` (a deletion is a record without
/// a value).
fn diff_records(
    resource: &ConfigResource,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> Vec<MetadataRecord> {
    let mut records = Vec::new();
    for (k, v) in new {
        if old.get(k) != Some(v) {
            records.push(config_record(resource, k, Some(v)));
        }
    }
    for k in old.keys() {
        if !new.contains_key(k) {
            records.push(config_record(resource, k, None));
        }
    }
    records
}

fn config_record(resource: &ConfigResource, name: &str, value: Option<&String>) -> MetadataRecord {
    MetadataRecord::Config(ConfigRecord {
        resource_type: resource.kind.code(),
        resource_name: resource.name.as_str().into(),
        name: name.into(),
        value: value.map(|v| v.as_str().into()),
        ..Default::default()
    })
}
