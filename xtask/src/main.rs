//! Repository chores: `cargo xtask codegen <spec-dir>` regenerates the protocol crate.
fn main() -> anyhow::Result<()> {
    anyhow::bail!("usage: cargo xtask codegen <kafka-spec-dir>")
}
