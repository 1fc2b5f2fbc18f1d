//! `delete-records`, `get-offsets` and `api-versions`.

use crate::admin::{Admin, EARLIEST, LATEST};
use anyhow::{Context, anyhow, bail};
use clap::Parser;
use std::io::Write;
use vltava_protocol::ApiKey;

#[derive(Debug, Parser)]
#[command(
    name = "delete-records",
    about = "Delete records before the given offsets"
)]
struct DeleteArgs {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Properties file of connection settings (bootstrap.servers, client.id, *.ms timeouts, security.protocol, ssl.*, sasl.*); others ignored.
    #[arg(long)]
    command_config: Option<String>,
    /// JSON file of partitions and the offset to delete before: {"partitions":[{"topic":"t","partition":0,"offset":10}]}.
    #[arg(long)]
    offset_json_file: String,
}

/// The clap command of `delete-records`, for its help.
pub(super) fn delete_records_command() -> clap::Command {
    <DeleteArgs as clap::CommandFactory>::command()
}

pub async fn delete_records(
    args: Vec<String>,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<i32> {
    let a = DeleteArgs::try_parse_from(args)?;
    let text = std::fs::read_to_string(&a.offset_json_file)
        .with_context(|| format!("reading {}", a.offset_json_file))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).context("parsing the offset JSON file")?;
    let parts = json
        .get("partitions")
        .and_then(|p| p.as_array())
        .ok_or_else(|| anyhow!("the offset JSON file needs a \"partitions\" array"))?;
    let mut req = Vec::new();
    for p in parts {
        let topic = p
            .get("topic")
            .and_then(|t| t.as_str())
            .ok_or_else(|| anyhow!("entry without topic: {p}"))?;
        let partition = p
            .get("partition")
            .and_then(|t| t.as_i64())
            .ok_or_else(|| anyhow!("entry without partition: {p}"))?;
        let offset = p
            .get("offset")
            .and_then(|t| t.as_i64())
            .ok_or_else(|| anyhow!("entry without offset: {p}"))?;
        req.push((topic.to_string(), partition as i32, offset));
    }
    let admin = Admin::connect(super::common::command_client(
        &a.bootstrap_server,
        a.command_config.as_ref(),
    )?)
    .await?;
    writeln!(out, "Executing records delete operation")?;
    let res = admin.delete_records(&req).await?;
    writeln!(out, "Records delete operation completed:")?;
    for ((t, p), low) in res {
        writeln!(out, "partition: {t}-{p}\tlow_watermark: {low}")?;
    }
    Ok(0)
}

#[derive(Debug, Parser)]
#[command(
    name = "get-offsets",
    about = "Print the offsets of partitions for a time"
)]
struct OffsetsArgs {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Properties file of connection settings (bootstrap.servers, client.id, *.ms timeouts, security.protocol, ssl.*, sasl.*); others ignored.
    #[arg(long)]
    command_config: Option<String>,
    /// Topic, an exact name (default: every topic).
    #[arg(long)]
    topic: Option<String>,
    /// Comma-separated partition ids (default: every partition).
    #[arg(long)]
    partitions: Option<String>,
    /// -1/latest (log end), -2/earliest, or a timestamp in ms: the first offset at or after it.
    #[arg(long, default_value = "-1", allow_hyphen_values = true)]
    time: String,
    /// Without --topic: leave out internal topics such as __consumer_offsets.
    #[arg(long)]
    exclude_internal_topics: bool,
}

/// The clap command of `get-offsets`, for its help.
pub(super) fn get_offsets_command() -> clap::Command {
    <OffsetsArgs as clap::CommandFactory>::command()
}

pub async fn get_offsets(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = OffsetsArgs::try_parse_from(args)?;
    let ts = match a.time.as_str() {
        "latest" | "-1" => LATEST,
        "earliest" | "-2" => EARLIEST,
        t => t.parse().map_err(|_| anyhow!("bad --time {t:?}"))?,
    };
    let admin = Admin::connect(super::common::command_client(
        &a.bootstrap_server,
        a.command_config.as_ref(),
    )?)
    .await?;
    let names = match &a.topic {
        Some(t) => vec![t.clone()],
        None => admin.list_topics(!a.exclude_internal_topics).await?,
    };
    let wanted: Option<Vec<i32>> = a
        .partitions
        .as_deref()
        .map(|s| {
            s.split(',')
                .map(|p| p.trim().parse())
                .collect::<Result<_, _>>()
        })
        .transpose()
        .map_err(|_| anyhow!("bad --partitions"))?;
    let mut parts = Vec::new();
    for t in admin.describe_topics(&names).await? {
        for p in &t.partitions {
            if wanted.as_ref().is_none_or(|w| w.contains(&p.partition)) {
                parts.push((t.name.clone(), p.partition));
            }
        }
    }
    if parts.is_empty() {
        bail!("no matching partitions");
    }
    for ((t, p), o) in admin.list_offsets(&parts, ts).await? {
        writeln!(
            out,
            "{t}:{p}:{}",
            if o < 0 { String::new() } else { o.to_string() }
        )?;
    }
    Ok(0)
}

#[derive(Debug, Parser)]
#[command(
    name = "api-versions",
    about = "Print the API versions each broker supports"
)]
struct VersionsArgs {
    /// Broker(s) to connect to, host:port[,host:port...]; every broker of the cluster is listed.
    #[arg(long)]
    bootstrap_server: String,
    /// Properties file of connection settings (bootstrap.servers, client.id, *.ms timeouts, security.protocol, ssl.*, sasl.*); others ignored.
    #[arg(long)]
    command_config: Option<String>,
}

/// The clap command of `api-versions`, for its help.
pub(super) fn api_versions_command() -> clap::Command {
    <VersionsArgs as clap::CommandFactory>::command()
}

pub async fn api_versions(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = VersionsArgs::try_parse_from(args)?;
    let admin = Admin::connect(super::common::command_client(
        &a.bootstrap_server,
        a.command_config.as_ref(),
    )?)
    .await?;
    for (b, ranges) in admin.api_versions().await? {
        writeln!(
            out,
            "{} (id: {} rack: {}) -> (",
            b.addr(),
            b.id,
            b.rack.as_deref().unwrap_or("null")
        )?;
        let n = ranges.len();
        for (i, (key, min, max)) in ranges.into_iter().enumerate() {
            let sep = if i + 1 == n { "" } else { "," };
            match ApiKey::from_i16(key) {
                Some(api) => {
                    let usable = crate::versions::client_max(api).min(max);
                    let usable = if usable < min || usable < crate::versions::client_min(api) {
                        "NONE".to_string()
                    } else {
                        usable.to_string()
                    };
                    writeln!(
                        out,
                        "\t{}({key}): {min} to {max} [usable: {usable}]{sep}",
                        api.name()
                    )?;
                }
                None => writeln!(out, "\tUNKNOWN({key}): {min} to {max}{sep}")?,
            }
        }
        writeln!(out, ")")?;
    }
    Ok(0)
}
