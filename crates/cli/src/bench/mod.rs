//! `urlinsta bench`: collection at scale against the sandbox, measured.
//!
//! For each database (the embedded file, a real `sqld` behind a counting
//! proxy) it connects N influencers in a sandbox answering after L ms, runs
//! collect-insights, collect-audience and refresh-tokens through
//! `jobs::run` with concurrency C, and reports wall time, accounts per
//! second, Graph calls and HTTP requests per account, database round trips
//! and writes per account, peak memory, and the ideal time for the same N, L
//! and C. It also runs the plan's sequential loop on the same sandbox, reads
//! a year of one account's data through the API, and times the cold start
//! of a function binary. `--all` does all of it at the targets and
//! `--write BENCHMARKS.md` records the figures.

mod cold;
mod env;
mod markdown;
mod media_day;
mod paths;
mod plan;
mod probe;
mod read;
mod report;
mod sandbox;
mod sqld;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde::Serialize;
use urlinsta_core::Config;
use urlinsta_core::jobs::JobKind;

pub use sandbox::serve_child as serve_sandbox_child;

use env::Env;
use report::Figures;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Everything at the targets: 1,000 accounts, 100 ms, both
    /// databases, the plan's loop on 20 accounts, concurrency 32 and 64
    /// too, 10,000 accounts for memory, the read path and the cold start.
    /// Flags given too win.
    #[arg(long)]
    all: bool,
    /// Accounts collected in the measured runs [default: 1000].
    #[arg(long)]
    accounts: Option<usize>,
    /// Sandbox latency of every HTTP request, in ms [default: 100].
    #[arg(long)]
    latency_ms: Option<u64>,
    /// Accounts collected at once (COLLECT_CONCURRENCY) [default: the configured default].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Further collect-insights runs at these concurrencies, to see how far
    /// one invocation scales [--all: 32,64].
    #[arg(long, value_delimiter = ',')]
    sweep: Vec<usize>,
    /// Added by the counting proxy to every sqld round trip, in ms: a hosted
    /// database farther away than this machine.
    #[arg(long, default_value_t = 0)]
    db_latency_ms: u64,
    /// Databases to measure [default: embedded,sqld].
    #[arg(long, value_enum, value_delimiter = ',')]
    db: Vec<DbKind>,
    /// Jobs to run [default: all three].
    #[arg(long, value_delimiter = ',')]
    jobs: Vec<String>,
    /// Accounts for the plan's sequential loop; 0 skips it [default: 20].
    #[arg(long)]
    plan_accounts: Option<usize>,
    /// The plan's pause between accounts, in ms.
    #[arg(long, default_value_t = 500)]
    plan_pause_ms: u64,
    /// Accounts of a further collect-insights run for peak memory; 0 skips it [--all: 10000].
    #[arg(long)]
    memory_accounts: Option<usize>,
    /// Days of hourly history for the read path; 0 skips it [--all: 365].
    #[arg(long)]
    read_days: Option<i64>,
    /// Requests per read query.
    #[arg(long, default_value_t = 200)]
    read_samples: usize,
    /// Times the cold start of this function binary [--all: target/release/health-db].
    #[arg(long)]
    cold_start: Option<PathBuf>,
    /// Accounts per login for the round trips of each path (Facebook Login,
    /// Instagram Login); 0 skips it [--all: 50]. `--accounts 0` runs only this.
    #[arg(long)]
    paths: Option<usize>,
    /// Accounts that post 3 feed posts or reels and 3 stories a day, for a
    /// simulated day of hourly runs (content insights' calls, round trips
    /// and run time); 0 skips it [--all: 100]. `--accounts 0` runs only this
    /// and what else is asked.
    #[arg(long)]
    media_accounts: Option<usize>,
    /// Simulated days of hourly runs at no latency before the measured day.
    #[arg(long, default_value_t = 7)]
    media_warmup_days: i64,
    /// Hourly runs measured at the latency.
    #[arg(long, default_value_t = 24)]
    media_hours: usize,
    /// Starts per cold-start figure.
    #[arg(long, default_value_t = 20)]
    cold_samples: usize,
    /// The sqld binary [default: SQLD_BIN, else .tools/sqld/sqld].
    #[arg(long)]
    sqld: Option<PathBuf>,
    /// Writes the figures into this Markdown file (between its bench markers).
    #[arg(long)]
    write: Option<PathBuf>,
    /// Prints the figures as JSON instead of text.
    #[arg(long)]
    json: bool,
    /// This process is the memory run of its parent: only that run, JSON out.
    #[arg(long, hide = true)]
    memory_child: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DbKind {
    Embedded,
    Sqld,
}

impl DbKind {
    fn name(self) -> &'static str {
        match self {
            DbKind::Embedded => "embedded",
            DbKind::Sqld => "sqld",
        }
    }
}

/// The settings of one invocation, `--all` and defaults applied.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub accounts: usize,
    pub latency_ms: u64,
    pub concurrency: usize,
    pub sweep: Vec<usize>,
    pub db_latency_ms: u64,
    pub dbs: Vec<DbKind>,
    #[serde(skip)]
    pub jobs: Vec<JobKind>,
    pub plan_accounts: usize,
    pub plan_pause_ms: u64,
    pub memory_accounts: usize,
    pub read_days: i64,
    pub read_samples: usize,
    pub cold_start: Option<PathBuf>,
    pub cold_samples: usize,
    pub paths: usize,
    pub media_accounts: usize,
    pub media_warmup_days: i64,
    pub media_hours: usize,
}

impl Settings {
    fn resolve(args: &BenchArgs) -> anyhow::Result<Settings> {
        let all = args.all;
        let jobs = if args.jobs.is_empty() {
            vec![
                JobKind::CollectInsights,
                JobKind::CollectAudience,
                JobKind::RefreshTokens,
            ]
        } else {
            args.jobs
                .iter()
                .map(|j| JobKind::parse(j).with_context(|| format!("unknown job `{j}`")))
                .collect::<anyhow::Result<_>>()?
        };
        Ok(Settings {
            accounts: args.accounts.unwrap_or(1_000),
            latency_ms: args.latency_ms.unwrap_or(100),
            concurrency: args
                .concurrency
                .unwrap_or(Config::from_vars(&HashMap::new())?.collect_concurrency),
            sweep: match (args.sweep.is_empty(), all) {
                (true, true) => vec![32, 64],
                _ => args.sweep.clone(),
            },
            db_latency_ms: args.db_latency_ms,
            dbs: if args.db.is_empty() {
                vec![DbKind::Embedded, DbKind::Sqld]
            } else {
                args.db.clone()
            },
            jobs,
            plan_accounts: args.plan_accounts.unwrap_or(20),
            plan_pause_ms: args.plan_pause_ms,
            memory_accounts: args.memory_accounts.unwrap_or(if all { 10_000 } else { 0 }),
            read_days: args.read_days.unwrap_or(if all { 365 } else { 0 }),
            read_samples: args.read_samples,
            cold_start: args
                .cold_start
                .clone()
                .or_else(|| all.then(|| PathBuf::from("target/release/health-db"))),
            cold_samples: args.cold_samples,
            paths: args.paths.unwrap_or(if all { 50 } else { 0 }),
            media_accounts: args.media_accounts.unwrap_or(if all { 100 } else { 0 }),
            media_warmup_days: args.media_warmup_days,
            media_hours: args.media_hours,
        })
    }

    fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }

    fn db_latency(&self) -> Duration {
        Duration::from_millis(self.db_latency_ms)
    }
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args)?;
    urlinsta_core::telemetry::init("warn");
    let sqld_bin = match settings.dbs.contains(&DbKind::Sqld) {
        true => Some(sqld::binary(args.sqld.as_deref())?),
        false => None,
    };
    let mut figures = Figures::new(settings.clone());
    for &kind in &settings.dbs {
        if settings.accounts == 0 {
            break;
        }
        if !args.memory_child {
            measure(kind, &settings, sqld_bin.as_deref(), &mut figures).await?;
        }
        if settings.memory_accounts == 0 {
            continue;
        }
        if args.memory_child {
            // On a database of its own: write transactions are not counted (see probe::WalCommits).
            let (accounts, concurrency) = (settings.memory_accounts, settings.concurrency);
            let mut env = Env::ready(
                kind,
                &settings,
                accounts,
                concurrency,
                sqld_bin.as_deref(),
                &mut figures,
            )
            .await?;
            figures.runs.push(env.run(JobKind::CollectInsights, false).await?);
            env.stop().await;
        } else {
            let child = memory_run_in_child(kind, &settings, sqld_bin.as_deref())?;
            figures.setups.extend(child.setups);
            figures.runs.extend(child.runs);
        }
    }
    let mut markdown = figures.to_markdown();
    if settings.paths > 0 && !args.memory_child {
        note(&format!("round trips per login, {} accounts each", settings.paths));
        markdown.push_str(&paths::to_markdown(
            &paths::measure(&settings, settings.paths, sqld_bin.as_deref()).await?,
            settings.latency_ms,
        ));
    }
    for &kind in settings
        .dbs
        .iter()
        .filter(|_| settings.media_accounts > 0 && !args.memory_child)
    {
        let media = media_day::measure(
            &settings,
            kind,
            sqld_bin.as_deref(),
            settings.media_accounts,
            settings.media_warmup_days,
            settings.media_hours,
        )
        .await?;
        markdown.push_str(&media_day::to_markdown(&media));
        figures.media_days.push(media);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        println!("{markdown}");
    }
    if let Some(path) = &args.write {
        markdown::write_into(path, &markdown)?;
        note(&format!("figures written into {}", path.display()));
    }
    Ok(())
}

/// The runs at the settings and the concurrency sweep, on one kind of database.
async fn measure(
    kind: DbKind,
    settings: &Settings,
    sqld_bin: Option<&Path>,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let (accounts, concurrency) = (settings.accounts, settings.concurrency);
    let mut env = Env::ready(kind, settings, accounts, concurrency, sqld_bin, figures).await?;
    for &job in &settings.jobs {
        figures.runs.push(env.run(job, true).await?);
    }
    if settings.plan_accounts > 0 {
        let plan = env.plan(settings, &figures.runs).await?;
        figures.plans.push(plan);
    }
    if settings.read_days > 0 {
        figures.reads.extend(env.read(settings).await?);
    }
    if let Some(binary) = &settings.cold_start {
        figures.cold.push(env.cold_start(binary, settings.cold_samples).await?);
    }
    env.stop().await;

    for &concurrency in &settings.sweep {
        let mut env = Env::ready(kind, settings, accounts, concurrency, sqld_bin, figures).await?;
        figures.runs.push(env.run(JobKind::CollectInsights, true).await?);
        env.stop().await;
    }
    Ok(())
}

/// What a memory run's process reports.
#[derive(serde::Deserialize)]
struct ChildFigures {
    setups: Vec<report::SetupFigures>,
    runs: Vec<report::RunFigures>,
}

/// The peak-memory run in a process of its own: memory the allocator kept
/// from earlier runs (the read path's responses of megabytes among them)
/// would otherwise count as this run's.
fn memory_run_in_child(kind: DbKind, settings: &Settings, sqld_bin: Option<&Path>) -> anyhow::Result<ChildFigures> {
    let mut child = std::process::Command::new(std::env::current_exe()?);
    child.args([
        "bench",
        "--memory-child",
        "--json",
        "--plan-accounts",
        "0",
        "--db",
        kind.name(),
    ]);
    for (flag, value) in [
        ("--memory-accounts", settings.memory_accounts.to_string()),
        ("--latency-ms", settings.latency_ms.to_string()),
        ("--concurrency", settings.concurrency.to_string()),
        ("--db-latency-ms", settings.db_latency_ms.to_string()),
    ] {
        child.args([flag, &value]);
    }
    if let Some(sqld) = sqld_bin {
        child.arg("--sqld").arg(sqld);
    }
    let out = child.stderr(std::process::Stdio::inherit()).output()?;
    anyhow::ensure!(out.status.success(), "the memory run failed ({})", out.status);
    serde_json::from_slice(&out.stdout).context("the memory run's figures")
}

/// Progress on stderr, with the load average.
fn note(what: &str) {
    eprintln!("[{}] {what}", probe::load_average());
}

/// A free loopback port (closed again at once; the caller binds it soon).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
