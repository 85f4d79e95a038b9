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
mod plan;
mod probe;
mod read;
mod report;
mod sandbox;
mod sqld;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use serde::Serialize;
use urlinsta_core::jobs::{self, Job, JobContext, Shard};
use urlinsta_core::secret::AccessToken;
use urlinsta_core::store::{CollectKind, NewConnection, sql::ts};
use urlinsta_core::{App, Config};

pub use sandbox::serve_child as serve_sandbox_child;

use probe::{RssSampler, WalCommits};
use report::{Figures, PlanFigures, RunFigures, SetupFigures};
use sandbox::{Granted, SandboxChild};

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Everything at the targets: 1,000 accounts, 100 ms, both
    /// databases, the plan's loop on 20 accounts, 10,000 accounts for
    /// memory, the read path and the cold start. Flags given too win.
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
    pub dbs: Vec<DbKind>,
    #[serde(skip)]
    pub jobs: Vec<Job>,
    pub plan_accounts: usize,
    pub plan_pause_ms: u64,
    pub memory_accounts: usize,
    pub read_days: i64,
    pub read_samples: usize,
    pub cold_start: Option<PathBuf>,
    pub cold_samples: usize,
    /// Stored user tokens end this many days from now, inside refresh-tokens' 10-day window.
    pub user_token_days: i64,
}

impl Settings {
    fn resolve(args: &BenchArgs) -> anyhow::Result<Settings> {
        let all = args.all;
        let jobs = if args.jobs.is_empty() {
            vec![Job::CollectInsights, Job::CollectAudience, Job::RefreshTokens]
        } else {
            args.jobs
                .iter()
                .map(|j| Job::parse(j).with_context(|| format!("unknown job `{j}`")))
                .collect::<anyhow::Result<_>>()?
        };
        Ok(Settings {
            accounts: args.accounts.unwrap_or(1_000),
            latency_ms: args.latency_ms.unwrap_or(100),
            concurrency: args
                .concurrency
                .unwrap_or(Config::from_vars(&HashMap::new())?.collect_concurrency),
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
            user_token_days: 5,
        })
    }

    fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }
}

pub async fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let settings = Settings::resolve(&args)?;
    urlinsta_core::telemetry::init("warn");
    let sqld_bin = if settings.dbs.contains(&DbKind::Sqld) {
        Some(sqld::binary(args.sqld.as_deref())?)
    } else {
        None
    };
    let mut figures = Figures::new(settings.clone());
    for &kind in &settings.dbs {
        let mut env = Env::start(kind, &settings, sqld_bin.as_deref()).await?;
        figures
            .setups
            .push(env.setup(settings.accounts, settings.user_token_days).await?);
        env.set_latency(settings.latency()).await?;
        for &job in &settings.jobs {
            note(&format!(
                "{}: {} over {} accounts",
                kind.name(),
                job.name(),
                settings.accounts
            ));
            let run = env.run(job, settings.accounts, true).await?;
            figures.runs.push(run);
        }
        if settings.plan_accounts > 0 {
            note(&format!(
                "{}: the plan's loop over {} accounts",
                kind.name(),
                settings.plan_accounts
            ));
            let plan = env.plan(&settings, &figures.runs).await?;
            figures.plans.push(plan);
        }
        if settings.read_days > 0 {
            note(&format!(
                "{}: reading {} days of history",
                kind.name(),
                settings.read_days
            ));
            figures.reads.extend(env.read(&settings).await?);
        }
        if let Some(binary) = &settings.cold_start {
            note(&format!("{}: cold start of {}", kind.name(), binary.display()));
            figures.cold.push(env.cold_start(binary, settings.cold_samples).await?);
        }
        env.stop().await;

        if settings.memory_accounts > 0 {
            let mut env = Env::start(kind, &settings, sqld_bin.as_deref()).await?;
            figures
                .setups
                .push(env.setup(settings.memory_accounts, settings.user_token_days).await?);
            env.set_latency(settings.latency()).await?;
            note(&format!(
                "{}: collect-insights over {} accounts",
                kind.name(),
                settings.memory_accounts
            ));
            let run = env.run(Job::CollectInsights, settings.memory_accounts, false).await?;
            figures.runs.push(run);
            env.stop().await;
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        println!("{}", figures.to_markdown());
    }
    if let Some(path) = &args.write {
        report::write_into(path, &figures.to_markdown())?;
        note(&format!("figures written into {}", path.display()));
    }
    Ok(())
}

fn note(what: &str) {
    eprintln!("[{}] {what}", probe::load_average());
}

/// A free loopback port (closed again at once; the caller binds it soon).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

// One value per run: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Database {
    Embedded {
        path: PathBuf,
        _dir: tempfile::TempDir,
    },
    Sqld {
        sqld: sqld::Sqld,
        proxy: sqld::CountingProxy,
    },
}

/// Database round trips counted over one run.
// One value per run: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum DbProbe {
    Wal(Option<WalCommits>),
    Proxy(sqld::RoundTrips),
}

/// What a run did to the database: round trips (sqld only: in-process
/// calls to an embedded file are none) and writes.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DbCounts {
    pub round_trips: Option<u64>,
    pub writes: Option<u64>,
}

/// One database, one sandbox process, one App.
struct Env {
    kind: DbKind,
    db: Database,
    sandbox: SandboxChild,
    app: App,
    admin_key: String,
    /// The influencers connected by [`Env::setup`].
    granted: Vec<Granted>,
    latency: Duration,
}

const BENCH_TOKEN_KEY: &str = "bench:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const BENCH_SESSION_SECRET: &str = "bench-session-secret-0123456789abcdef";

impl Env {
    async fn start(kind: DbKind, settings: &Settings, sqld_bin: Option<&Path>) -> anyhow::Result<Env> {
        let db = match kind {
            DbKind::Embedded => {
                let dir = tempfile::tempdir()?;
                Database::Embedded {
                    path: dir.path().join("urlinsta.db"),
                    _dir: dir,
                }
            }
            DbKind::Sqld => {
                let sqld = sqld::Sqld::start(sqld_bin.context("no sqld binary")?).await?;
                let proxy = sqld::CountingProxy::start(&sqld.url).await?;
                Database::Sqld { sqld, proxy }
            }
        };
        let sandbox = SandboxChild::start().await?;
        let admin_key = urlinsta_core::crypto::random_token(16);
        let mut vars: HashMap<String, String> = [
            ("FB_GRAPH_BASE_URL", sandbox.base_url.clone()),
            ("FB_DIALOG_BASE_URL", sandbox.base_url.clone()),
            ("SESSION_SECRET", BENCH_SESSION_SECRET.into()),
            ("TOKEN_ENCRYPTION_KEY", BENCH_TOKEN_KEY.into()),
            ("ADMIN_API_KEY", admin_key.clone()),
            // Our own ceiling and the time budget must not cut the run short.
            ("RATE_LIMIT_PER_HOUR", "1000000".into()),
            ("JOB_TIME_BUDGET_SECS", "3600".into()),
            ("GRAPH_TIMEOUT_MS", "60000".into()),
            ("COLLECT_CONCURRENCY", settings.concurrency.to_string()),
            ("LOG_LEVEL", "warn".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        match &db {
            Database::Embedded { path, .. } => vars.insert("DATABASE_PATH".into(), path.display().to_string()),
            Database::Sqld { proxy, .. } => vars.insert("TURSO_DATABASE_URL".into(), proxy.url.clone()),
        };
        let app = App::build(Config::from_vars(&vars)?).await?;
        Ok(Env {
            kind,
            db,
            sandbox,
            app,
            admin_key,
            granted: Vec::new(),
            latency: Duration::ZERO,
        })
    }

    /// Connects `count` influencers, as many at once as the database takes;
    /// their user tokens end in `user_token_days` (due for refresh-tokens).
    async fn setup(&mut self, count: usize, user_token_days: i64) -> anyhow::Result<SetupFigures> {
        note(&format!("{}: connecting {count} accounts", self.kind.name()));
        let started = Instant::now();
        let granted = self.sandbox.setup(count, Some(user_token_days)).await?;
        let now = chrono::Utc::now();
        let store = &self.app.store;
        let mut stored = futures_util::stream::iter(granted.iter().map(|g| {
            let connection = NewConnection {
                instagram_user_id: g.instagram_user_id.clone(),
                username: Some(g.username.clone()),
                name: Some(g.name.clone()),
                facebook_page_id: g.page_id.clone(),
                facebook_page_name: g.page_name.clone(),
                facebook_user_id: Some(g.facebook_user_id.clone()),
                followers_count: Some(g.followers_count),
                user_token: AccessToken::new(g.user_token.clone()),
                user_token_expires_at: Some(ts(now + chrono::Duration::seconds(g.user_token_expires_in))),
                page_token: AccessToken::new(g.page_token.clone()),
                data_access_expires_at: Some(ts(now + chrono::Duration::days(90))),
                granted_scopes: urlinsta_core::oauth::SCOPES.iter().map(|s| s.to_string()).collect(),
            };
            async move { store.upsert_connection(&connection).await }
        }))
        .buffer_unordered(self.setup_concurrency());
        while let Some(result) = stored.next().await {
            result?;
        }
        drop(stored);
        self.granted = granted;
        Ok(SetupFigures {
            db: self.kind.name().into(),
            accounts: count,
            seconds: started.elapsed().as_secs_f64(),
            load: probe::load_average(),
        })
    }

    /// The embedded file queues concurrent writers (busy timeout); sqld
    /// refuses a second interactive write transaction at once (SQLITE_BUSY),
    /// so connections are stored there one after another.
    fn setup_concurrency(&self) -> usize {
        match self.db {
            Database::Embedded { .. } => 32,
            Database::Sqld { .. } => 1,
        }
    }

    async fn begin_counting(&self, count_writes: bool) -> anyhow::Result<DbProbe> {
        Ok(match &self.db {
            Database::Embedded { path, .. } if count_writes => DbProbe::Wal(Some(WalCommits::pin(path).await?)),
            Database::Embedded { .. } => DbProbe::Wal(None),
            Database::Sqld { proxy, .. } => DbProbe::Proxy(proxy.round_trips()),
        })
    }

    async fn end_counting(&self, probe: DbProbe) -> anyhow::Result<DbCounts> {
        Ok(match (probe, &self.db) {
            (DbProbe::Wal(Some(wal)), _) => {
                let commits = wal.commits()?;
                wal.release().await;
                DbCounts {
                    round_trips: None,
                    writes: Some(commits),
                }
            }
            (DbProbe::Wal(None), _) => DbCounts::default(),
            (DbProbe::Proxy(before), Database::Sqld { proxy, .. }) => {
                let seen = proxy.round_trips() - before;
                DbCounts {
                    round_trips: Some(seen.requests),
                    writes: Some(seen.writes),
                }
            }
            (DbProbe::Proxy(_), _) => DbCounts::default(),
        })
    }

    /// One measured run of `job` over the `accounts` set up.
    async fn run(&mut self, job: Job, accounts: usize, count_writes: bool) -> anyhow::Result<RunFigures> {
        self.sandbox.reset().await?;
        let probe = self.begin_counting(count_writes).await?;
        let load = probe::load_average();
        let peak_reset = probe::reset_peak();
        let rss_start_kb = probe::status_kb("VmRSS").unwrap_or(0);
        let sampler = RssSampler::start(Duration::from_millis(5));
        let ctx = JobContext::new(&self.app, job, Shard::default());
        let started = Instant::now();
        let report = jobs::run(&self.app, &ctx).await?;
        let wall = started.elapsed();
        let sampled_kb = sampler.stop();
        let hwm_kb = probe::status_kb("VmHWM").unwrap_or(0);
        let calls = self.sandbox.counts().await?;
        let db = self.end_counting(probe).await?;
        let done_key = if job == Job::RefreshTokens {
            "refreshed"
        } else {
            "collected"
        };
        let done = report[done_key].as_u64().unwrap_or(0) as usize;
        Ok(RunFigures::new(report::RunInput {
            db: self.kind.name(),
            job,
            accounts,
            done,
            latency: self.latency,
            concurrency: self.app.config.collect_concurrency,
            wall,
            calls,
            db_counts: db,
            peak_rss_kb: peak_reset.then_some(hwm_kb),
            sampled_rss_kb: sampled_kb,
            rss_start_kb,
            report,
            load,
        }))
    }

    async fn set_latency(&mut self, latency: Duration) -> anyhow::Result<()> {
        self.sandbox.set_latency(latency).await?;
        self.latency = latency;
        Ok(())
    }

    /// The plan's loop over the first accounts, on the same sandbox and database.
    async fn plan(&mut self, settings: &Settings, runs: &[RunFigures]) -> anyhow::Result<PlanFigures> {
        let accounts: Vec<_> = self
            .app
            .store
            .collection_candidates(CollectKind::Insights)
            .await?
            .into_iter()
            .take(settings.plan_accounts)
            .collect();
        self.sandbox.reset().await?;
        let load = probe::load_average();
        let wall = plan::run(&self.app, &accounts, Duration::from_millis(settings.plan_pause_ms)).await?;
        let calls = self.sandbox.counts().await?;
        let ours = runs
            .iter()
            .find(|r| r.db == self.kind.name() && r.job == Job::CollectInsights.name());
        Ok(PlanFigures::new(
            self.kind.name(),
            accounts.len(),
            self.latency,
            settings.plan_pause_ms,
            wall,
            calls,
            ours,
            load,
        ))
    }

    /// A year (or `read_days`) of the first account's history, read back through the API.
    async fn read(&mut self, settings: &Settings) -> anyhow::Result<Vec<read::ReadFigures>> {
        let ig = &self.granted.first().context("no account set up")?.instagram_user_id;
        let account = self.app.store.account(ig).await?.context("the account is not stored")?;
        let started = Instant::now();
        let rows = read::fill(&self.app, account.id, settings.read_days).await?;
        note(&format!(
            "{}: {rows} rows stored in {:.1} s",
            self.kind.name(),
            started.elapsed().as_secs_f64()
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let public = tempfile::tempdir()?;
        let server = urlinsta_core::http::server::spawn(listener, self.app.clone(), public.path().to_path_buf())?;
        let client = reqwest::Client::new();
        let mut figures = Vec::new();
        for query in read::queries() {
            let mut f = read::measure(
                &client,
                &server.url(),
                &self.admin_key,
                ig,
                &query,
                settings.read_samples,
            )
            .await?;
            f.db = self.kind.name().into();
            figures.push(f);
        }
        server.shutdown().await;
        Ok(figures)
    }

    async fn cold_start(&self, binary: &Path, samples: usize) -> anyhow::Result<cold::ColdFigures> {
        let binary = binary.canonicalize().with_context(|| {
            format!(
                "{} is missing: build it with `cargo build --release --bins`",
                binary.display()
            )
        })?;
        let mut env = vec![
            ("SESSION_SECRET".to_string(), BENCH_SESSION_SECRET.to_string()),
            ("TOKEN_ENCRYPTION_KEY".to_string(), BENCH_TOKEN_KEY.to_string()),
            ("LOG_LEVEL".to_string(), "warn".to_string()),
        ];
        env.push(match &self.db {
            Database::Embedded { path, .. } => ("DATABASE_PATH".into(), path.display().to_string()),
            // Straight to sqld: the proxy is for counting, not part of the path.
            Database::Sqld { sqld, .. } => ("TURSO_DATABASE_URL".into(), sqld.url.clone()),
        });
        cold::measure(&binary, self.kind.name(), &env, "/api/health/db", samples).await
    }

    async fn stop(self) {
        self.sandbox.stop().await;
        if let Database::Sqld { sqld, proxy } = self.db {
            drop(proxy);
            sqld.stop().await;
        }
    }
}
