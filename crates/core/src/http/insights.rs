//! The read API of collected data, and the operator's view:
//! `GET /api/insights/:userId`, `GET /api/insights/:userId/audience`,
//! `POST /api/insights/:userId/refresh`, `GET /api/admin/accounts`.
//! `:userId` is the Instagram user id.

use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::query::{Format, csv_field, next_url, parse_limit, parse_range};
use super::session::Principal;
use super::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::collect::{self, Outcome, Skip};
use crate::domain::{InstagramUserId, MetricName, Timestamp};
use crate::store::{Account, AccountOverview, InsightsFilter, RowKey, SnapshotStatus, StoredAudience, StoredInsight};

/// More metric names than Meta has is a mistake, not a query.
const MAX_METRICS: usize = 50;
/// The largest page a client may ask for (`limit`).
const MAX_LIMIT: usize = 10_000;

/// `GET /api/insights/:userId?from=&to=&metric=&format=json|csv&limit=&after=`.
/// Without `limit`, every matching row; with it, a page, and the cursor of
/// the next one (`next` in JSON, a `Link: <..>; rel="next"` header in CSV)
/// while a page comes back full.
pub async fn insights(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let account = authorized_account(app, req).await?;
    let query = InsightsQuery::parse(req)?;
    let filter = &query.filter;
    Ok(match query.format {
        Format::Json => {
            // The rows arrive as JSON already, and go out as they are.
            let page = app.store.stored_insights_json(account.id, filter).await?;
            let insights = RawValue::from_string(page.json).map_err(ApiError::internal)?;
            ApiResponse::ok(&InsightsBody {
                instagram_user_id: &account.instagram_user_id,
                from: filter.from,
                to: filter.until,
                count: page.count,
                insights: &insights,
                next: page.next.as_ref().map(cursor),
            })
        }
        Format::Csv => {
            let page = app.store.stored_insights_json(account.id, filter).await?;
            let rows: Vec<StoredInsight> = serde_json::from_str(&page.json).map_err(ApiError::internal)?;
            let mut r = ApiResponse::text(StatusCode::OK, "text/csv; charset=utf-8", to_csv(&rows));
            let disposition = format!("attachment; filename=\"insights-{}.csv\"", account.instagram_user_id);
            r.set_header("content-disposition", &disposition);
            if let Some(next) = &page.next {
                r.set_header("link", &format!("<{}>; rel=\"next\"", next_url(req, &cursor(next))));
            }
            r
        }
    })
}

#[derive(Serialize)]
struct InsightsBody<'a> {
    instagram_user_id: &'a InstagramUserId,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    count: usize,
    insights: &'a RawValue,
    /// The `after` of the next page; only with `limit`, while pages come back full.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// A row key as the opaque cursor clients pass back in `after`.
fn cursor(key: &RowKey) -> String {
    crate::crypto::b64url(serde_json::to_string(key).unwrap_or_default().as_bytes())
}

fn parse_cursor(value: &str) -> Result<RowKey, ApiError> {
    crate::crypto::b64url_decode(value)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::BadRequest("`after` must be the `next` cursor of an earlier page".into()))
}

/// `GET /api/insights/:userId/audience`: the latest daily snapshot.
pub async fn audience(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let account = authorized_account(app, req).await?;
    let snapshots = app.store.latest_audience(account.id).await?;
    let find = |metric: &str| snapshots.iter().find(|s| s.metric == metric);
    let mut body = audience_json(find("follower_demographics"));
    body["instagram_user_id"] = json!(account.instagram_user_id);
    body["engaged_audience"] = find("engaged_audience_demographics")
        .map(|s| audience_json(Some(s)))
        .unwrap_or(Value::Null);
    Ok(ApiResponse::ok(&body))
}

/// What a manual collection answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectedNow {
    pub success: bool,
    /// Rows written (0 when Meta has nothing to give yet, e.g. demographics of a small account).
    pub collected: usize,
}

/// `POST /api/insights/:userId/refresh`: collects the account now, within
/// the limits (a manual collection; the route keeps its public name).
pub async fn collect_now(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let account = authorized_account(app, req).await?;
    let outcome = collect::collect_now(app, &account.instagram_user_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such connected account".into()))?;
    match outcome {
        Outcome::Collected { rows } => Ok(ApiResponse::ok(&CollectedNow {
            success: true,
            collected: rows,
        })),
        Outcome::NotAvailable => Ok(ApiResponse::ok(&CollectedNow {
            success: true,
            collected: 0,
        })),
        Outcome::Skipped {
            why: Skip::InvalidToken,
            reason,
            ..
        } => Err(ApiError::Conflict(reason)),
        Outcome::Skipped { reason, retry_at, .. } => {
            let wait = retry_at.map(|t| (t - app.clock.utc_now()).num_seconds().max(1) as u64);
            Err(ApiError::TooManyRequests(reason, wait))
        }
        Outcome::Failed(reason) => Err(ApiError::BadGateway(format!("the collection failed: {reason}"))),
        Outcome::Gone => Err(ApiError::NotFound("no such connected account".into())),
    }
}

/// `GET /api/admin/accounts`: every account, its token, collection and throttle state.
pub async fn admin_accounts(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    match Principal::of(app, req).await? {
        Principal::Admin => {}
        Principal::User(_) => return Err(ApiError::Forbidden("the operator view needs the admin key".into())),
        Principal::Anonymous => {
            return Err(ApiError::Unauthorized(
                "send Authorization: Bearer <ADMIN_API_KEY>".into(),
            ));
        }
    }
    let now = Timestamp::from(app.clock.utc_now());
    let accounts: Vec<AccountView> = app
        .store
        .account_overviews()
        .await?
        .into_iter()
        .map(|account| AccountView {
            throttled: account.throttled_until.is_some_and(|t| t > now),
            account,
        })
        .collect();
    Ok(ApiResponse::ok(&AccountsBody {
        count: accounts.len(),
        rate_limit_per_hour: app.config.rate_limit_per_hour,
        accounts,
    }))
}

/// The operator view's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountsBody {
    pub count: usize,
    pub rate_limit_per_hour: u32,
    pub accounts: Vec<AccountView>,
}

/// One account, and whether Meta's throttle still parks it now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountView {
    #[serde(flatten)]
    pub account: AccountOverview,
    pub throttled: bool,
}

/// The account named by `:userId`, if the caller may see it: the admin key,
/// or the session that connected it (anonymous 401, others 403, unknown 404).
pub(super) async fn authorized_account(app: &App, req: &ApiRequest) -> Result<Account, ApiError> {
    let id = InstagramUserId::parse(req.param("userId").unwrap_or("").trim())
        .ok_or_else(|| ApiError::BadRequest("userId must be an Instagram user id (digits only)".into()))?;
    Principal::of(app, req).await?.require_account(&id)?;
    app.store
        .account(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such connected account".into()))
}

/// The insights query, parsed: `from <= end_time < until`, stored-time form.
#[derive(Debug)]
struct InsightsQuery {
    filter: InsightsFilter,
    format: Format,
}

impl InsightsQuery {
    /// Exactly what the OpenAPI document says, so that a client can rely on
    /// it: values are taken as sent (no trimming); an empty `metric` means
    /// all metrics, an empty `from`, `to` or `format` is refused.
    fn parse(req: &ApiRequest) -> Result<Self, ApiError> {
        let (from, until) = parse_range(req)?;
        let mut metrics = Vec::new();
        if let Some(list) = req.query("metric").filter(|m| !m.is_empty()) {
            for raw in list.split(',') {
                let name = MetricName::parse(raw).filter(|m| m.as_str() == raw).ok_or_else(|| {
                    ApiError::BadRequest(format!(
                        "`{}` is not a metric name (lowercase letters, digits and _, comma-separated)",
                        raw.chars().take(64).collect::<String>()
                    ))
                })?;
                metrics.push(name);
            }
        }
        if metrics.len() > MAX_METRICS {
            return Err(ApiError::BadRequest(format!("at most {MAX_METRICS} metrics at once")));
        }
        let format = Format::parse(req)?;
        let limit = parse_limit(req, MAX_LIMIT)?;
        let after = req.query("after").map(parse_cursor).transpose()?;
        Ok(InsightsQuery {
            filter: InsightsFilter {
                from: from.map(Timestamp::from),
                until: until.map(Timestamp::from),
                metrics,
                after,
                limit,
            },
            format,
        })
    }
}

fn to_csv(rows: &[StoredInsight]) -> String {
    let mut out = String::with_capacity(64 + rows.len() * 72);
    out.push_str("metric_name,metric_value,period,end_time,collected_at,reconstructed\n");
    for r in rows {
        csv_field(&mut out, r.metric_name.as_str());
        out.push(',');
        if let Some(v) = r.metric_value {
            out.push_str(&v.to_string());
        }
        for field in [&r.period, &r.end_time.to_string(), &r.collected_at.to_string()] {
            out.push(',');
            csv_field(&mut out, field);
        }
        out.push_str(if r.reconstructed { ",true\n" } else { ",false\n" });
    }
    out
}

/// One metric's snapshot in the plan's shape: a list per breakdown, largest first.
fn audience_json(snapshot: Option<&StoredAudience>) -> Value {
    let Some(s) = snapshot else {
        return json!({
            "status": "not_collected", "snapshot_date": null, "collected_at": null,
            "age": [], "city": [], "country": [], "gender": [],
        });
    };
    let status = match s.status {
        SnapshotStatus::Ok => "ok",
        SnapshotStatus::NotAvailable => "not_available",
    };
    let mut body = json!({
        "status": status,
        "snapshot_date": s.snapshot_date,
        "collected_at": s.collected_at,
        "message": s.detail,
    });
    for breakdown in ["age", "city", "country", "gender", "gender_age"] {
        let list: Vec<Value> = s
            .values
            .iter()
            .filter(|v| v.breakdown == breakdown || (breakdown == "gender_age" && v.breakdown == "age,gender"))
            .map(|v| json!({ "key": v.key, "value": v.value }))
            .collect();
        // gender_age only when Meta gave it: its breakdowns are one dimension each today.
        if breakdown != "gender_age" || !list.is_empty() {
            body[breakdown] = Value::Array(list);
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    fn text(t: Option<Timestamp>) -> Option<String> {
        t.map(|t| t.to_string())
    }

    fn names(metrics: &[MetricName]) -> Vec<&str> {
        metrics.iter().map(MetricName::as_str).collect()
    }

    fn query(q: &str) -> Result<InsightsQuery, ApiError> {
        InsightsQuery::parse(&ApiRequest::new(Method::GET, &format!("/api/insights/1?{q}")))
    }

    #[test]
    fn dates_and_times_bound_the_range() {
        let q = query("from=2026-11-01&to=2026-11-03&metric=reach,views&format=csv").unwrap();
        assert_eq!(text(q.filter.from).as_deref(), Some("2026-11-01T00:00:00Z"));
        assert_eq!(text(q.filter.until).as_deref(), Some("2026-11-04T00:00:00Z"));
        assert_eq!(names(&q.filter.metrics), ["reach", "views"]);
        assert_eq!(q.format, Format::Csv);
        let q = query("to=2026-11-03T08:00:00Z").unwrap();
        assert_eq!(text(q.filter.until).as_deref(), Some("2026-11-03T08:00:01Z"));
        assert!(query("from=yesterday").is_err());
        assert!(query("from=2026-11-05&to=2026-11-01").is_err());
        assert!(query("metric=reach;drop").is_err());
        assert!(query("format=xml").is_err());
        assert_eq!(query("").unwrap().format, Format::Json);
        // As documented: no trimming, no empty items, no empty bounds.
        assert!(query("metric=reach,").is_err());
        assert!(query("metric=%20reach").is_err());
        assert!(query("to=").is_err());
        assert!(query("format=").is_err());
        assert!(query("metric=").unwrap().filter.metrics.is_empty());
    }

    #[test]
    fn pages_take_a_limit_and_the_cursor_they_handed_out() {
        assert_eq!(query("limit=500").unwrap().filter.limit, Some(500));
        for bad in ["0", "10001", "-1", "+5", "1.5", "x", ""] {
            assert!(query(&format!("limit={bad}")).is_err(), "limit={bad}");
        }
        let key = RowKey {
            end_time: Timestamp::parse("2026-11-28T08:00:00Z").expect("a time"),
            metric: MetricName::parse("reach").expect("a metric"),
            period: "day".into(),
        };
        let q = query(&format!("limit=2&after={}", cursor(&key))).unwrap();
        assert_eq!(q.filter.after, Some(key));
        for bad in ["", "x", "W10", &crate::crypto::b64url(b"[1,2,3]")] {
            assert!(query(&format!("after={bad}")).is_err(), "after={bad}");
        }
    }

    #[test]
    fn dates_beyond_the_calendar_are_a_400_not_a_panic() {
        for bad in [
            "to=%2B262142-12-31",
            "to=%2B262143-12-31",
            "from=-262143-01-01",
            "to=%2B262142-12-31T23:59:59Z",
            "from=10000-01-01",
            "from=0000-12-31",
            "to=2026-02-30",
            "from=2026-02-30T00:00:00Z",
        ] {
            assert!(query(bad).is_err(), "{bad}");
        }
        assert!(query("from=0001-01-01&to=9999-12-30").is_ok());
        let q = query("to=9999-12-31").unwrap();
        assert_eq!(text(q.filter.until).as_deref(), Some("9999-12-31T23:59:59Z"));
    }
}
