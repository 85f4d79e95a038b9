//! An account's history over the long run: follower counts reconstructed for
//! the days before it was connected, hourly counts rolled up to one value a
//! day once they are old, and the stored figures a trend summary adds up.
//!
//! What is kept at which resolution:
//! - daily account metrics (period `day`): one value per Meta day, for good;
//! - the counts of the Instagram user node (followers, follows, media;
//!   period `lifetime`): every hour for the last `HOURLY_RETENTION_DAYS`
//!   days, then the day's last value, one per Meta day, for good;
//! - reconstructed follower counts (`reconstructed = 1`): one per day, named
//!   by the day's last hour, never written over a measured value, and
//!   replaced by a measured value of the same hour.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use libsql::Value;

use super::sql::{account_exists, opt_int, text, ts};
use super::values::{metric_name, timestamp};
use super::{MetricRow, Result, Store};
use crate::domain::{MetricName, Timestamp};

/// One Meta day (or any span): `since <= t < until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// A value derived rather than measured, and the day it stands for: it is
/// written only while that day has no measured value of its metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconstructed {
    pub row: MetricRow,
    pub day: DayRange,
}

/// What a write says of the account's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backfill {
    /// Every day a backfill can fetch is stored.
    Done,
    /// Days may be missing (its collection stopped for a while): backfill again.
    Due,
}

/// The most days one write rolls up (an account's first roll-up after a
/// year of hourly counts is one statement of this many spans; the rest waits
/// for the next run).
pub const MAX_ROLLUP_DAYS: usize = 400;

/// SQL that keeps, of each of `days`, only the last hourly count of each
/// metric, and notes how far the account is rolled up. Idempotent: a day
/// already rolled up keeps its one value.
pub(super) fn rollup_sql(id: i64, days: &[DayRange]) -> String {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return String::new();
    };
    let spans: Vec<String> = days
        .iter()
        .map(|d| format!("({}, {})", text(&ts(d.since)), text(&ts(d.until))))
        .collect();
    // The outer range keeps the scan on the account's index range of these days.
    format!(
        "WITH days(since, until) AS (VALUES {spans})
         DELETE FROM insights WHERE user_id = {id} AND period = 'lifetime'
            AND end_time >= {lo} AND end_time < {hi}
            AND EXISTS (SELECT 1 FROM days d WHERE insights.end_time >= d.since AND insights.end_time < d.until
                AND insights.end_time < (SELECT MAX(j.end_time) FROM insights j
                    WHERE j.user_id = {id} AND j.period = 'lifetime' AND j.metric_name = insights.metric_name
                      AND j.end_time >= d.since AND j.end_time < d.until));
         UPDATE account_state SET rolled_up_to = {hi} WHERE user_id = {id}
            AND (rolled_up_to IS NULL OR rolled_up_to < {hi});\n",
        spans = spans.join(", "),
        lo = text(&ts(first.since)),
        hi = text(&ts(last.until)),
    )
}

/// SQL that stores reconstructed values where their day has no measured one.
pub(super) fn reconstructed_sql(id: i64, rows: &[Reconstructed], now: &str) -> String {
    let mut sql = String::new();
    let exists = account_exists(id);
    for chunk in rows.chunks(super::collect::ROWS_PER_INSERT) {
        let values: Vec<String> = chunk
            .iter()
            .map(|r| {
                format!(
                    "({}, {}, {}, {}, {}, {})",
                    text(r.row.metric_name.as_str()),
                    opt_int(r.row.metric_value),
                    text(&r.row.period),
                    text(&r.row.end_time.to_string()),
                    text(&ts(r.day.since)),
                    text(&ts(r.day.until))
                )
            })
            .collect();
        sql.push_str(&format!(
            "INSERT INTO insights (user_id, metric_name, metric_value, period, end_time, collected_at, reconstructed)
             SELECT {id}, v.column1, v.column2, v.column3, v.column4, {now}, 1 FROM (VALUES {}) v
             WHERE {exists} AND NOT EXISTS (SELECT 1 FROM insights m WHERE m.user_id = {id} AND m.metric_name = v.column1
                 AND m.period = v.column3 AND m.reconstructed = 0 AND m.end_time >= v.column5 AND m.end_time < v.column6)
             ON CONFLICT (user_id, metric_name, period, end_time) DO UPDATE SET metric_value = excluded.metric_value,
                collected_at = excluded.collected_at
                WHERE insights.reconstructed = 1 AND insights.metric_value IS NOT excluded.metric_value;\n",
            values.join(",\n"),
            now = text(now),
        ));
    }
    sql
}

/// One stored value a summary adds up.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub metric_name: MetricName,
    pub end_time: Timestamp,
    pub value: Option<i64>,
    pub reconstructed: bool,
}

/// What of an account's history is stored from some time on: what a
/// backfill need not ask again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredHistory {
    /// The ends of the days with daily values (any metric).
    pub days: BTreeSet<Timestamp>,
    /// When follower counts (measured or reconstructed) were taken.
    pub follower_counts: BTreeSet<Timestamp>,
}

impl Store {
    /// The daily values and follower counts stored for the account from `since` on.
    pub async fn stored_history(&self, account_id: i64, since: Timestamp) -> Result<StoredHistory> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT DISTINCT period = 'day', end_time FROM insights WHERE user_id = ?1 AND end_time >= ?2
                    AND (period = 'day' OR metric_name = 'followers_count')",
                libsql::params![account_id, since.to_string()],
            )
            .await?;
        let mut out = StoredHistory::default();
        while let Some(r) = rows.next().await? {
            let end = timestamp(&r, 1)?;
            match r.get::<i64>(0)? != 0 {
                true => out.days.insert(end),
                false => out.follower_counts.insert(end),
            };
        }
        Ok(out)
    }

    /// In one read: the daily values of `metrics` whose day ends in
    /// `(since, until]`, and for each boundary the last follower count of
    /// the day before it (`[boundary - 1 day, boundary)`), if any.
    pub async fn summary_rows(
        &self,
        account_id: i64,
        metrics: &[MetricName],
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        boundaries: &[DateTime<Utc>],
    ) -> Result<Vec<SummaryRow>> {
        let conn = self.conn().await?;
        let mut args = vec![
            Value::Integer(account_id),
            Value::Text(ts(since)),
            Value::Text(ts(until)),
        ];
        let marks: Vec<String> = metrics
            .iter()
            .enumerate()
            .map(|(i, m)| {
                args.push(Value::Text(m.to_string()));
                format!("?{}", i + 4)
            })
            .collect();
        let mut sql = format!(
            "SELECT metric_name, end_time, metric_value, reconstructed FROM insights
             WHERE user_id = ?1 AND period = 'day' AND end_time > ?2 AND end_time <= ?3 AND metric_name IN ({})",
            marks.join(", ")
        );
        for b in boundaries {
            let n = args.len();
            args.push(Value::Text(ts(*b - chrono::Duration::days(1))));
            args.push(Value::Text(ts(*b)));
            sql.push_str(&format!(
                "\nUNION ALL SELECT * FROM (SELECT metric_name, end_time, metric_value, reconstructed FROM insights
                   WHERE user_id = ?1 AND metric_name = 'followers_count' AND period = 'lifetime'
                     AND end_time >= ?{} AND end_time < ?{} ORDER BY end_time DESC LIMIT 1)",
                n + 1,
                n + 2
            ));
        }
        let mut rows = conn.query(&sql, args).await?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().await? {
            out.push(SummaryRow {
                metric_name: metric_name(&r, 0)?,
                end_time: timestamp(&r, 1)?,
                value: r.get(2)?,
                reconstructed: r.get::<i64>(3)? != 0,
            });
        }
        Ok(out)
    }
}
