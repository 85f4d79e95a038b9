//! Day-one history: an account without its past (just connected, or back
//! after its collection stopped for days) gets the daily account metrics of
//! the last `BACKFILL_DAYS` days, one request per day (most metrics are
//! `total_value` only, one total per request), and a follower curve for the
//! last 30 days reconstructed from today's count and Meta's daily follower
//! changes. Driven by what is stored: a run asks only for the days still
//! missing, at most `BACKFILL_CALLS_PER_RUN` calls and within the account's
//! hourly ceiling, so it resumes where the last one stopped; a day Meta has
//! nothing for is stored as no value, and never asked again.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::Value;

use super::days::{DAYS_FETCHED, MetaDay, meta_day, pacific_date};
use super::insights::drop_refused;
use super::limits::{ExchangeEnd, Next, Plan, exchange};
use super::metrics::{day_call, day_rows};
use super::{Gathered, Rejections};
use crate::app::App;
use crate::domain::InstagramUserId;
use crate::engine::Run;
use crate::graph::{Auth, Call, GraphError, MAX_BATCH_OPERATIONS};
use crate::store::sql::ts;
use crate::store::{Backfill, Candidate, MetricRow, Reconstructed};

/// Meta serves daily follower changes for the 30 days before today.
pub const FOLLOWER_CHANGE_DAYS: u64 = 30;
/// Collection that stopped longer than this leaves days the hourly run no longer reaches.
const GAP: Duration = Duration::days(DAYS_FETCHED as i64 - 1);

/// Whether an account's history is to be backfilled: never found whole yet
/// (and backfills are on: `BACKFILL_DAYS` above 0).
pub fn due(app: &App, account: &Candidate) -> bool {
    app.config.backfill_days > 0 && account.backfilled_at.is_none()
}

/// Whether this hourly collection reopens the backfill: the last one is so
/// long ago that days fell out of the hourly run's reach.
pub fn gap_before(account: &Candidate, now: DateTime<Utc>) -> bool {
    let last = account
        .last_collected_at
        .as_deref()
        .and_then(crate::store::sql::parse_ts);
    account.backfilled_at.is_some() && last.is_some_and(|t| now - t > GAP)
}

#[derive(Debug, Clone, Copy)]
pub enum Op {
    /// The daily follower changes of the last 30 days, one time series.
    FollowerChanges,
    /// One missing day's metrics.
    Day(usize),
}

pub struct BackfillPlan<'r> {
    ig_id: InstagramUserId,
    today: NaiveDate,
    /// The missing days asked for in this run, newest first.
    days: Vec<MetaDay>,
    metrics: Vec<String>,
    run_rejected: &'r Rejections,
    rows: Vec<MetricRow>,
    /// Daily follower changes by the end of their day.
    changes: BTreeMap<String, i64>,
    /// Every missing day was asked for, and the follower curve if it was due.
    whole: bool,
    ask_followers: bool,
}

impl<'r> BackfillPlan<'r> {
    /// The plan for what `stored` (`(period, end_time)` pairs since `oldest`) lacks.
    fn new(
        app: &App,
        run_rejected: &'r Rejections,
        account: &Candidate,
        now: DateTime<Utc>,
        stored: &[(String, String)],
    ) -> Self {
        let today = pacific_date(now);
        let have: HashSet<&str> = stored
            .iter()
            .filter(|(p, _)| p == "day")
            .map(|(_, e)| e.as_str())
            .collect();
        let counted: HashSet<NaiveDate> = stored
            .iter()
            .filter(|(p, _)| p != "day")
            .filter_map(|(_, e)| crate::store::sql::parse_ts(e))
            .map(pacific_date)
            .collect();
        // The hourly run fetches today and the days just before; the backfill, the rest.
        let missing: Vec<MetaDay> = (DAYS_FETCHED as u64..u64::from(app.config.backfill_days))
            .map(|back| meta_day(today - chrono::Days::new(back)))
            .filter(|d| !have.contains(ts(d.until).as_str()))
            .collect();
        let curve_missing =
            (1..=FOLLOWER_CHANGE_DAYS).any(|back| !counted.contains(&(today - chrono::Days::new(back))));
        let ask_followers = curve_missing && account.followers_count.is_some();
        let calls = (app.config.backfill_calls_per_run as usize).saturating_sub(usize::from(ask_followers));
        let known = run_rejected.known();
        BackfillPlan {
            ig_id: account.instagram_user_id.clone(),
            today,
            whole: missing.len() <= calls,
            days: missing.into_iter().take(calls).collect(),
            metrics: (app.config.insight_metrics.iter())
                .filter(|m| !known.contains_key(*m))
                .cloned()
                .collect(),
            run_rejected,
            rows: Vec::new(),
            changes: BTreeMap::new(),
            ask_followers,
        }
    }

    fn ops(&self) -> Vec<Op> {
        let follower = self.ask_followers.then_some(Op::FollowerChanges);
        follower.into_iter().chain((0..self.days.len()).map(Op::Day)).collect()
    }

    /// The follower count at the end of each of the last 30 days, going back
    /// from `now_count` (today's count, which yesterday closed at) by each
    /// day's change, as far as the changes reach without a hole.
    fn curve(&self, now_count: i64) -> Vec<Reconstructed> {
        let mut out = Vec::new();
        let mut count = now_count;
        for back in 1..=FOLLOWER_CHANGE_DAYS {
            let day = meta_day(self.today - chrono::Days::new(back));
            out.push(Reconstructed {
                row: MetricRow {
                    metric_name: "followers_count".into(),
                    metric_value: Some(count),
                    period: "lifetime".into(),
                    // Named like the day's last hourly count, which would replace it.
                    end_time: ts(day.until - Duration::hours(1)),
                },
                day,
            });
            match self.changes.get(&ts(day.until)) {
                Some(change) => count -= change,
                None => break,
            }
        }
        out
    }
}

impl Plan for BackfillPlan<'_> {
    type Op = Op;

    fn call(&self, op: Op) -> Option<Call<'static>> {
        match op {
            Op::FollowerChanges => {
                let oldest = meta_day(self.today - chrono::Days::new(FOLLOWER_CHANGE_DAYS));
                Some(
                    Call::get(format!("{}/insights", self.ig_id), Auth::None)
                        .param("metric", "follower_count")
                        .param("period", "day")
                        .param("since", oldest.since.timestamp().to_string())
                        .param("until", meta_day(self.today).since.timestamp().to_string()),
                )
            }
            Op::Day(_) if self.metrics.is_empty() => None,
            Op::Day(i) => Some(day_call(&self.ig_id, &self.metrics, &self.days[i])),
        }
    }

    fn answer(&mut self, op: Op, answer: Result<&Value, &GraphError>) -> Next {
        match (op, answer) {
            (Op::FollowerChanges, Ok(body)) => {
                for row in day_rows(body, &meta_day(self.today)) {
                    if let Some(v) = row.metric_value {
                        self.changes.insert(row.end_time, v);
                    }
                }
                Next::Done
            }
            // Followers changes are a bonus: the daily metrics go on without them.
            (Op::FollowerChanges, Err(_)) => Next::Done,
            (Op::Day(i), Ok(body)) => {
                let day = self.days[i];
                let rows = day_rows(body, &day);
                // A metric Meta sent nothing for that day is stored as no value: asked, and known empty.
                for metric in &self.metrics {
                    if !rows.iter().any(|r| &r.metric_name == metric) {
                        self.rows.push(MetricRow {
                            metric_name: metric.clone(),
                            metric_value: None,
                            period: "day".into(),
                            end_time: ts(day.until),
                        });
                    }
                }
                self.rows.extend(rows);
                Next::Done
            }
            (Op::Day(_), Err(e)) => drop_refused(&self.ig_id, &mut self.metrics, self.run_rejected, e),
        }
    }
}

/// Backfills one account within its calls per run and its hourly allowance; what it gathered, and how it ended.
pub async fn backfill(
    app: &App,
    run: &Run,
    run_rejected: &Rejections,
    account: &Candidate,
    auth: Auth<'_>,
) -> (ExchangeEnd, Gathered) {
    let now = Utc::now();
    let oldest = meta_day(pacific_date(now) - chrono::Days::new(u64::from(app.config.backfill_days))).since;
    let stored = match app.store.stored_days(account.id, oldest).await {
        Ok(stored) => stored,
        Err(e) => {
            run.note_store_error(&e);
            return (
                ExchangeEnd::Failed(format!("the stored history could not be read: {e}"), None),
                Gathered::default(),
            );
        }
    };
    let mut plan = BackfillPlan::new(app, run_rejected, account, now, &stored);
    // Batches as large as Meta takes; when the hourly ceiling has no room
    // for one, smaller ones, down to a single call: the ceiling is used up, never passed.
    let (mut pending, mut size, mut ended) = (plan.ops(), MAX_BATCH_OPERATIONS, ExchangeEnd::Complete);
    while !pending.is_empty() {
        let n = size.min(pending.len());
        match exchange(app, run, account, auth, &mut plan, pending[..n].to_vec(), 0).await {
            ExchangeEnd::Complete => {
                pending.drain(..n);
            }
            ExchangeEnd::OverAllowance if n > 1 => size = n / 2,
            other => {
                ended = other;
                break;
            }
        }
    }
    let complete = matches!(ended, ExchangeEnd::Complete);
    let reconstructed = match (complete || !plan.changes.is_empty(), account.followers_count) {
        (true, Some(count)) if plan.ask_followers => plan.curve(count),
        _ => Vec::new(),
    };
    tracing::info!(instagram_user_id = %account.instagram_user_id, days = plan.days.len(), rows = plan.rows.len(),
        followers = reconstructed.len(), whole = complete && plan.whole, "backfill");
    // Metrics Meta refused (here or for another account of the run) stay on the account's list.
    let refused = run_rejected.known();
    let rejected = (app.config.insight_metrics.iter())
        .filter(|m| !plan.metrics.contains(m))
        .map(|m| (m.clone(), refused.get(m).cloned().unwrap_or_default()))
        .collect();
    let gathered = Gathered {
        insights: plan.rows,
        reconstructed,
        rejected,
        backfill: (complete && plan.whole).then_some(Backfill::Done),
        ..Gathered::default()
    };
    (ended, gathered)
}
