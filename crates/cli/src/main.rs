//! `urlinsta`: run the whole service on one machine (server + scheduler, with
//! the sandbox standing in for Meta when no app is configured), migrate the
//! database, run one job by hand, re-encrypt tokens after a key rotation, or
//! measure collection at scale.

mod bench;
mod rekey;
mod serve;

use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use urlinsta_core::engine::{Progress, RunOptions, Shard};
use urlinsta_core::jobs::{self, JobKind, JobReport};
use urlinsta_core::{App, Config};

#[derive(Parser)]
#[command(
    name = "urlinsta",
    version,
    about = "Instagram insights for influencers: connect, keep alive, collect"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the bench's many flags costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve public/ and every /api route on one port, and run the jobs on the schedules of vercel.json.
    Serve(serve::ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run one job now: refresh-tokens, collect-insights or collect-audience.
    Run {
        job: String,
        /// This invocation's shard (with --shards).
        #[arg(long)]
        shard: Option<u32>,
        #[arg(long)]
        shards: Option<u32>,
    },
    /// Re-encrypt stored tokens still under an old TOKEN_ENCRYPTION_KEY with the current (first) key.
    Rekey(rekey::RekeyArgs),
    /// Measure collection at scale against the sandbox (see BENCHMARKS.md).
    Bench(bench::BenchArgs),
    /// The sandbox of `bench`, run as its child process.
    #[command(hide = true)]
    BenchSandbox,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::serve(args).await,
        Command::Bench(args) => bench::bench(args).await,
        Command::Rekey(args) => rekey::rekey(args).await,
        Command::BenchSandbox => bench::serve_sandbox_child().await,
        Command::Migrate => {
            let config = Config::from_env()?;
            urlinsta_core::telemetry::init(&config.log_level);
            let app = App::build(config).await?;
            println!("database at schema version {}", app.store.schema_version().await?);
            Ok(())
        }
        Command::Run { job, shard, shards } => {
            let job = JobKind::parse(&job).with_context(|| {
                format!("unknown job `{job}`: use refresh-tokens, collect-insights or collect-audience")
            })?;
            let shard = Shard::parse(
                shard.map(|s| s.to_string()).as_deref(),
                shards.map(|s| s.to_string()).as_deref(),
            )?;
            let config = Config::from_env()?;
            urlinsta_core::telemetry::init(&config.log_level);
            if config.sandbox {
                eprintln!("note: no FB_APP_ID is set; Graph calls go to {}", config.graph_base_url);
            }
            let app = App::build(config).await?;
            let report = run_job(&app, job, shard).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}

/// Runs a job, drawing progress on a terminal.
pub async fn run_job(app: &App, job: JobKind, shard: Shard) -> anyhow::Result<JobReport> {
    let mut options = RunOptions::shard(shard);
    if std::io::stderr().is_terminal() {
        options.progress = Some(Arc::new(|p: Progress| {
            eprint!("\r{:>6}/{:<6} accounts, {} failed ", p.done, p.total, p.failed);
        }));
    }
    let report = jobs::run(app, job, options).await?;
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    Ok(report)
}
