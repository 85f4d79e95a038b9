//! Collecting insights (hourly) and audience (daily) for every connection:
//! the two collection jobs of the engine. What is due is every connected
//! account not yet collected in this hour (day), stalest first, with its
//! Page token; one account's work is one exchange of Graph batches (see
//! `limits`) and one transactional write of everything it gathered. After
//! every account's hour, collect-insights fetches the past of the accounts
//! still without it (`backfill`).

pub mod audience;
pub mod backfill;
pub mod days;
pub mod insights;
pub mod limits;
pub mod media;
pub mod metrics;
mod prepaid;
mod record;
mod rejections;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::domain::{InstagramUserId, MetricName, Timestamp};
use crate::engine::{self, Run};
use crate::graph::Auth;
use crate::store::{
    AudienceSnapshot, Backfill, Candidate, CollectKind, MediaWrite, MetricRow, Reconstructed, StoreError, TokenStatus,
};
use limits::{ExchangeEnd, exchange};
use record::record;
pub use rejections::Rejections;

/// A manual collection answers within a function's 30 s.
const COLLECT_NOW_TIME: Duration = Duration::from_secs(20);

/// collect-insights or collect-audience, for one run.
pub struct Collection {
    kind: CollectKind,
    rejected: Rejections,
}

impl Collection {
    pub fn new(kind: CollectKind) -> Self {
        Collection {
            kind,
            rejected: Rejections::default(),
        }
    }
}

/// An account due for collection, and the calls of its first round
/// already taken from its hourly allowance (`None`: they did not fit).
#[derive(Debug)]
pub struct Due {
    account: Candidate,
    prepaid: Option<u32>,
    /// collect-insights: its media step, planned with the first round's calls.
    media: Option<Result<media::MediaHour, String>>,
    /// Its past is due (see [`Job::afterwards`](engine::Job::afterwards)), not its hour.
    past: bool,
}

impl engine::Candidate for Due {
    fn instagram_user_id(&self) -> &InstagramUserId {
        &self.account.instagram_user_id
    }
}

/// What a collection run did: the cron answer's counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CollectCounts {
    pub collected: usize,
    pub failed: usize,
    /// Not collected for a known reason: a dead token, a throttle, our hourly
    /// ceiling, or (audience) an account too small for demographics.
    pub skipped: usize,
    /// Accounts whose past was fetched (in part, when their allowance was short).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub backfilled: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl engine::Counts<Worked> for CollectCounts {
    fn add(&mut self, worked: &Worked) {
        match worked {
            Worked::Hour(Outcome::Collected { .. }) => self.collected += 1,
            Worked::Hour(Outcome::NotAvailable | Outcome::Skipped { .. } | Outcome::Gone) => self.skipped += 1,
            Worked::Hour(Outcome::Failed(_)) => self.failed += 1,
            // A past that failed or did not fit is asked for again by the next run.
            Worked::Past(outcome) => {
                self.backfilled += usize::from(matches!(outcome, Outcome::Collected { rows } if *rows > 0))
            }
        }
    }

    fn failed(&self) -> usize {
        self.failed
    }
}

impl engine::Job for Collection {
    type Candidate = Due;
    type Outcome = Worked;
    type Counts = CollectCounts;

    fn name(&self) -> &'static str {
        match self.kind {
            CollectKind::Insights => "collect-insights",
            CollectKind::Audience => "collect-audience",
        }
    }

    async fn candidates(&self, app: &App, run: &Run) -> Result<Vec<Due>, StoreError> {
        let period_start = Timestamp::from(match self.kind {
            CollectKind::Insights => days::hour_start(app.clock.utc_now()),
            CollectKind::Audience => days::day_start(app.clock.utc_now()),
        });
        // collect-insights' media step reads nothing of its own: its part comes with each candidate.
        let reach = (self.kind == CollectKind::Insights).then(|| media::reach(app, run.utc_now()));
        let accounts = app.store.collection_candidates(self.kind, reach.as_ref()).await?;
        Ok(accounts
            .into_iter()
            // Not those already collected in this hour (day).
            .filter(|c| c.last_collected_at.is_none_or(|last| last < period_start))
            .map(|account| Due {
                account,
                prepaid: None,
                media: None,
                past: false,
            })
            .collect())
    }

    /// The accounts whose past is due, once every account's hour is
    /// collected: history never starves an account of its hour.
    async fn afterwards(&self, app: &App, _run: &Run) -> Result<Vec<Due>, StoreError> {
        if self.kind != CollectKind::Insights || app.config.backfill_days == 0 {
            return Ok(Vec::new());
        }
        let accounts = app.store.collection_candidates(self.kind, None).await?;
        let now_t = app.clock.utc_now();
        Ok(accounts
            .into_iter()
            .filter(|c| skip_now(c, now_t).is_none() && backfill::due(app, c))
            .map(|account| Due {
                account,
                prepaid: Some(0),
                media: None,
                past: true,
            })
            .collect())
    }

    fn screen(&self, run: &Run, due: &Due) -> Option<Worked> {
        let skipped = skip_now(&due.account, run.utc_now());
        if let Some(Outcome::Skipped { reason, .. }) = &skipped {
            tracing::debug!(instagram_user_id = %due.account.instagram_user_id, reason, "skipped");
        }
        skipped.map(|outcome| match due.past {
            true => Worked::Past(outcome),
            false => Worked::Hour(outcome),
        })
    }

    /// Takes the calls of the accounts' first rounds (collect-insights: the
    /// media's too) from their allowances in one write. (Accounts the time
    /// budget then leaves unstarted keep their calls taken: the ceiling errs
    /// on the safe side.)
    async fn prepare(&self, app: &App, run: &Run, next: &mut [Due]) {
        // A past's calls are taken round by round (see `backfill`).
        let mut next: Vec<&mut Due> = next.iter_mut().filter(|due| !due.past).collect();
        if !next.is_empty() {
            prepaid::prepay(app, run, &self.rejected, self.kind, &mut next).await;
        }
    }

    async fn work(&self, app: &App, run: &Run, due: Due) -> Worked {
        match due.past {
            true => Worked::Past(backfill_account(app, run, &self.rejected, &due.account).await),
            false => {
                let hour = (due.prepaid, due.media);
                Worked::Hour(collect_account(app, run, &self.rejected, &due.account, self.kind, hour).await)
            }
        }
    }
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

/// One candidate's work in a run: its hour, or its past (after every account's hour).
#[derive(Debug, Clone, PartialEq)]
pub enum Worked {
    Hour(Outcome),
    Past(Outcome),
}

/// Why an account was not collected, for those who must act differently on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The connection is invalid: only the user reconnecting helps.
    InvalidToken,
    /// Meta throttled the account; it is left alone until `retry_at`.
    Parked,
    /// Our hourly ceiling of Graph calls for the account is reached.
    OverAllowance,
}

/// What one account's collection gathered.
#[derive(Debug, Default)]
pub struct Gathered {
    pub insights: Vec<MetricRow>,
    pub followers_count: Option<i64>,
    pub audience: Vec<AudienceSnapshot>,
    /// The metrics not collected because Meta refused them, with its message.
    pub rejected: BTreeMap<MetricName, String>,
    /// What the media part of the run did (collect-insights, after the account metrics).
    pub media: Option<media::MediaSummary>,
    /// What it gathered, written with the rest.
    pub media_write: Option<MediaWrite>,
    /// Values derived rather than measured (the follower curve before connecting).
    pub reconstructed: Vec<Reconstructed>,
    /// What this collection found of the account's history.
    pub backfill: Option<Backfill>,
}

/// The outcome of an account that is not called at all now, if it is not:
/// a dead connection, or one Meta asked us to leave alone for now.
fn skip_now(c: &Candidate, now_t: DateTime<Utc>) -> Option<Outcome> {
    let skipped = |why, reason: &str, retry_at| {
        Some(Outcome::Skipped {
            why,
            reason: reason.to_string(),
            retry_at,
        })
    };
    if c.status == TokenStatus::Invalid {
        // A `reauth_required` connection is still collected while its Page token works.
        let reason = "the connection is invalid: the account must be connected again";
        return skipped(Skip::InvalidToken, reason, None);
    }
    let parked_until = c
        .throttled_until
        .map(Timestamp::to_datetime)
        .filter(|until| *until > now_t);
    let reason = "Meta throttled this account; it is parked until the throttle clears";
    parked_until.and_then(|until| skipped(Skip::Parked, reason, Some(until)))
}

/// `POST /api/insights/:userId/refresh`: collects one account's insights
/// now, within the same limits as the hourly run. None: no such account.
pub async fn collect_now(app: &App, instagram_user_id: &InstagramUserId) -> Result<Option<Outcome>, StoreError> {
    let run = Run::single(app, "refresh", COLLECT_NOW_TIME);
    let reach = media::reach(app, run.utc_now());
    let Some(account) = app
        .store
        .candidate(instagram_user_id, CollectKind::Insights, Some(&reach))
        .await?
    else {
        return Ok(None);
    };
    if let Some(skipped) = skip_now(&account, run.utc_now()) {
        return Ok(Some(skipped));
    }
    let rejected = Rejections::default();
    let outcome = collect_account(app, &run, &rejected, &account, CollectKind::Insights, (Some(0), None)).await;
    // A new account's past comes with its first refresh.
    if let (Outcome::Collected { rows }, true) = (&outcome, backfill::due(app, &account)) {
        let rows = *rows;
        return Ok(Some(match backfill_account(app, &run, &rejected, &account).await {
            Outcome::Collected { rows: more } => Outcome::Collected { rows: rows + more },
            _ => Outcome::Collected { rows },
        }));
    }
    Ok(Some(outcome))
}

/// Fetches one account's past and records what it gathered.
async fn backfill_account(app: &App, run: &Run, rejected: &Rejections, account: &Candidate) -> Outcome {
    let started_at = Timestamp::from(run.utc_now());
    let (ended, gathered) = match app.store.page_token(account) {
        Ok(token) => backfill::backfill(app, run, rejected, account, Auth::Page(&token)).await,
        Err(e) => (
            ExchangeEnd::Failed(format!("the Page token could not be read: {e}"), None),
            Gathered::default(),
        ),
    };
    record(app, run, account, CollectKind::Insights, started_at, ended, gathered).await
}

/// Collects one account and records the result; never fails the run.
/// `prepaid`: the calls already taken from its allowance, `None` when they
/// did not fit; `media`: its media step as planned with them (none: planned
/// here, after the account metrics).
async fn collect_account(
    app: &App,
    run: &Run,
    rejected: &Rejections,
    account: &Candidate,
    kind: CollectKind,
    (prepaid, media): (Option<u32>, Option<Result<media::MediaHour, String>>),
) -> Outcome {
    let started_at = Timestamp::from(run.utc_now());
    let ready = match prepaid {
        None => Err(ExchangeEnd::OverAllowance),
        Some(prepaid) => (app.store.page_token(account))
            .map(|token| (prepaid, token))
            .map_err(|e| ExchangeEnd::Failed(format!("the Page token could not be read: {e}"), None)),
    };
    let (mut prepaid, page_token) = match ready {
        Ok(ready) => ready,
        Err(ended) => return record(app, run, account, kind, started_at, ended, Gathered::default()).await,
    };
    // The plan's choice, kept explicit: insights are read with the Page token.
    let auth = Auth::Page(&page_token);
    let (ended, gathered) = match kind {
        CollectKind::Insights => {
            let mut plan = insights::InsightsPlan::new(app, rejected, account, app.clock.utc_now());
            let first_calls = prepaid::insights_calls(&plan);
            let ended = exchange(app, run, account, auth, &mut plan, insights::ops(), &mut prepaid).await;
            let mut gathered = plan.gathered(&app.config.insight_metrics);
            // Account metrics first; media take what the account's allowance has left.
            if matches!(ended, ExchangeEnd::Complete) && run.halted().is_none() {
                let hour = media.unwrap_or_else(|| media::MediaHour::plan(app, account, run.utc_now(), first_calls));
                let (summary, write) = media::collect(app, run, account, auth, hour, &mut prepaid).await;
                gathered.media = Some(summary);
                gathered.media_write = write;
            }
            (ended, gathered)
        }
        CollectKind::Audience => {
            let mut plan = audience::AudiencePlan::new(rejected, account);
            let ended = exchange(app, run, account, auth, &mut plan, audience::ops(), &mut prepaid).await;
            (ended, plan.gathered())
        }
    };
    record(app, run, account, kind, started_at, ended, gathered).await
}
