//! `configs --entity-type users|clients`: client quotas as kafka-configs shows and changes
//! them (`Quota configs for user-principal 'alice' are producer_byte_rate=1048576.0`). An
//! entity is a user, a client id, or both (`--entity-type users --entity-name alice
//! --entity-type clients --entity-name app`), each named or the default (`--entity-default`).

use std::io::Write;

use anyhow::{anyhow, bail};

use crate::admin::{Admin, QuotaEntityParts, QuotaMatch, QuotaOp};

/// Quota keys the tool accepts for users and client ids.
pub(super) const QUOTA_KEYS: [&str; 4] = [
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
    "controller_mutation_rate",
];

/// One `--entity-type` of the command line with what follows it: a name, the default, or
/// neither (every entity of the type, for --describe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EntityArg {
    /// `user` or `client-id`, as the protocol names them.
    pub entity_type: &'static str,
    pub name: QuotaMatch,
}

/// The protocol's entity type for a tool's `--entity-type` (`None`: not a quota entity).
pub(super) fn quota_entity_type(tool_type: &str) -> Option<&'static str> {
    match tool_type {
        "users" | "user" => Some("user"),
        "clients" | "client" => Some("client-id"),
        _ => None,
    }
}

/// A double as Java prints it (`20000.0`, `1.0E7`), as kafka-configs shows quota values.
pub(super) fn java_double(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{v}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

fn describe_entity(parts: &QuotaEntityParts) -> String {
    parts
        .iter()
        .map(|(ty, name)| {
            let label = if ty == "user" {
                "user-principal"
            } else {
                ty.as_str()
            };
            format!("{label} '{}'", name.as_deref().unwrap_or("<default>"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--describe`: every entity matching the given types and names, strictly.
pub(super) async fn describe(
    admin: &Admin,
    entities: &[EntityArg],
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let filter: Vec<(String, QuotaMatch)> = entities
        .iter()
        .map(|e| (e.entity_type.to_string(), e.name.clone()))
        .collect();
    let found = admin.describe_client_quotas(&filter, true).await?;
    for (entity, mut values) in found {
        values.sort_by(|a, b| a.0.cmp(&b.0));
        let shown = values
            .iter()
            .map(|(k, v)| format!("{k}={}", java_double(*v)))
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(
            out,
            "Quota configs for {} are {shown}",
            describe_entity(&entity)
        )?;
    }
    Ok(())
}

/// `--alter`: sets `add` and removes `delete` on the one entity named.
pub(super) async fn alter(
    admin: &Admin,
    entities: &[EntityArg],
    add: &[(String, String)],
    delete: &[String],
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let mut parts = QuotaEntityParts::new();
    for e in entities {
        let name = match &e.name {
            QuotaMatch::Exact(n) => Some(n.clone()),
            QuotaMatch::Default => None,
            QuotaMatch::Any => {
                bail!("--alter needs --entity-name or --entity-default for each --entity-type")
            }
        };
        parts.push((e.entity_type.to_string(), name));
    }
    let mut ops = Vec::new();
    for (k, v) in add {
        if !QUOTA_KEYS.contains(&k.as_str()) {
            bail!(
                "invalid quota config {k:?} (one of {})",
                QUOTA_KEYS.join(", ")
            );
        }
        let value: f64 = v
            .parse()
            .map_err(|_| anyhow!("the value of {k} must be a number, not {v:?}"))?;
        ops.push(QuotaOp::Set(k.clone(), value));
    }
    for k in delete {
        if !QUOTA_KEYS.contains(&k.as_str()) {
            bail!(
                "invalid quota config {k:?} (one of {})",
                QUOTA_KEYS.join(", ")
            );
        }
        ops.push(QuotaOp::Remove(k.clone()));
    }
    if ops.is_empty() {
        bail!("--alter needs --add-config or --delete-config");
    }
    admin.alter_client_quotas(&parts, &ops).await?;
    let (ty, name) = &parts[0];
    let kind = if ty == "user" { "user" } else { "client" };
    writeln!(
        out,
        "Completed updating config for {kind} {}.",
        name.as_deref().unwrap_or("<default>")
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::java_double;

    #[test]
    fn doubles_print_as_java_prints_them() {
        assert_eq!(java_double(20000.0), "20000.0");
        assert_eq!(java_double(1048576.0), "1048576.0");
        assert_eq!(java_double(12.5), "12.5");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(15_000_000.0), "1.5E7");
        assert_eq!(java_double(0.0005), "5.0E-4");
        assert_eq!(java_double(0.0), "0.0");
    }
}
