//! `reassign-partitions`, like `kafka-reassign-partitions.sh` (KIP-455): `--generate` proposes
//! a move of whole topics onto `--broker-list`, `--execute` starts the moves of a reassignment
//! JSON file, `--verify` says which are complete, `--cancel` reverts the ones in progress and
//! `--list` prints every reassignment in progress. Kafka's JSON formats; Kafka's output lines.
//! Not here: replication throttles (`--throttle`, `--replica-alter-log-dirs-throttle`; and
//! `--verify` clears none) and moves between log directories (`log_dirs` other than "any").

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::{Context, anyhow, bail};
use clap::{ArgGroup, Parser};
use serde_json::Value;

use crate::admin::Admin;

#[derive(Debug, Parser)]
#[command(
    name = "reassign-partitions",
    about = "Move partition replicas between brokers and change replication factors",
    after_help = "Replication throttles (--throttle) are not supported: reassignments copy at \
                  full speed, and --verify clears no throttles."
)]
#[command(group(ArgGroup::new("action").required(true)
    .args(["generate", "execute", "verify", "cancel", "list"])))]
struct Args {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Properties file of connection settings (bootstrap.servers, client.id, *.ms timeouts, security.protocol, ssl.*, sasl.*); others ignored.
    #[arg(long)]
    command_config: Option<String>,
    /// Propose a reassignment of the topics of --topics-to-move-json-file onto --broker-list.
    #[arg(long)]
    generate: bool,
    /// Start the reassignment of --reassignment-json-file.
    #[arg(long)]
    execute: bool,
    /// Print whether each reassignment of --reassignment-json-file is complete.
    #[arg(long)]
    verify: bool,
    /// Cancel the reassignments of --reassignment-json-file still in progress.
    #[arg(long)]
    cancel: bool,
    /// Print every partition reassignment in progress.
    #[arg(long)]
    list: bool,
    /// JSON: {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]}]}.
    #[arg(long)]
    reassignment_json_file: Option<String>,
    /// JSON: {"version":1,"topics":[{"topic":"t"}]}; with --generate.
    #[arg(long)]
    topics_to_move_json_file: Option<String>,
    /// Broker ids to place replicas on, e.g. "0,1,2"; with --generate.
    #[arg(long)]
    broker_list: Option<String>,
    /// With --execute: start it even while other reassignments are in progress.
    #[arg(long)]
    additional: bool,
    /// Accepted for compatibility; this tool has no rack-aware placement.
    #[arg(long)]
    disable_rack_aware: bool,
    /// Accepted for compatibility; no throttles are ever set or cleared.
    #[arg(long)]
    preserve_throttles: bool,
    /// Accepted for compatibility: how long to wait for the reassignment to start (ms).
    #[arg(long, default_value_t = 10000)]
    timeout: u64,
}

/// The clap command of `reassign-partitions`, for its help.
pub(super) fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

/// (topic, partition, replicas) from a reassignment JSON file.
type Plan = Vec<(String, i32, Vec<i32>)>;

fn read_json(path: &str) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {path}"))
}

fn int(v: &Value, what: &str) -> anyhow::Result<i32> {
    v.as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| anyhow!("{what} must be an integer, not {v}"))
}

/// Kafka's reassignment JSON: the partitions with their target replicas.
fn parse_plan(v: &Value) -> anyhow::Result<Plan> {
    let parts = v
        .get("partitions")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("the reassignment JSON has no \"partitions\" list"))?;
    let mut plan = Plan::new();
    for p in parts {
        let topic = p
            .get("topic")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("a partition without \"topic\": {p}"))?;
        let partition = int(p.get("partition").unwrap_or(&Value::Null), "partition")?;
        let replicas = p
            .get("replicas")
            .and_then(Value::as_array)
            .ok_or_else(|| anyhow!("{topic}-{partition} has no \"replicas\" list"))?
            .iter()
            .map(|r| int(r, "a replica"))
            .collect::<anyhow::Result<Vec<i32>>>()?;
        if let Some(dirs) = p.get("log_dirs").and_then(Value::as_array) {
            if dirs.iter().any(|d| d.as_str() != Some("any")) {
                bail!("{topic}-{partition}: log_dirs other than \"any\" are not supported");
            }
        }
        let distinct: BTreeSet<i32> = replicas.iter().copied().collect();
        if distinct.len() != replicas.len() {
            bail!("Partition replica lists may not contain duplicate entries: {topic}-{partition}");
        }
        plan.push((topic.to_string(), partition, replicas));
    }
    if plan.is_empty() {
        bail!("Partition reassignment list cannot be empty");
    }
    let mut seen = BTreeSet::new();
    let dups: Vec<String> = plan
        .iter()
        .filter(|(t, p, _)| !seen.insert((t.clone(), *p)))
        .map(|(t, p, _)| format!("{t}-{p}"))
        .collect();
    if !dups.is_empty() {
        bail!(
            "Reassignment JSON file contains duplicate partitions: {}",
            dups.join(",")
        );
    }
    Ok(plan)
}

/// A plan as Kafka's tools write it (its key order: version, partitions; topic, partition,
/// replicas, log_dirs).
fn plan_json(plan: &Plan) -> String {
    let partitions: Vec<String> = plan
        .iter()
        .map(|(t, p, r)| {
            let dirs = vec!["\"any\""; r.len()].join(",");
            format!(
                "{{\"topic\":{},\"partition\":{p},\"replicas\":[{}],\"log_dirs\":[{dirs}]}}",
                Value::from(t.as_str()),
                joined(r)
            )
        })
        .collect();
    format!(
        "{{\"version\":1,\"partitions\":[{}]}}",
        partitions.join(",")
    )
}

fn joined(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

fn plan_file(a: &Args) -> anyhow::Result<Plan> {
    let path = a
        .reassignment_json_file
        .as_deref()
        .ok_or_else(|| anyhow!("Missing required argument \"[reassignment-json-file]\""))?;
    parse_plan(&read_json(path)?)
}

/// The current replicas of each `(topic, partition)` of the plan (missing ones: error).
async fn current_replicas(admin: &Admin, plan: &Plan) -> anyhow::Result<Plan> {
    let topics: Vec<String> = plan
        .iter()
        .map(|(t, _, _)| t.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let described = admin.describe_topics(&topics).await?;
    plan.iter()
        .map(|(t, p, _)| {
            described
                .iter()
                .find(|d| &d.name == t)
                .and_then(|d| d.partitions.iter().find(|x| x.partition == *p))
                .map(|x| (t.clone(), *p, x.replicas.clone()))
                .ok_or_else(|| anyhow!("Unable to find partition {t}-{p}"))
        })
        .collect()
}

/// Runs `reassign-partitions`.
pub async fn run(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = Args::try_parse_from(args)?;
    let admin = Admin::connect(super::common::command_client(
        &a.bootstrap_server,
        a.command_config.as_ref(),
    )?)
    .await?;
    if a.list {
        list(&admin, out).await
    } else if a.generate {
        generate(&admin, &a, out).await
    } else if a.execute {
        execute(&admin, &a, out).await
    } else if a.verify {
        verify(&admin, &plan_file(&a)?, out).await
    } else {
        cancel(&admin, &plan_file(&a)?, out).await
    }
}

async fn list(admin: &Admin, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let ongoing = admin.list_partition_reassignments(None).await?;
    if ongoing.is_empty() {
        writeln!(out, "No partition reassignments found.")?;
        return Ok(0);
    }
    writeln!(out, "Current partition reassignments:")?;
    for r in ongoing {
        // As Kafka's tool: empty adding or removing lists are left out.
        let mut line = format!(
            "{}-{}: replicas: {}.",
            r.topic,
            r.partition,
            joined(&r.replicas)
        );
        if !r.adding.is_empty() {
            line.push_str(&format!(" adding: {}.", joined(&r.adding)));
        }
        if !r.removing.is_empty() {
            line.push_str(&format!(" removing: {}.", joined(&r.removing)));
        }
        writeln!(out, "{line}")?;
    }
    Ok(0)
}

/// Brokers the cluster describes (live ones) must hold every target replica.
async fn check_brokers(admin: &Admin, plan: &Plan) -> anyhow::Result<()> {
    let live: BTreeSet<i32> = admin
        .describe_cluster()
        .await?
        .brokers
        .iter()
        .map(|b| b.id)
        .collect();
    let wanted: BTreeSet<i32> = plan
        .iter()
        .flat_map(|(_, _, r)| r.iter().copied())
        .collect();
    if let Some(unknown) = wanted.iter().find(|b| !live.contains(b)) {
        bail!("Unknown broker id {unknown}");
    }
    Ok(())
}

async fn generate(admin: &Admin, a: &Args, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let path = a
        .topics_to_move_json_file
        .as_deref()
        .ok_or_else(|| anyhow!("Missing required argument \"[topics-to-move-json-file]\""))?;
    let list = a
        .broker_list
        .as_deref()
        .ok_or_else(|| anyhow!("Missing required argument \"[broker-list]\""))?;
    let mut brokers = list
        .split(',')
        .map(|b| {
            b.trim()
                .parse::<i32>()
                .map_err(|_| anyhow!("bad broker id {b:?}"))
        })
        .collect::<anyhow::Result<Vec<i32>>>()?;
    let distinct: BTreeSet<i32> = brokers.iter().copied().collect();
    if distinct.len() != brokers.len() {
        bail!("Duplicate brokers in the broker list: {list}");
    }
    brokers.sort_unstable();
    let v = read_json(path)?;
    let topics: Vec<String> = v
        .get("topics")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("the topics JSON has no \"topics\" list"))?
        .iter()
        .map(|t| {
            t.get("topic")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| anyhow!("a topic entry without \"topic\": {t}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let described = admin.describe_topics(&topics).await?;
    let mut current = Plan::new();
    let mut proposed = Plan::new();
    let n = brokers.len();
    for t in &described {
        for p in &t.partitions {
            let rf = p.replicas.len();
            if rf > n {
                bail!("Replication factor: {rf} larger than available brokers: {n}.");
            }
            let start = usize::try_from(p.partition).unwrap_or(0) % n;
            let replicas = (0..rf).map(|j| brokers[(start + j) % n]).collect();
            current.push((t.name.clone(), p.partition, p.replicas.clone()));
            proposed.push((t.name.clone(), p.partition, replicas));
        }
    }
    writeln!(out, "Current partition replica assignment")?;
    writeln!(out, "{}", plan_json(&current))?;
    writeln!(out)?;
    writeln!(out, "Proposed partition reassignment configuration")?;
    writeln!(out, "{}", plan_json(&proposed))?;
    Ok(0)
}

async fn execute(admin: &Admin, a: &Args, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let plan = plan_file(a)?;
    let ongoing = admin.list_partition_reassignments(None).await?;
    if !ongoing.is_empty() && !a.additional {
        bail!(
            "Cannot execute because there is an existing partition assignment.  Use \
             --additional to override this and create a new partition assignment in addition \
             to the existing one."
        );
    }
    check_brokers(admin, &plan).await?;
    let current = current_replicas(admin, &plan).await?;
    writeln!(out, "Current partition replica assignment")?;
    writeln!(out)?;
    writeln!(out, "{}", plan_json(&current))?;
    writeln!(out)?;
    writeln!(
        out,
        "Save this to use as the --reassignment-json-file option during rollback"
    )?;
    let moves: Vec<(String, i32, Option<Vec<i32>>)> = plan
        .iter()
        .map(|(t, p, r)| (t.clone(), *p, Some(r.clone())))
        .collect();
    let results = admin.alter_partition_reassignments(&moves).await?;
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(t, p, r)| r.as_ref().err().map(|e| format!("{t}-{p}: {e}")))
        .collect();
    if !failed.is_empty() {
        bail!("Error reassigning partition(s):\n{}", failed.join("\n"));
    }
    let names: Vec<String> = plan.iter().map(|(t, p, _)| format!("{t}-{p}")).collect();
    writeln!(
        out,
        "Successfully started partition reassignment{} for {}",
        if names.len() == 1 { "" } else { "s" },
        names.join(",")
    )?;
    Ok(0)
}

async fn verify(admin: &Admin, plan: &Plan, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let named: Vec<(String, i32)> = plan.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
    let ongoing = admin.list_partition_reassignments(Some(&named)).await?;
    let current = current_replicas(admin, plan).await?;
    let mut sorted: Vec<_> = plan.iter().zip(&current).collect();
    sorted.sort_by(|a, b| (&a.0.0, a.0.1).cmp(&(&b.0.0, b.0.1)));
    writeln!(out, "Status of partition reassignment:")?;
    for ((t, p, target), (_, _, now)) in sorted {
        if ongoing.iter().any(|o| &o.topic == t && o.partition == *p) {
            writeln!(
                out,
                "Reassignment of partition {t}-{p} is still in progress."
            )?;
        } else if now == target {
            writeln!(out, "Reassignment of partition {t}-{p} is completed.")?;
        } else {
            writeln!(
                out,
                "There is no active reassignment of partition {t}-{p}, but replica set is {} \
                 rather than {}.",
                joined(now),
                joined(target)
            )?;
        }
    }
    Ok(0)
}

async fn cancel(admin: &Admin, plan: &Plan, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let named: Vec<(String, i32)> = plan.iter().map(|(t, p, _)| (t.clone(), *p)).collect();
    let ongoing = admin.list_partition_reassignments(Some(&named)).await?;
    if ongoing.is_empty() {
        writeln!(
            out,
            "None of the specified partition reassignments are active."
        )?;
        return Ok(0);
    }
    let moves: Vec<(String, i32, Option<Vec<i32>>)> = ongoing
        .iter()
        .map(|o| (o.topic.clone(), o.partition, None))
        .collect();
    let results = admin.alter_partition_reassignments(&moves).await?;
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(t, p, r)| r.as_ref().err().map(|e| format!("{t}-{p}: {e}")))
        .collect();
    if !failed.is_empty() {
        bail!(
            "Error cancelling partition reassignment{} for:\n{}",
            if failed.len() == 1 { "" } else { "s" },
            failed.join("\n")
        );
    }
    let names: Vec<String> = ongoing
        .iter()
        .map(|o| format!("{}-{}", o.topic, o.partition))
        .collect();
    writeln!(
        out,
        "Successfully cancelled partition reassignment{} for: {}",
        if names.len() == 1 { "" } else { "s" },
        names.join(",")
    )?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_are_parsed_and_checked_as_kafka_does() {
        let v: Value = serde_json::from_str(
            r#"{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[2,1],
                "log_dirs":["any","any"]},{"topic":"b","partition":3,"replicas":[0]}]}"#,
        )
        .unwrap();
        let plan = parse_plan(&v).unwrap();
        assert_eq!(
            plan,
            vec![("a".into(), 0, vec![2, 1]), ("b".into(), 3, vec![0])]
        );
        let text = plan_json(&plan);
        assert!(text.starts_with(
            r#"{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[2,1],"log_dirs":["any","any"]}"#
        ));
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parse_plan(&back).unwrap(), plan);
        let err = |s: &str| {
            parse_plan(&serde_json::from_str(s).unwrap())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(r#"{"partitions":[]}"#),
            "Partition reassignment list cannot be empty"
        );
        assert!(
            err(
                r#"{"partitions":[{"topic":"a","partition":0,"replicas":[1]},
                                        {"topic":"a","partition":0,"replicas":[2]}]}"#
            )
            .contains("duplicate partitions: a-0")
        );
        assert!(
            err(r#"{"partitions":[{"topic":"a","partition":0,"replicas":[1,1]}]}"#)
                .contains("duplicate entries")
        );
        assert!(
            err(r#"{"partitions":[{"topic":"a","partition":0,"replicas":[1],
                                         "log_dirs":["/d"]}]}"#)
            .contains("log_dirs")
        );
    }
}
