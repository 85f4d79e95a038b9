//! What collection reads and writes: which accounts are due, the per-account
//! call allowance, each account's results in one transactional batch, and the
//! stored insights and audience for the read API and the operator view.

use std::collections::HashSet;

use libsql::{Value, params};
use serde::{Deserialize, Serialize};

use super::connections::PAGE_TOKEN;
use super::history::{Backfill, DayRange, Reconstructed, reconstructed_sql, rollup_sql};
use super::jobs::{LogEntry, LogStatus, log_sql};
use super::sql::{account_exists, now, opt_int, opt_text, text, ts};
use super::values::{instagram_user_id, login};
use super::{Login, Result, Store, StoreError, TokenStatus};
use crate::domain::InstagramUserId;
use crate::secret::{AccessToken, Secret};

/// The two collections, each with its own "last collected" time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

    fn last_column(self) -> &'static str {
        match self {
            CollectKind::Insights => "last_insights_at",
            CollectKind::Audience => "last_audience_at",
        }
    }
}

/// A metric Meta refused, kept for the operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedMetric {
    pub metric: String,
    pub job: String,
    pub reason: String,
    pub at: String,
}

/// An account as a collection run sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: i64,
    pub instagram_user_id: InstagramUserId,
    pub followers_count: Option<i64>,
    pub status: TokenStatus,
    pub throttled_until: Option<String>,
    /// The last successful collection of the kind asked for.
    pub last_collected_at: Option<String>,
    pub rejected_metrics: Vec<RejectedMetric>,
    /// Hourly counts before this are rolled up to one a day (none yet: `None`).
    pub rolled_up_to: Option<String>,
    /// When the account was connected: no count of it is older.
    pub connected_at: String,
    /// When its history was last found whole; none: a backfill is due.
    pub backfilled_at: Option<String>,
    /// The token generation the Page token belongs to: an error it earns
    /// must not mark a connection a reconnect has renewed meanwhile.
    pub token_generation: i64,
    /// Which login's token collects it, and so which host it is read from.
    pub login: Login,
    /// The Page token as stored (encrypted), read with the list so that an
    /// account costs no read of its own; [`Store::page_token`] opens it.
    sealed_page_token: Secret,
}

/// One stored value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricRow {
    pub metric_name: String,
    pub metric_value: Option<i64>,
    pub period: String,
    pub end_time: String,
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

/// One day's demographics of one metric: `(breakdown, key, value)` rows.
#[derive(Debug, Clone, PartialEq)]
pub struct AudienceSnapshot {
    pub metric: String,
    pub status: SnapshotStatus,
    pub detail: Option<String>,
    pub values: Vec<(String, String, i64)>,
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
    pub snapshot_date: String,
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
    pub parked: Option<(String, String)>,
    pub log: LogEntry<'a>,
}

impl<'a> CollectionRecord<'a> {
    /// A complete, successful collection of `insights` and nothing else,
    /// logged under `run_id`: what a backfill or a benchmark writes.
    pub fn insights(account_id: i64, run_id: &'a str, insights: Vec<MetricRow>) -> Self {
        CollectionRecord {
            account_id,
            kind: CollectKind::Insights,
            complete: true,
            insights,
            followers_count: None,
            snapshot_date: String::new(),
            audience: Vec::new(),
            reconstructed: Vec::new(),
            rollup: Vec::new(),
            backfill: None,
            rejected_metrics: None,
            error: None,
            parked: None,
            log: LogEntry {
                account_id: Some(account_id),
                run_id,
                job_type: CollectKind::Insights.as_str(),
                status: LogStatus::Success,
                error_code: None,
                error_message: None,
                details: None,
                started_at: now(),
            },
        }
    }
}

/// The operator's view of one account.
#[derive(Debug, Clone, Serialize)]
pub struct AccountOverview {
    pub instagram_user_id: InstagramUserId,
    pub username: Option<String>,
    pub facebook_page_name: Option<String>,
    pub followers_count: Option<i64>,
    /// The login whose token collects the account.
    pub login: Login,
    pub token_status: TokenStatus,
    pub token_reason: Option<String>,
    pub reconnect_by: Option<String>,
    pub user_token_expires_at: Option<String>,
    pub last_success_at: Option<String>,
    pub last_insights_at: Option<String>,
    pub last_audience_at: Option<String>,
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    pub rejected_metrics: Vec<RejectedMetric>,
    pub throttled_until: Option<String>,
    pub throttle_reason: Option<String>,
    pub rate_window_start: Option<String>,
    pub rate_window_calls: i64,
}

/// A stored insight as the read API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredInsight {
    pub metric_name: String,
    pub metric_value: Option<i64>,
    pub period: String,
    pub end_time: String,
    pub collected_at: String,
    /// Derived rather than measured (see [`Reconstructed`]); only said when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reconstructed: bool,
}

/// Which stored insights to read: `from <= end_time < until`, some metrics
/// (none: all), and for paging, only rows after a key and at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct InsightsFilter {
    pub from: Option<String>,
    pub until: Option<String>,
    pub metrics: Vec<String>,
    pub after: Option<RowKey>,
    pub limit: Option<usize>,
}

/// Where a stored insight sits in the read order: `(end_time, metric_name, period)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowKey(pub String, pub String, pub String);

/// One read of stored insights: how many rows, the JSON array of them, and
/// the key of the last one when the read stopped at its limit (more may follow).
#[derive(Debug)]
pub struct InsightsPage {
    pub count: usize,
    pub json: String,
    pub next: Option<RowKey>,
}

/// The latest stored snapshot of one demographics metric.
#[derive(Debug, Clone, Serialize)]
pub struct StoredAudience {
    pub metric: String,
    pub snapshot_date: String,
    pub status: SnapshotStatus,
    pub detail: Option<String>,
    pub collected_at: String,
    /// `(breakdown, key, value)`, largest first within a breakdown.
    #[serde(skip)]
    pub values: Vec<(String, String, i64)>,
}

fn parse_rejected(raw: Option<String>) -> Vec<RejectedMetric> {
    raw.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default()
}

impl Store {
    /// Every account with what a run needs to decide, stalest first for `kind`.
    /// Every connected account, stalest first for `kind`.
    pub async fn collection_candidates(&self, kind: CollectKind) -> Result<Vec<Candidate>> {
        self.candidates(kind, None).await
    }

    /// One connected account, as a collection run would see it.
    pub async fn candidate(&self, instagram_user_id: &InstagramUserId, kind: CollectKind) -> Result<Option<Candidate>> {
        Ok(self.candidates(kind, Some(instagram_user_id)).await?.pop())
    }

    async fn candidates(&self, kind: CollectKind, only: Option<&InstagramUserId>) -> Result<Vec<Candidate>> {
        let conn = self.conn().await?;
        let last = kind.last_column();
        let mut rows = conn
            .query(
                &format!(
                    "SELECT u.id, u.instagram_user_id, u.followers_count, t.status, s.throttled_until, s.{last}, s.rejected_metrics,
                            t.page_access_token, t.generation, t.login, s.rolled_up_to, u.created_at, s.backfilled_at
                     FROM users u JOIN tokens t ON t.user_id = u.id LEFT JOIN account_state s ON s.user_id = u.id
                     WHERE ?1 IS NULL OR u.instagram_user_id = ?1
                     ORDER BY s.{last} IS NOT NULL, s.{last}, u.id"
                ),
                [only.map_or(Value::Null, |id| Value::Text(id.to_string()))],
            )
            .await?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().await? {
            out.push(Candidate {
                id: r.get(0)?,
                instagram_user_id: instagram_user_id(&r, 1)?,
                followers_count: r.get(2)?,
                status: TokenStatus::parse(&r.get::<String>(3)?)?,
                throttled_until: r.get(4)?,
                last_collected_at: r.get(5)?,
                rejected_metrics: parse_rejected(r.get(6)?),
                sealed_page_token: Secret::new(r.get::<String>(7)?),
                token_generation: r.get(8)?,
                login: login(&r, 9)?,
                rolled_up_to: r.get(10)?,
                connected_at: r.get(11)?,
                backfilled_at: r.get(12)?,
            });
        }
        Ok(out)
    }

    /// The Page token of a candidate, decrypted.
    pub fn page_token(&self, candidate: &Candidate) -> Result<AccessToken> {
        let token = self.keys.decrypt(candidate.sealed_page_token.expose(), PAGE_TOKEN)?;
        Ok(AccessToken::new(token))
    }

    /// Takes `calls` from the account's hourly allowance of `limit`, or nothing
    /// when they do not fit. One statement, so concurrent processes (which
    /// share no memory) can never overspend it together.
    pub async fn reserve_calls(&self, account_id: i64, calls: u32, limit: u32) -> Result<bool> {
        Ok(self
            .reserve_calls_for(&[(account_id, calls)], limit)
            .await?
            .contains(&account_id))
    }

    /// [`Store::reserve_calls`] for many accounts in one statement (one
    /// round trip): `(account, calls)` pairs in, the accounts whose calls
    /// fitted out. Asking for no call always fits.
    pub async fn reserve_calls_for(&self, wanted: &[(i64, u32)], limit: u32) -> Result<HashSet<i64>> {
        let mut granted: HashSet<i64> = wanted.iter().filter(|(_, c)| *c == 0).map(|(id, _)| *id).collect();
        let values: Vec<String> = wanted
            .iter()
            .filter(|(_, calls)| *calls > 0 && *calls <= limit)
            .map(|(id, calls)| format!("({id}, ?1, {calls})"))
            .collect();
        if values.is_empty() {
            return Ok(granted);
        }
        let now_t = chrono::Utc::now();
        let window_open_since = ts(now_t - chrono::Duration::hours(1));
        let conn = self.writer().await?;
        // A new window starts from these calls; an open one takes them only if they fit.
        let mut rows = conn
            .query(
                &format!(
                    "INSERT INTO account_state (user_id, rate_window_start, rate_window_calls) VALUES {}
                     ON CONFLICT (user_id) DO UPDATE SET
                        rate_window_calls = CASE WHEN account_state.rate_window_start IS NULL OR account_state.rate_window_start <= ?2
                                                 THEN excluded.rate_window_calls
                                                 ELSE account_state.rate_window_calls + excluded.rate_window_calls END,
                        rate_window_start = CASE WHEN account_state.rate_window_start IS NULL OR account_state.rate_window_start <= ?2
                                                 THEN excluded.rate_window_start ELSE account_state.rate_window_start END
                     WHERE account_state.rate_window_start IS NULL OR account_state.rate_window_start <= ?2
                           OR account_state.rate_window_calls + excluded.rate_window_calls <= ?3
                     RETURNING user_id",
                    values.join(", ")
                ),
                params![ts(now_t), window_open_since, i64::from(limit)],
            )
            .await?;
        while let Some(row) = rows.next().await? {
            granted.insert(row.get(0)?);
        }
        Ok(granted)
    }

    /// Writes one account's results, state and log row in one transactional
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
                text(&row.metric_name),
                opt_int(row.metric_value),
                text(&row.period),
                text(&row.end_time),
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
            let (metric, date) = (text(&snap.metric), text(&f.snapshot_date));
            sql.push_str(&format!(
                "DELETE FROM audience_data WHERE user_id = {id} AND metric = {metric} AND snapshot_date = {date};\n"
            ));
            let values = snap.values.iter().map(|(breakdown, key, value)| {
                format!(
                    "({id}, {metric}, {}, {}, {value}, {date}, {})",
                    text(breakdown),
                    text(key),
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
        if let Some((until, reason)) = &f.parked {
            sets.push(format!("throttled_until = {}", text(until)));
            sets.push(format!("throttle_reason = {}", text(reason)));
        }
        if !sets.is_empty() {
            sql.push_str(&format!(
                "UPDATE account_state SET {} WHERE user_id = {id};\n",
                sets.join(", ")
            ));
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

    /// Stored insights of an account (see [`InsightsFilter`]), in time order.
    pub async fn stored_insights(&self, account_id: i64, filter: &InsightsFilter) -> Result<Vec<StoredInsight>> {
        let page = self.stored_insights_json(account_id, filter).await?;
        serde_json::from_str(&page.json).map_err(|e| StoreError::Corrupt(format!("stored insights: {e}")))
    }

    /// [`Store::stored_insights`] as the read API sends them: a JSON array of
    /// objects with the fields of [`StoredInsight`], built by SQLite. A hosted
    /// database then sends one value instead of five per row (a year of hourly
    /// data: ten times faster), and the API passes the array on without
    /// parsing and serializing it again (BENCHMARKS.md). Served, sort
    /// included, by `idx_insights_user_time`, also when paging.
    pub async fn stored_insights_json(&self, account_id: i64, filter: &InsightsFilter) -> Result<InsightsPage> {
        let conn = self.conn().await?;
        let mut args: Vec<Value> = vec![
            Value::Integer(account_id),
            Value::Text(filter.from.clone().unwrap_or_default()),
            Value::Text(filter.until.clone().unwrap_or_else(|| "\u{10FFFF}".to_string())),
        ];
        let mut rows_sql = String::from(
            "SELECT metric_name, metric_value, period, end_time, collected_at, reconstructed FROM insights
             WHERE user_id = ?1 AND end_time >= ?2 AND end_time < ?3",
        );
        if let Some(RowKey(end_time, metric, period)) = &filter.after {
            let n = args.len();
            rows_sql.push_str(&format!(
                " AND (end_time, metric_name, period) > (?{}, ?{}, ?{})",
                n + 1,
                n + 2,
                n + 3
            ));
            args.extend([end_time, metric, period].map(|v| Value::Text(v.clone())));
        }
        if !filter.metrics.is_empty() {
            let n = args.len();
            let marks: Vec<String> = (0..filter.metrics.len()).map(|i| format!("?{}", n + i + 1)).collect();
            rows_sql.push_str(&format!(" AND metric_name IN ({})", marks.join(", ")));
            args.extend(filter.metrics.iter().map(|m| Value::Text(m.clone())));
        }
        rows_sql.push_str(" ORDER BY end_time, metric_name, period");
        if let Some(limit) = filter.limit {
            rows_sql.push_str(&format!(" LIMIT {limit}"));
        }
        // Aggregated in the order of the subquery. The last row's key is the
        // largest JSON array of the keys: end times have one width, and names
        // (letters, digits, _) end where their closing quote sorts first.
        let sql = format!(
            "SELECT COUNT(*), json_group_array(CASE WHEN reconstructed THEN
                    json_object('metric_name', metric_name, 'metric_value', metric_value, 'period', period,
                        'end_time', end_time, 'collected_at', collected_at, 'reconstructed', json('true'))
                    ELSE json_object('metric_name', metric_name, 'metric_value', metric_value,
                        'period', period, 'end_time', end_time, 'collected_at', collected_at) END),
                    max(json_array(end_time, metric_name, period))
             FROM ({rows_sql})"
        );
        let mut rows = conn.query(&sql, args).await?;
        let Some(row) = rows.next().await? else {
            return Ok(InsightsPage {
                count: 0,
                json: "[]".into(),
                next: None,
            });
        };
        let count = row.get::<i64>(0)? as usize;
        let next = match (filter.limit, row.get::<Option<String>>(2)?) {
            (Some(limit), Some(last)) if count == limit => {
                Some(serde_json::from_str(&last).map_err(|e| StoreError::Corrupt(format!("an insight's key: {e}")))?)
            }
            _ => None,
        };
        Ok(InsightsPage {
            count,
            json: row.get(1)?,
            next,
        })
    }

    /// The latest snapshot of each demographics metric of an account.
    pub async fn latest_audience(&self, account_id: i64) -> Result<Vec<StoredAudience>> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT s.metric, s.snapshot_date, s.status, s.detail, s.collected_at FROM audience_snapshots s
                 WHERE s.user_id = ?1 AND s.snapshot_date = (SELECT MAX(snapshot_date) FROM audience_snapshots
                                                             WHERE user_id = s.user_id AND metric = s.metric)
                 ORDER BY s.metric",
                [account_id],
            )
            .await?;
        let mut snapshots = Vec::new();
        while let Some(r) = rows.next().await? {
            let status = match r.get::<String>(2)?.as_str() {
                "ok" => SnapshotStatus::Ok,
                "not_available" => SnapshotStatus::NotAvailable,
                other => return Err(StoreError::Corrupt(format!("snapshot status `{other}`"))),
            };
            snapshots.push(StoredAudience {
                metric: r.get(0)?,
                snapshot_date: r.get(1)?,
                status,
                detail: r.get(3)?,
                collected_at: r.get(4)?,
                values: Vec::new(),
            });
        }
        drop(rows);
        for snap in &mut snapshots {
            let mut rows = conn
                .query(
                    "SELECT demographic_type, dimension_key, dimension_value FROM audience_data
                     WHERE user_id = ?1 AND metric = ?2 AND snapshot_date = ?3
                     ORDER BY demographic_type, dimension_value DESC, dimension_key",
                    params![account_id, snap.metric.as_str(), snap.snapshot_date.as_str()],
                )
                .await?;
            while let Some(r) = rows.next().await? {
                snap.values
                    .push((r.get(0)?, r.get(1)?, r.get::<Option<i64>>(2)?.unwrap_or(0)));
            }
        }
        Ok(snapshots)
    }

    /// Every account with its token health and collection state.
    pub async fn account_overviews(&self) -> Result<Vec<AccountOverview>> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT u.instagram_user_id, u.instagram_username, u.facebook_page_name, u.followers_count,
                        t.status, t.status_reason, t.reconnect_by, t.user_token_expires_at,
                        s.last_success_at, s.last_insights_at, s.last_audience_at, s.last_error, s.last_error_at,
                        s.rejected_metrics, s.throttled_until, s.throttle_reason, s.rate_window_start,
                        COALESCE(s.rate_window_calls, 0), t.login
                 FROM users u JOIN tokens t ON t.user_id = u.id LEFT JOIN account_state s ON s.user_id = u.id
                 ORDER BY u.id",
                (),
            )
            .await?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().await? {
            out.push(AccountOverview {
                instagram_user_id: instagram_user_id(&r, 0)?,
                username: r.get(1)?,
                facebook_page_name: r.get(2)?,
                followers_count: r.get(3)?,
                login: login(&r, 18)?,
                token_status: TokenStatus::parse(&r.get::<String>(4)?)?,
                token_reason: r.get(5)?,
                reconnect_by: r.get(6)?,
                user_token_expires_at: r.get(7)?,
                last_success_at: r.get(8)?,
                last_insights_at: r.get(9)?,
                last_audience_at: r.get(10)?,
                last_error: r.get(11)?,
                last_error_at: r.get(12)?,
                rejected_metrics: parse_rejected(r.get(13)?),
                throttled_until: r.get(14)?,
                throttle_reason: r.get(15)?,
                rate_window_start: r.get(16)?,
                rate_window_calls: r.get(17)?,
            });
        }
        Ok(out)
    }
}

/// Rows per INSERT: well under SQLite's limits on a statement.
pub(super) const ROWS_PER_INSERT: usize = 500;

/// `head (row), (row), ... tail;` for every `ROWS_PER_INSERT` rows: a hosted
/// database pays per statement, so many rows travel in few of them.
/// `head (row), (row) ... close tail;` in chunks of [`ROWS_PER_INSERT`]: many
/// rows per statement, because a hosted database pays per statement. `close`
/// ends the row list (for `SELECT * FROM (VALUES ...) WHERE <guard>`).
fn insert_rows(sql: &mut String, head: &str, rows: impl Iterator<Item = String>, close: &str, tail: &str) {
    let rows: Vec<String> = rows.collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        sql.push_str(&format!("{head} {}{close}\n{tail};\n", chunk.join(",\n")));
    }
}

#[cfg(test)]
mod tests {
    use super::super::accounts::tests::{connection, store};
    use super::*;

    #[tokio::test]
    async fn calls_are_taken_for_many_accounts_at_once_and_only_where_they_fit() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let a = store.upsert_connection(&connection()).await.unwrap().account_id;
        let mut other = connection();
        other.instagram_user_id = crate::domain::InstagramUserId::parse("17841400000000002").expect("an id");
        let b = store.upsert_connection(&other).await.unwrap().account_id;

        assert!(store.reserve_calls(a, 8, 10).await.unwrap());
        let granted = store.reserve_calls_for(&[(a, 4), (b, 4)], 10).await.unwrap();
        assert_eq!(
            granted.into_iter().collect::<Vec<_>>(),
            vec![b],
            "a has 2 calls left, b all 10"
        );
        let granted = store.reserve_calls_for(&[(a, 0), (b, 11)], 10).await.unwrap();
        assert_eq!(
            granted.into_iter().collect::<Vec<_>>(),
            vec![a],
            "no call always fits, more than the ceiling never"
        );
        assert!(store.reserve_calls(a, 2, 10).await.unwrap());
        assert!(!store.reserve_calls(a, 1, 10).await.unwrap());
    }

    #[tokio::test]
    async fn stored_insights_come_back_in_time_order_with_gaps_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let id = store.upsert_connection(&connection()).await.unwrap().account_id;
        let row = |metric: &str, value: Option<i64>, end: &str| MetricRow {
            metric_name: metric.into(),
            metric_value: value,
            period: "day".into(),
            end_time: end.into(),
        };
        let finish = CollectionRecord::insights(
            id,
            "test",
            vec![
                row("views", Some(7), "2026-11-28T08:00:00Z"),
                row("reach", None, "2026-11-28T08:00:00Z"),
                row("reach", Some(3), "2026-11-27T08:00:00Z"),
                row("it's", Some(1), "2026-11-26T08:00:00Z"),
            ],
        );
        store.finish_collection(&finish).await.unwrap();
        let everything = InsightsFilter::default();
        let all = store.stored_insights(id, &everything).await.unwrap();
        let seen: Vec<(&str, Option<i64>, &str)> = all
            .iter()
            .map(|r| (r.metric_name.as_str(), r.metric_value, r.end_time.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("it's", Some(1), "2026-11-26T08:00:00Z"),
                ("reach", Some(3), "2026-11-27T08:00:00Z"),
                ("reach", None, "2026-11-28T08:00:00Z"),
                ("views", Some(7), "2026-11-28T08:00:00Z"),
            ]
        );
        let reach_since = InsightsFilter {
            from: Some("2026-11-27T00:00:00Z".into()),
            metrics: vec!["reach".to_string()],
            ..InsightsFilter::default()
        };
        assert_eq!(store.stored_insights(id, &reach_since).await.unwrap().len(), 2);
        assert!(store.stored_insights(id + 1, &everything).await.unwrap().is_empty());
        let page = store.stored_insights_json(id, &everything).await.unwrap();
        assert_eq!((page.count, page.next), (4, None));
        let objects: Vec<serde_json::Value> = serde_json::from_str(&page.json).unwrap();
        assert_eq!(objects[2]["metric_value"], serde_json::Value::Null, "{}", page.json);
        assert_eq!(objects[0]["metric_name"], "it's");

        // Pages of three: the last row's key leads on, in the same order.
        let key = |end: &str, metric: &str| RowKey(end.into(), metric.into(), "day".into());
        let mut paged = InsightsFilter {
            limit: Some(3),
            ..InsightsFilter::default()
        };
        let first = store.stored_insights_json(id, &paged).await.unwrap();
        assert_eq!(first.count, 3);
        assert_eq!(first.next, Some(key("2026-11-28T08:00:00Z", "reach")));
        paged.after = first.next;
        let second = store.stored_insights(id, &paged).await.unwrap();
        assert_eq!(second, all[3..]);
        paged.limit = Some(1);
        assert_eq!(
            store.stored_insights_json(id, &paged).await.unwrap().next,
            Some(key("2026-11-28T08:00:00Z", "views")),
            "a full page says more may follow"
        );
    }
}
