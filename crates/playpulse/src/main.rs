use std::io::IsTerminal;

use clap::Parser;
use playpulse::cli::{BenchCommand, Cli, Command, PolicyCommand};
use playpulse::commands;
use playpulse::config::Config;
use tracing_subscriber::EnvFilter;

/// mimalloc hands freed memory back to the system: the lake's exports, merges and the
/// night's queries allocate large short-lived buffers, and glibc's allocator kept their high
/// water mark for the life of a `serve` process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logs();
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve(args) => commands::serve::run(config, args).await,
        Command::Keys(command) => commands::keys::run(config, command).await,
        Command::Operators(command) => commands::operators::run(config, command).await,
        Command::Partners(command) => commands::partners::run(config, command).await,
        Command::Content(command) => commands::content::run(config, command).await,
        Command::Import(args) => commands::import::run(config, args).await,
        Command::Batch(args) => commands::batch::run(config, args).await,
        Command::Export(args) => commands::export::run(config, args).await,
        Command::Rollup(args) => commands::rollup::run(config, args).await,
        Command::Reconcile(args) => commands::reconcile::run(config, args).await,
        Command::Simulate(args) => commands::simulate::run(config, args).await,
        Command::Demo(args) => commands::demo::run(config, args).await,
        Command::Policy(PolicyCommand::Evaluate(args)) => commands::policy::evaluate(config, args).await,
        Command::Bench(BenchCommand::Ingest(args)) => commands::bench::ingest(config, args).await,
        Command::Bench(BenchCommand::Partner(args)) => commands::bench_partner::partner(config, args).await,
        Command::Bench(BenchCommand::Lake(args)) => commands::bench_rfm::lake(args),
        Command::Bench(BenchCommand::Rfm(args)) => commands::bench_rfm::rfm(args).await,
        Command::Bench(BenchCommand::Nightly(args)) => commands::bench_rfm::nightly(config, args).await,
        Command::Bench(BenchCommand::Soak(args)) => commands::bench_soak::soak(config, args).await,
        Command::Bench(BenchCommand::Models(args)) => commands::bench_models::models(config, args).await,
        Command::Bench(BenchCommand::Train(args)) => commands::bench_train::train(config, args).await,
        Command::Train(command) => commands::models::train_command(config, command).await,
        Command::Models(command) => commands::models::models_command(config, command).await,
    }
}

/// Pretty logs on a terminal, JSON lines otherwise; `RUST_LOG` filters (default `info`).
fn init_logs() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        logs.init();
    } else {
        logs.json().init();
    }
}
