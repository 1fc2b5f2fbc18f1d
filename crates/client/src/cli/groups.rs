//! `consumer-groups`: --list, --describe, --delete, --reset-offsets.

use crate::admin::{Admin, EARLIEST, GroupDescription, LATEST};
use crate::config::ClientConfig;
use anyhow::{anyhow, bail};
use clap::Parser;
use std::collections::BTreeMap;
use std::io::Write;

#[derive(Debug, Parser)]
#[command(
    name = "consumer-groups",
    about = "List, describe and delete groups; reset their offsets"
)]
struct Args {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Print the id of every group.
    #[arg(long)]
    list: bool,
    /// Print each partition's committed offset, log-end offset, lag and owning member.
    #[arg(long)]
    describe: bool,
    /// Delete the groups with their committed offsets.
    #[arg(long)]
    delete: bool,
    /// Compute new committed offsets for the groups; they are applied only with --execute.
    #[arg(long)]
    reset_offsets: bool,
    /// Group id to act on; repeatable.
    #[arg(long)]
    group: Vec<String>,
    /// Act on every group instead of the --group ones.
    #[arg(long)]
    all_groups: bool,
    /// With --reset-offsets: a topic, or topic:0,1,2 for some of its partitions; repeatable.
    #[arg(long)]
    topic: Vec<String>,
    /// With --reset-offsets: every partition the group has a committed offset for.
    #[arg(long)]
    all_topics: bool,
    /// With --reset-offsets: to each partition's earliest offset.
    #[arg(long)]
    to_earliest: bool,
    /// With --reset-offsets: to each partition's log-end offset.
    #[arg(long)]
    to_latest: bool,
    /// With --reset-offsets: to the committed offset (the log end where there is none).
    #[arg(long)]
    to_current: bool,
    /// With --reset-offsets: to this offset, clamped to each partition's range.
    #[arg(long)]
    to_offset: Option<i64>,
    /// With --reset-offsets: to the first offset at or after this UTC time, YYYY-MM-DDTHH:mm:SS.sss.
    #[arg(long)]
    to_datetime: Option<String>,
    /// With --reset-offsets: move the committed offset by N (negative: back), clamped to the range.
    #[arg(long, allow_hyphen_values = true)]
    shift_by: Option<i64>,
    /// With --reset-offsets: only print the new offsets (the default, without the warning).
    #[arg(long)]
    dry_run: bool,
    /// With --reset-offsets: commit the new offsets; the group must have no active members.
    #[arg(long)]
    execute: bool,
    /// With --describe: print the members, each with its host, client id and partition count.
    #[arg(long)]
    members: bool,
    /// With --describe: print the group's state, assignment strategy and member count.
    #[arg(long)]
    state: bool,
    /// Properties file of connection settings (bootstrap.servers, client.id, *.ms timeouts, security.protocol, ssl.*, sasl.*); others ignored.
    #[arg(long)]
    command_config: Option<String>,
}

/// The clap command of `consumer-groups`, for its help.
pub(super) fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

pub async fn run(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = Args::try_parse_from(args)?;
    let mut cfg = ClientConfig::new(&a.bootstrap_server);
    super::common::apply_command_config(&mut cfg, a.command_config.as_ref())?;
    let admin = Admin::connect(cfg).await?;
    let groups = if a.all_groups {
        admin
            .list_groups()
            .await?
            .into_iter()
            .map(|g| g.group_id)
            .collect()
    } else {
        a.group.clone()
    };
    if a.list {
        for g in admin.list_groups().await? {
            writeln!(out, "{}", g.group_id)?;
        }
    } else if a.describe {
        for g in &groups {
            describe(&admin, g, &a, out).await?;
        }
    } else if a.delete {
        for g in &groups {
            admin.delete_group(g).await?;
            writeln!(
                out,
                "Deletion of requested consumer groups ('{g}') was successful."
            )?;
        }
    } else if a.reset_offsets {
        for g in &groups {
            reset(&admin, g, &a, out).await?;
        }
    } else {
        bail!("one of --list, --describe, --delete, --reset-offsets is required");
    }
    Ok(0)
}

async fn describe(
    admin: &Admin,
    group: &str,
    a: &Args,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let desc = admin.describe_group(group).await?;
    if a.state {
        return print_state(out, group, &desc);
    }
    if a.members {
        return print_members(out, group, &desc);
    }
    let committed = admin.list_group_offsets(group, None).await?;
    let mut owner: BTreeMap<(String, i32), (&str, &str, &str)> = BTreeMap::new();
    for m in &desc.members {
        for tp in &m.assignment {
            owner.insert(tp.clone(), (&m.member_id, &m.host, &m.client_id));
        }
    }
    let mut parts: Vec<(String, i32)> = committed.keys().cloned().collect();
    parts.extend(owner.keys().cloned());
    parts.sort();
    parts.dedup();
    let ends = if parts.is_empty() {
        BTreeMap::new()
    } else {
        admin.list_offsets(&parts, LATEST).await?
    };
    if desc.members.is_empty() && desc.state != "Dead" {
        writeln!(out, "\nConsumer group '{group}' has no active members.")?;
    }
    writeln!(
        out,
        "\n{:<20} {:<20} {:<10} {:<15} {:<15} {:<8} {:<45} {:<16} CLIENT-ID",
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST"
    )?;
    for tp in &parts {
        let cur = committed.get(tp);
        let end = ends.get(tp);
        let lag = match (cur, end) {
            (Some(c), Some(e)) => (e - c).max(0).to_string(),
            _ => "-".into(),
        };
        let (mid, host, cid) = owner.get(tp).copied().unwrap_or(("-", "-", "-"));
        writeln!(
            out,
            "{:<20} {:<20} {:<10} {:<15} {:<15} {:<8} {:<45} {:<16} {}",
            group,
            tp.0,
            tp.1,
            cur.map_or("-".into(), |c| c.to_string()),
            end.map_or("-".into(), |e| e.to_string()),
            lag,
            mid,
            host,
            cid
        )?;
    }
    Ok(())
}

/// `--state`: one line for the group.
fn print_state(
    out: &mut (dyn Write + Send),
    group: &str,
    desc: &GroupDescription,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "\n{:<20} {:<12} {:<25} {:<10}",
        "GROUP", "STATE", "ASSIGNMENT-STRATEGY", "#MEMBERS"
    )?;
    writeln!(
        out,
        "{:<20} {:<12} {:<25} {:<10}",
        group,
        desc.state,
        desc.protocol,
        desc.members.len()
    )?;
    Ok(())
}

/// `--members`: one line per member.
fn print_members(
    out: &mut (dyn Write + Send),
    group: &str,
    desc: &GroupDescription,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "\n{:<20} {:<45} {:<16} {:<20} {:<12}",
        "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"
    )?;
    for m in &desc.members {
        writeln!(
            out,
            "{:<20} {:<45} {:<16} {:<20} {:<12}",
            group,
            m.member_id,
            m.host,
            m.client_id,
            m.assignment.len()
        )?;
    }
    Ok(())
}

/// Parses `YYYY-MM-DDTHH:mm:SS[.sss]` (UTC) into epoch milliseconds.
pub fn parse_datetime(s: &str) -> anyhow::Result<i64> {
    let bad = || anyhow!("bad --to-datetime {s:?}: expected YYYY-MM-DDTHH:mm:SS.sss");
    let s = s.trim_end_matches('Z');
    let (date, time) = s.split_once('T').ok_or_else(bad)?;
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<anyhow::Result<_>>()?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse().map_err(|_| bad()))
        .collect::<anyhow::Result<_>>()?;
    if d.len() != 3 || t.len() != 3 {
        return Err(bad());
    }
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let millis: i64 = format!("{frac:0<3}")[..3].parse().map_err(|_| bad())?;
    // Days from civil date (proleptic Gregorian), Howard Hinnant's algorithm.
    let (y, m, day) = (d[0] - i64::from(d[1] <= 2), d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 24 + t[0]) * 60 + t[1]) * 60_000 + t[2] * 1000 + millis)
}

async fn reset(
    admin: &Admin,
    group: &str,
    a: &Args,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let committed = admin.list_group_offsets(group, None).await?;
    let parts = reset_partitions(admin, a, &committed).await?;
    let earliest = admin.list_offsets(&parts, EARLIEST).await?;
    let latest = admin.list_offsets(&parts, LATEST).await?;
    let clamp = |tp: &(String, i32), o: i64| {
        let lo = earliest.get(tp).copied().unwrap_or(0);
        let hi = latest.get(tp).copied().unwrap_or(i64::MAX);
        o.clamp(lo, hi.max(lo))
    };
    let mut target = BTreeMap::new();
    if let Some(dt) = &a.to_datetime {
        let ts = parse_datetime(dt)?;
        let at = admin.list_offsets(&parts, ts).await?;
        for tp in &parts {
            let o = at
                .get(tp)
                .copied()
                .filter(|o| *o >= 0)
                .unwrap_or_else(|| latest.get(tp).copied().unwrap_or(0));
            target.insert(tp.clone(), o);
        }
    } else {
        for tp in &parts {
            let o = if a.to_earliest {
                earliest.get(tp).copied().unwrap_or(0)
            } else if a.to_latest {
                latest.get(tp).copied().unwrap_or(0)
            } else if let Some(o) = a.to_offset {
                clamp(tp, o)
            } else if let Some(s) = a.shift_by {
                let cur = committed
                    .get(tp)
                    .copied()
                    .unwrap_or_else(|| latest.get(tp).copied().unwrap_or(0));
                clamp(tp, cur + s)
            } else if a.to_current {
                committed
                    .get(tp)
                    .copied()
                    .unwrap_or_else(|| latest.get(tp).copied().unwrap_or(0))
            } else {
                bail!(
                    "one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by, --to-current is required"
                );
            };
            target.insert(tp.clone(), o);
        }
    }
    if a.execute {
        let desc = admin.describe_group(group).await?;
        if !desc.members.is_empty() {
            bail!(
                "Assignments can only be reset if the group '{group}' is inactive, but the current state is {}.",
                desc.state
            );
        }
        admin.alter_group_offsets(group, &target).await?;
    } else if !a.dry_run {
        writeln!(
            out,
            "WARN: No action will be performed as the --execute option is missing. (--dry-run is the default)"
        )?;
    }
    writeln!(
        out,
        "\n{:<20} {:<20} {:<10} NEW-OFFSET",
        "GROUP", "TOPIC", "PARTITION"
    )?;
    for ((t, p), o) in &target {
        writeln!(out, "{:<20} {:<20} {:<10} {}", group, t, p, o)?;
    }
    Ok(())
}

/// The partitions `--reset-offsets` moves: every committed one for `--all-topics`, and
/// each `--topic` (`name`: all its partitions; `name:0,1`: those), sorted, each once.
async fn reset_partitions(
    admin: &Admin,
    a: &Args,
    committed: &BTreeMap<(String, i32), i64>,
) -> anyhow::Result<Vec<(String, i32)>> {
    let mut parts: Vec<(String, i32)> = Vec::new();
    if a.all_topics {
        parts.extend(committed.keys().cloned());
    }
    for t in &a.topic {
        match t.split_once(':') {
            Some((name, ps)) => {
                for p in ps.split(',') {
                    parts.push((name.to_string(), p.trim().parse()?));
                }
            }
            None => {
                let info = admin.describe_topics(std::slice::from_ref(t)).await?;
                for ti in info {
                    for p in ti.partitions {
                        parts.push((ti.name.clone(), p.partition));
                    }
                }
            }
        }
    }
    parts.sort();
    parts.dedup();
    if parts.is_empty() {
        bail!("--reset-offsets needs --topic or --all-topics");
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    #[test]
    fn datetime_parses_as_utc() {
        assert_eq!(super::parse_datetime("1970-01-01T00:00:00.000").unwrap(), 0);
        assert_eq!(
            super::parse_datetime("2023-11-14T22:13:20.5").unwrap(),
            1_700_000_000_500
        );
        assert!(super::parse_datetime("yesterday").is_err());
        assert!(super::parse_datetime("2020-01-01T00:00:00.é").is_err());
    }
}
