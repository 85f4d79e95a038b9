//! Content insights at steady state: accounts that post 3 feed posts or
//! reels and 3 stories a day, with 90 days of posts behind them, collected
//! hourly over simulated days. The app runs on the sandbox's virtual clock,
//! so a day of hourly runs takes as long as its requests do. Days of
//! warm-up at no latency bring the catalog and the refresh schedule to
//! steady state; then every hourly run of one day is measured at the
//! settings' latency: Graph calls and HTTP requests per account and run
//! (the account metrics' batch and the media batch), and the run's wall
//! time. In process, on an embedded file or a real `sqld` behind the
//! counting proxy, which also gives the database round trips and writes
//! per account and run.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Serialize;
use urlinsta_core::clock::DatesFrom;
use urlinsta_core::engine::RunOptions;
use urlinsta_core::jobs::{self, JobKind, JobReport};

use urlinsta_core::{App, Config};
use urlinsta_sandbox::{Control, MediaSpec, Sandbox, SandboxConfig};

use super::sqld::{CountingProxy, RoundTrips, Sqld};
use super::{DbKind, Settings, note};

/// Days of posts behind each account: the refresh schedule's horizon.
const HISTORY_DAYS: i64 = 90;
/// Hours (UTC) of the day's feed posts and reels, and of its stories.
const POSTS_AT: [u32; 3] = [8, 12, 18];
const STORIES_AT: [u32; 3] = [9, 14, 20];
/// Minutes past the hour the cron calls collect-insights.
const RUN_MINUTE: i64 = 7;

/// What a day of hourly runs cost.
#[derive(Debug, Clone, Serialize)]
pub struct MediaDayFigures {
    pub database: &'static str,
    pub accounts: usize,
    pub warmup_days: i64,
    pub hours: usize,
    pub latency_ms: u64,
    pub concurrency: usize,
    pub rate_limit_per_hour: u32,
    /// Averages over the measured runs, per account and run.
    pub graph_calls_per_run: f64,
    pub http_requests_per_run: f64,
    /// The dearest run's, per account.
    pub max_graph_calls_per_run: f64,
    pub max_http_requests_per_run: f64,
    /// sqld only: Hrana requests (and those that write) per account and run, mean and dearest run.
    pub db_round_trips_per_run: Option<f64>,
    pub db_writes_per_run: Option<f64>,
    pub max_db_round_trips_per_run: Option<f64>,
    /// Accounts collected over all measured runs / (accounts x runs).
    pub collected_share: f64,
    /// Mean and longest wall time of a measured run.
    pub mean_run_s: f64,
    pub max_run_s: f64,
    /// Catalogued media per account at the end, and stored snapshots.
    pub media_per_account: f64,
    /// CPU seconds of the whole process (the app and the in-process
    /// sandbox together) over the measured runs, per account and run.
    pub cpu_s_per_account_run: Option<f64>,
    /// Peak RSS over the measured runs (the sandbox's world included), MB.
    pub peak_rss_mb: Option<f64>,
    pub load_start: String,
    pub load_end: String,
}

pub async fn measure(
    settings: &Settings,
    kind: DbKind,
    sqld_bin: Option<&Path>,
    accounts: usize,
    warmup_days: i64,
    hours: usize,
) -> anyhow::Result<MediaDayFigures> {
    let sandbox = Sandbox::start(SandboxConfig::default()).await?;
    let control = sandbox.control();
    // A run's minutes past the next midnight, so that the measured day is a
    // calendar day, and the virtual clock ahead of the real one, which dates
    // the accounts' last collection.
    let midnight = control.now().duration_trunc(TimeDelta::days(1))? + TimeDelta::days(1);
    control.set_now(midnight + TimeDelta::minutes(RUN_MINUTE));
    let dir = tempfile::tempdir()?;
    let hosted = match kind {
        DbKind::Embedded => None,
        DbKind::Sqld => {
            let sqld = Sqld::start(sqld_bin.ok_or_else(|| anyhow::anyhow!("no sqld binary"))?).await?;
            let proxy = CountingProxy::start(&sqld.url, settings.db_latency()).await?;
            Some((sqld, proxy))
        }
    };
    let database = match &hosted {
        None => ("DATABASE_PATH", dir.path().join("media.db").display().to_string()),
        Some((_, proxy)) => ("TURSO_DATABASE_URL", proxy.url.clone()),
    };
    let vars: HashMap<String, String> = [
        database,
        ("FB_GRAPH_BASE_URL", sandbox.base_url()),
        ("FB_DIALOG_BASE_URL", sandbox.base_url()),
        ("COLLECT_CONCURRENCY", settings.concurrency.to_string()),
        // History is not what this measures (every run after an account's first skips it).
        ("BACKFILL_DAYS", "0".into()),
        ("JOB_TIME_BUDGET_SECS", "3600".into()),
        ("GRAPH_TIMEOUT_MS", "60000".into()),
        ("LOG_LEVEL", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let mut app = App::build(Config::from_vars(&vars)?).await?;
    // The app's dates follow the sandbox's virtual clock.
    let virtual_time = control.clone();
    app.clock = Arc::new(DatesFrom::new(move || virtual_time.now()));

    note(&format!(
        "media: {accounts} accounts with {HISTORY_DAYS} days of posts, {warmup_days} days of warm-up"
    ));
    let igs = connect(&app, &control, accounts).await?;
    for day in (1..=HISTORY_DAYS).rev() {
        post_day(&control, &igs, midnight - TimeDelta::days(day), day == 1);
    }
    let proxy = hosted.as_ref().map(|(_, proxy)| proxy);
    for hour in 0..warmup_days * 24 {
        if hour % 24 == 0 {
            note(&format!("media: warm-up day {} of {warmup_days}", hour / 24 + 1));
        }
        hourly(&app, &control, proxy, &igs, midnight).await?;
    }

    control.set_latency(settings.latency());
    let load_start = super::probe::load_average();
    let peak_reset = super::probe::reset_peak();
    let cpu_start = super::probe::cpu_seconds();
    let mut runs = Vec::with_capacity(hours);
    for hour in 0..hours {
        if hour % 6 == 0 {
            note(&format!("media: measured hour {hour} of {hours}"));
        }
        runs.push(hourly(&app, &control, proxy, &igs, midnight).await?);
    }
    let cpu_end = super::probe::cpu_seconds();
    let peak_kb = super::probe::status_kb("VmHWM").filter(|_| peak_reset);
    let load_end = super::probe::load_average();
    let media = app
        .store
        .conn()
        .await?
        .query("SELECT COUNT(*) FROM media", ())
        .await?
        .next()
        .await?
        .map(|row| row.get::<i64>(0))
        .transpose()?
        .unwrap_or(0);
    sandbox.shutdown().await;
    if let Some((sqld, proxy)) = hosted {
        drop(proxy);
        sqld.stop().await;
    }

    let n = accounts.max(1) as f64;
    let runs_n = runs.len().max(1) as f64;
    let per = |f: fn(&Hour) -> u64| runs.iter().map(move |r| f(r) as f64 / n);
    let db = |f: fn(&RoundTrips) -> u64| {
        let per_run: Option<Vec<f64>> = runs.iter().map(|r| r.db.as_ref().map(|d| f(d) as f64 / n)).collect();
        per_run.map(|p| (p.iter().sum::<f64>() / runs_n, p.iter().copied().fold(0.0, f64::max)))
    };
    Ok(MediaDayFigures {
        database: kind.name(),
        accounts,
        warmup_days,
        hours,
        latency_ms: settings.latency_ms,
        concurrency: settings.concurrency,
        rate_limit_per_hour: app.config.rate_limit_per_hour,
        graph_calls_per_run: per(|r| r.graph_calls).sum::<f64>() / runs_n,
        http_requests_per_run: per(|r| r.http_requests).sum::<f64>() / runs_n,
        max_graph_calls_per_run: per(|r| r.graph_calls).fold(0.0, f64::max),
        max_http_requests_per_run: per(|r| r.http_requests).fold(0.0, f64::max),
        db_round_trips_per_run: db(|d| d.requests).map(|(mean, _)| mean),
        db_writes_per_run: db(|d| d.writes).map(|(mean, _)| mean),
        max_db_round_trips_per_run: db(|d| d.requests).map(|(_, max)| max),
        collected_share: runs.iter().map(|r| r.collected as f64).sum::<f64>() / (n * runs_n),
        mean_run_s: runs.iter().map(|r| r.seconds).sum::<f64>() / runs_n,
        max_run_s: runs.iter().map(|r| r.seconds).fold(0.0, f64::max),
        media_per_account: media as f64 / n,
        cpu_s_per_account_run: cpu_start.zip(cpu_end).map(|(a, b)| (b - a) / (n * runs_n)),
        peak_rss_mb: peak_kb.map(|kb| kb as f64 / 1024.0),
        load_start,
        load_end,
    })
}

/// One hourly run's counts.
struct Hour {
    graph_calls: u64,
    http_requests: u64,
    /// sqld only: the run's database round trips, its lease included.
    db: Option<RoundTrips>,
    collected: usize,
    seconds: f64,
}

/// The hour's posts and stories (made at the hour, so the run a few minutes
/// later finds them), the hourly run, then the clock to the next hour.
async fn hourly(
    app: &App,
    control: &Control,
    proxy: Option<&CountingProxy>,
    igs: &[String],
    midnight: DateTime<Utc>,
) -> anyhow::Result<Hour> {
    let now = control.now();
    let hour_start = now.duration_trunc(TimeDelta::hours(1))?;
    let hour = u32::try_from((hour_start - midnight).num_hours().rem_euclid(24))?;
    post_hour(control, igs, hour_start, hour);
    control.reset_calls();
    let before = proxy.map(CountingProxy::round_trips);
    let started = Instant::now();
    let report = jobs::run(app, JobKind::CollectInsights, RunOptions::default()).await?;
    let seconds = started.elapsed().as_secs_f64();
    let collected = match report {
        JobReport::Collect(r) => r.counts.collected,
        JobReport::RefreshTokens(_) => 0,
    };
    let out = Hour {
        graph_calls: control.graph_calls(),
        http_requests: control.http_requests(),
        db: proxy.zip(before).map(|(p, before)| p.round_trips() - before),
        collected,
        seconds,
    };
    control.advance(TimeDelta::hours(1));
    Ok(out)
}

/// The posts and stories of one hour of the day, for every account.
fn post_hour(control: &Control, igs: &[String], at: DateTime<Utc>, hour: u32) {
    let post = POSTS_AT.iter().position(|h| *h == hour);
    let story = STORIES_AT.contains(&hour);
    for ig in igs {
        if let Some(i) = post {
            control.add_media(ig, kind(i).posted_at(at));
        }
        if story {
            control.add_media(ig, MediaSpec::story().posted_at(at));
        }
    }
}

/// A whole past day's posts (and its stories, for the last day: older ones
/// have expired).
fn post_day(control: &Control, igs: &[String], day: DateTime<Utc>, stories: bool) {
    for hour in 0..24 {
        let at = day + TimeDelta::hours(i64::from(hour));
        if stories {
            post_hour(control, igs, at, hour);
        } else if let Some(i) = POSTS_AT.iter().position(|h| *h == hour) {
            for ig in igs {
                control.add_media(ig, kind(i).posted_at(at));
            }
        }
    }
}

/// The day's first post is a photo, the second a reel, the third a carousel.
fn kind(i: usize) -> MediaSpec {
    match i {
        0 => MediaSpec::post(),
        1 => MediaSpec::reel(),
        _ => MediaSpec::carousel(3),
    }
}

/// `count` influencers connected through Facebook Login; their Instagram ids.
async fn connect(app: &App, control: &Control, count: usize) -> anyhow::Result<Vec<String>> {
    let now = Utc::now();
    let mut igs = Vec::with_capacity(count);
    for _ in 0..count {
        igs.push(super::env::connect_influencer(app, control, now).await?);
    }
    Ok(igs)
}

/// The figures as Markdown.
pub fn to_markdown(f: &MediaDayFigures) -> String {
    let figure = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
    format!(
        "\n### Content insights: a day of hourly runs ({db})\n\n\
         {accounts} accounts that post 3 feed posts or reels (a photo, a reel, a carousel of 3) and 3 stories a day, with {HISTORY_DAYS} days of posts behind them, after {warm} days of hourly runs at no latency; then {hours} hourly runs at {lat} ms, {conc} accounts at once, under the hourly ceiling of {ceiling} Graph calls an account (its window on the virtual clock). \
         Per account and run: the account metrics' batch and the media batch together; \
         database round trips (sqld, through the counting proxy) include the run's lease and candidate query. \
         CPU: the whole process's (the app and the sandbox, in one process; not sqld's) over the measured runs, per account and run; peak RSS over the measured runs, the sandbox's world included.\n\n\
         | Graph calls / run (mean) | (dearest run) | HTTP requests / run (mean) | (dearest run) | DB round trips / run (mean) | (dearest run) | DB writes / run | collected | media / account | mean run s | longest run s | accounts/s | CPU ms / account-run | peak RSS MB | load start | load end |\n\
         |--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|\n\
         | {calls:.2} | {max_calls:.2} | {req:.2} | {max_req:.2} | {db_rt} | {db_max} | {db_w} | {share:.0}% | {media:.0} | {mean:.2} | {max:.2} | {rate:.0} | {cpu} | {rss} | {ls} | {le} |\n",
        db = f.database,
        db_rt = figure(f.db_round_trips_per_run),
        db_max = figure(f.max_db_round_trips_per_run),
        db_w = figure(f.db_writes_per_run),
        accounts = f.accounts,
        warm = f.warmup_days,
        hours = f.hours,
        ceiling = f.rate_limit_per_hour,
        lat = f.latency_ms,
        conc = f.concurrency,
        calls = f.graph_calls_per_run,
        max_calls = f.max_graph_calls_per_run,
        req = f.http_requests_per_run,
        max_req = f.max_http_requests_per_run,
        share = f.collected_share * 100.0,
        media = f.media_per_account,
        mean = f.mean_run_s,
        max = f.max_run_s,
        rate = f.accounts as f64 / f.mean_run_s.max(1e-9),
        cpu = f
            .cpu_s_per_account_run
            .map_or("-".into(), |s| format!("{:.2}", s * 1000.0)),
        rss = f.peak_rss_mb.map_or("-".into(), |mb| format!("{mb:.0}")),
        ls = f.load_start,
        le = f.load_end,
    )
}
