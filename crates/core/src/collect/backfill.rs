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
use crate::config::Config;
use crate::domain::{InstagramUserId, MetricName, Timestamp};
use crate::engine::Run;
use crate::graph::{Auth, Call, GraphError, MAX_BATCH_OPERATIONS};
use crate::store::{Backfill, Candidate, MetricRow, Reconstructed, StoredHistory};

/// Meta serves daily follower changes for the 30 days before today.
pub const FOLLOWER_CHANGE_DAYS: u64 = 30;
/// The longest `since`..`until` Meta serves in one request.
const MAX_RANGE: Duration = Duration::days(30);
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
    let last = account.last_collected_at.map(|t| t.to_datetime());
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
    metrics: Vec<MetricName>,
    run_rejected: &'r Rejections,
    rows: Vec<MetricRow>,
    /// Daily follower changes by the end of their day.
    changes: BTreeMap<Timestamp, i64>,
    /// Every missing day was asked for, and the follower curve if it was due.
    whole: bool,
    ask_followers: bool,
}

impl<'r> BackfillPlan<'r> {
    /// The plan for what `stored` lacks.
    fn new(
        config: &Config,
        run_rejected: &'r Rejections,
        (ig_id, followers): (&InstagramUserId, Option<i64>),
        now: DateTime<Utc>,
        stored: &StoredHistory,
    ) -> Self {
        let today = pacific_date(now);
        let counted: HashSet<NaiveDate> = (stored.follower_counts.iter())
            .map(|t| pacific_date(t.to_datetime()))
            .collect();
        // The hourly run fetches today and the days just before; the backfill, the rest.
        let missing: Vec<MetaDay> = (DAYS_FETCHED as u64..u64::from(config.backfill_days))
            .map(|back| meta_day(today - chrono::Days::new(back)))
            .filter(|d| !stored.days.contains(&Timestamp::from(d.until)))
            .collect();
        let curve_missing =
            (1..=FOLLOWER_CHANGE_DAYS).any(|back| !counted.contains(&(today - chrono::Days::new(back))));
        let ask_followers = curve_missing && followers.is_some();
        let calls = (config.backfill_calls_per_run as usize).saturating_sub(usize::from(ask_followers));
        BackfillPlan {
            ig_id: ig_id.clone(),
            today,
            whole: missing.len() <= calls,
            days: missing.into_iter().take(calls).collect(),
            metrics: run_rejected.still_asked(&config.insight_metrics),
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
                    metric_name: MetricName::known("followers_count"),
                    metric_value: Some(count),
                    period: "lifetime".into(),
                    // Named like the day's last hourly count, which would replace it.
                    end_time: Timestamp::from(day.until - Duration::hours(1)),
                },
                day,
            });
            match self.changes.get(&Timestamp::from(day.until)) {
                Some(change) => count -= change,
                None => break,
            }
        }
        out
    }
}

/// The range of the 30 days' follower changes before `today`, within Meta's 30 days of seconds:
/// across the end of daylight time `since` starts an hour into the oldest day, still in range.
fn follower_change_range(today: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let until = meta_day(today).since;
    let oldest = meta_day(today - chrono::Days::new(FOLLOWER_CHANGE_DAYS)).since;
    (oldest.max(until - MAX_RANGE), until)
}

impl Plan for BackfillPlan<'_> {
    type Op = Op;

    fn call(&self, op: Op) -> Option<Call<'static>> {
        match op {
            Op::FollowerChanges => {
                let (since, until) = follower_change_range(self.today);
                Some(
                    Call::get(format!("{}/insights", self.ig_id), Auth::None)
                        .param("metric", "follower_count")
                        .param("period", "day")
                        .param("since", since.timestamp().to_string())
                        .param("until", until.timestamp().to_string()),
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
                            end_time: Timestamp::from(day.until),
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
    let now = run.utc_now();
    let oldest = meta_day(pacific_date(now) - chrono::Days::new(u64::from(app.config.backfill_days))).since;
    let stored = match app.store.stored_history(account.id, oldest.into()).await {
        Ok(stored) => stored,
        Err(e) => {
            run.note_store_error(&e);
            return (
                ExchangeEnd::Failed(format!("the stored history could not be read: {e}"), None),
                Gathered::default(),
            );
        }
    };
    let account_now = (&account.instagram_user_id, account.followers_count);
    let mut plan = BackfillPlan::new(&app.config, run_rejected, account_now, now, &stored);
    // Batches as large as Meta takes; when the hourly ceiling has no room
    // for one, smaller ones, down to a single call: the ceiling is used up,
    // never passed. None starts once the run's time is up or Meta's usage of
    // the app halted it: the next run resumes from what is stored.
    let (mut pending, mut size, mut ended) = (plan.ops(), MAX_BATCH_OPERATIONS, ExchangeEnd::Complete);
    while !pending.is_empty() && !run.out_of_time() && run.halted().is_none() {
        let n = size.min(pending.len());
        match exchange(app, run, account, auth, &mut plan, pending[..n].to_vec(), &mut 0).await {
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
    let complete = matches!(ended, ExchangeEnd::Complete) && pending.is_empty();
    let reconstructed = match (complete || !plan.changes.is_empty(), account.followers_count) {
        (true, Some(count)) if plan.ask_followers => plan.curve(count),
        _ => Vec::new(),
    };
    tracing::info!(instagram_user_id = %account.instagram_user_id, days = plan.days.len(), rows = plan.rows.len(),
        followers = reconstructed.len(), whole = complete && plan.whole, "backfill");
    let gathered = Gathered {
        // Metrics Meta refused (here or for another account of the run) stay on the account's list.
        rejected: run_rejected.refused(&app.config.insight_metrics, &plan.metrics),
        insights: plan.rows,
        reconstructed,
        backfill: (complete && plan.whole).then_some(Backfill::Done),
        ..Gathered::default()
    };
    (ended, gathered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// The plan with the default configuration (90 days) for an account of 10,000 followers.
    fn plan<'r>(rejected: &'r Rejections, id: &InstagramUserId, now: &str, stored: &StoredHistory) -> BackfillPlan<'r> {
        let key = format!("k1:{}=", "A".repeat(43));
        let vars = [
            ("SESSION_SECRET", "s"),
            ("TOKEN_ENCRYPTION_KEY", &key),
            ("CRON_SECRET", "c"),
        ];
        let vars = vars.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let config = Config::from_vars(&vars).unwrap();
        BackfillPlan::new(&config, rejected, (id, Some(10_000)), at(now), stored)
    }

    fn id() -> InstagramUserId {
        InstagramUserId::parse("17841400000000001").unwrap()
    }

    #[test]
    fn the_days_asked_follow_pacific_midnights_without_a_gap() {
        let (rejected, id) = (Rejections::default(), id());
        // 07:59 UTC on December 1 is still November 30 in Los Angeles.
        let p = plan(&rejected, &id, "2026-12-01T07:59:00Z", &StoredHistory::default());
        assert_eq!(p.today, date("2026-11-30"));
        // The hourly run fetches the newest three days; the backfill the 87 before.
        assert_eq!(p.days.len(), 87);
        assert_eq!(p.days[0], meta_day(date("2026-11-27")));
        assert_eq!(p.days[86], meta_day(date("2026-09-02")));
        // Each day ends where the one after it starts: across October's 31
        // days and the 25-hour November 1, when daylight time ends.
        assert!(
            p.days.windows(2).all(|w| w[1].until == w[0].since),
            "no gap, no overlap"
        );
        assert!(p.days.contains(&meta_day(date("2026-10-31"))));
        let nov1 = meta_day(date("2026-11-01"));
        assert_eq!(
            (nov1.since, nov1.until),
            (at("2026-11-01T07:00:00Z"), at("2026-11-02T08:00:00Z"))
        );
        assert!(p.days.contains(&nov1));
        // A minute later it is December 1 there, and the days move by one.
        let p = plan(&rejected, &id, "2026-12-01T08:00:00Z", &StoredHistory::default());
        assert_eq!((p.today, p.days[0]), (date("2026-12-01"), meta_day(date("2026-11-28"))));
    }

    #[test]
    fn stored_days_and_counts_are_not_asked_again() {
        let (rejected, id) = (Rejections::default(), id());
        let now = "2026-12-01T13:00:00Z";
        let today = date("2026-12-01");
        let mut stored = StoredHistory::default();
        stored.days.insert(meta_day(date("2026-10-15")).until.into());
        let p = plan(&rejected, &id, now, &stored);
        assert_eq!(p.days.len(), 86);
        assert!(!p.days.contains(&meta_day(date("2026-10-15"))));
        assert!(p.ask_followers, "no follower count stored yet");
        // A count (measured or worked out) on each of the 30 days: no follower changes asked.
        stored.follower_counts.extend((1..=30).map(|back| {
            let day = meta_day(today - chrono::Days::new(back));
            Timestamp::from(day.until - Duration::hours(1))
        }));
        assert!(!plan(&rejected, &id, now, &stored).ask_followers);
    }

    #[test]
    fn the_follower_changes_are_asked_within_30_days_across_daylight_time() {
        // December 1's 30 days take in the 25-hour November 1; April 1's the 23-hour March 8.
        for today in ["2026-12-01", "2026-11-02", "2026-12-06", "2026-04-01", "2026-07-31"] {
            let today = date(today);
            let (since, until) = follower_change_range(today);
            assert!(until - since <= MAX_RANGE, "{today}: {since}..{until}");
            assert_eq!(until, meta_day(today).since, "{today}: today is not asked");
            // Each of the 30 days' value is named by its day's end, which must be in (since, until].
            for back in 1..=FOLLOWER_CHANGE_DAYS {
                let end = meta_day(today - chrono::Days::new(back)).until;
                assert!(since < end && end <= until, "{today}: {back} days back");
            }
        }
    }

    #[test]
    fn the_curve_goes_back_by_each_days_change_and_stops_at_a_hole() {
        let (rejected, id) = (Rejections::default(), id());
        let mut p = plan(&rejected, &id, "2026-12-01T13:00:00Z", &StoredHistory::default());
        let today = date("2026-12-01");
        let day = |back: u64| meta_day(today - chrono::Days::new(back));
        p.changes = (1..=30).map(|back| (day(back).until.into(), back as i64)).collect();
        let curve = p.curve(10_000);
        assert_eq!(curve.len(), 30);
        for (i, r) in curve.iter().enumerate() {
            let back = i as i64 + 1;
            // Yesterday closed at today's count; each day before, less the changes of the days after it.
            assert_eq!(
                r.row.metric_value,
                Some(10_000 - back * (back - 1) / 2),
                "{back} days back"
            );
            assert_eq!(r.day, day(back as u64));
            assert_eq!(r.row.end_time, Timestamp::from(r.day.until - Duration::hours(1)));
        }
        // November 1 (25 hours) is named by its last hour, 07:00 UTC on November 2.
        assert_eq!(curve[29].row.end_time, Timestamp::from(at("2026-11-02T07:00:00Z")));

        // Without the change of 10 days back, the days before it cannot be worked out.
        p.changes.remove(&Timestamp::from(day(10).until));
        assert_eq!(p.curve(10_000).len(), 10);
    }
}
