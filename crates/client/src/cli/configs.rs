//! `configs`: kafka-configs --describe / --alter for topics and brokers, and for users and
//! client ids: their quotas (`quota_configs`) and users' SCRAM credentials
//! (`configs_users`).

use super::configs_users;
use super::quota_configs::{self, EntityArg, quota_entity_type};
use crate::admin::{Admin, AlterOp, QuotaMatch, ResourceType, ScramMechanism};
use anyhow::{anyhow, bail};
use clap::Parser;
use std::io::Write;

#[derive(Debug, Parser)]
#[command(
    name = "configs",
    about = "Describe and alter topic, broker, user and client configs and users' SCRAM credentials"
)]
struct Args {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Properties file of connection settings (bootstrap.servers, client.id, *.ms timeouts, security.protocol, ssl.*, sasl.*); others ignored.
    #[arg(long)]
    command_config: Option<String>,
    /// Print the entity's configs (every topic or broker without --entity-name).
    #[arg(long)]
    describe: bool,
    /// Change the entity's configs with --add-config and --delete-config.
    #[arg(long)]
    alter: bool,
    /// Kind of entity: topics, brokers, users or clients (users and clients may both be given,
    /// each followed by its --entity-name or --entity-default).
    #[arg(long)]
    entity_type: Vec<String>,
    /// Name of the entity: a topic name, a broker id, a user or a client id.
    #[arg(long)]
    entity_name: Vec<String>,
    /// The default entity of the preceding --entity-type: the cluster-wide broker config, or
    /// the default user or client id quota.
    #[arg(long)]
    entity_default: bool,
    /// Shorthand for --entity-type users --entity-name USER.
    #[arg(long)]
    user: Option<String>,
    /// Shorthand for --entity-type clients --entity-name CLIENT.
    #[arg(long)]
    client: Option<String>,
    /// With --alter: configs to set, k1=v1,k2=[v2,v3] (brackets hold a list value); for
    /// users, quotas or SCRAM credentials:
    /// 'SCRAM-SHA-256=[iterations=8192,password=alice-secret],SCRAM-SHA-512=[password=alice-secret]'
    /// (iterations default to 4096).
    #[arg(long)]
    add_config: Option<String>,
    /// With --alter: configs to remove so their default applies again, k1,k2; for users,
    /// the SCRAM mechanisms whose credentials to delete (SCRAM-SHA-512).
    #[arg(long)]
    delete_config: Option<String>,
    /// With --describe: every config, static and default ones too, not only the dynamic ones.
    #[arg(long)]
    all: bool,
    /// Topic name when --entity-name is absent (--entity-type topics is still needed).
    #[arg(long)]
    topic: Option<String>,
    /// Broker id when --entity-name is absent (--entity-type brokers is still needed).
    #[arg(long)]
    broker: Option<String>,
}

/// The clap command of `configs`, for its help.
pub(super) fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

/// Splits `k1=v1,k2=[a,b]` at top-level commas.
fn split_configs(s: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for ch in s.chars().chain(std::iter::once(',')) {
        match ch {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                if !cur.trim().is_empty() {
                    let (k, v) = cur
                        .split_once('=')
                        .ok_or_else(|| anyhow!("bad config {cur:?}"))?;
                    out.push((
                        k.trim().to_string(),
                        v.trim().trim_matches(['[', ']']).to_string(),
                    ));
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    Ok(out)
}

/// The quota entities the command line names, in order: each --entity-type users|clients with
/// the --entity-name or --entity-default that follows it, then --user and --client.
fn quota_entities(matches: &clap::ArgMatches, a: &Args) -> anyhow::Result<Option<Vec<EntityArg>>> {
    let types: Vec<(usize, &String)> = matches
        .indices_of("entity_type")
        .map(|i| i.zip(&a.entity_type).collect())
        .unwrap_or_default();
    let names: Vec<(usize, &String)> = matches
        .indices_of("entity_name")
        .map(|i| i.zip(&a.entity_name).collect())
        .unwrap_or_default();
    // A flag not given still has an index (of its default value): only one from the command
    // line counts.
    let given =
        matches.value_source("entity_default") == Some(clap::parser::ValueSource::CommandLine);
    let defaults: Vec<usize> = matches
        .indices_of("entity_default")
        .filter(|_| given)
        .map(Iterator::collect)
        .unwrap_or_default();
    let mut out = Vec::new();
    for (k, (at, ty)) in types.iter().enumerate() {
        let Some(entity_type) = quota_entity_type(ty) else {
            return Ok(None);
        };
        let until = types.get(k + 1).map_or(usize::MAX, |(i, _)| *i);
        let within = |i: &usize| (*at..until).contains(i);
        let name = match (
            names.iter().find(|(i, _)| within(i)),
            defaults.iter().any(within),
        ) {
            (Some((_, n)), false) => QuotaMatch::Exact((*n).clone()),
            (None, true) => QuotaMatch::Default,
            (None, false) => QuotaMatch::Any,
            (Some(_), true) => bail!("--entity-name and --entity-default both given for {ty}"),
        };
        out.push(EntityArg { entity_type, name });
    }
    if let Some(u) = &a.user {
        out.push(EntityArg {
            entity_type: "user",
            name: QuotaMatch::Exact(u.clone()),
        });
    }
    if let Some(c) = &a.client {
        out.push(EntityArg {
            entity_type: "client-id",
            name: QuotaMatch::Exact(c.clone()),
        });
    }
    for (ty, flag) in [("user", "users"), ("client-id", "clients")] {
        if out.iter().filter(|e| e.entity_type == ty).count() > 1 {
            bail!("Duplicate entity type(s) specified: {flag}");
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

/// `(name, value)` pairs of `--add-config`.
type ConfigPairs = Vec<(String, String)>;

/// The config parts of `a` for users and clients: names to delete, then `(name, value)`
/// pairs to add.
fn entity_configs(a: &Args) -> anyhow::Result<(Vec<String>, ConfigPairs)> {
    let delete = a
        .delete_config
        .iter()
        .flat_map(|d| d.split(','))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
        .collect();
    let add = match &a.add_config {
        Some(add) => split_configs(add)?,
        None => Vec::new(),
    };
    Ok((delete, add))
}

/// The user whose SCRAM credentials `--describe` shows as kafka-configs does: only when no
/// client id and no default is named (`Some(None)`: every user).
fn scram_described_user(entities: &[EntityArg]) -> Option<Option<&str>> {
    let mut user = None;
    for e in entities {
        match (e.entity_type, &e.name) {
            ("user", QuotaMatch::Exact(n)) => user = Some(n.as_str()),
            ("user", QuotaMatch::Any) => {}
            _ => return None,
        }
    }
    Some(user)
}

/// `--alter` of users' or clients' configs: SCRAM credentials go to
/// AlterUserScramCredentials, quotas to AlterClientQuotas, never both at once (Kafka's
/// rules and messages).
async fn alter_entities(
    admin: &Admin,
    entities: &[EntityArg],
    a: &Args,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let (delete, add) = entity_configs(a)?;
    let scram = |k: &str| ScramMechanism::from_name(k).is_some();
    let scram_keys = add.iter().any(|(k, _)| scram(k)) || delete.iter().any(|k| scram(k));
    if !scram_keys {
        return quota_configs::alter(admin, entities, &add, &delete, out).await;
    }
    let [user] = entities else {
        bail!(
            "Only quota configs can be added for 'clients' using --bootstrap-server. \
             Unexpected config names: {}",
            add.iter()
                .map(|(k, _)| k.as_str())
                .filter(|k| scram(k))
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    if user.entity_type != "user" {
        bail!("Only quota configs can be added for 'clients' using --bootstrap-server.");
    }
    let others: Vec<&str> = add
        .iter()
        .map(|(k, _)| k.as_str())
        .chain(delete.iter().map(String::as_str))
        .filter(|k| !scram(k))
        .collect();
    if others.iter().any(|k| quota_configs::QUOTA_KEYS.contains(k)) {
        bail!(
            "Cannot alter both quota and SCRAM credential configs simultaneously for 'users' \
             using --bootstrap-server."
        );
    }
    if !others.is_empty() {
        bail!(
            "Only quota and SCRAM credential configs can be added for 'users' using \
             --bootstrap-server. Unexpected config names: {}",
            others.join(", ")
        );
    }
    match &user.name {
        QuotaMatch::Exact(name) => configs_users::alter(admin, name, &add, &delete, out).await,
        QuotaMatch::Default => bail!(
            "The use of --entity-default or --user-defaults is not allowed with User SCRAM \
             Credentials using --bootstrap-server."
        ),
        QuotaMatch::Any => bail!("--alter needs --entity-name"),
    }
}

pub async fn run(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let matches = command().try_get_matches_from(args)?;
    let a = <Args as clap::FromArgMatches>::from_arg_matches(&matches)?;
    if let Some(entities) = quota_entities(&matches, &a)? {
        let admin = Admin::connect(super::common::command_client(
            &a.bootstrap_server,
            a.command_config.as_ref(),
        )?)
        .await?;
        if a.describe {
            quota_configs::describe(&admin, &entities, out).await?;
            if let Some(user) = scram_described_user(&entities) {
                configs_users::describe(&admin, user, out).await?;
            }
        } else if a.alter {
            alter_entities(&admin, &entities, &a, out).await?;
        } else {
            bail!("one of --describe, --alter is required");
        }
        return Ok(0);
    }
    if a.entity_type.len() > 1 {
        bail!("only users and clients may be combined in one --entity-type list");
    }
    let entity_type = a
        .entity_type
        .first()
        .ok_or_else(|| anyhow!("--entity-type is required (topics, brokers, users, clients)"))?;
    let entity_name = a.entity_name.first().cloned();
    let (kind, name, label) = match entity_type.as_str() {
        "topics" | "topic" => (
            ResourceType::Topic,
            entity_name.or(a.topic.clone()),
            "topic",
        ),
        "brokers" | "broker" => (
            ResourceType::Broker,
            if a.entity_default {
                Some(String::new())
            } else {
                entity_name.or(a.broker.clone())
            },
            "broker",
        ),
        other => bail!("unsupported --entity-type {other:?} (topics, brokers, users, clients)"),
    };
    let admin = Admin::connect(super::common::command_client(
        &a.bootstrap_server,
        a.command_config.as_ref(),
    )?)
    .await?;
    if a.describe {
        describe(&admin, kind, name, label, a.all, out).await?;
    } else if a.alter {
        alter(&admin, kind, name, label, &a, out).await?;
    } else {
        bail!("one of --describe, --alter is required");
    }
    Ok(0)
}

/// `--describe` of topic or broker configs: all of them with `--all`, else the
/// dynamic ones.
async fn describe(
    admin: &Admin,
    kind: ResourceType,
    name: Option<String>,
    label: &str,
    all: bool,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let names: Vec<String> = match (&name, kind) {
        (Some(n), _) => vec![n.clone()],
        (None, ResourceType::Topic) => admin.list_topics(false).await?,
        (None, ResourceType::Broker) => admin
            .describe_cluster()
            .await?
            .brokers
            .iter()
            .map(|b| b.id.to_string())
            .collect(),
    };
    for n in names {
        let entries = admin.describe_configs(kind, &n).await?;
        let (title, show): (String, Vec<_>) = if all {
            (format!("All configs for {label} {n} are:"), entries)
        } else {
            let dynamic: Vec<_> = entries
                .into_iter()
                .filter(|e| {
                    matches!(e.source, 1..=3)
                        || (!e.is_default
                            && e.source != 4
                            && e.source != 5
                            && e.source != 6
                            && kind == ResourceType::Topic)
                })
                .collect();
            let title = if kind == ResourceType::Broker && n.is_empty() {
                "Default configs for brokers in the cluster are:".to_string()
            } else {
                format!("Dynamic configs for {label} {n} are:")
            };
            (title, dynamic)
        };
        writeln!(out, "{title}")?;
        for e in show {
            let v = if e.sensitive {
                "null".to_string()
            } else {
                e.value.clone().unwrap_or_else(|| "null".into())
            };
            writeln!(
                out,
                "  {}={} sensitive={} synonyms={{{}}}",
                e.name,
                v,
                e.sensitive,
                synonyms_text(&e.synonyms)
            )?;
        }
    }
    Ok(())
}

/// `--alter` of a topic's or broker's configs with `--add-config` and
/// `--delete-config`.
async fn alter(
    admin: &Admin,
    kind: ResourceType,
    name: Option<String>,
    label: &str,
    a: &Args,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let Some(n) = name else {
        bail!("--alter needs --entity-name")
    };
    let mut ops = Vec::new();
    if let Some(add) = &a.add_config {
        for (k, v) in split_configs(add)? {
            ops.push(AlterOp::Set(k, v));
        }
    }
    if let Some(del) = &a.delete_config {
        for k in del.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            ops.push(AlterOp::Delete(k.to_string()));
        }
    }
    if ops.is_empty() {
        bail!("--alter needs --add-config or --delete-config");
    }
    admin.alter_configs(kind, &n, &ops).await?;
    if kind == ResourceType::Broker && n.is_empty() {
        writeln!(
            out,
            "Completed updating default config for brokers in the cluster."
        )?;
    } else {
        writeln!(out, "Completed updating config for {label} {n}.")?;
    }
    Ok(())
}

/// Synonyms as kafka-configs prints them: `SOURCE:name=value, ...`.
fn synonyms_text(synonyms: &[(String, Option<String>, i8)]) -> String {
    let source = |s: i8| match s {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        8 => "DYNAMIC_CLIENT_METRICS_CONFIG",
        9 => "DYNAMIC_GROUP_CONFIG",
        _ => "UNKNOWN",
    };
    synonyms
        .iter()
        .map(|(n, v, s)| format!("{}:{}={}", source(*s), n, v.as_deref().unwrap_or("null")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn synonyms_print_like_kafka_configs() {
        let s = vec![
            ("log.retention.ms".to_string(), Some("7000".to_string()), 3),
            (
                "log.retention.hours".to_string(),
                Some("168".to_string()),
                5,
            ),
            ("ssl.key.password".to_string(), None, 4),
        ];
        assert_eq!(
            super::synonyms_text(&s),
            "DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=7000, \
             DEFAULT_CONFIG:log.retention.hours=168, STATIC_BROKER_CONFIG:ssl.key.password=null"
        );
    }

    #[test]
    fn config_lists_split_at_top_level_commas() {
        let v = super::split_configs("a=1,b=[x,y],c=z").unwrap();
        assert_eq!(
            v,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x,y".into()),
                ("c".into(), "z".into())
            ]
        );
    }
}
