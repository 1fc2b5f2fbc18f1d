//! Runs one of the Kafka tools of `vltava_client::cli` directly, e.g.
//! `cargo run -p vltava-client --example vltava_tool -- producer-perf-test --topic t ...`
//! (the `vltava` binary forwards the same subcommands).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut out = std::io::stdout();
    let code = vltava_client::cli::run(args, &mut out).await?;
    std::process::exit(code);
}
