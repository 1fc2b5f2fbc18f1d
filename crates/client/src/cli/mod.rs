//! Kafka's command-line tools, one function per tool, each writing its output
//! to a `Write` (the `vltava` binary forwards its tool subcommands here).
//! Flags follow Kafka's tools (`--bootstrap-server`, `--topic`, ...).

mod acls;
mod common;
mod configs;
mod configs_users;
mod console;
mod groups;
mod offsets;
mod perf;
mod quorum;
mod quota_configs;
mod reassign;
mod topics;
mod transactions;
mod verifiable;

use std::io::{BufRead, Write};

/// Every tool `run` accepts, with one line on what it does (Kafka's tool of the same name,
/// `kafka-<name>.sh`).
pub const TOOLS: &[(&str, &str)] = &[
    ("topics", "Create, delete, describe, alter and list topics"),
    (
        "console-producer",
        "Send lines of standard input as records",
    ),
    ("console-consumer", "Print the records of a topic"),
    (
        "consumer-groups",
        "List, describe and delete groups; reset their offsets",
    ),
    (
        "configs",
        "Describe and alter topic, broker, user and client configs and users' SCRAM credentials",
    ),
    ("delete-records", "Delete records before the given offsets"),
    ("get-offsets", "Print the offsets of partitions for a time"),
    (
        "api-versions",
        "Print the API versions each broker supports",
    ),
    (
        "metadata-quorum",
        "Describe the metadata quorum and its replicas",
    ),
    (
        "transactions",
        "List and describe transactions and a partition's producers",
    ),
    (
        "verifiable-producer",
        "Produce numbered records, reporting each as JSON",
    ),
    (
        "verifiable-consumer",
        "Consume in a group, reporting each event as JSON",
    ),
    (
        "producer-perf-test",
        "Measure produce throughput and latency",
    ),
    ("consumer-perf-test", "Measure consume throughput"),
    ("acls", "Add, remove and list ACLs"),
    (
        "reassign-partitions",
        "Move partition replicas between brokers and change replication factors",
    ),
];

/// The tools as `vltava --help` lists them: one line each.
pub fn tools_help() -> String {
    let mut text = String::from("Kafka's tools (vltava <TOOL> --help for its flags):\n");
    for (name, about) in TOOLS {
        text.push_str(&format!("  {name:<21}{about}\n"));
    }
    text
}

/// The clap command of tool `name`: its flags with their help; `None` for an unknown tool.
pub fn command(name: &str) -> Option<clap::Command> {
    Some(match name {
        "topics" => topics::command(),
        "console-producer" => console::producer_command(),
        "console-consumer" => console::consumer_command(),
        "consumer-groups" => groups::command(),
        "configs" => configs::command(),
        "delete-records" => offsets::delete_records_command(),
        "get-offsets" => offsets::get_offsets_command(),
        "api-versions" => offsets::api_versions_command(),
        "metadata-quorum" => quorum::command(),
        "transactions" => transactions::command(),
        "verifiable-producer" => verifiable::producer_command(),
        "verifiable-consumer" => verifiable::consumer_command(),
        "producer-perf-test" => perf::producer_command(),
        "consumer-perf-test" => perf::consumer_command(),
        "acls" => acls::command(),
        "reassign-partitions" => reassign::command(),
        _ => return None,
    })
}

/// Runs tool `args[0]` with the rest as its flags; returns the exit code.
/// Tools that read input (console-producer) read standard input.
pub async fn run(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let mut stdin = std::io::BufReader::new(std::io::stdin());
    run_with_input(args, &mut stdin, out).await
}

/// Like [`run`], reading tool input from `input`.
pub async fn run_with_input(
    args: Vec<String>,
    input: &mut (dyn BufRead + Send),
    out: &mut (dyn Write + Send),
) -> anyhow::Result<i32> {
    let name = args.first().cloned().unwrap_or_default();
    let r = match name.as_str() {
        "topics" => topics::run(args, out).await,
        "console-producer" => console::producer(args, input, out).await,
        "console-consumer" => console::consumer(args, out).await,
        "consumer-groups" => groups::run(args, out).await,
        "configs" => configs::run(args, out).await,
        "delete-records" => offsets::delete_records(args, out).await,
        "get-offsets" => offsets::get_offsets(args, out).await,
        "api-versions" => offsets::api_versions(args, out).await,
        "metadata-quorum" => quorum::run(args, out).await,
        "transactions" => transactions::run(args, out).await,
        "verifiable-producer" => verifiable::producer(args, out).await,
        "verifiable-consumer" => verifiable::consumer(args, out).await,
        "producer-perf-test" => perf::producer(args, out).await,
        "consumer-perf-test" => perf::consumer(args, out).await,
        "acls" => acls::run(args, input, out).await,
        "reassign-partitions" => reassign::run(args, out).await,
        other => {
            let names: Vec<&str> = TOOLS.iter().map(|(name, _)| *name).collect();
            writeln!(out, "unknown tool {other:?}; tools: {}", names.join(", "))?;
            return Ok(2);
        }
    };
    match r {
        Ok(code) => Ok(code),
        Err(e) => {
            if let Some(ce) = e.downcast_ref::<clap::Error>() {
                write!(out, "{}", ce.render())?;
                return Ok(if ce.use_stderr() { 2 } else { 0 });
            }
            writeln!(out, "Error: {e:#}")?;
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{TOOLS, command};

    /// Flags (and subcommands) of `cmd` whose help is missing or longer than one line.
    fn undocumented(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let flag = arg.get_long().map_or(id.to_string(), |l| format!("--{l}"));
            if help.trim().is_empty() {
                missing.push(format!("{path} {flag}: no help"));
            } else if help.contains('\n') || arg.get_long_help().is_some() {
                missing.push(format!("{path} {flag}: help longer than a line"));
            }
        }
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let sub_path = format!("{path} {}", sub.get_name());
            if sub
                .get_about()
                .is_none_or(|a| a.to_string().trim().is_empty())
            {
                missing.push(format!("{sub_path}: no about"));
            }
            undocumented(sub, &sub_path, missing);
        }
    }

    #[test]
    fn every_flag_of_every_tool_has_a_line_of_help() {
        let mut missing = Vec::new();
        for (name, about) in TOOLS {
            let mut cmd = command(name).unwrap_or_else(|| panic!("no clap command for {name}"));
            cmd.build();
            assert_eq!(cmd.get_name(), *name);
            assert_eq!(
                cmd.get_about().map(ToString::to_string).as_deref(),
                Some(*about),
                "{name}'s about differs from its line in TOOLS"
            );
            undocumented(&cmd, name, &mut missing);
        }
        assert!(
            missing.is_empty(),
            "flags without a line of help:\n{}",
            missing.join("\n")
        );
        assert!(command("no-such-tool").is_none());
    }
}
