//! What the read API and the operator view read of what collection
//! stored: an account's insights (a JSON page built by SQLite), its latest
//! audience, and every account's state.

use chrono::NaiveDate;
use libsql::{Value, params};
use serde::{Deserialize, Serialize};

use super::collect::{DemographicValue, RejectedMetric, SnapshotStatus, parse_rejected};
use super::values::{date, instagram_user_id, login, metric_name, opt_timestamp, timestamp};
use super::{Login, Result, Store, StoreError, TokenStatus};
use crate::domain::{InstagramUserId, MetricName, Timestamp};

/// The operator's view of one account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountOverview {
    pub instagram_user_id: InstagramUserId,
    pub username: Option<String>,
    pub facebook_page_name: Option<String>,
    pub followers_count: Option<i64>,
    /// The login whose token collects the account.
    pub login: Login,
    pub token_status: TokenStatus,
    pub token_reason: Option<String>,
    pub reconnect_by: Option<Timestamp>,
    pub user_token_expires_at: Option<Timestamp>,
    pub last_success_at: Option<Timestamp>,
    pub last_insights_at: Option<Timestamp>,
    pub last_audience_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    pub rejected_metrics: Vec<RejectedMetric>,
    pub throttled_until: Option<Timestamp>,
    pub throttle_reason: Option<String>,
    pub rate_window_start: Option<Timestamp>,
    pub rate_window_calls: i64,
}

/// A stored insight as the read API answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredInsight {
    pub metric_name: MetricName,
    pub metric_value: Option<i64>,
    pub period: String,
    pub end_time: Timestamp,
    pub collected_at: Timestamp,
    /// Derived rather than measured (see [`Reconstructed`]); only said when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reconstructed: bool,
}

/// Which stored insights to read: `from <= end_time < until`, some metrics
/// (none: all), and for paging, only rows after a key and at most `limit`.
#[derive(Debug, Clone, Default)]
pub struct InsightsFilter {
    pub from: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub metrics: Vec<MetricName>,
    pub after: Option<RowKey>,
    pub limit: Option<usize>,
}

/// Where a stored insight sits in the read order. As JSON (a cursor, and
/// what SQLite builds of the last row) it is `[end_time, metric_name, period]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "(Timestamp, MetricName, String)", into = "(Timestamp, MetricName, String)")]
pub struct RowKey {
    pub end_time: Timestamp,
    pub metric: MetricName,
    pub period: String,
}

impl From<(Timestamp, MetricName, String)> for RowKey {
    fn from((end_time, metric, period): (Timestamp, MetricName, String)) -> Self {
        RowKey {
            end_time,
            metric,
            period,
        }
    }
}

impl From<RowKey> for (Timestamp, MetricName, String) {
    fn from(key: RowKey) -> Self {
        (key.end_time, key.metric, key.period)
    }
}

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
    pub metric: MetricName,
    pub snapshot_date: NaiveDate,
    pub status: SnapshotStatus,
    pub detail: Option<String>,
    pub collected_at: Timestamp,
    /// Largest first within a breakdown.
    #[serde(skip)]
    pub values: Vec<DemographicValue>,
}

impl Store {
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
            // Stored times are canonical text, whose order is their time order.
            Value::Text(filter.from.map(|t| t.to_string()).unwrap_or_default()),
            Value::Text(filter.until.map_or_else(|| "\u{10FFFF}".to_string(), |t| t.to_string())),
        ];
        let mut rows_sql = String::from(
            "SELECT metric_name, metric_value, period, end_time, collected_at, reconstructed FROM insights
             WHERE user_id = ?1 AND end_time >= ?2 AND end_time < ?3",
        );
        if let Some(key) = &filter.after {
            let n = args.len();
            rows_sql.push_str(&format!(
                " AND (end_time, metric_name, period) > (?{}, ?{}, ?{})",
                n + 1,
                n + 2,
                n + 3
            ));
            args.extend([key.end_time.to_string(), key.metric.to_string(), key.period.clone()].map(Value::Text));
        }
        if !filter.metrics.is_empty() {
            let n = args.len();
            let marks: Vec<String> = (0..filter.metrics.len()).map(|i| format!("?{}", n + i + 1)).collect();
            rows_sql.push_str(&format!(" AND metric_name IN ({})", marks.join(", ")));
            args.extend(filter.metrics.iter().map(|m| Value::Text(m.to_string())));
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
                metric: metric_name(&r, 0)?,
                snapshot_date: date(&r, 1)?,
                status,
                detail: r.get(3)?,
                collected_at: timestamp(&r, 4)?,
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
                    params![account_id, snap.metric.as_str(), snap.snapshot_date.to_string()],
                )
                .await?;
            while let Some(r) = rows.next().await? {
                snap.values.push(DemographicValue {
                    breakdown: r.get(0)?,
                    key: r.get(1)?,
                    value: r.get::<Option<i64>>(2)?.unwrap_or(0),
                });
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
                reconnect_by: opt_timestamp(&r, 6)?,
                user_token_expires_at: opt_timestamp(&r, 7)?,
                last_success_at: opt_timestamp(&r, 8)?,
                last_insights_at: opt_timestamp(&r, 9)?,
                last_audience_at: opt_timestamp(&r, 10)?,
                last_error: r.get(11)?,
                last_error_at: opt_timestamp(&r, 12)?,
                rejected_metrics: parse_rejected(r.get(13)?),
                throttled_until: opt_timestamp(&r, 14)?,
                throttle_reason: r.get(15)?,
                rate_window_start: opt_timestamp(&r, 16)?,
                rate_window_calls: r.get(17)?,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::accounts::tests::{connection, store};
    use super::super::collect::{CollectionRecord, MetricRow};
    use super::*;

    #[tokio::test]
    async fn stored_insights_come_back_in_time_order_with_gaps_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let id = store.upsert_connection(&connection()).await.unwrap().account_id;
        let row = |metric: &str, value: Option<i64>, end: &str| MetricRow {
            metric_name: MetricName::parse(metric).expect("a metric"),
            metric_value: value,
            period: "day".into(),
            end_time: Timestamp::parse(end).expect("a time"),
        };
        let finish = CollectionRecord::insights(
            id,
            "test",
            vec![
                row("views", Some(7), "2026-11-28T08:00:00Z"),
                row("reach", None, "2026-11-28T08:00:00Z"),
                row("reach", Some(3), "2026-11-27T08:00:00Z"),
                row("accounts_engaged", Some(1), "2026-11-26T08:00:00Z"),
            ],
        );
        store.finish_collection(&finish).await.unwrap();
        let everything = InsightsFilter::default();
        let all = store.stored_insights(id, &everything).await.unwrap();
        let seen: Vec<(&str, Option<i64>, String)> = all
            .iter()
            .map(|r| (r.metric_name.as_str(), r.metric_value, r.end_time.to_string()))
            .collect();
        let seen: Vec<(&str, Option<i64>, &str)> = seen.iter().map(|(m, v, t)| (*m, *v, t.as_str())).collect();
        assert_eq!(
            seen,
            [
                ("accounts_engaged", Some(1), "2026-11-26T08:00:00Z"),
                ("reach", Some(3), "2026-11-27T08:00:00Z"),
                ("reach", None, "2026-11-28T08:00:00Z"),
                ("views", Some(7), "2026-11-28T08:00:00Z"),
            ]
        );
        let reach_since = InsightsFilter {
            from: Timestamp::parse("2026-11-27T00:00:00Z"),
            metrics: vec![MetricName::parse("reach").expect("a metric")],
            ..InsightsFilter::default()
        };
        assert_eq!(store.stored_insights(id, &reach_since).await.unwrap().len(), 2);
        assert!(store.stored_insights(id + 1, &everything).await.unwrap().is_empty());
        let page = store.stored_insights_json(id, &everything).await.unwrap();
        assert_eq!((page.count, page.next), (4, None));
        let objects: Vec<serde_json::Value> = serde_json::from_str(&page.json).unwrap();
        assert_eq!(objects[2]["metric_value"], serde_json::Value::Null, "{}", page.json);
        assert_eq!(objects[0]["metric_name"], "accounts_engaged");

        // Pages of three: the last row's key leads on, in the same order.
        let key = |end: &str, metric: &str| RowKey {
            end_time: Timestamp::parse(end).expect("a time"),
            metric: MetricName::parse(metric).expect("a metric"),
            period: "day".into(),
        };
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
