//! The job engine: everything the scheduled jobs share, once.
//!
//! A job ([`Job`]) says what is due (its candidates: one per account, each
//! carrying everything that account's work needs, stalest first) and what to
//! do for one candidate. The engine does the rest: the lease against
//! overlapping runs (renewed while the run lasts), the shard, how many
//! accounts at once, the time budget, halting the run (Meta's usage of the
//! app, a database that stopped answering, a lost lease), progress on a
//! terminal, and the typed [`Report`].
//!
//! One candidate's work may take several Graph round trips and several kinds
//! of work one after the other (account metrics, then media), all under the
//! run's one lease; what the candidate carries (its tokens, which login and
//! host it uses) is the job's own type.

mod lease;
mod pacer;
mod run;
mod shard;

use std::collections::VecDeque;
use std::fmt::Debug;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::domain::InstagramUserId;
use crate::store::StoreError;

pub use lease::{LEASE_TTL, Lease};
pub use pacer::{STOP_PCT, pause_for};
pub use run::{Halt, Run};
pub use shard::{Shard, ShardError};

/// A kind of scheduled work over the connected accounts.
pub trait Job: Send + Sync + 'static {
    /// One account's due work, with everything it needs (read in one query).
    type Candidate: Candidate;
    /// How one candidate's work went.
    type Outcome: Send + 'static;
    /// The run's counts of outcomes.
    type Counts: Counts<Self::Outcome>;

    /// The job's name: its lease, its log lines, its cron path.
    fn name(&self) -> &'static str;

    /// Every candidate, stalest first (the engine keeps the run's shard).
    fn candidates(&self, app: &App, run: &Run)
    -> impl Future<Output = Result<Vec<Self::Candidate>, StoreError>> + Send;

    /// The outcome of a candidate that is not worked on at all (a dead
    /// connection, a throttled account): counted, not started.
    fn screen(&self, _run: &Run, _candidate: &Self::Candidate) -> Option<Self::Outcome> {
        None
    }

    /// Prepares the next candidates in one go before they are handed out, so
    /// that what each needs from the database (their Graph calls taken from
    /// their allowances) costs one round trip per [`PREPARED_TOGETHER`], not one each.
    fn prepare(&self, _app: &App, _run: &Run, _next: &mut [Self::Candidate]) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Work that comes after every candidate's (an account's past, after
    /// every account's hour): more candidates, asked for only once the first
    /// ones are all done and the run has neither halted nor run out of time,
    /// worked on under the same lease, time budget and halting, and counted in the
    /// same report. None by default.
    fn afterwards(
        &self,
        _app: &App,
        _run: &Run,
    ) -> impl Future<Output = Result<Vec<Self::Candidate>, StoreError>> + Send {
        async { Ok(Vec::new()) }
    }

    /// One candidate's work, start to end; a failure stays with its candidate.
    fn work(&self, app: &App, run: &Run, candidate: Self::Candidate) -> impl Future<Output = Self::Outcome> + Send;
}

/// A candidate belongs to the shard of its Instagram account.
pub trait Candidate: Send + 'static {
    fn instagram_user_id(&self) -> &InstagramUserId;
}

/// A run's counts, in its report and its cron answer.
pub trait Counts<O>: Default + Debug + Clone + Send + Serialize + DeserializeOwned + 'static {
    fn add(&mut self, outcome: &O);
    /// Accounts whose work failed (and will be tried again by the next run).
    fn failed(&self) -> usize;
}

/// Candidates prepared in one go (see [`Job::prepare`]).
pub const PREPARED_TOGETHER: usize = 64;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(bound = "C: Serialize + DeserializeOwned")]
pub struct Report<C> {
    #[serde(flatten)]
    pub counts: C,
    /// Due but not started before the time budget ran out or the run
    /// halted: the next run starts with them.
    pub remaining: usize,
    pub duration_ms: u64,
    /// Another run of this job and shard held the lease; this one did nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub busy: bool,
}

/// Progress of a run, for terminals and logs.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub failed: usize,
}

pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How to run a job, besides the configuration.
#[derive(Clone)]
pub struct RunOptions {
    pub shard: Shard,
    pub progress: Option<ProgressFn>,
    pub lease_ttl: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            shard: Shard::default(),
            progress: None,
            lease_ttl: LEASE_TTL,
        }
    }
}

impl RunOptions {
    pub fn shard(shard: Shard) -> Self {
        RunOptions {
            shard,
            ..RunOptions::default()
        }
    }
}

/// Runs `job` over the due candidates of the options' shard, at most
/// COLLECT_CONCURRENCY at once, stalest first, none started after the time
/// budget or once the run halts. A run that finds the lease taken does
/// nothing (`busy`): the other run covers the same accounts.
pub async fn run<J: Job>(app: &App, job: J, options: RunOptions) -> Result<Report<J::Counts>, StoreError> {
    let run = Run::new(app, options.shard);
    let lease_name = options.shard.lease_name(job.name());
    let Some(lease) = Lease::take(app, &lease_name, options.lease_ttl).await? else {
        tracing::info!(lease = %lease_name, "another run holds the lease; nothing to do");
        return Ok(Report {
            busy: true,
            duration_ms: run.elapsed_ms(),
            ..Report::default()
        });
    };
    let result = work_through(app, Arc::new(job), Arc::new(run), lease.lost(), options.progress).await;
    lease.release().await;
    result
}

async fn work_through<J: Job>(
    app: &App,
    job: Arc<J>,
    run: Arc<Run>,
    lease_lost: Arc<AtomicBool>,
    progress: Option<ProgressFn>,
) -> Result<Report<J::Counts>, StoreError> {
    let tally = Arc::new(Mutex::new((J::Counts::default(), Progress::default())));
    let first = job.candidates(app, &run).await?;
    let mut remaining = work_on(app, &job, &run, &lease_lost, &progress, &tally, first).await;
    if remaining == 0 && run.halted().is_none() && !run.out_of_time() {
        match job.afterwards(app, &run).await {
            Ok(more) => remaining = work_on(app, &job, &run, &lease_lost, &progress, &tally, more).await,
            Err(e) => {
                // The first candidates' work is done and counted; the rest waits for the next run.
                tracing::warn!(job = job.name(), error = %e, "the work after the accounts' could not be read");
                run.note_store_error(&e);
            }
        }
    }
    let (counts, _) = tally.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let report = Report {
        counts,
        remaining,
        duration_ms: run.elapsed_ms(),
        busy: false,
    };
    tracing::info!(job = job.name(), run_id = %run.id, counts = ?report.counts, remaining = report.remaining,
        duration_ms = report.duration_ms, halted = ?run.halted(), "run finished");
    Ok(report)
}

type Tally<C> = Arc<Mutex<(C, Progress)>>;

/// Works through `candidates` of the run's shard, at most COLLECT_CONCURRENCY
/// at once, until they are done, the time is up or the run halts; how many
/// were due but not started.
async fn work_on<J: Job>(
    app: &App,
    job: &Arc<J>,
    run: &Arc<Run>,
    lease_lost: &Arc<AtomicBool>,
    progress: &Option<ProgressFn>,
    tally: &Tally<J::Counts>,
    candidates: Vec<J::Candidate>,
) -> usize {
    let mut due = VecDeque::new();
    {
        let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
        for candidate in candidates {
            if !run.shard.includes(candidate.instagram_user_id()) {
                continue;
            }
            match job.screen(run, &candidate) {
                Some(outcome) => tally.0.add(&outcome),
                None => due.push_back(candidate),
            }
        }
        tally.1.total += due.len();
    }
    let total = due.len();
    let queue = Arc::new(tokio::sync::Mutex::new(Queue {
        due,
        ready: VecDeque::new(),
    }));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..app.config.collect_concurrency.min(total) {
        let (app, job, run, lease_lost) = (app.clone(), job.clone(), run.clone(), lease_lost.clone());
        let (queue, tally, progress) = (queue.clone(), tally.clone(), progress.clone());
        workers.spawn(async move {
            loop {
                let pause = run.pause();
                if !pause.is_zero() {
                    tokio::time::sleep(pause.min(run.time_left())).await;
                }
                if lease_lost.load(Ordering::Relaxed) {
                    run.halt(Halt::LeaseLost);
                }
                if run.out_of_time() || run.halted().is_some() {
                    return;
                }
                let Some(candidate) = queue.lock().await.next(&app, &*job, &run).await else {
                    return;
                };
                let outcome = job.work(&app, &run, candidate).await;
                let now = {
                    let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
                    let (counts, progress) = &mut *tally;
                    counts.add(&outcome);
                    progress.done += 1;
                    progress.failed = counts.failed();
                    *progress
                };
                if let Some(report) = &progress {
                    report(now);
                }
            }
        });
    }
    while let Some(joined) = workers.join_next().await {
        if let Err(e) = joined {
            tracing::error!(job = job.name(), error = %e, "a worker of the run panicked");
        }
    }
    queue.lock().await.len()
}

/// The due candidates, stalest first, handed to the workers one at a time
/// and prepared [`PREPARED_TOGETHER`] at a time.
struct Queue<C> {
    due: VecDeque<C>,
    ready: VecDeque<C>,
}

impl<C> Queue<C> {
    fn len(&self) -> usize {
        self.due.len() + self.ready.len()
    }

    async fn next<J: Job<Candidate = C>>(&mut self, app: &App, job: &J, run: &Run) -> Option<C> {
        if self.ready.is_empty() && !self.due.is_empty() {
            let mut next: Vec<C> = self.due.drain(..PREPARED_TOGETHER.min(self.due.len())).collect();
            job.prepare(app, run, &mut next).await;
            self.ready.extend(next);
        }
        self.ready.pop_front()
    }
}
