//! The `vltava` command line: `server start`, `storage format` /
//! `storage random-uuid`, and every other subcommand forwarded to Kafka's tools
//! in `vltava_client::cli`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use vltava_broker::config::{BrokerConfig, Properties, env_key_to_property, parse_properties};
use vltava_broker::storage_format;

#[derive(Debug, Parser)]
#[command(
    name = "vltava",
    version,
    about = "A Kafka-compatible streaming platform"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// Parses the process's arguments; `--help` lists Kafka's tools too.
    pub fn parse_with_tools() -> Cli {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Cli::command()
            .after_help(vltava_client::cli::tools_help())
            .get_matches();
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a server.
    Server {
        #[command(subcommand)]
        action: ServerAction,
    },
    /// Prepare log directories (like kafka-storage.sh).
    Storage {
        #[command(subcommand)]
        action: StorageAction,
    },
    /// Admin tools (topics, console-producer, ...).
    #[command(external_subcommand)]
    Tool(Vec<String>),
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// A server.properties file.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// key=value, overriding the file and KAFKA_* environment variables.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ServerAction {
    /// Start a node (default: node 1, broker+controller, ./vltava-data, 127.0.0.1:9092).
    Start(ConfigArgs),
}

#[derive(Debug, Subcommand)]
pub enum StorageAction {
    /// Write meta.properties into every log directory.
    Format {
        #[arg(long, short = 't')]
        cluster_id: String,
        #[command(flatten)]
        config: ConfigArgs,
        /// Leave already formatted directories alone.
        #[arg(long, short = 'g')]
        ignore_formatted: bool,
        /// A SCRAM credential the fresh metadata log starts with (KIP-900), e.g.
        /// 'SCRAM-SHA-512=[name=admin,password=admin-secret]' or
        /// 'SCRAM-SHA-256=[name=alice,iterations=8192,salt="<b64>",saltedpassword="<b64>"]'.
        /// May be repeated.
        #[arg(long = "add-scram", short = 'S', value_name = "SCRAM_CREDENTIAL")]
        add_scram: Vec<String>,
    },
    /// Print a new random cluster id.
    RandomUuid,
}

/// Merges the properties file, `KAFKA_*` variables and overrides (in that order).
pub fn load_config(args: &ConfigArgs) -> anyhow::Result<BrokerConfig> {
    let mut props = Properties::new();
    if let Some(path) = &args.config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        props.extend(parse_properties(&text));
    }
    for (k, v) in std::env::vars() {
        if let Some(name) = env_key_to_property(&k) {
            // Variables of the Kafka scripts themselves are not properties.
            if matches!(
                name.as_str(),
                "heap.opts" | "jvm.performance.opts" | "opts" | "log4j.opts" | "debug" | "home"
            ) {
                continue;
            }
            props.insert(name, v);
        }
    }
    for o in &args.overrides {
        let Some((k, v)) = o.split_once('=') else {
            bail!("--override expects key=value, got {o:?}");
        };
        props.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(BrokerConfig::from_properties(props)?)
}

async fn server_start(args: ConfigArgs) -> anyhow::Result<i32> {
    let config = load_config(&args)?;
    // One descriptor per partition log, plus connections: use all the process
    // may have.
    match vltava_broker::resources::raise_open_file_limit() {
        Ok(l) => tracing::info!(
            soft_before = ?l.soft_before,
            soft = ?l.soft,
            hard = ?l.hard,
            "open-file limit (RLIMIT_NOFILE)"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit (RLIMIT_NOFILE)"),
    }
    // Handlers first: a signal arriving while the node starts still stops it cleanly.
    let kind = tokio::signal::unix::SignalKind::terminate();
    let mut term = tokio::signal::unix::signal(kind).context("installing the SIGTERM handler")?;
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("installing the SIGINT handler")?;
    if config.roles == vltava_broker::config::ProcessRoles::Controller {
        let node = vltava_broker::ControllerNode::start(config).await?;
        // Scripts and tests read the bound address from this line (here the controller
        // listener: a controller-only node has no client listener).
        println!("vltava: listening on {} (controller)", node.addr);
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        node.shutdown().await;
        return Ok(0);
    }
    let node = vltava_broker::Node::start(config).await?;
    // Scripts and tests read each listener's bound address from these lines, and the
    // first client listener's from the last.
    for (name, addr) in &node.listeners {
        println!("vltava: listener {name} on {addr}");
    }
    println!("vltava: listening on {}", node.addr);
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    node.shutdown().await;
    Ok(0)
}

fn storage_format_cmd(
    cluster_id: &str,
    args: &ConfigArgs,
    ignore: bool,
    add_scram: &[String],
) -> anyhow::Result<i32> {
    let config = load_config(args)?;
    // Checked before anything is written.
    let scram = vltava_broker::scram_bootstrap::parse_all(add_scram)?;
    let mut formatted_first = false;
    for (i, dir) in config.log_dirs.iter().enumerate() {
        if i == 0 {
            formatted_first = storage_format::read_meta(dir)?.is_none();
        }
        match storage_format::format_dir(dir, cluster_id, config.node_id, ignore) {
            Ok(_) => println!("Formatting {} with cluster id {cluster_id}", dir.display()),
            Err(e) => bail!(e),
        }
    }
    // Only with a directory formatted now: an already formatted one keeps its metadata log
    // (and the credentials it may have bootstrapped).
    if !scram.is_empty() && formatted_first {
        let dir = vltava_broker::scram_bootstrap::metadata_log_dir(&config)
            .context("--add-scram needs log.dirs or metadata.log.dir")?;
        vltava_broker::scram_bootstrap::write(&dir, &scram)?;
        println!(
            "Added {} SCRAM credential(s) to bootstrap the metadata log in {}",
            scram.len(),
            dir.display()
        );
    }
    Ok(0)
}

/// Runs the parsed command; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Server {
            action: ServerAction::Start(args),
        } => server_start(args).await,
        Command::Storage { action } => match action {
            StorageAction::Format {
                cluster_id,
                config,
                ignore_formatted,
                add_scram,
            } => storage_format_cmd(&cluster_id, &config, ignore_formatted, &add_scram),
            StorageAction::RandomUuid => {
                println!("{}", storage_format::random_id()?);
                Ok(0)
            }
        },
        Command::Tool(args) => {
            // Kafka's tools (topics, console-producer, ...) live in vltava-client.
            let mut out = std::io::stdout();
            vltava_client::cli::run(args, &mut out).await
        }
    }
}
