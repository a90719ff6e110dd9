//! The `tollgate` binary: parses flags, starts logging, runs one subcommand.

use clap::Parser;
use tollgate::cli::{Cli, Command};

/// Decisions allocate many small, short-lived values (Cedar entities, strings, maps); mimalloc
/// serves them faster than glibc's allocator and keeps a long-running heap from fragmenting.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TOLLGATE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let serve = match cli.command {
        None => cli.serve,
        Some(Command::Serve(args)) => args,
        Some(Command::Validate(args)) => return tollgate::cli::validate(args).into(),
        Some(Command::Test(args)) => return tollgate::cli::test::run(args).into(),
        Some(Command::Check(args)) => return tollgate::cli::check::run(args).into(),
        Some(Command::Import(args)) => return tollgate::cli::import::run(args).into(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(tollgate::cli::serve(serve));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
