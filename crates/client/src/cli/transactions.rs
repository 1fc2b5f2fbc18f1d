//! `transactions`, like `kafka-transactions.sh`: `list` (every transactional id with
//! its coordinator, producer id and state), `describe --transactional-id ID`, and
//! `describe-producers --topic T --partition P`; tab-separated columns with Kafka's
//! headers.

use std::io::Write;

use clap::{Parser, Subcommand};

use crate::admin::Admin;

#[derive(Debug, Parser)]
#[command(
    name = "transactions",
    about = "List and describe transactions and a partition's producers"
)]
struct TxnArgs {
    /// Broker(s) to connect to, host:port[,host:port...].
    #[arg(long)]
    bootstrap_server: String,
    /// Properties file of connection settings (bootstrap.servers, client.id, *.ms timeouts, security.protocol, ssl.*, sasl.*); others ignored.
    #[arg(long)]
    command_config: Option<String>,
    #[command(subcommand)]
    command: TxnCommand,
}

#[derive(Debug, Subcommand)]
enum TxnCommand {
    /// Every transactional id the coordinators know.
    List,
    /// One transactional id.
    Describe {
        /// The transactional id to describe.
        #[arg(long)]
        transactional_id: String,
    },
    /// The producers writing to one partition.
    DescribeProducers {
        /// Topic of the partition.
        #[arg(long)]
        topic: String,
        /// The partition whose active producers to describe.
        #[arg(long)]
        partition: i32,
    },
}

use vltava_records::clock::now_ms;

fn row(out: &mut (dyn Write + Send), cells: &[String]) -> std::io::Result<()> {
    writeln!(out, "{}", cells.join("\t"))
}

/// The clap command of `transactions`, for its help.
pub(super) fn command() -> clap::Command {
    <TxnArgs as clap::CommandFactory>::command()
}

/// Runs `transactions`.
pub async fn run(args: Vec<String>, out: &mut (dyn Write + Send)) -> anyhow::Result<i32> {
    let a = TxnArgs::try_parse_from(args)?;
    let admin = Admin::connect(super::common::command_client(
        &a.bootstrap_server,
        a.command_config.as_ref(),
    )?)
    .await?;
    match a.command {
        TxnCommand::List => list(&admin, out).await?,
        TxnCommand::Describe { transactional_id } => {
            describe(&admin, &transactional_id, out).await?
        }
        TxnCommand::DescribeProducers { topic, partition } => {
            describe_producers(&admin, &topic, partition, out).await?
        }
    }
    Ok(0)
}

/// `list`: every transactional id with its coordinator, producer id and state.
async fn list(admin: &Admin, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let s = |x: &str| x.to_string();
    row(
        out,
        &[
            s("TransactionalId"),
            s("Coordinator"),
            s("ProducerId"),
            s("TransactionState"),
        ],
    )?;
    for t in admin.list_transactions().await? {
        row(
            out,
            &[
                t.transactional_id,
                t.coordinator_id.to_string(),
                t.producer_id.to_string(),
                t.state,
            ],
        )?;
    }
    Ok(())
}

/// `describe`: one transaction, as kafka-transactions prints it.
async fn describe(
    admin: &Admin,
    transactional_id: &str,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let s = |x: &str| x.to_string();
    let d = admin.describe_transaction(transactional_id).await?;
    row(
        out,
        &[
            s("CoordinatorId"),
            s("TransactionalId"),
            s("ProducerId"),
            s("ProducerEpoch"),
            s("TransactionState"),
            s("TransactionTimeoutMs"),
            s("CurrentTransactionStartTimeMs"),
            s("TransactionDurationMs"),
            s("TopicPartitions"),
        ],
    )?;
    let (start, duration) = if d.start_time_ms < 0 {
        (s("None"), s("None"))
    } else {
        (
            d.start_time_ms.to_string(),
            (now_ms() - d.start_time_ms).max(0).to_string(),
        )
    };
    let parts: Vec<String> = d
        .partitions
        .iter()
        .map(|(t, p)| format!("{t}-{p}"))
        .collect();
    row(
        out,
        &[
            d.coordinator_id.to_string(),
            d.transactional_id,
            d.producer_id.to_string(),
            d.producer_epoch.to_string(),
            d.state,
            d.timeout_ms.to_string(),
            start,
            duration,
            parts.join(","),
        ],
    )?;
    Ok(())
}

/// `describe-producers`: the producers of one partition.
async fn describe_producers(
    admin: &Admin,
    topic: &str,
    partition: i32,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let s = |x: &str| x.to_string();
    row(
        out,
        &[
            s("ProducerId"),
            s("ProducerEpoch"),
            s("LatestCoordinatorEpoch"),
            s("LastSequence"),
            s("LastTimestamp"),
            s("CurrentTransactionStartOffset"),
        ],
    )?;
    for p in admin.describe_producers(topic, partition).await? {
        let open = if p.current_txn_start_offset < 0 {
            s("None")
        } else {
            p.current_txn_start_offset.to_string()
        };
        row(
            out,
            &[
                p.producer_id.to_string(),
                p.producer_epoch.to_string(),
                p.coordinator_epoch.to_string(),
                p.last_sequence.to_string(),
                p.last_timestamp.to_string(),
                open,
            ],
        )?;
    }
    Ok(())
}
