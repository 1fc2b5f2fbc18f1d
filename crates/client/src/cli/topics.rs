//! `topics`: kafka-topics (--create/--list/--describe/--alter/--delete).

use super::common::kv;
use crate::admin::{Admin, NewTopic, ResourceType};
use crate::config::ClientConfig;
use anyhow::bail;
use clap::Parser;
use std::io::Write;

#[derive(Debug, Parser)]
#[command(
    name = "topics",
    about = "Create, delete, describe, alter and list topics"
)]
struct Args {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Create the topic named by --topic.
    #[arg(long)]
    create: bool,
    /// Print the names of the topics (those matching --topic if given).
    #[arg(long)]
    list: bool,
    /// Print partitions, leaders, replicas, ISR and non-default configs (every topic without --topic).
    #[arg(long)]
    describe: bool,
    /// Raise the partition count of the --topic topics to --partitions.
    #[arg(long)]
    alter: bool,
    /// Delete the topics matching --topic (required, as in Kafka's tool).
    #[arg(long)]
    delete: bool,
    /// Topic name; a trailing * (or .*) matches every topic with that prefix.
    #[arg(long)]
    topic: Option<String>,
    /// With --create: partition count (default: the broker's); with --alter: the new, larger count.
    #[arg(long)]
    partitions: Option<i32>,
    /// With --create: replicas per partition (default: the broker's default.replication.factor).
    #[arg(long)]
    replication_factor: Option<i16>,
    /// With --create: a topic config override as key=value; repeatable.
    #[arg(long)]
    config: Vec<String>,
    /// With --list and --describe: leave out internal topics such as __consumer_offsets.
    #[arg(long)]
    exclude_internal: bool,
    /// With --describe: only partitions whose ISR is smaller than their replica set.
    #[arg(long)]
    under_replicated_partitions: bool,
    /// With --describe: only partitions without a leader.
    #[arg(long)]
    unavailable_partitions: bool,
    /// With --describe: only partitions whose ISR is below the topic's min.insync.replicas.
    #[arg(long)]
    under_min_isr_partitions: bool,
    /// With --describe: only partitions whose ISR is exactly min.insync.replicas.
    #[arg(long)]
    at_min_isr_partitions: bool,
    /// With --create: no error when the topic already exists.
    #[arg(long)]
    if_not_exists: bool,
    /// With --describe, --alter and --delete: no error when no topic matches --topic.
    #[arg(long)]
    if_exists: bool,
    /// Properties file of connection settings (bootstrap.servers, client.id, *.ms timeouts, security.protocol, ssl.*, sasl.*); others ignored.
    #[arg(long)]
    command_config: Option<String>,
}

/// The clap command of `topics`, for its help.
pub(super) fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

fn client(a: &Args) -> anyhow::Result<ClientConfig> {
    let mut c = ClientConfig::new(&a.bootstrap_server);
    super::common::apply_command_config(&mut c, a.command_config.as_ref())?;
    Ok(c)
}

/// One partition row as kafka-topics prints it (offline replicas only when there are any).
fn write_partition(
    out: &mut (dyn Write + Send),
    topic: &str,
    p: &crate::cluster::PartitionInfo,
) -> std::io::Result<()> {
    let list = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    let leader = if p.leader < 0 {
        "none".to_string()
    } else {
        p.leader.to_string()
    };
    write!(
        out,
        "\tTopic: {topic}\tPartition: {}\tLeader: {leader}\tReplicas: {}\tIsr: {}",
        p.partition,
        list(&p.replicas),
        list(&p.isr)
    )?;
    if !p.offline.is_empty() {
        write!(out, "\tOffline: {}", list(&p.offline))?;
    }
    writeln!(out)
}

/// The topics `--topic` names: a name, or a regular-expression-free `*` wildcard.
fn matching(all: &[String], pattern: Option<&str>) -> Vec<String> {
    match pattern {
        None => all.to_vec(),
        Some(p) if p.contains('*') || p == ".*" => {
            let prefix = p.trim_end_matches(".*").trim_end_matches('*');
            all.iter()
                .filter(|t| t.starts_with(prefix))
                .cloned()
                .collect()
        }
        Some(p) => all.iter().filter(|t| t.as_str() == p).cloned().collect(),
    }
}

/// `--create`: one topic, with its partitions, replication factor and configs (or
/// the broker's defaults).
async fn create(admin: &Admin, a: &Args, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let Some(topic) = a.topic.clone() else {
        bail!("--create needs --topic")
    };
    let mut t = NewTopic::new(
        &topic,
        a.partitions.unwrap_or(-1),
        a.replication_factor.unwrap_or(-1),
    );
    for c in &a.config {
        t.configs.push(kv(c)?);
    }
    match admin.create_topic(t).await {
        Ok(()) => writeln!(out, "Created topic {topic}.")?,
        Err(e) if a.if_not_exists && e.code() == Some(36) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(0)
}

/// `--describe`: each topic and its partitions as kafka-topics prints them, or only the
/// partitions a filter (`--under-replicated-partitions`, ...) picks.
async fn describe(
    admin: &Admin,
    a: &Args,
    names: &[String],
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let filtered = a.under_replicated_partitions
        || a.unavailable_partitions
        || a.under_min_isr_partitions
        || a.at_min_isr_partitions;
    for t in admin.describe_topics(names).await? {
        if a.exclude_internal && t.internal {
            continue;
        }
        let rf = t.partitions.first().map_or(0, |p| p.replicas.len());
        let described = admin.describe_configs(ResourceType::Topic, &t.name).await;
        let min_isr = described
            .as_ref()
            .ok()
            .and_then(|cs| cs.iter().find(|c| c.name == "min.insync.replicas"))
            .and_then(|c| c.value.as_deref())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(1);
        let configs = described
            .map(|cs| {
                cs.into_iter()
                    .filter(|c| !c.is_default && c.source != 5 && c.source != 4)
                    .filter_map(|c| c.value.map(|v| format!("{}={v}", c.name)))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        // As kafka-topics: with a partition filter only the matching partitions print.
        let wanted = |p: &crate::cluster::PartitionInfo| {
            (a.under_replicated_partitions && p.isr.len() < p.replicas.len())
                || (a.unavailable_partitions && p.leader < 0)
                || (a.under_min_isr_partitions && p.isr.len() < min_isr)
                || (a.at_min_isr_partitions && p.isr.len() == min_isr)
        };
        if filtered {
            for p in t.partitions.iter().filter(|p| wanted(p)) {
                write_partition(out, &t.name, p)?;
            }
            continue;
        }
        writeln!(
            out,
            "Topic: {}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
            t.name,
            t.id,
            t.partitions.len(),
            rf,
            configs
        )?;
        for p in &t.partitions {
            write_partition(out, &t.name, p)?;
        }
    }
    Ok(())
}

pub async fn run(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = Args::try_parse_from(args)?;
    let actions = [a.create, a.list, a.describe, a.alter, a.delete]
        .iter()
        .filter(|x| **x)
        .count();
    if actions != 1 {
        bail!("exactly one of --create, --list, --describe, --alter, --delete is required");
    }
    if (a.delete || a.alter) && a.topic.is_none() {
        // Kafka's tool refuses these without --topic; deleting every topic by omission
        // would be a trap.
        bail!("--delete and --alter need --topic");
    }
    let admin = Admin::connect(client(&a)?).await?;
    if a.create {
        return create(&admin, &a, out).await;
    }
    let all = admin.list_topics(!a.exclude_internal).await?;
    let names = matching(&all, a.topic.as_deref());
    if a.topic.is_some() && names.is_empty() && !a.list && !a.if_exists {
        bail!(
            "Topic '{}' does not exist as expected",
            a.topic.as_deref().unwrap_or_default()
        );
    }
    if a.list {
        for n in names {
            writeln!(out, "{n}")?;
        }
    } else if a.describe {
        describe(&admin, &a, &names, out).await?;
    } else if a.alter {
        let Some(n) = a.partitions else {
            bail!("--alter needs --partitions")
        };
        for t in &names {
            admin.create_partitions(t, n).await?;
        }
    } else if a.delete {
        for (name, r) in admin.delete_topics(&names).await? {
            if let Err(e) = r {
                bail!("deleting {name}: {e}");
            }
        }
    }
    Ok(0)
}
