//! The two steps of an account's upkeep that ask Meta: the health check
//! (`debug_token`) and the refresh (`fb_exchange_token`, then the Page's new
//! token from `/me/accounts`). They only ask; what is stored is decided in
//! `tokens` and written there, at once.

use chrono::{DateTime, Utc};

use super::verdict::Problem;
use super::{CHECK_INTERVAL, MIN_EXTENSION, REFRESH_WINDOW};
use crate::app::App;
use crate::domain::{Timestamp, expiry_after};
use crate::engine::Run;
use crate::graph::types::DebugTokenError;
use crate::graph::{GraphError, MetaError};
use crate::oauth;
use crate::secret::AccessToken;
use crate::store::sql::ts;
use crate::store::{Account, AccountTokens, RenewedTokens, StatusChange, TokenHealth, TokenStatus};

pub(super) enum Check {
    Valid(TokenFacts),
    /// Meta says the token no longer works.
    Invalid(StatusChange),
}

pub(super) struct TokenFacts {
    pub(super) expires_at: Option<DateTime<Utc>>,
    pub(super) data_access_expires_at: Option<DateTime<Utc>>,
    pub(super) scopes: Vec<String>,
}

impl TokenFacts {
    pub(super) fn details(&self) -> serde_json::Value {
        serde_json::json!({
            "user_token_expires_at": self.expires_at.map(ts),
            "data_access_expires_at": self.data_access_expires_at.map(ts),
            "scopes": self.scopes,
        })
    }
}

pub(super) async fn check(app: &App, run: &Run, user_token: &AccessToken) -> Result<Check, GraphError> {
    let debug = oauth::inspect(app, user_token, Some(run.deadline)).await?;
    if debug.is_valid {
        return Ok(Check::Valid(TokenFacts {
            expires_at: debug.expires(),
            data_access_expires_at: debug.data_access_expires(),
            scopes: debug.scopes,
        }));
    }
    let error = verdict_error(debug.error);
    let reason = match error.subcode {
        Some(_) => error.reason(),
        // Without a subcode Meta's own words say more than "invalid".
        None => format!("Facebook reports the login invalid: {}", error.message),
    };
    Ok(Check::Invalid(StatusChange {
        status: TokenStatus::Invalid,
        code: error.code,
        subcode: error.subcode,
        reason: Some(reason),
        reconnect_by: None,
    }))
}

/// Meta's verdict on a token `debug_token` calls invalid, read like any
/// Graph error so that it gets the same reason.
fn verdict_error(detail: Option<DebugTokenError>) -> GraphError {
    let detail = detail.unwrap_or_default();
    GraphError::from_meta(
        "debug_token",
        200,
        MetaError {
            message: detail.message.unwrap_or_else(|| "the token is not valid".into()),
            error_type: None,
            code: Some(detail.code.unwrap_or(190)),
            error_subcode: detail.subcode,
            is_transient: Some(false),
            fbtrace_id: None,
        },
        &[],
        None,
        Default::default(),
    )
}

pub(super) fn is_stale(last_checked_at: Option<Timestamp>, now: DateTime<Utc>) -> bool {
    last_checked_at.is_none_or(|t| t.to_datetime() <= now - CHECK_INTERVAL)
}

pub(super) enum Refresh {
    /// A new user token whose expiry really moved, and the Page's token from it.
    Extended(RenewedTokens),
    /// Meta answered, but the connection cannot be kept alive without the user.
    Refused(Problem),
    /// The new token's expiry could not be confirmed: it is dropped, the
    /// stored login stands, and the next run tries again.
    Unverified(GraphError),
}

/// The expiry of a user token that is due for a refresh.
pub(super) fn due_for_refresh(health: &TokenHealth, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (health.user_token_expires_at)
        .map(Timestamp::to_datetime)
        .filter(|at| *at < now + REFRESH_WINDOW)
}

/// `fb_exchange_token`, the real new expiry (`expires_in`, else `debug_token`),
/// and, when it moved, the stored Page's new token from `/me/accounts`.
pub(super) async fn refresh(
    app: &App,
    run: &Run,
    account: &Account,
    tokens: &AccountTokens,
    expires_at: DateTime<Utc>,
) -> Result<Refresh, GraphError> {
    let deadline = Some(run.deadline);
    let (user_token, expires_in) = oauth::exchange_for_long_lived(app, &tokens.user_token, deadline).await?;
    let new_expiry = match expiry_after(run.utc_now(), expires_in) {
        Some(at) => Some(at),
        // debug_token runs on the app's own credentials: its errors say
        // nothing about the user's login, and neither does an odd answer
        // about a token Meta minted a moment ago.
        None => match oauth::inspect(app, &user_token, deadline).await {
            Ok(debug) if debug.is_valid => debug.expires(),
            Ok(debug) => return Ok(Refresh::Unverified(verdict_error(debug.error))),
            Err(e) => return Ok(Refresh::Unverified(e)),
        },
    };
    // No expiry at all is the best extension there is.
    if new_expiry.is_some_and(|at| at < expires_at + MIN_EXTENSION) {
        return Ok(Refresh::Refused(Problem::NotExtended { expires_at }));
    }
    let page_id = account.facebook_page_id.clone().unwrap_or_default();
    let page_token = oauth::pages(app, &user_token, deadline)
        .await?
        .into_iter()
        .find(|p| p.id == page_id)
        .and_then(|p| p.access_token);
    match page_token {
        Some(page_token) => Ok(Refresh::Extended(RenewedTokens {
            user_token,
            user_token_expires_at: new_expiry.map(Timestamp::from),
            page_token: AccessToken::new(page_token),
        })),
        None => Ok(Refresh::Refused(Problem::PageLost {
            page: account.facebook_page_name.clone().unwrap_or(page_id),
            expires_at,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::super::verdict::tests::{ALL, health};
    use super::*;

    #[test]
    fn refresh_is_due_inside_ten_days_only() {
        let now = Utc::now();
        assert!(due_for_refresh(&health(9, 80, ALL), now).is_some());
        assert!(due_for_refresh(&health(11, 80, ALL), now).is_none());
        let mut never = health(0, 80, ALL);
        never.user_token_expires_at = None;
        assert!(due_for_refresh(&never, now).is_none());
    }

    #[test]
    fn checks_are_daily() {
        let now = Utc::now();
        assert!(is_stale(None, now));
        assert!(is_stale(Some((now - chrono::Duration::hours(25)).into()), now));
        assert!(!is_stale(Some((now - chrono::Duration::hours(23)).into()), now));
    }
}
