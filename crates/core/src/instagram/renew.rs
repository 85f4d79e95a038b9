//! Keeping Instagram-login connections alive, inside refresh-tokens.
//!
//! These tokens have no `debug_token`: the daily health check is a cheap
//! `/me` with the token (a 190 there means the connection is `invalid`).
//! A long-lived token that is at least a day old and ends within the renewal
//! window is renewed with `refresh_access_token` for another 60 days and
//! the new token and expiry are stored, in one write that loses to any
//! reconnect made meanwhile. So such a connection never needs the person
//! back; only what Meta says about the token itself (190, a lost
//! permission) changes its status, and a failed renewal is tried again by
//! the next run, as long as the token lives.

use chrono::{DateTime, Duration, Utc};
use tokio::time::Instant;

use super::types::LongLived;
use crate::app::App;
use crate::domain::expiry_after;
use crate::graph::{Auth, Call, GraphError};
use crate::oauth::ConnectError;
use crate::store::sql::{self, parse_ts, ts};
use crate::store::{Account, LogEntry, LogStatus, StoreError, TokenStatus};

/// Meta renews only tokens at least this old.
pub const MIN_AGE: Duration = Duration::hours(24);
/// How long one account's upkeep may spend on Meta's hosts.
const BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

const JOB_RENEW: &str = "token_refresh";
const JOB_CHECK: &str = "token_check";

/// What one account's upkeep did, for the job's report.
#[derive(Debug, Default, Clone)]
pub struct Renewal {
    pub checked: bool,
    pub refreshed: bool,
    /// Something failed that the next run tries again.
    pub failed: bool,
    /// The connection's status when this run changed it.
    pub status: Option<TokenStatus>,
    /// What Meta answered about the token read at `generation`, for the job
    /// to judge like any call's error (`tokens::note_graph_error`).
    pub error: Option<(GraphError, i64)>,
}

/// Whether the token is due for renewal now: it ends within `window` and is
/// old enough for Meta to renew it.
pub fn due(account: &Account, window: Duration, now: DateTime<Utc>) -> bool {
    let health = &account.token;
    let ends_soon = health
        .user_token_expires_at
        .as_deref()
        .and_then(parse_ts)
        .is_some_and(|at| at - now < window);
    // The token was issued (by the login or the last renewal) at last_refreshed_at.
    let old_enough = health
        .last_refreshed_at
        .as_deref()
        .and_then(parse_ts)
        .is_none_or(|at| now - at >= MIN_AGE);
    ends_soon && old_enough
}

/// One Instagram-login account's check and renewal; `run_id` names the run in the log.
pub async fn upkeep(app: &App, run_id: &str, account: &Account) -> Result<Renewal, StoreError> {
    let Some(tokens) = app.store.tokens(account.id).await? else {
        return Ok(Renewal::default()); // disconnected meanwhile
    };
    let now = Utc::now();
    let deadline = Some(Instant::now() + BUDGET);
    let log = |job_type, status, error: Option<&GraphError>, details| LogEntry {
        account_id: Some(account.id),
        run_id,
        job_type,
        status,
        error_code: error.and_then(|e| e.code),
        error_message: error.map(|e| e.to_string()),
        details,
        started_at: sql::now(),
    };
    let mut out = Renewal::default();

    let window = app
        .config
        .instagram
        .as_ref()
        .map_or(Duration::zero(), |ig| Duration::days(ig.renew_before_days));
    if due(account, window, now) {
        match renew(app, &tokens.user_token, deadline).await {
            Ok(long) => {
                let expires = expiry_after(now, long.expires_in).map(ts);
                let token = long.token();
                let replaced = app
                    .store
                    .replace_tokens(account.id, tokens.generation, &token, expires.as_deref(), &token)
                    .await?;
                let details = serde_json::json!({ "user_token_expires_at": expires, "login": "instagram" });
                let status = if replaced {
                    LogStatus::Success
                } else {
                    LogStatus::Skipped
                };
                app.store.log_run(&log(JOB_RENEW, status, None, Some(details))).await?;
                out.refreshed = replaced;
                out.checked = replaced; // a renewal proves the token works
                if replaced && account.token.status != TokenStatus::Active {
                    out.status = activate(app, account, tokens.generation + 1).await?;
                }
                return Ok(out);
            }
            Err(e) => {
                app.store
                    .log_run(&log(JOB_RENEW, LogStatus::Failed, Some(&e), None))
                    .await?;
                out.error = Some((e, tokens.generation));
                return Ok(out);
            }
        }
    }

    // The daily check: `/me` answers while the token works.
    let checked = account.token.last_checked_at.as_deref().and_then(parse_ts);
    if checked.is_some_and(|at| now - at < Duration::hours(24)) {
        return Ok(out);
    }
    match super::profile(app, &tokens.user_token, deadline).await {
        Ok(_) => {
            out.checked = true;
            let recorded = app
                .store
                .record_token_check(
                    account.id,
                    tokens.generation,
                    account.token.user_token_expires_at.as_deref(),
                    None,
                    &account.token.granted_scopes,
                )
                .await?;
            app.store
                .log_run(&log(JOB_CHECK, LogStatus::Success, None, None))
                .await?;
            if recorded && account.token.status != TokenStatus::Active && account.token.code.is_none() {
                out.status = activate(app, account, tokens.generation).await?;
            }
        }
        Err(ConnectError::Graph(e)) => {
            app.store
                .log_run(&log(JOB_CHECK, LogStatus::Failed, Some(&e), None))
                .await?;
            out.checked = true;
            out.error = Some((e, tokens.generation));
        }
        Err(ConnectError::Store(e)) => return Err(e),
        // The path was switched off: nothing can be checked, nothing is judged.
        Err(_) => out.failed = true,
    }
    Ok(out)
}

/// `refresh_access_token` for a long-lived token: a new one for 60 days.
async fn renew(
    app: &App,
    token: &crate::secret::AccessToken,
    deadline: Option<Instant>,
) -> Result<LongLived, GraphError> {
    let Some(clients) = app.instagram.as_ref() else {
        return Err(GraphError::transport(
            "refresh_access_token",
            None,
            "Instagram Login is not configured (IG_APP_ID is unset)".into(),
            None,
            Default::default(),
        ));
    };
    Ok(clients
        .graph
        .send::<LongLived>(
            &Call::get("refresh_access_token", Auth::Instagram(token))
                .unversioned()
                .param("grant_type", "ig_refresh_token"),
            deadline,
        )
        .await?
        .data)
}

async fn activate(app: &App, account: &Account, generation: i64) -> Result<Option<TokenStatus>, StoreError> {
    let update = app
        .store
        .update_status(account.id, Some(generation), &crate::store::StatusChange::active())
        .await?;
    Ok(matches!(update, crate::store::StatusUpdate::Changed).then_some(TokenStatus::Active))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Login, TokenHealth};

    fn account(expires_in_days: i64, issued_hours_ago: i64) -> Account {
        let now = Utc::now();
        Account {
            id: 1,
            instagram_user_id: crate::domain::InstagramUserId::parse("17841400000000901").expect("an id"),
            username: None,
            name: None,
            facebook_page_id: None,
            facebook_page_name: None,
            facebook_user_id: None,
            followers_count: None,
            login: Login::Instagram,
            token: TokenHealth {
                status: TokenStatus::Active,
                code: None,
                subcode: None,
                reason: None,
                reconnect_by: None,
                user_token_expires_at: Some(ts(now + Duration::days(expires_in_days))),
                data_access_expires_at: None,
                granted_scopes: vec![],
                last_checked_at: None,
                last_refreshed_at: Some(ts(now - Duration::hours(issued_hours_ago))),
                generation: 1,
            },
            created_at: ts(now),
            updated_at: ts(now),
        }
    }

    #[test]
    fn renewal_waits_for_the_window_and_a_day_of_age() {
        let now = Utc::now();
        let window = Duration::days(30);
        assert!(due(&account(29, 25), window, now));
        assert!(!due(&account(31, 25), window, now), "not yet in the window");
        assert!(!due(&account(29, 23), window, now), "younger than 24 hours");
    }
}
