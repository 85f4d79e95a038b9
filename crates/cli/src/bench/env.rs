//! One measured setting: a database (an embedded file, or sqld behind the
//! counting proxy), the sandbox in its child process, the App on both, and
//! the influencers connected to it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use serde::Serialize;
use urlinsta_core::domain::Timestamp;
use urlinsta_core::engine::RunOptions;
use urlinsta_core::jobs::{self, JobKind, JobReport};
use urlinsta_core::secret::AccessToken;
use urlinsta_core::store::{CollectKind, NewConnection};
use urlinsta_core::{App, Config};
use urlinsta_sandbox::{Control, UserSpec};

use super::probe::{self, RssSampler, WalCommits};
use super::report::{Figures, PlanFigures, RunFigures, RunInput, SetupFigures};
use super::sandbox::{Granted, SandboxChild};
use super::{DbKind, Settings, cold, note, plan, read, sqld};

/// Stored user tokens end this many days from now: inside refresh-tokens' 10-day window.
const USER_TOKEN_DAYS: i64 = 5;
const BENCH_TOKEN_KEY: &str = "bench:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const BENCH_SESSION_SECRET: &str = "bench-session-secret-0123456789abcdef";

enum Database {
    Embedded { path: PathBuf, _dir: tempfile::TempDir },
    Sqld(Box<Hosted>),
}

struct Hosted {
    sqld: sqld::Sqld,
    proxy: sqld::CountingProxy,
}

/// Where a run's database work is being counted from.
enum Counting {
    Wal(Box<WalCommits>),
    Proxy(sqld::RoundTrips),
    Off,
}

/// What a run did to the database: round trips (sqld only: an embedded file
/// is called in-process) and writes.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DbCounts {
    pub round_trips: Option<u64>,
    pub writes: Option<u64>,
}

pub struct Env {
    kind: DbKind,
    db: Database,
    sandbox: SandboxChild,
    app: App,
    admin_key: String,
    /// The influencers connected.
    granted: Vec<Granted>,
    latency: Duration,
}

impl Env {
    /// A fresh database and sandbox with `accounts` influencers connected
    /// (recorded as a setup figure, not measured), the sandbox then
    /// answering after the settings' latency, the app collecting `concurrency` at once.
    pub async fn ready(
        kind: DbKind,
        settings: &Settings,
        accounts: usize,
        concurrency: usize,
        sqld_bin: Option<&Path>,
        figures: &mut Figures,
    ) -> anyhow::Result<Env> {
        let db_latency = Duration::from_millis(settings.db_latency_ms);
        let mut env = Env::start(kind, concurrency, db_latency, sqld_bin).await?;
        figures.setups.push(env.setup(accounts).await?);
        env.latency = settings.latency();
        env.sandbox.set_latency(env.latency).await?;
        Ok(env)
    }

    async fn start(
        kind: DbKind,
        concurrency: usize,
        db_latency: Duration,
        sqld_bin: Option<&Path>,
    ) -> anyhow::Result<Env> {
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
                let proxy = sqld::CountingProxy::start(&sqld.url, db_latency).await?;
                Database::Sqld(Box::new(Hosted { sqld, proxy }))
            }
        };
        let sandbox = SandboxChild::start().await?;
        let admin_key = urlinsta_core::crypto::random_token(16);
        let database = match &db {
            Database::Embedded { path, .. } => ("DATABASE_PATH", path.display().to_string()),
            Database::Sqld(hosted) => ("TURSO_DATABASE_URL", hosted.proxy.url.clone()),
        };
        let vars: HashMap<String, String> = [
            database,
            ("FB_GRAPH_BASE_URL", sandbox.base_url.clone()),
            ("FB_DIALOG_BASE_URL", sandbox.base_url.clone()),
            ("SESSION_SECRET", BENCH_SESSION_SECRET.into()),
            ("TOKEN_ENCRYPTION_KEY", BENCH_TOKEN_KEY.into()),
            ("ADMIN_API_KEY", admin_key.clone()),
            // The hourly runs of accounts whose history is whole, as every run after their first.
            ("BACKFILL_DAYS", "0".into()),
            // The time budget must not cut a run short. The hourly ceiling
            // (RATE_LIMIT_PER_HOUR) is the default: one run asks far less.
            ("JOB_TIME_BUDGET_SECS", "3600".into()),
            ("GRAPH_TIMEOUT_MS", "60000".into()),
            ("COLLECT_CONCURRENCY", concurrency.to_string()),
            ("LOG_LEVEL", "warn".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
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

    fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Connects `count` influencers as a login would, through the store;
    /// their user tokens are due for refresh.
    async fn setup(&mut self, count: usize) -> anyhow::Result<SetupFigures> {
        note(&format!("{}: connecting {count} accounts", self.name()));
        let started = Instant::now();
        let granted = self.sandbox.setup(count, Some(USER_TOKEN_DAYS)).await?;
        let now = chrono::Utc::now();
        let store = &self.app.store;
        let mut stored = futures_util::stream::iter(granted.iter().map(|g| {
            let connection = NewConnection {
                instagram_user_id: sandbox_id(&g.instagram_user_id),
                username: Some(g.username.clone()),
                name: Some(g.name.clone()),
                facebook_page_id: g.page_id.clone(),
                facebook_page_name: g.page_name.clone(),
                facebook_user_id: Some(g.facebook_user_id.clone()),
                followers_count: Some(g.followers_count),
                user_token: AccessToken::new(g.user_token.clone()),
                user_token_expires_at: Some(Timestamp::from(
                    now + chrono::Duration::seconds(g.user_token_expires_in),
                )),
                page_token: AccessToken::new(g.page_token.clone()),
                data_access_expires_at: Some(Timestamp::from(now + chrono::Duration::days(90))),
                granted_scopes: urlinsta_core::oauth::SCOPES.iter().map(|s| s.to_string()).collect(),
            };
            async move { store.upsert_connection(&connection).await }
        }))
        .buffer_unordered(32);
        while let Some(stored) = stored.next().await {
            stored?;
        }
        drop(stored);
        self.granted = granted;
        Ok(SetupFigures {
            db: self.name().into(),
            accounts: count,
            seconds: started.elapsed().as_secs_f64(),
            load: probe::load_average(),
        })
    }

    /// One measured run of `job` over every account set up; an embedded
    /// database's write transactions are counted with `count_writes`.
    pub async fn run(&mut self, job: JobKind, count_writes: bool) -> anyhow::Result<RunFigures> {
        let accounts = self.granted.len();
        let concurrency = self.app.config.collect_concurrency;
        note(&format!(
            "{}: {} over {accounts} accounts, {concurrency} at once",
            self.name(),
            job.name()
        ));
        self.sandbox.reset().await?;
        let counting = self.begin_counting(count_writes).await?;
        let load = probe::load_average();
        let peak_reset = probe::reset_peak();
        let rss_start_kb = probe::status_kb("VmRSS").unwrap_or(0);
        let sampler = RssSampler::start(Duration::from_millis(5));
        let started = Instant::now();
        let report = jobs::run(&self.app, job, RunOptions::default()).await?;
        let wall = started.elapsed();
        let sampled_rss_kb = sampler.stop();
        let hwm_kb = probe::status_kb("VmHWM").unwrap_or(0);
        let calls = self.sandbox.counts().await?;
        let db_counts = self.end_counting(counting).await?;
        let done = match &report {
            JobReport::RefreshTokens(r) => r.counts.refreshed,
            JobReport::Collect(r) => r.counts.collected,
        };
        Ok(RunFigures::new(RunInput {
            db: self.name(),
            job,
            accounts,
            done,
            latency: self.latency,
            concurrency,
            wall,
            calls,
            db_counts,
            peak_rss_kb: peak_reset.then_some(hwm_kb),
            sampled_rss_kb,
            rss_start_kb,
            report: serde_json::to_value(&report)?,
            load,
        }))
    }

    async fn begin_counting(&self, count_writes: bool) -> anyhow::Result<Counting> {
        Ok(match &self.db {
            Database::Embedded { path, .. } if count_writes => Counting::Wal(Box::new(WalCommits::pin(path).await?)),
            Database::Embedded { .. } => Counting::Off,
            Database::Sqld(hosted) => Counting::Proxy(hosted.proxy.round_trips()),
        })
    }

    async fn end_counting(&self, counting: Counting) -> anyhow::Result<DbCounts> {
        Ok(match (counting, &self.db) {
            (Counting::Wal(wal), _) => {
                let commits = wal.commits()?;
                wal.release().await;
                DbCounts {
                    round_trips: None,
                    writes: Some(commits),
                }
            }
            (Counting::Proxy(before), Database::Sqld(hosted)) => {
                let seen = hosted.proxy.round_trips() - before;
                DbCounts {
                    round_trips: Some(seen.requests),
                    writes: Some(seen.writes),
                }
            }
            _ => DbCounts::default(),
        })
    }

    /// The plan's loop over the first accounts, on the same sandbox and database.
    pub async fn plan(&mut self, settings: &Settings, runs: &[RunFigures]) -> anyhow::Result<PlanFigures> {
        note(&format!(
            "{}: the plan's loop over {} accounts",
            self.name(),
            settings.plan_accounts
        ));
        let accounts: Vec<_> = self
            .app
            .store
            .collection_candidates(CollectKind::Insights, None)
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
            .find(|r| r.db == self.name() && r.job == JobKind::CollectInsights.name());
        Ok(PlanFigures::new(
            self.name(),
            accounts.len(),
            self.latency,
            settings.plan_pause_ms,
            wall,
            calls,
            ours,
            load,
        ))
    }

    /// `read_days` of the first account's history, read back through the API.
    pub async fn read(&mut self, settings: &Settings) -> anyhow::Result<Vec<read::ReadFigures>> {
        note(&format!(
            "{}: reading {} days of history",
            self.name(),
            settings.read_days
        ));
        let ig = &self.granted.first().context("no account set up")?.instagram_user_id;
        let account = self
            .app
            .store
            .account(&sandbox_id(ig))
            .await?
            .context("the account is not stored")?;
        read::fill(&self.app, account.id, settings.read_days).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let public = tempfile::tempdir()?;
        let server = urlinsta_core::http::server::spawn(listener, self.app.clone(), public.path().to_path_buf())?;
        let client = reqwest::Client::new();
        let mut figures = Vec::new();
        for query in read::queries() {
            let target = read::Target {
                client: &client,
                base: server.url(),
                admin_key: &self.admin_key,
                ig_id: ig,
            };
            if let Some(mut f) = read::measure(&target, &query, settings.read_samples).await? {
                f.db = self.name().into();
                figures.push(f);
            }
        }
        server.shutdown().await;
        Ok(figures)
    }

    pub async fn cold_start(&self, binary: &Path, samples: usize) -> anyhow::Result<cold::ColdFigures> {
        note(&format!("{}: cold start of {}", self.name(), binary.display()));
        let binary = binary.canonicalize().with_context(|| {
            format!(
                "{} is missing: build it with `cargo build --release --bins`",
                binary.display()
            )
        })?;
        let database = match &self.db {
            Database::Embedded { path, .. } => ("DATABASE_PATH", path.display().to_string()),
            // Straight to sqld: the proxy is for counting, not part of the path.
            Database::Sqld(hosted) => ("TURSO_DATABASE_URL", hosted.sqld.url.clone()),
        };
        let env: Vec<(String, String)> = [
            database,
            ("SESSION_SECRET", BENCH_SESSION_SECRET.into()),
            ("TOKEN_ENCRYPTION_KEY", BENCH_TOKEN_KEY.into()),
            ("LOG_LEVEL", "warn".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        cold::measure(&binary, self.name(), &env, "/api/health/db", samples).await
    }

    pub async fn stop(self) {
        self.sandbox.stop().await;
        if let Database::Sqld(hosted) = self.db {
            let Hosted { sqld, proxy } = *hosted;
            drop(proxy);
            sqld.stop().await;
        }
    }
}

/// An Instagram id the sandbox handed out; it makes only valid ones.
pub fn sandbox_id(raw: &str) -> urlinsta_core::domain::InstagramUserId {
    urlinsta_core::domain::InstagramUserId::parse(raw).expect("the sandbox hands out Instagram user ids")
}

/// Connects one default influencer of the sandbox through Facebook Login,
/// as the callback would store it (user token 50 days, data access 90);
/// its Instagram id.
pub async fn connect_influencer(
    app: &App,
    control: &Control,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<String> {
    let spec = UserSpec::default_influencer();
    let page = spec.pages[0].clone();
    let ig = page.instagram.clone().expect("an influencer has an Instagram account");
    let user = control.add_user(spec);
    let granted = control
        .grant_tokens(&user, urlinsta_core::oauth::SCOPES)
        .expect("the user exists");
    app.store
        .upsert_connection(&NewConnection {
            instagram_user_id: sandbox_id(&ig.id),
            username: Some(ig.username),
            name: Some(ig.name),
            facebook_page_id: page.id,
            facebook_page_name: page.name,
            facebook_user_id: Some(user),
            followers_count: Some(ig.followers_count),
            user_token: AccessToken::new(granted.user_token),
            user_token_expires_at: Some(Timestamp::from(now + chrono::Duration::days(50))),
            page_token: AccessToken::new(granted.pages[0].1.clone()),
            data_access_expires_at: Some(Timestamp::from(now + chrono::Duration::days(90))),
            granted_scopes: urlinsta_core::oauth::SCOPES.iter().map(|s| s.to_string()).collect(),
        })
        .await?;
    Ok(ig.id)
}
