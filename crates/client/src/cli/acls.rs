//! `acls`: kafka-acls --add / --remove / --list of ACLs on topics, groups, the cluster and
//! transactional ids, with its convenience options (--producer, --consumer). The names of
//! Kafka's ACL codes are kept here, as the tool prints and parses them.

use std::io::{BufRead, Write};

use anyhow::{anyhow, bail};
use clap::Parser;

use crate::admin::{Acl, AclFilter, Admin};
use crate::config::ClientConfig;

#[derive(Debug, Parser)]
#[command(name = "acls", about = "Add, remove and list ACLs")]
struct Args {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Add ACLs for the given principals, hosts, operations and resources.
    #[arg(long)]
    add: bool,
    /// Remove ACLs (all ACLs of the resources when no principal is given).
    #[arg(long)]
    remove: bool,
    /// List ACLs (of the given resources, else all).
    #[arg(long)]
    list: bool,
    /// Principal to allow, Type:name (User:alice); repeatable.
    #[arg(long)]
    allow_principal: Vec<String>,
    /// Principal to deny, Type:name; repeatable.
    #[arg(long)]
    deny_principal: Vec<String>,
    /// With --list: only ACLs of this principal.
    #[arg(long)]
    principal: Option<String>,
    /// Host the allowed principals may connect from (an IP, default * for any); repeatable.
    #[arg(long)]
    allow_host: Vec<String>,
    /// Host the denied principals are denied from (an IP, default * for any); repeatable.
    #[arg(long)]
    deny_host: Vec<String>,
    /// Operation: Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, All (default All); repeatable.
    #[arg(long)]
    operation: Vec<String>,
    /// Topic resource (* for every topic); repeatable.
    #[arg(long)]
    topic: Vec<String>,
    /// Consumer group resource (* for every group); repeatable.
    #[arg(long)]
    group: Vec<String>,
    /// The cluster resource.
    #[arg(long)]
    cluster: bool,
    /// Transactional id resource (* for every id); repeatable.
    #[arg(long)]
    transactional_id: Vec<String>,
    /// Pattern type: literal or prefixed to add; also any or match to list and remove (default literal).
    #[arg(long, default_value = "literal")]
    resource_pattern_type: String,
    /// Convenience: WRITE, DESCRIBE and CREATE on the topics (WRITE, DESCRIBE on the transactional ids).
    #[arg(long)]
    producer: bool,
    /// Convenience: READ and DESCRIBE on the topics, READ on the groups.
    #[arg(long)]
    consumer: bool,
    /// Remove without asking for confirmation.
    #[arg(long)]
    force: bool,
    /// Properties file of connection settings (bootstrap.servers, client.id, *.ms timeouts, security.protocol, ssl.*, sasl.*); others ignored.
    #[arg(long)]
    command_config: Option<String>,
}

/// The clap command of `acls`, for its help.
pub(super) fn command() -> clap::Command {
    <Args as clap::CommandFactory>::command()
}

const RESOURCE_TYPES: &[(&str, i8)] = &[
    ("UNKNOWN", 0),
    ("ANY", 1),
    ("TOPIC", 2),
    ("GROUP", 3),
    ("CLUSTER", 4),
    ("TRANSACTIONAL_ID", 5),
    ("DELEGATION_TOKEN", 6),
    ("USER", 7),
];
const PATTERN_TYPES: &[(&str, i8)] = &[
    ("UNKNOWN", 0),
    ("ANY", 1),
    ("MATCH", 2),
    ("LITERAL", 3),
    ("PREFIXED", 4),
];
const OPERATIONS: &[(&str, i8)] = &[
    ("UNKNOWN", 0),
    ("ANY", 1),
    ("ALL", 2),
    ("READ", 3),
    ("WRITE", 4),
    ("CREATE", 5),
    ("DELETE", 6),
    ("ALTER", 7),
    ("DESCRIBE", 8),
    ("CLUSTER_ACTION", 9),
    ("DESCRIBE_CONFIGS", 10),
    ("ALTER_CONFIGS", 11),
    ("IDEMPOTENT_WRITE", 12),
    ("CREATE_TOKENS", 13),
    ("DESCRIBE_TOKENS", 14),
];
const PERMISSIONS: &[(&str, i8)] = &[("UNKNOWN", 0), ("ANY", 1), ("DENY", 2), ("ALLOW", 3)];

const ANY: i8 = 1;
const ALLOW: i8 = 3;
const DENY: i8 = 2;

fn name_of(table: &[(&str, i8)], code: i8) -> String {
    table
        .iter()
        .find(|(_, c)| *c == code)
        .map_or_else(|| code.to_string(), |(n, _)| (*n).to_string())
}

/// The code named `s` (case-insensitive; `ClusterAction`, `cluster-action` and
/// `CLUSTER_ACTION` alike).
fn code_of(table: &[(&str, i8)], what: &str, s: &str) -> anyhow::Result<i8> {
    let norm = |x: &str| {
        x.chars()
            .filter(|c| *c != '_' && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect::<String>()
    };
    table
        .iter()
        .find(|(n, _)| norm(n) == norm(s))
        .map(|(_, c)| *c)
        .ok_or_else(|| anyhow!("unknown {what} {s:?}"))
}

/// `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`, as kafka-acls prints it.
fn pattern_text(resource_type: i8, name: &str, pattern_type: i8) -> String {
    format!(
        "ResourcePattern(resourceType={}, name={name}, patternType={})",
        name_of(RESOURCE_TYPES, resource_type),
        name_of(PATTERN_TYPES, pattern_type)
    )
}

fn entry_text(a: &Acl) -> String {
    format!(
        "(principal={}, host={}, operation={}, permissionType={})",
        a.principal,
        a.host,
        name_of(OPERATIONS, a.operation),
        name_of(PERMISSIONS, a.permission)
    )
}

/// Prints ACLs grouped by resource pattern, under `title`.
fn print_grouped(out: &mut (dyn Write + Send), title: &str, acls: &[Acl]) -> std::io::Result<()> {
    let mut acls = acls.to_vec();
    acls.sort();
    let mut i = 0;
    while i < acls.len() {
        let a = &acls[i];
        let key = (a.resource_type, a.resource_name.clone(), a.pattern_type);
        writeln!(out, "{title} `{}`: ", pattern_text(key.0, &key.1, key.2))?;
        while i < acls.len()
            && (
                acls[i].resource_type,
                acls[i].resource_name.clone(),
                acls[i].pattern_type,
            ) == key
        {
            writeln!(out, " \t{} ", entry_text(&acls[i]))?;
            i += 1;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn client(a: &Args) -> anyhow::Result<ClientConfig> {
    let mut c = ClientConfig::new(&a.bootstrap_server);
    super::common::apply_command_config(&mut c, a.command_config.as_ref())?;
    Ok(c)
}

/// The resources the flags name: (resource type code, name).
fn resources(a: &Args) -> Vec<(i8, String)> {
    let mut out: Vec<(i8, String)> = Vec::new();
    out.extend(a.topic.iter().map(|t| (2, t.clone())));
    out.extend(a.group.iter().map(|g| (3, g.clone())));
    if a.cluster {
        out.push((4, "kafka-cluster".into()));
    }
    out.extend(a.transactional_id.iter().map(|t| (5, t.clone())));
    out
}

/// The operations each resource gets with --add (or selects with --remove).
fn operations(a: &Args, resource_type: i8) -> anyhow::Result<Vec<i8>> {
    let named = |ops: &[&str]| -> anyhow::Result<Vec<i8>> {
        ops.iter()
            .map(|o| code_of(OPERATIONS, "operation", o))
            .collect()
    };
    let mut ops = Vec::new();
    if a.producer {
        ops.extend(match resource_type {
            2 => named(&["WRITE", "DESCRIBE", "CREATE"])?,
            5 => named(&["WRITE", "DESCRIBE"])?,
            _ => Vec::new(),
        });
    }
    if a.consumer {
        ops.extend(match resource_type {
            2 => named(&["READ", "DESCRIBE"])?,
            3 => named(&["READ"])?,
            _ => Vec::new(),
        });
    }
    if !a.producer && !a.consumer {
        if a.operation.is_empty() {
            ops.push(code_of(OPERATIONS, "operation", "ALL")?);
        }
        for o in &a.operation {
            ops.push(code_of(OPERATIONS, "operation", o)?);
        }
    }
    ops.sort();
    ops.dedup();
    Ok(ops)
}

/// (principal, host, permission) of every entry the flags describe.
fn entries(a: &Args) -> Vec<(String, String, i8)> {
    let hosts = |h: &[String]| {
        if h.is_empty() {
            vec!["*".to_string()]
        } else {
            h.to_vec()
        }
    };
    let mut out = Vec::new();
    for p in &a.allow_principal {
        for h in hosts(&a.allow_host) {
            out.push((p.clone(), h, ALLOW));
        }
    }
    for p in &a.deny_principal {
        for h in hosts(&a.deny_host) {
            out.push((p.clone(), h, DENY));
        }
    }
    out
}

pub async fn run(
    args: Vec<String>,
    input: &mut (dyn BufRead + Send),
    out: &mut (dyn Write + Send),
) -> anyhow::Result<i32> {
    let a = Args::try_parse_from(args)?;
    if [a.add, a.remove, a.list].iter().filter(|x| **x).count() != 1 {
        bail!("exactly one of --add, --remove and --list is needed");
    }
    if (a.producer || a.consumer) && !a.operation.is_empty() {
        bail!("--producer and --consumer replace --operation");
    }
    if a.consumer && a.add && a.group.is_empty() {
        bail!("--consumer needs --group");
    }
    let pattern_type = code_of(
        PATTERN_TYPES,
        "resource pattern type",
        &a.resource_pattern_type,
    )?;
    let admin = Admin::connect(client(&a)?).await?;
    let resources = resources(&a);
    if a.add {
        add(&a, &admin, out, &resources, pattern_type).await?;
    } else if a.remove {
        remove(&a, &admin, input, out, &resources, pattern_type).await?;
    } else {
        list(&admin, out, &resources, pattern_type, a.principal.clone()).await?;
    }
    Ok(0)
}

/// `--add`: creates the ACLs the flags describe on each resource, then lists them.
async fn add(
    a: &Args,
    admin: &Admin,
    out: &mut (dyn Write + Send),
    resources: &[(i8, String)],
    pattern_type: i8,
) -> anyhow::Result<()> {
    if !matches!(pattern_type, 3 | 4) {
        bail!("--add needs --resource-pattern-type literal or prefixed");
    }
    let entries = entries(a);
    if entries.is_empty() {
        bail!("--add needs --allow-principal or --deny-principal");
    }
    if resources.is_empty() {
        bail!("--add needs a resource: --topic, --group, --cluster or --transactional-id");
    }
    let mut acls = Vec::new();
    for (rt, name) in resources {
        let ops = operations(a, *rt)?;
        let mine: Vec<Acl> = ops
            .iter()
            .flat_map(|op| {
                entries.iter().map(move |(p, h, perm)| Acl {
                    resource_type: *rt,
                    resource_name: name.clone(),
                    pattern_type,
                    principal: p.clone(),
                    host: h.clone(),
                    operation: *op,
                    permission: *perm,
                })
            })
            .collect();
        print_grouped(out, "Adding ACLs for resource", &mine)?;
        acls.extend(mine);
    }
    admin.create_acls(&acls).await?;
    list(admin, out, resources, pattern_type, None).await?;
    Ok(())
}

/// `--remove`: deletes the ACLs matching the flags on each resource (after a yes, unless
/// `--force`), then lists what is left.
async fn remove(
    a: &Args,
    admin: &Admin,
    input: &mut (dyn BufRead + Send),
    out: &mut (dyn Write + Send),
    resources: &[(i8, String)],
    pattern_type: i8,
) -> anyhow::Result<()> {
    if resources.is_empty() {
        bail!("--remove needs a resource: --topic, --group, --cluster or --transactional-id");
    }
    let entries = entries(a);
    let mut filters = Vec::new();
    for (rt, name) in resources {
        let base = AclFilter {
            resource_type: *rt,
            resource_name: Some(name.clone()),
            pattern_type,
            principal: None,
            host: None,
            operation: ANY,
            permission: ANY,
        };
        if entries.is_empty() {
            filters.push(base);
            continue;
        }
        for op in operations(a, *rt)? {
            for (p, h, perm) in &entries {
                filters.push(AclFilter {
                    principal: Some(p.clone()),
                    host: Some(h.clone()),
                    operation: op,
                    permission: *perm,
                    ..base.clone()
                });
            }
        }
    }
    if !a.force {
        writeln!(
            out,
            "Are you sure you want to remove ACLs from {} resource(s)? (y/n)",
            resources.len()
        )?;
        out.flush()?;
        let mut answer = String::new();
        input.read_line(&mut answer)?;
        if !answer.trim().eq_ignore_ascii_case("y") {
            return Ok(());
        }
    }
    let deleted = admin.delete_acls(&filters).await?;
    print_grouped(out, "Removed ACLs for resource", &deleted)?;
    list(admin, out, resources, pattern_type, None).await?;
    Ok(())
}

/// Prints the current ACLs of `resources` (all ACLs when there are none).
async fn list(
    admin: &Admin,
    out: &mut (dyn Write + Send),
    resources: &[(i8, String)],
    pattern_type: i8,
    principal: Option<String>,
) -> anyhow::Result<()> {
    let filters: Vec<AclFilter> = if resources.is_empty() {
        vec![AclFilter {
            resource_type: ANY,
            resource_name: None,
            pattern_type: ANY,
            principal,
            host: None,
            operation: ANY,
            permission: ANY,
        }]
    } else {
        resources
            .iter()
            .map(|(rt, name)| AclFilter {
                resource_type: *rt,
                resource_name: Some(name.clone()),
                pattern_type,
                principal: principal.clone(),
                host: None,
                operation: ANY,
                permission: ANY,
            })
            .collect()
    };
    let mut acls = Vec::new();
    for f in &filters {
        acls.extend(admin.describe_acls(f).await?);
    }
    acls.sort();
    acls.dedup();
    print_grouped(out, "Current ACLs for resource", &acls)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec!["acls", "--bootstrap-server", "x:1"];
        v.extend_from_slice(extra);
        Args::try_parse_from(v).unwrap()
    }

    #[test]
    fn convenience_options_expand_as_kafka_acls_does() {
        let a = args(&[
            "--add",
            "--producer",
            "--topic",
            "t",
            "--transactional-id",
            "tx",
        ]);
        assert_eq!(operations(&a, 2).unwrap(), vec![4, 5, 8]);
        assert_eq!(operations(&a, 5).unwrap(), vec![4, 8]);
        let c = args(&["--add", "--consumer", "--topic", "t", "--group", "g"]);
        assert_eq!(operations(&c, 2).unwrap(), vec![3, 8]);
        assert_eq!(operations(&c, 3).unwrap(), vec![3]);
        let plain = args(&[
            "--add",
            "--operation",
            "describe-configs",
            "--operation",
            "Read",
        ]);
        assert_eq!(operations(&plain, 2).unwrap(), vec![3, 10]);
        assert_eq!(operations(&args(&["--add"]), 4).unwrap(), vec![2]);
        assert!(operations(&args(&["--add", "--operation", "dance"]), 2).is_err());
    }

    #[test]
    fn entries_default_to_every_host_and_print_as_kafka() {
        let a = args(&[
            "--add",
            "--allow-principal",
            "User:a",
            "--deny-principal",
            "User:b",
            "--deny-host",
            "10.0.0.1",
        ]);
        assert_eq!(
            entries(&a),
            vec![
                ("User:a".into(), "*".into(), ALLOW),
                ("User:b".into(), "10.0.0.1".into(), DENY)
            ]
        );
        assert_eq!(
            pattern_text(2, "t", 4),
            "ResourcePattern(resourceType=TOPIC, name=t, patternType=PREFIXED)"
        );
    }
}
