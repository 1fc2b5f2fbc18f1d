//! The `vltava` binary: parses the command line and runs it on a tokio runtime.

mod cli;
mod malloc_tuning;

use std::io::IsTerminal;

fn main() -> std::process::ExitCode {
    // Before any thread starts: frame buffers are reused rather than re-faulted.
    malloc_tuning::tune();
    // Colour only on a terminal: logs redirected to a file stay plain text. INFO unless
    // RUST_LOG names levels (e.g. `RUST_LOG=info,vltava_broker::replica_manager=debug`).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .init();
    let cli = cli::Cli::parse_with_tools();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vltava: cannot start the runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => std::process::ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            eprintln!("vltava: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
