//! One run of a job: its id, its shard, its time, and whether it must stop.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::pacer::Pacer;
use super::shard::Shard;
use crate::app::App;
use crate::clock::Clock;
use crate::graph::Usage;
use crate::store::StoreError;

/// Work already started may go on this long after the budget, retries included.
const GRACE: Duration = Duration::from_secs(30);

/// What every account of one run shares.
#[derive(Debug)]
pub struct Run {
    /// In the log rows and log lines of the run: `<UTC time>-<random>`
    /// (`<label>-<random>` for work outside a scheduled run).
    pub id: String,
    pub shard: Shard,
    pub started: Instant,
    /// No new account is started after this.
    pub deadline: Instant,
    /// Work in flight ends before this, retries included.
    pub hard_deadline: Instant,
    pacer: Pacer,
    halt: Mutex<Option<Halt>>,
    /// The app's clock, which dates what the run stores and counts the
    /// hourly ceiling's window (a sandbox's virtual clock in the bench).
    clock: Arc<dyn Clock>,
}

/// Why a run starts no more accounts before its budget is spent. Each
/// would fail every account alike; the next run goes on from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// Meta's usage of the whole app is above 90%.
    AppUsage(u32),
    /// Meta throttles the whole app (code 4).
    AppThrottled,
    /// The database stopped answering.
    SilentDatabase,
    /// The lease lapsed and another run took it.
    LeaseLost,
}

impl Run {
    /// A run starting now, with the configured time budget.
    pub fn new(app: &App, shard: Shard) -> Run {
        let started = Instant::now();
        let deadline = started + app.config.job_time_budget;
        let label = app.clock.utc_now().format("%Y%m%dT%H%M%S").to_string();
        Run::until(app, &label, shard, deadline, deadline + GRACE)
    }

    /// Work outside a scheduled run (a manual collection), to end within
    /// `time`; its id starts with `label`.
    pub fn single(app: &App, label: &str, time: Duration) -> Run {
        let started = Instant::now();
        Run::until(app, label, Shard::default(), started + time, started + time)
    }

    fn until(app: &App, label: &str, shard: Shard, deadline: Instant, hard_deadline: Instant) -> Run {
        Run {
            id: format!("{label}-{}", crate::crypto::random_token(4)),
            shard,
            started: Instant::now(),
            deadline,
            hard_deadline,
            pacer: Pacer::new(app.config.retry_base),
            halt: Mutex::new(None),
            clock: app.clock.clone(),
        }
    }

    /// The time now, as the run's clock has it.
    pub fn utc_now(&self) -> DateTime<Utc> {
        self.clock.utc_now()
    }

    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Reads Meta's usage off one answer: above 90% of the app's limit, the run halts.
    pub fn observe(&self, usage: &Usage) {
        if self.pacer.observe(usage) {
            self.halt(Halt::AppUsage(usage.app_pct.unwrap_or_default()));
        }
    }

    /// The pause before the next account, as Meta's usage of the app stands.
    pub fn pause(&self) -> Duration {
        self.pacer.pause()
    }

    /// A store error that says the database stopped answering halts the run.
    pub fn note_store_error(&self, e: &StoreError) {
        if e.is_timeout() {
            self.halt(Halt::SilentDatabase);
        }
    }

    /// No new account from now on; the first reason is kept and logged.
    pub fn halt(&self, why: Halt) {
        let mut halt = self.halt.lock().unwrap_or_else(|e| e.into_inner());
        if halt.is_none() {
            tracing::warn!(run_id = %self.id, reason = ?why, "no new account this run");
            *halt = Some(why);
        }
    }

    pub fn halted(&self) -> Option<Halt> {
        *self.halt.lock().unwrap_or_else(|e| e.into_inner())
    }
}
