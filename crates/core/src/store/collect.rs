//! What collection writes: each account's results in one transactional
//! batch. Which accounts are due is in `candidates`, the call allowance in
//! `allowance`, what the read API reads of the results in `collect_read`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::history::{Backfill, DayRange, Reconstructed, reconstructed_sql, rollup_sql};
use super::jobs::{LogEntry, LogJob, LogStatus, log_sql};
use super::media::{MediaWrite, media_write_sql};
use super::sql::{account_exists, now, opt_int, opt_text, text};
use super::{Result, Store};
use crate::domain::{MetricName, Timestamp};

/// The two collections, each with its own "last collected" time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CollectKind {
    Insights,
    Audience,
}

impl CollectKind {
    /// The `job_type` of its log rows and of its rejected metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectKind::Insights => "insights",
            CollectKind::Audience => "audience",
        }
    }

    pub(super) fn last_column(self) -> &'static str {
        match self {
            CollectKind::Insights => "last_insights_at",
            CollectKind::Audience => "last_audience_at",
        }
    }
}

/// A metric Meta refused, kept for the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedMetric {
    pub metric: MetricName,
    pub job: CollectKind,
    pub reason: String,
    pub at: Timestamp,
}

/// One stored value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricRow {
    pub metric_name: MetricName,
    pub metric_value: Option<i64>,
    pub period: String,
    pub end_time: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotStatus {
    Ok,
    NotAvailable,
}

impl SnapshotStatus {
    fn as_str(self) -> &'static str {
        match self {
            SnapshotStatus::Ok => "ok",
            SnapshotStatus::NotAvailable => "not_available",
        }
    }
}

/// One day's demographics of one metric.
#[derive(Debug, Clone, PartialEq)]
pub struct AudienceSnapshot {
    pub metric: MetricName,
    pub status: SnapshotStatus,
    pub detail: Option<String>,
    pub values: Vec<DemographicValue>,
}

/// One value of a demographics breakdown: e.g. breakdown `city`, key
/// `London, England`, value 120.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemographicValue {
    pub breakdown: String,
    pub key: String,
    pub value: i64,
}

/// Meta asked us to leave the account alone until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parked {
    pub until: Timestamp,
    pub reason: String,
}

/// Everything one account's collection leaves behind, written at once.
#[derive(Debug, Clone)]
pub struct CollectionRecord<'a> {
    pub account_id: i64,
    pub kind: CollectKind,
    /// The collection is complete: the account is not due again this period.
    pub complete: bool,
    pub insights: Vec<MetricRow>,
    pub followers_count: Option<i64>,
    /// The day the audience snapshots are of.
    pub snapshot_date: NaiveDate,
    pub audience: Vec<AudienceSnapshot>,
    /// Values derived rather than measured (stored where no measured one is).
    pub reconstructed: Vec<Reconstructed>,
    /// Days whose hourly counts are rolled up to the day's last, oldest first.
    pub rollup: Vec<DayRange>,
    /// The account's history found whole, or holes found in it.
    pub backfill: Option<Backfill>,
    /// The account's whole list, when it changed.
    pub rejected_metrics: Option<Vec<RejectedMetric>>,
    pub error: Option<String>,
    /// `(until, reason)`: Meta asked us to leave this account alone.
    pub parked: Option<Parked>,
    /// What the media step gathered (collect-insights), written with the rest.
    pub media: Option<MediaWrite>,
    /// When the collection ran, by the run's clock: its media snapshots' hour.
    pub at: DateTime<Utc>,
    pub log: LogEntry<'a>,
}

impl<'a> CollectionRecord<'a> {
    /// A complete, successful collection of `insights` and nothing else,
    /// logged under `run_id`: what a backfill or a benchmark writes.
    pub fn insights(account_id: i64, run_id: &'a str, insights: Vec<MetricRow>) -> Self {
        let now = Timestamp::from(chrono::Utc::now());
        CollectionRecord {
            account_id,
            kind: CollectKind::Insights,
            complete: true,
            insights,
            followers_count: None,
            snapshot_date: now.to_datetime().date_naive(),
            audience: Vec::new(),
            reconstructed: Vec::new(),
            rollup: Vec::new(),
            backfill: None,
            rejected_metrics: None,
            error: None,
            parked: None,
            media: None,
            at: now.to_datetime(),
            log: LogEntry {
                account_id: Some(account_id),
                run_id,
                job_type: LogJob::Collect(CollectKind::Insights),
                status: LogStatus::Success,
                error_code: None,
                error_message: None,
                details: None,
                started_at: now,
            },
        }
    }
}

pub(super) fn parse_rejected(raw: Option<String>) -> Vec<RejectedMetric> {
    raw.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default()
}

impl Store {
    /// Writes one account's results (its media too), state and log row in one transactional
    /// batch, all or nothing: one round trip to a hosted database, shared
    /// with the accounts that finished meanwhile (see [`Store::write_script`]). Values are
    /// updated in place when Meta corrected them; unchanged rows stay untouched.
    ///
    /// An account deleted while it was being collected (a disconnect or a
    /// deletion request won the race) gets nothing written. Returns whether
    /// it still exists.
    pub async fn finish_collection(&self, f: &CollectionRecord<'_>) -> Result<bool> {
        let now = now();
        let id = f.account_id;
        let exists = account_exists(id);
        let mut sql = String::new();
        let insights = f.insights.iter().map(|row| {
            format!(
                "({id}, {}, {}, {}, {}, {})",
                text(row.metric_name.as_str()),
                opt_int(row.metric_value),
                text(&row.period),
                text(&row.end_time.to_string()),
                text(&now)
            )
        });
        insert_rows(
            &mut sql,
            "INSERT INTO insights (user_id, metric_name, metric_value, period, end_time, collected_at) SELECT * FROM (VALUES",
            insights,
            &format!(") WHERE {exists}"),
            "ON CONFLICT (user_id, metric_name, period, end_time) DO UPDATE SET metric_value = excluded.metric_value,
                collected_at = excluded.collected_at, reconstructed = 0
                WHERE insights.metric_value IS NOT excluded.metric_value OR insights.reconstructed = 1",
        );
        sql.push_str(&reconstructed_sql(id, &f.reconstructed, &now));
        for snap in &f.audience {
            let (metric, date) = (text(snap.metric.as_str()), text(&f.snapshot_date.to_string()));
            sql.push_str(&format!(
                "DELETE FROM audience_data WHERE user_id = {id} AND metric = {metric} AND snapshot_date = {date};\n"
            ));
            let values = snap.values.iter().map(|v| {
                format!(
                    "({id}, {metric}, {}, {}, {}, {date}, {})",
                    text(&v.breakdown),
                    text(&v.key),
                    v.value,
                    text(&now)
                )
            });
            insert_rows(
                &mut sql,
                "INSERT INTO audience_data (user_id, metric, demographic_type, dimension_key, dimension_value, snapshot_date, collected_at) SELECT * FROM (VALUES",
                values,
                &format!(") WHERE {exists}"),
                "",
            );
            sql.push_str(&format!(
                "INSERT INTO audience_snapshots (user_id, metric, snapshot_date, status, detail, collected_at)
                 SELECT {id}, {metric}, {date}, {}, {}, {} WHERE {exists}
                 ON CONFLICT (user_id, metric, snapshot_date) DO UPDATE SET status = excluded.status, detail = excluded.detail,
                    collected_at = excluded.collected_at;\n",
                text(snap.status.as_str()),
                opt_text(snap.detail.as_deref()),
                text(&now)
            ));
        }
        if let Some(followers) = f.followers_count {
            sql.push_str(&format!(
                "UPDATE users SET followers_count = {followers} WHERE id = {id};\n"
            ));
        }
        sql.push_str(&format!(
            "INSERT OR IGNORE INTO account_state (user_id) SELECT {id} WHERE {exists};\n"
        ));
        sql.push_str(&rollup_sql(id, &f.rollup));
        let mut sets = Vec::new();
        if f.complete {
            sets.push(format!("{} = {}", f.kind.last_column(), text(&now)));
            sets.push(format!("last_success_at = {}", text(&now)));
        }
        if let Some(error) = &f.error {
            sets.push(format!("last_error = {}", text(error)));
            sets.push(format!("last_error_at = {}", text(&now)));
        }
        if let Some(list) = &f.rejected_metrics {
            let json = (!list.is_empty()).then(|| serde_json::to_string(list).unwrap_or_default());
            sets.push(format!("rejected_metrics = {}", opt_text(json.as_deref())));
        }
        match f.backfill {
            Some(Backfill::Done) => sets.push(format!("backfilled_at = {}", text(&now))),
            Some(Backfill::Due) => sets.push("backfilled_at = NULL".to_string()),
            None => {}
        }
        if let Some(parked) = &f.parked {
            sets.push(format!("throttled_until = {}", text(&parked.until.to_string())));
            sets.push(format!("throttle_reason = {}", text(&parked.reason)));
        }
        if !sets.is_empty() {
            sql.push_str(&format!(
                "UPDATE account_state SET {} WHERE user_id = {id};\n",
                sets.join(", ")
            ));
        }
        if let Some(media) = &f.media {
            sql.push_str(&media_write_sql(media, f.at));
        }
        sql.push_str(&log_sql(&f.log));
        // Last (a read first would make the transaction a reader that must
        // then upgrade, which a busy embedded file refuses at once), a
        // statement that fails when the account is gone: abs() of the smallest
        // integer is SQLite's documented overflow error. The whole write fails
        // with it, and a successful write needs no read of its own (on a hosted
        // database, three round trips). Every insert is guarded besides.
        sql.push_str(&format!(
            "SELECT CASE WHEN {exists} THEN 0 ELSE abs(-9223372036854775808) END;\n"
        ));
        match self.write_script(sql).await {
            Ok(()) => Ok(true),
            // Whatever failed, a gone account is the answer; only then is it asked.
            Err(e) => match self
                .conn()
                .await?
                .query(&format!("SELECT {exists}"), ())
                .await?
                .next()
                .await?
            {
                Some(row) if row.get::<i64>(0)? == 0 => Ok(false),
                _ => Err(e),
            },
        }
    }
}

/// Rows per INSERT: well under SQLite's limits on a statement.
pub(super) const ROWS_PER_INSERT: usize = 500;

/// `head (row), (row) ... close tail;` in chunks of [`ROWS_PER_INSERT`]: many
/// rows per statement, because a hosted database pays per statement. `close`
/// ends the row list (for `SELECT * FROM (VALUES ...) WHERE <guard>`).
fn insert_rows(sql: &mut String, head: &str, rows: impl Iterator<Item = String>, close: &str, tail: &str) {
    let rows: Vec<String> = rows.collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        sql.push_str(&format!("{head} {}{close}\n{tail};\n", chunk.join(",\n")));
    }
}
