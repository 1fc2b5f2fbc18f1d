//! Repository chores. `cargo xtask codegen <kafka-spec-dir>` regenerates the
//! protocol crate's message types from Kafka's JSON schemas; `cargo xtask tidy` checks
//! the tree (module headers, stray markers, `unsafe`, the code map's paths, generated
//! code).

mod codegen;
mod tidy;

use anyhow::{Context, bail};
use std::path::PathBuf;

const USAGE: &str = "usage: cargo xtask codegen <kafka-spec-dir> | cargo xtask tidy";

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("codegen") => {
            let spec = args.get(1).map(PathBuf::from).context(USAGE)?;
            let root = workspace_root()?;
            codegen::run(&spec, &root.join("crates/protocol/src/generated"))
        }
        Some("tidy") => tidy::run(&workspace_root()?),
        _ => bail!(USAGE),
    }
}

fn workspace_root() -> anyhow::Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(PathBuf::from)
        .context("xtask has no parent directory")
}
