//! `configs`: kafka-configs --describe / --alter for topics and brokers, and SCRAM
//! credentials of users (`configs_users`).

use super::configs_users;
use crate::admin::{Admin, AlterOp, ResourceType};
use crate::config::ClientConfig;
use anyhow::{anyhow, bail};
use clap::Parser;
use std::io::Write;

#[derive(Debug, Parser)]
#[command(
    name = "configs",
    about = "Describe and alter topic and broker configs and users' SCRAM credentials"
)]
struct Args {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Print the entity's configs (every topic or broker without --entity-name).
    #[arg(long)]
    describe: bool,
    /// Change the entity's configs with --add-config and --delete-config.
    #[arg(long)]
    alter: bool,
    /// Kind of entity: topics, brokers or users (SCRAM credentials).
    #[arg(long)]
    entity_type: String,
    /// Name of the entity: a topic name, a broker id or a user name.
    #[arg(long)]
    entity_name: Option<String>,
    /// With --entity-type brokers: the cluster-wide default broker config instead of one broker.
    #[arg(long)]
    entity_default: bool,
    /// With --alter: configs to set, k1=v1,k2=[v2,v3] (brackets hold a list value); for
    /// users, SCRAM credentials: 'SCRAM-SHA-256=[iterations=8192,password=alice-secret],SCRAM-SHA-512=[password=alice-secret]'
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
    /// User name when --entity-name is absent (--entity-type users is still needed).
    #[arg(long)]
    user: Option<String>,
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

/// `(name, value)` pairs of `--add-config`.
type ConfigPairs = Vec<(String, String)>;

/// The user config parts of `a`: names to delete, then `(name, value)` pairs to add.
fn user_configs(a: &Args) -> anyhow::Result<(Vec<String>, ConfigPairs)> {
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

/// `configs --entity-type users`.
async fn run_users(a: &Args, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let name = a.entity_name.clone().or(a.user.clone());
    let admin = Admin::connect(ClientConfig::new(&a.bootstrap_server)).await?;
    if a.describe {
        configs_users::describe(&admin, name.as_deref(), out).await?;
    } else if a.alter {
        let Some(user) = name else {
            bail!("--alter needs --entity-name")
        };
        let (delete, add) = user_configs(a)?;
        configs_users::alter(&admin, &user, &add, &delete, out).await?;
    } else {
        bail!("one of --describe, --alter is required");
    }
    Ok(0)
}

pub async fn run(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = Args::try_parse_from(args)?;
    if matches!(a.entity_type.as_str(), "users" | "user") {
        return run_users(&a, out).await;
    }
    let (kind, name, label) = match a.entity_type.as_str() {
        "topics" | "topic" => (
            ResourceType::Topic,
            a.entity_name.clone().or(a.topic.clone()),
            "topic",
        ),
        "brokers" | "broker" => (
            ResourceType::Broker,
            if a.entity_default {
                Some(String::new())
            } else {
                a.entity_name.clone().or(a.broker.clone())
            },
            "broker",
        ),
        other => bail!("unsupported --entity-type {other:?} (topics, brokers, users)"),
    };
    let admin = Admin::connect(ClientConfig::new(&a.bootstrap_server)).await?;
    if a.describe {
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
            let (title, show): (String, Vec<_>) = if a.all {
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
                (format!("Dynamic configs for {label} {n} are:"), dynamic)
            };
            writeln!(out, "{title}")?;
            for e in show {
                let v = if e.sensitive {
                    "null".to_string()
                } else {
                    e.value.unwrap_or_else(|| "null".into())
                };
                writeln!(out, "  {}={} sensitive={}", e.name, v, e.sensitive)?;
            }
        }
    } else if a.alter {
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
        writeln!(out, "Completed updating config for {label} {n}.")?;
    } else {
        bail!("one of --describe, --alter is required");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
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
