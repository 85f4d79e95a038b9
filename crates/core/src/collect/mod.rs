//! Collecting insights (hourly) and audience (daily) for every connection,
//! at scale: a lease against overlapping runs, the accounts that are due
//! in this shard, stalest first, several at once, no new one after the time
//! budget (the next run goes on from there), one account's failure never
//! stopping the others, each account's results written in one round trip.

pub mod audience;
pub mod backfill;
pub mod days;
pub mod insights;
pub mod limits;
pub mod metrics;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::time::Instant;

use crate::app::App;
use crate::graph::Auth;
use crate::jobs::{JobContext, JobError, LeaseGuard, Progress, lease_ttl};
use crate::store::sql::{now, parse_ts, ts};
use crate::store::{
    AudienceSnapshot, Candidate, CollectKind, Finish, LogEntry, LogStatus, MetricRow, Reconstructed, RejectedMetric,
    TokenStatus,
};
use limits::{Ended, Pacer, Plan, exchange};

/// What a run did: the cron route's JSON.
#[derive(Debug, Default, Serialize)]
pub struct CollectReport {
    pub collected: usize,
    pub failed: usize,
    /// Not collected for a known reason: a dead token, a throttle, our hourly
    /// ceiling, or (audience) an account too small for demographics.
    pub skipped: usize,
    /// Due but not started before the time budget ran out (or Meta's usage
    /// stopped the run): the next run starts with them.
    pub remaining: usize,
    pub duration_ms: u64,
    /// Accounts whose past was fetched (in part, when their budget was short).
    #[serde(skip_serializing_if = "is_zero")]
    pub backfilled: usize,
    /// Another run of this job and shard holds the lease; this one did nothing.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub busy: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Backfills `accounts`, several at once, while the run has time; how many got history.
async fn backfill_all(app: &App, ctx: &JobContext, run: &Run, accounts: Vec<Candidate>) -> usize {
    use futures_util::StreamExt;
    let work = futures_util::stream::iter(accounts)
        .map(|account| async move {
            if ctx.out_of_time() || run.pacer.halted() {
                return false;
            }
            let outcome = backfill_one(app, run, &account).await;
            matches!(outcome, Outcome::Collected { rows } if rows > 0)
        })
        .buffer_unordered(app.config.collect_concurrency);
    work.filter(|done| std::future::ready(*done)).count().await
}

/// Backfills one account and records what it gathered.
async fn backfill_one(app: &App, run: &Run, account: &Candidate) -> Outcome {
    let started_at = now();
    let page_token = match app.store.page_token(account) {
        Ok(token) => token,
        Err(e) => {
            let ended = Ended::Failed(format!("the Page token could not be read: {e}"), None);
            return settle(
                app,
                run,
                account,
                CollectKind::Insights,
                &started_at,
                ended,
                Harvest::default(),
            )
            .await;
        }
    };
    let (ended, harvest) = backfill::backfill_account(app, run, account, Auth::Page(&page_token)).await;
    settle(app, run, account, CollectKind::Insights, &started_at, ended, harvest).await
}

pub async fn run_insights(app: &App, ctx: &JobContext) -> Result<CollectReport, JobError> {
    run(app, ctx, CollectKind::Insights).await
}

pub async fn run_audience(app: &App, ctx: &JobContext) -> Result<CollectReport, JobError> {
    run(app, ctx, CollectKind::Audience).await
}

/// Work already started may go on this long after the budget, retries included.
const GRACE: Duration = Duration::from_secs(30);
/// A manual refresh answers within a function's 30 s.
const REFRESH_TIME: Duration = Duration::from_secs(20);

/// What the accounts of one run share.
pub struct Run {
    pub run_id: String,
    pub pacer: Pacer,
    /// Metrics Meta refused in this run (name -> Meta's message): the
    /// run's other accounts do not ask for them again.
    pub rejected: Mutex<BTreeMap<String, String>>,
    /// Retries end before this.
    pub hard_deadline: Instant,
}

impl Run {
    fn new(app: &App, run_id: String, hard_deadline: Instant) -> Self {
        Run {
            run_id,
            pacer: Pacer::new(app.config.retry_base),
            rejected: Mutex::default(),
            hard_deadline,
        }
    }

    pub fn rejected_metrics(&self) -> BTreeMap<String, String> {
        self.rejected.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What one account's collection gathered.
#[derive(Debug, Default)]
pub struct Harvest {
    pub insights: Vec<MetricRow>,
    pub followers_count: Option<i64>,
    pub audience: Vec<AudienceSnapshot>,
    /// Values derived rather than measured (the follower curve before connecting).
    pub reconstructed: Vec<Reconstructed>,
    /// What this collection found of the account's history.
    pub backfill: Option<crate::store::Backfill>,
    /// `(metric, Meta's message)` of the metrics not collected because Meta refused them.
    pub rejected: Vec<(String, String)>,
}

/// How one account's collection went.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Collected {
        rows: usize,
    },
    /// Nothing to collect yet (demographics of a small account).
    NotAvailable,
    Skipped {
        why: Skip,
        reason: String,
        retry_at: Option<DateTime<Utc>>,
    },
    Failed(String),
    /// The account was deleted while it was being collected; nothing was stored.
    Gone,
}

/// Why an account was not collected, for those who must act differently on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The connection is invalid: only the user reconnecting helps.
    InvalidToken,
    /// Meta throttled the account; it is left alone until `retry_at`.
    Parked,
    /// Our hourly ceiling of Graph calls for the account is reached.
    OverBudget,
}

async fn run(app: &App, ctx: &JobContext, kind: CollectKind) -> Result<CollectReport, JobError> {
    let lease_name = ctx.shard.lease_name(ctx.job);
    let Some(lease) = LeaseGuard::acquire(app, &lease_name, lease_ttl(app)).await? else {
        tracing::info!(lease = %lease_name, "another run holds the lease; nothing to do");
        return Ok(CollectReport {
            busy: true,
            duration_ms: ctx.elapsed_ms(),
            ..CollectReport::default()
        });
    };
    let result = run_slice(app, ctx, kind).await;
    lease.release(app).await;
    result
}

async fn run_slice(app: &App, ctx: &JobContext, kind: CollectKind) -> Result<CollectReport, JobError> {
    let now_t = Utc::now();
    let period_start = ts(match kind {
        CollectKind::Insights => days::hour_start(now_t),
        CollectKind::Audience => days::day_start(now_t),
    });
    let mut report = CollectReport::default();
    let mut due = VecDeque::new();
    let mut backfills = Vec::new();
    for c in app.store.collection_candidates(kind).await? {
        if !ctx.shard.includes(&c.instagram_user_id) {
            continue;
        }
        if kind == CollectKind::Insights && not_callable(&c, now_t).is_none() && backfill::due(app, &c) {
            backfills.push(c.clone());
        }
        if c.last_collected_at
            .as_deref()
            .is_some_and(|last| last >= period_start.as_str())
        {
            continue; // already collected in this hour (day)
        }
        if let Some((_, reason)) = not_callable(&c, now_t) {
            tracing::debug!(instagram_user_id = %c.instagram_user_id, reason, "skipped");
            report.skipped += 1;
            continue;
        }
        due.push_back(c);
    }
    let total = due.len();
    let run = Arc::new(Run::new(app, ctx.run_id.clone(), ctx.deadline + GRACE));
    let queue = Arc::new(tokio::sync::Mutex::new(Queue::new(due)));
    let tally = Arc::new(Mutex::new(report));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..app.config.collect_concurrency.min(total) {
        let (app, ctx, run, queue, tally) = (app.clone(), ctx.clone(), run.clone(), queue.clone(), tally.clone());
        workers.spawn(async move {
            loop {
                let pause = run.pacer.pause();
                if !pause.is_zero() {
                    tokio::time::sleep(pause.min(ctx.time_left())).await;
                }
                if ctx.out_of_time() || run.pacer.halted() {
                    return;
                }
                let Some((account, prepaid)) = queue.lock().await.next(&app, &run, kind).await else {
                    return;
                };
                let outcome = collect_account(&app, &run, &account, kind, prepaid).await;
                let progress = {
                    let mut t = tally.lock().unwrap_or_else(|e| e.into_inner());
                    match outcome {
                        Outcome::Collected { .. } => t.collected += 1,
                        Outcome::NotAvailable | Outcome::Skipped { .. } | Outcome::Gone => t.skipped += 1,
                        Outcome::Failed(_) => t.failed += 1,
                    }
                    Progress {
                        done: t.collected + t.failed + t.skipped,
                        total,
                        failed: t.failed,
                    }
                };
                ctx.report(progress);
            }
        });
    }
    while let Some(joined) = workers.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "a collection worker panicked");
        }
    }
    let mut report = std::mem::take(&mut *tally.lock().unwrap_or_else(|e| e.into_inner()));
    report.remaining = queue.lock().await.len();
    // History comes after every account's hourly collection: it never starves one.
    if report.remaining == 0 && !backfills.is_empty() {
        report.backfilled = backfill_all(app, ctx, &run, backfills).await;
    }
    report.duration_ms = ctx.elapsed_ms();
    tracing::info!(job = ctx.job.name(), run_id = %ctx.run_id, collected = report.collected, failed = report.failed,
        skipped = report.skipped, remaining = report.remaining, duration_ms = report.duration_ms, "collection run finished");
    Ok(report)
}

/// A database that stopped answering fails every account alike: the run
/// starts no more and ends with what it has; the next run continues.
pub(super) fn halt_if_silent(run: &Run, e: &crate::store::StoreError) {
    if e.is_timeout() && !run.pacer.halted() {
        tracing::warn!(run_id = %run.run_id, error = %e, "the database is not answering: no new account this run");
        run.pacer.halt();
    }
}

/// Why an account is not called at all now, if it is not.
fn not_callable(c: &Candidate, now_t: DateTime<Utc>) -> Option<(Skip, &'static str)> {
    if c.status == TokenStatus::Invalid {
        // A `reauth_required` connection is still collected while its Page token works.
        return Some((
            Skip::InvalidToken,
            "the connection is invalid: the account must be connected again",
        ));
    }
    let parked = c
        .throttled_until
        .as_deref()
        .and_then(parse_ts)
        .is_some_and(|until| until > now_t);
    parked.then_some((
        Skip::Parked,
        "Meta throttled this account; it is parked until the throttle clears",
    ))
}

/// Accounts whose calls are taken from their budgets in one write.
const RESERVE_CHUNK: usize = 64;

/// The due accounts, stalest first, handed to the workers one at a time
/// with the calls of their first round already taken from their hourly
/// budgets: one database write per chunk of accounts instead of one per
/// account. (Accounts of the last chunk that the time budget leaves
/// unstarted keep their calls taken: the ceiling errs on the safe side.)
struct Queue {
    due: VecDeque<Candidate>,
    /// `(account, prepaid calls)`; `None` when its budget has no room.
    ready: VecDeque<(Candidate, Option<u32>)>,
}

impl Queue {
    fn new(due: VecDeque<Candidate>) -> Self {
        Queue {
            due,
            ready: VecDeque::new(),
        }
    }

    fn len(&self) -> usize {
        self.due.len() + self.ready.len()
    }

    async fn next(&mut self, app: &App, run: &Run, kind: CollectKind) -> Option<(Candidate, Option<u32>)> {
        if self.ready.is_empty() && !self.due.is_empty() {
            let chunk: Vec<Candidate> = self.due.drain(..RESERVE_CHUNK.min(self.due.len())).collect();
            let wanted: Vec<(i64, u32)> = chunk
                .iter()
                .map(|c| (c.id, first_round_calls(app, run, c, kind)))
                .collect();
            let limit = app.config.rate_limit_per_hour;
            match app.store.reserve_calls_for(&wanted, limit).await {
                Ok(granted) => {
                    for (account, (id, calls)) in chunk.into_iter().zip(wanted) {
                        self.ready.push_back((account, granted.contains(&id).then_some(calls)));
                    }
                }
                Err(e) => {
                    // Each account then asks for its own calls, and fails on its own if it must.
                    tracing::warn!(error = %e, "could not take a chunk's calls from their budgets");
                    halt_if_silent(run, &e);
                    self.ready.extend(chunk.into_iter().map(|c| (c, Some(0))));
                }
            }
        }
        self.ready.pop_front()
    }
}

/// The calls an account's first round asks for, as its plan stands now.
fn first_round_calls(app: &App, run: &Run, account: &Candidate, kind: CollectKind) -> u32 {
    fn count<P: Plan>(plan: &P, ops: Vec<P::Op>) -> u32 {
        ops.into_iter().filter(|op| plan.call(*op).is_some()).count() as u32
    }
    match kind {
        CollectKind::Insights => count(
            &insights::InsightsPlan::new(app, run, account, Utc::now()),
            insights::ops(),
        ),
        CollectKind::Audience => count(&audience::AudiencePlan::new(run, account), audience::ops()),
    }
}

/// `POST /api/insights/:userId/refresh`: collects one account's insights
/// now, within the same limits as the hourly run.
pub async fn refresh(app: &App, instagram_user_id: &str) -> Result<Option<Outcome>, crate::store::StoreError> {
    let Some(account) = app.store.candidate(instagram_user_id, CollectKind::Insights).await? else {
        return Ok(None);
    };
    let now_t = Utc::now();
    if let Some((why, reason)) = not_callable(&account, now_t) {
        let retry_at = account
            .throttled_until
            .as_deref()
            .and_then(parse_ts)
            .filter(|t| *t > now_t);
        return Ok(Some(Outcome::Skipped {
            why,
            reason: reason.to_string(),
            retry_at,
        }));
    }
    let run_id = format!("refresh-{}", crate::crypto::random_token(4));
    let run = Run::new(app, run_id, Instant::now() + REFRESH_TIME);
    let outcome = collect_account(app, &run, &account, CollectKind::Insights, Some(0)).await;
    // A new account's past comes with its first refresh.
    if let (Outcome::Collected { rows }, true) = (&outcome, backfill::due(app, &account)) {
        let rows = *rows;
        return Ok(Some(match backfill_one(app, &run, &account).await {
            Outcome::Collected { rows: more } => Outcome::Collected { rows: rows + more },
            _ => Outcome::Collected { rows },
        }));
    }
    Ok(Some(outcome))
}

/// Collects one account and records the result; never fails the run.
/// `prepaid`: the calls already taken from its budget, `None` when they did not fit.
async fn collect_account(
    app: &App,
    run: &Run,
    account: &Candidate,
    kind: CollectKind,
    prepaid: Option<u32>,
) -> Outcome {
    let started_at = now();
    let ready = match prepaid {
        None => Err(Ended::OverBudget),
        Some(prepaid) => (app.store.page_token(account))
            .map(|token| (prepaid, token))
            .map_err(|e| Ended::Failed(format!("the Page token could not be read: {e}"), None)),
    };
    let (prepaid, page_token) = match ready {
        Ok(ready) => ready,
        Err(ended) => return settle(app, run, account, kind, &started_at, ended, Harvest::default()).await,
    };
    // The plan's choice, kept explicit: insights are read with the Page token.
    let auth = Auth::Page(&page_token);
    let (ended, harvest) = match kind {
        CollectKind::Insights => {
            let mut plan = insights::InsightsPlan::new(app, run, account, Utc::now());
            let ended = exchange(app, run, account, auth, &mut plan, insights::ops(), prepaid).await;
            (ended, plan.harvest(&app.config.insight_metrics))
        }
        CollectKind::Audience => {
            let mut plan = audience::AudiencePlan::new(run, account);
            let ended = exchange(app, run, account, auth, &mut plan, audience::ops(), prepaid).await;
            (ended, plan.harvest())
        }
    };
    settle(app, run, account, kind, &started_at, ended, harvest).await
}

/// Writes what an account's collection gathered, its state and its log row
/// in one round trip, and says how it went.
async fn settle(
    app: &App,
    run: &Run,
    account: &Candidate,
    kind: CollectKind,
    started_at: &str,
    ended: Ended,
    harvest: Harvest,
) -> Outcome {
    let not_available = kind == CollectKind::Audience
        && !harvest.audience.is_empty()
        && harvest
            .audience
            .iter()
            .all(|s| s.status == crate::store::SnapshotStatus::NotAvailable);
    let rows = harvest.insights.len() + harvest.audience.iter().map(|s| s.values.len()).sum::<usize>();
    let outcome = match &ended {
        Ended::Complete if not_available => Outcome::NotAvailable,
        Ended::Complete => Outcome::Collected { rows },
        Ended::OverBudget => Outcome::Skipped {
            why: Skip::OverBudget,
            reason: format!(
                "the hourly ceiling of {} Graph calls for this account is reached",
                app.config.rate_limit_per_hour
            ),
            retry_at: None,
        },
        Ended::Parked { until, reason } => Outcome::Skipped {
            why: Skip::Parked,
            reason: format!("parked: {reason}"),
            retry_at: Some(*until),
        },
        Ended::Failed(reason, _) => Outcome::Failed(reason.clone()),
    };
    let (status, message) = match &outcome {
        Outcome::Collected { .. } => (LogStatus::Success, None),
        Outcome::NotAvailable => (
            LogStatus::Skipped,
            Some("not available yet: too few followers".to_string()),
        ),
        Outcome::Skipped { reason, .. } => (LogStatus::Skipped, Some(reason.clone())),
        Outcome::Failed(reason) => (LogStatus::Failed, Some(reason.clone())),
        Outcome::Gone => (LogStatus::Skipped, None),
    };
    let error_code = match &ended {
        Ended::Failed(_, Some(e)) => e.code,
        _ => None,
    };
    let rejected_names: Vec<&str> = harvest.rejected.iter().map(|(m, _)| m.as_str()).collect();
    let details = serde_json::json!({ "rows": rows, "rejected_metrics": rejected_names });
    let finish = Finish {
        account_id: account.id,
        kind,
        complete: matches!(ended, Ended::Complete),
        followers_count: harvest.followers_count,
        snapshot_date: days::day_start(Utc::now()).format("%Y-%m-%d").to_string(),
        rejected_metrics: Some(rejected_list(account, kind, &harvest.rejected)),
        error: matches!(outcome, Outcome::Failed(_)).then(|| message.clone()).flatten(),
        parked: match &ended {
            Ended::Parked { until, reason } => Some((ts(*until), reason.clone())),
            _ => None,
        },
        log: LogEntry {
            account_id: Some(account.id),
            run_id: &run.run_id,
            job_type: kind.as_str(),
            status,
            error_code,
            error_message: message.clone(),
            details: Some(details),
            started_at: started_at.to_string(),
        },
        insights: harvest.insights,
        audience: harvest.audience,
        reconstructed: harvest.reconstructed,
        rollup: match kind {
            CollectKind::Insights => rollup_days(app, account),
            CollectKind::Audience => Vec::new(),
        },
        backfill: harvest.backfill.or_else(|| {
            (kind == CollectKind::Insights
                && matches!(ended, Ended::Complete)
                && backfill::gap_before(account, Utc::now()))
            .then_some(crate::store::Backfill::Due)
        }),
    };
    match app.store.finish_collection(&finish).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(instagram_user_id = %account.instagram_user_id, job = kind.as_str(), "account deleted during its collection; nothing stored");
            return Outcome::Gone;
        }
        Err(e) => {
            tracing::error!(instagram_user_id = %account.instagram_user_id, error = %e, "collected data could not be stored");
            halt_if_silent(run, &e);
            // The cause is logged; callers and answers get no database internals.
            return Outcome::Failed("the results could not be stored; the next run collects them again".into());
        }
    }
    match &outcome {
        Outcome::Failed(reason) => {
            tracing::warn!(instagram_user_id = %account.instagram_user_id, job = kind.as_str(), reason = %reason, "collection failed")
        }
        other => {
            tracing::debug!(instagram_user_id = %account.instagram_user_id, job = kind.as_str(), outcome = ?other, "collection done")
        }
    }
    outcome
}

/// The days an insights write rolls up: from how far the account is rolled
/// up (or when it was connected) to `HOURLY_RETENTION_DAYS` ago.
fn rollup_days(app: &App, account: &Candidate) -> Vec<crate::store::DayRange> {
    let now_t = Utc::now();
    let from = (account.rolled_up_to.as_deref())
        .or(Some(account.connected_at.as_str()))
        .and_then(parse_ts)
        .unwrap_or(now_t);
    days::rollup_days(from, now_t, app.config.hourly_retention_days)
}

/// The account's rejected metrics after this run: the other job's as they
/// were, this job's as this run found them (unchanged dates when still refused).
fn rejected_list(account: &Candidate, kind: CollectKind, found: &[(String, String)]) -> Vec<RejectedMetric> {
    let job = kind.as_str();
    let mut list: Vec<RejectedMetric> = account
        .rejected_metrics
        .iter()
        .filter(|r| r.job != job)
        .cloned()
        .collect();
    for (metric, reason) in found {
        let at = account
            .rejected_metrics
            .iter()
            .find(|r| r.job == job && r.metric == *metric)
            .map(|r| r.at.clone())
            .unwrap_or_else(now);
        list.push(RejectedMetric {
            metric: metric.clone(),
            job: job.to_string(),
            reason: reason.clone(),
            at,
        });
    }
    list
}
