//! `metadata-quorum`, like `kafka-metadata-quorum.sh`: `describe --status` prints the quorum's
//! leader, epoch, high watermark, follower lag and members; `describe --replication` prints one
//! row per replica of the metadata log (DirectoryId is left out: Vltava's voters have none).

use std::io::Write;

use clap::{Args, Parser, Subcommand};

use crate::admin::{Admin, QuorumDescription, QuorumReplica};

#[derive(Debug, Parser)]
#[command(
    name = "metadata-quorum",
    about = "Describe the metadata quorum and its replicas"
)]
struct QuorumArgs {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Properties file of connection settings (bootstrap.servers, client.id, *.ms timeouts, security.protocol, ssl.*, sasl.*); others ignored.
    #[arg(long)]
    command_config: Option<String>,
    #[command(subcommand)]
    command: QuorumCommand,
}

#[derive(Debug, Subcommand)]
enum QuorumCommand {
    /// Describe the metadata quorum.
    Describe(DescribeArgs),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
struct DescribeArgs {
    /// Leader, epoch, high watermark, follower lag and members.
    #[arg(long)]
    status: bool,
    /// One row per replica of the metadata log.
    #[arg(long)]
    replication: bool,
    /// With --replication: timestamps as "N ms ago".
    #[arg(long, requires = "replication")]
    human_readable: bool,
}

/// The clap command of `metadata-quorum`, for its help.
pub(super) fn command() -> clap::Command {
    <QuorumArgs as clap::CommandFactory>::command()
}

/// Runs `metadata-quorum`.
pub async fn run(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = QuorumArgs::try_parse_from(args)?;
    let QuorumCommand::Describe(d) = a.command;
    let admin = Admin::connect(super::common::command_client(
        &a.bootstrap_server,
        a.command_config.as_ref(),
    )?)
    .await?;
    let quorum = admin.describe_quorum().await?;
    if d.status {
        let cluster_id = admin.describe_cluster().await?.cluster_id;
        write_status(out, cluster_id.as_deref().unwrap_or(""), &quorum)?;
    } else {
        write_replication(out, &quorum, d.human_readable.then(now_ms))?;
    }
    Ok(0)
}

use vltava_records::clock::now_ms;

/// (lag in records, lag in ms) of the voter furthest behind, as Kafka's tool computes them.
fn max_follower_lag(q: &QuorumDescription) -> (i64, i64) {
    let Some(slowest) = q.voters.iter().min_by_key(|v| v.log_end_offset) else {
        return (0, 0);
    };
    let lag = q.high_watermark - slowest.log_end_offset;
    let leader = q.voters.iter().find(|v| v.node_id == q.leader_id);
    let lag_ms = match leader {
        Some(l) if l.node_id == slowest.node_id => 0,
        Some(l) if l.last_caught_up_timestamp >= 0 && slowest.last_caught_up_timestamp >= 0 => {
            l.last_caught_up_timestamp - slowest.last_caught_up_timestamp
        }
        _ => -1,
    };
    (lag, lag_ms)
}

fn members(q: &QuorumDescription, replicas: &[QuorumReplica]) -> String {
    let items: Vec<String> = replicas
        .iter()
        .map(
            |r| match q.endpoints.iter().find(|(id, _)| *id == r.node_id) {
                Some((_, eps)) => {
                    let eps: Vec<String> = eps.iter().map(|e| format!("\"{e}\"")).collect();
                    format!(
                        "{{\"id\": {}, \"endpoints\": [{}]}}",
                        r.node_id,
                        eps.join(", ")
                    )
                }
                None if q.endpoints.is_empty() => r.node_id.to_string(),
                None => format!("{{\"id\": {}}}", r.node_id),
            },
        )
        .collect();
    let sep = if q.endpoints.is_empty() { "," } else { ", " };
    format!("[{}]", items.join(sep))
}

fn write_status(
    out: &mut dyn Write,
    cluster_id: &str,
    q: &QuorumDescription,
) -> std::io::Result<()> {
    let (lag, lag_ms) = max_follower_lag(q);
    writeln!(out, "ClusterId:              {cluster_id}")?;
    writeln!(out, "LeaderId:               {}", q.leader_id)?;
    writeln!(out, "LeaderEpoch:            {}", q.leader_epoch)?;
    writeln!(out, "HighWatermark:          {}", q.high_watermark)?;
    writeln!(out, "MaxFollowerLag:         {lag}")?;
    writeln!(out, "MaxFollowerLagTimeMs:   {lag_ms}")?;
    writeln!(out, "CurrentVoters:          {}", members(q, &q.voters))?;
    writeln!(out, "CurrentObservers:       {}", members(q, &q.observers))
}

fn write_replication(
    out: &mut dyn Write,
    q: &QuorumDescription,
    now: Option<i64>,
) -> std::io::Result<()> {
    let time = |t: i64| match now {
        _ if t < 0 => "-1".to_string(),
        Some(now) => format!("{} ms ago", (now - t).max(0)),
        None => t.to_string(),
    };
    writeln!(
        out,
        "{:<8}{:<14}{:<8}{:<22}{:<24}Status",
        "NodeId", "LogEndOffset", "Lag", "LastFetchTimestamp", "LastCaughtUpTimestamp"
    )?;
    let leader = q.voters.iter().filter(|v| v.node_id == q.leader_id);
    let followers = q.voters.iter().filter(|v| v.node_id != q.leader_id);
    let rows = leader
        .map(|r| (r, "Leader"))
        .chain(followers.map(|r| (r, "Follower")))
        .chain(q.observers.iter().map(|r| (r, "Observer")));
    for (r, status) in rows {
        writeln!(
            out,
            "{:<8}{:<14}{:<8}{:<22}{:<24}{status}",
            r.node_id,
            r.log_end_offset,
            q.high_watermark - r.log_end_offset,
            time(r.last_fetch_timestamp),
            time(r.last_caught_up_timestamp),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(node_id: i32, leo: i64, caught_up: i64) -> QuorumReplica {
        QuorumReplica {
            node_id,
            log_end_offset: leo,
            last_fetch_timestamp: caught_up,
            last_caught_up_timestamp: caught_up,
        }
    }

    fn three_voters() -> QuorumDescription {
        QuorumDescription {
            leader_id: 2,
            leader_epoch: 4,
            high_watermark: 100,
            voters: vec![
                replica(1, 90, 1_000),
                replica(2, 100, 1_500),
                replica(3, 100, 1_500),
            ],
            observers: vec![replica(7, 80, -1)],
            endpoints: vec![(1, vec!["CONTROLLER://h1:9093".into()])],
        }
    }

    #[test]
    fn follower_lag_is_measured_against_the_leader() {
        assert_eq!(max_follower_lag(&three_voters()), (10, 500));
        let mut only_leader = three_voters();
        only_leader.voters.retain(|v| v.node_id == 2);
        assert_eq!(max_follower_lag(&only_leader), (0, 0));
    }

    #[test]
    fn status_lists_members_with_endpoints_when_known() {
        let mut out = Vec::new();
        write_status(&mut out, "cid", &three_voters()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("LeaderId:               2\n"), "{text}");
        assert!(text.contains("MaxFollowerLag:         10\n"), "{text}");
        assert!(
            text.contains(
                "CurrentVoters:          [{\"id\": 1, \"endpoints\": [\"CONTROLLER://h1:9093\"]}, {\"id\": 2}, {\"id\": 3}]"
            ),
            "{text}"
        );
        let mut no_endpoints = three_voters();
        no_endpoints.endpoints.clear();
        let mut out = Vec::new();
        write_status(&mut out, "cid", &no_endpoints).unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("CurrentVoters:          [1,2,3]\n")
        );
    }

    #[test]
    fn replication_rows_put_the_leader_first() {
        let mut out = Vec::new();
        write_replication(&mut out, &three_voters(), Some(2_000)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let statuses: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().last().unwrap())
            .collect();
        assert_eq!(statuses, ["Leader", "Follower", "Follower", "Observer"]);
        let first: Vec<&str> = text.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(
            first,
            [
                "2", "100", "0", "500", "ms", "ago", "500", "ms", "ago", "Leader"
            ]
        );
        assert!(text.lines().nth(4).unwrap().contains("-1"));
    }
}
