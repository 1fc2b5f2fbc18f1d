//! `vltava-differential --kafka HOST:PORT --vltava HOST:PORT --out DIR [--captures DIR]`: runs every
//! scenario against both brokers and writes `DIR/<broker>/<scenario>.txt` (the normalised
//! transcripts) and `DIR/<broker>/api_versions.txt` (what each broker advertises).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use vltava_differential::scenarios::{self, SCENARIOS};
use vltava_differential::session::{self, Session};
use vltava_protocol::ApiKey;

#[derive(Parser)]
#[command(
    name = "vltava-differential",
    about = "The same requests to Apache Kafka and to Vltava"
)]
struct Args {
    /// Apache Kafka's bootstrap address.
    #[arg(long)]
    kafka: String,
    /// Vltava's bootstrap address.
    #[arg(long)]
    vltava: String,
    /// Where the transcripts go.
    #[arg(long)]
    out: PathBuf,
    /// Only these scenarios (repeatable; default all).
    #[arg(long = "scenario")]
    scenarios: Vec<String>,
    /// The recorded client frames (the repository's testdata/captures).
    #[arg(long, default_value = "testdata/captures")]
    captures: PathBuf,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let brokers = [
        ("kafka", args.kafka.as_str()),
        ("vltava", args.vltava.as_str()),
    ];
    let a = session::connect(brokers[0].1).await?;
    let b = session::connect(brokers[1].1).await?;
    let shared = session::shared_versions(&a, &b);
    for ((label, _), conn) in brokers.iter().zip([&a, &b]) {
        let dir = args.out.join(label);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut text = String::new();
        for (key, lo, hi) in conn.versions().all() {
            let name =
                ApiKey::from_i16(key).map_or_else(|| format!("key {key}"), |k| format!("{k:?}"));
            let _ = writeln!(text, "{name}: {lo}..{hi}");
        }
        std::fs::write(dir.join("api_versions.txt"), text)?;
    }
    let wanted: Vec<&str> = if args.scenarios.is_empty() {
        SCENARIOS.to_vec()
    } else {
        args.scenarios.iter().map(String::as_str).collect()
    };
    for name in wanted {
        for (label, addr) in brokers {
            let conn = session::connect(addr).await?;
            let mut s = Session::new(conn, shared.clone());
            let outcome = scenarios::run(name, &mut s, &args.captures).await;
            if let Err(e) = &outcome {
                s.note(&format!("scenario ended early: {e:#}"));
            }
            let path = args.out.join(label).join(format!("{name}.txt"));
            std::fs::write(&path, s.into_transcript())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "vltava-differential: {name} on {label}: {}",
                if outcome.is_ok() {
                    "done"
                } else {
                    "ended early"
                }
            );
        }
    }
    Ok(())
}
