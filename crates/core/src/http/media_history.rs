//! Older media on request, `/api/insights/:userId/media/history`:
//! `POST` with `{"since":"YYYY-MM-DD"}` or `{"days":N}` asks for the
//! account's posts and reels catalogued back to that day (the hourly
//! collection does it within the account's budget, a wide page a run, each
//! media measured once as it is catalogued); `GET` says how far it got.

use chrono::NaiveDate;
use hyper::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use super::insights::authorized_account;
use super::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::domain::{CatalogReach, InstagramUserId, Timestamp};
use crate::store::{Account, MediaHistory};

pub async fn handle(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    match req.method {
        Method::POST => request(app, req).await,
        _ => progress(app, req).await,
    }
}

/// How far back, from a body of exactly one of `{"since": "YYYY-MM-DD"}`
/// and `{"days": N}`: anything else (another field, a null, a number as
/// text) is refused, as the OpenAPI document says.
fn reach(body: &Value, today: NaiveDate) -> Result<CatalogReach, ApiError> {
    let bad = |message: &str| ApiError::BadRequest(message.to_string());
    let fields = body
        .as_object()
        .ok_or_else(|| bad("the body must be a JSON object: {\"since\": \"YYYY-MM-DD\"} or {\"days\": N}"))?;
    if let Some(unknown) = fields.keys().find(|k| !matches!(k.as_str(), "since" | "days")) {
        return Err(ApiError::BadRequest(format!(
            "unknown field `{unknown}`: give `since` or `days`"
        )));
    }
    let reach = match (fields.get("since"), fields.get("days")) {
        (Some(since), None) => CatalogReach::on(since.as_str().unwrap_or_default(), today),
        (None, Some(days)) => CatalogReach::days_back(whole_number(days).unwrap_or(0), today),
        (Some(_), Some(_)) => return Err(bad("give `since` or `days`, not both")),
        (None, None) => return Err(bad("say how far back: `since` (YYYY-MM-DD) or `days`")),
    };
    reach.map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// A JSON number without a fraction (`30` or `30.0`, as JSON Schema counts integers).
fn whole_number(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
            .map(|f| f as i64)
    })
}

/// `POST`: records the request (a reach no further back than one already
/// asked changes nothing) and answers 202 with the progress so far.
async fn request(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let account = authorized_account(app, req).await?;
    req.require_json()?;
    let now = app.clock.utc_now();
    let reach = reach(&req.json::<Value>()?, now.date_naive())?;
    let changed = app.store.request_media_history(account.id, reach, now).await?;
    if changed {
        tracing::info!(instagram_user_id = %account.instagram_user_id, since = %reach.day(), "older media requested");
    }
    let history = app.store.media_history(account.id).await?;
    Ok(ApiResponse::json(
        StatusCode::ACCEPTED,
        &Progress::of(&account, &history, Some(changed)),
    ))
}

/// `GET`: the progress.
async fn progress(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let account = authorized_account(app, req).await?;
    let history = app.store.media_history(account.id).await?;
    Ok(ApiResponse::ok(&Progress::of(&account, &history, None)))
}

#[derive(Debug, Serialize)]
struct Progress<'a> {
    instagram_user_id: &'a InstagramUserId,
    /// The day asked for; null: nothing asked.
    since: Option<NaiveDate>,
    requested_at: Option<Timestamp>,
    /// `not_requested`, `in_progress` or `done`.
    status: &'static str,
    /// The catalog is complete from this time on; null: not listed yet.
    catalogued_back_to: Option<Timestamp>,
    /// Posts and reels catalogued.
    media: i64,
    oldest_posted_at: Option<Timestamp>,
    /// Whether this request asked for more than before (POST only).
    #[serde(skip_serializing_if = "Option::is_none")]
    changed: Option<bool>,
}

impl<'a> Progress<'a> {
    fn of(account: &'a Account, history: &MediaHistory, changed: Option<bool>) -> Self {
        let status = match (history.since, history.done()) {
            (None, _) => "not_requested",
            (Some(_), false) => "in_progress",
            (Some(_), true) => "done",
        };
        Progress {
            instagram_user_id: &account.instagram_user_id,
            since: history.since.map(CatalogReach::day),
            requested_at: history.requested_at.map(Timestamp::from),
            status,
            catalogued_back_to: history.catalogued_until.map(Timestamp::from),
            media: history.media,
            oldest_posted_at: history.oldest_posted_at.map(Timestamp::from),
            changed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(json: &str) -> Result<NaiveDate, String> {
        let today = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let body: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
        reach(&body, today).map(CatalogReach::day).map_err(|e| e.to_string())
    }

    #[test]
    fn a_request_says_how_far_back_one_way() {
        assert_eq!(asked(r#"{"since":"2025-01-01"}"#).unwrap().to_string(), "2025-01-01");
        assert_eq!(asked(r#"{"days":730}"#).unwrap().to_string(), "2024-12-06");
        assert_eq!(asked(r#"{"days":730.0}"#).unwrap().to_string(), "2024-12-06");
        for (bad, says) in [
            ("{}", "say how far back"),
            (r#"{"since":"2025-01-01","days":3}"#, "not both"),
            (r#"{"since":null,"days":3}"#, "not both"),
            (r#"{"days":null}"#, "`days` must be"),
            (r#"{"days":0}"#, "`days` must be"),
            (r#"{"days":6001}"#, "`days` must be"),
            (r#"{"days":1.5}"#, "`days` must be"),
            (r#"{"days":"30"}"#, "`days` must be"),
            (r#"{"since":"2027-01-01"}"#, "to today"),
            (r#"{"since":"1 year"}"#, "YYYY-MM-DD"),
            (r#"{"since":20250101}"#, "YYYY-MM-DD"),
            (r#"{"day":30}"#, "unknown field `day`"),
            ("[30]", "a JSON object"),
        ] {
            let error = asked(bad).expect_err(bad);
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
