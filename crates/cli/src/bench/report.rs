//! The figures of one invocation, as JSON (`markdown` writes them for BENCHMARKS.md).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use urlinsta_core::jobs::JobKind;

use super::Settings;
use super::cold::ColdFigures;
use super::probe::Machine;
use super::read::ReadFigures;
use super::sandbox::Counts;

#[derive(Debug, Serialize)]
pub struct Figures {
    pub date: String,
    pub commit: String,
    pub command: String,
    pub machine: Machine,
    pub settings: Settings,
    pub setups: Vec<SetupFigures>,
    pub runs: Vec<RunFigures>,
    pub plans: Vec<PlanFigures>,
    pub reads: Vec<ReadFigures>,
    pub cold: Vec<ColdFigures>,
    /// Content insights over a simulated day (`--media-accounts`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub media_days: Vec<super::media_day::MediaDayFigures>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SetupFigures {
    pub db: String,
    pub accounts: usize,
    pub seconds: f64,
    pub load: String,
}

/// What [`RunFigures::new`] derives the figures from.
pub struct RunInput<'a> {
    pub db: &'a str,
    pub job: JobKind,
    pub accounts: usize,
    pub done: usize,
    pub latency: Duration,
    pub concurrency: usize,
    pub wall: Duration,
    pub calls: Counts,
    pub db_counts: super::env::DbCounts,
    /// None when VmHWM could not be reset before the run.
    pub peak_rss_kb: Option<u64>,
    pub sampled_rss_kb: u64,
    pub rss_start_kb: u64,
    pub report: serde_json::Value,
    pub load: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct RunFigures {
    pub db: String,
    pub job: String,
    pub accounts: usize,
    /// Accounts the job reports collected (refreshed); all of them, or the run is flagged.
    pub done: usize,
    pub latency_ms: u64,
    pub concurrency: usize,
    pub wall_s: f64,
    pub accounts_per_s: f64,
    pub graph_calls_per_account: f64,
    pub http_requests_per_account: f64,
    /// Hrana HTTP requests (sqld); none for the embedded file.
    pub db_round_trips_per_account: Option<f64>,
    /// sqld: requests carrying a write; embedded: write transactions committed.
    pub db_writes_per_account: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    pub sampled_rss_mb: f64,
    pub rss_at_start_mb: f64,
    /// Graph round trips on one account's path: its HTTP requests, made one after another.
    pub critical_path_round_trips: f64,
    pub ideal_s: f64,
    pub efficiency: Option<f64>,
    pub load: String,
    pub report: serde_json::Value,
}

impl RunFigures {
    pub fn new(i: RunInput<'_>) -> RunFigures {
        let n = i.accounts.max(1) as f64;
        let wall_s = i.wall.as_secs_f64();
        let critical = i.calls.http_requests as f64 / n;
        let waves = i.accounts.div_ceil(i.concurrency.max(1)) as f64;
        let ideal_s = critical * i.latency.as_secs_f64() * waves;
        RunFigures {
            db: i.db.to_string(),
            job: i.job.name().to_string(),
            accounts: i.accounts,
            done: i.done,
            latency_ms: i.latency.as_millis() as u64,
            concurrency: i.concurrency,
            wall_s,
            accounts_per_s: i.done as f64 / wall_s.max(1e-9),
            graph_calls_per_account: i.calls.graph_calls as f64 / n,
            http_requests_per_account: critical,
            db_round_trips_per_account: i.db_counts.round_trips.map(|r| r as f64 / n),
            db_writes_per_account: i.db_counts.writes.map(|w| w as f64 / n),
            peak_rss_mb: i.peak_rss_kb.map(mb),
            sampled_rss_mb: mb(i.sampled_rss_kb),
            rss_at_start_mb: mb(i.rss_start_kb),
            critical_path_round_trips: critical,
            ideal_s,
            efficiency: (ideal_s > 0.0).then(|| ideal_s / wall_s.max(1e-9)),
            load: i.load,
            report: i.report,
        }
    }

    pub(super) fn complete(&self) -> bool {
        self.done == self.accounts
    }
}

#[derive(Debug, Serialize)]
pub struct PlanFigures {
    pub db: String,
    pub accounts: usize,
    pub latency_ms: u64,
    pub pause_ms: u64,
    pub wall_s: f64,
    pub graph_calls_per_account: f64,
    pub seconds_per_account: f64,
    /// Our collect-insights on the same database: wall time per account.
    pub ours_seconds_per_account: Option<f64>,
    /// How many times longer the plan's loop takes per account.
    pub ratio: Option<f64>,
    pub load: String,
}

impl PlanFigures {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: &str,
        accounts: usize,
        latency: Duration,
        pause_ms: u64,
        wall: Duration,
        calls: Counts,
        ours: Option<&RunFigures>,
        load: String,
    ) -> PlanFigures {
        let per = wall.as_secs_f64() / accounts.max(1) as f64;
        let ours = ours.map(|r| r.wall_s / r.accounts.max(1) as f64);
        PlanFigures {
            db: db.to_string(),
            accounts,
            latency_ms: latency.as_millis() as u64,
            pause_ms,
            wall_s: wall.as_secs_f64(),
            graph_calls_per_account: calls.graph_calls as f64 / accounts.max(1) as f64,
            seconds_per_account: per,
            ours_seconds_per_account: ours,
            ratio: ours.map(|o| per / o.max(1e-9)),
            load,
        }
    }
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

impl Figures {
    pub fn new(settings: Settings) -> Figures {
        Figures {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            commit: commit(),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            machine: Machine::read(),
            settings,
            setups: Vec::new(),
            runs: Vec::new(),
            plans: Vec::new(),
            reads: Vec::new(),
            cold: Vec::new(),
            media_days: Vec::new(),
        }
    }
}

/// The commit measured, `-dirty` when the tree has uncommitted changes.
fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let Some(head) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown".into();
    };
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(changes) if !changes.is_empty() => format!("{head}-dirty"),
        _ => head,
    }
}
