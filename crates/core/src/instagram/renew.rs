//! The Instagram side of keeping Instagram-login connections alive (the
//! bookkeeping is refresh-tokens', shared with Facebook Login, in `tokens`).
//!
//! These tokens have no `debug_token`: the daily health check is a cheap
//! `/me` with the token (a 190 there means the connection is `invalid`).
//! A long-lived token that is at least a day old and ends within the renewal
//! window is renewed with `refresh_access_token` for another 60 days, so
//! such a connection never needs the person back.

use chrono::{DateTime, Duration, Utc};
use tokio::time::Instant;

use crate::app::App;
use crate::domain::expiry_after;
use crate::graph::{Auth, Call, GraphError};
use crate::oauth::ConnectError;
use crate::secret::AccessToken;
use crate::store::Account;

/// Meta renews only tokens at least this old.
pub const MIN_AGE: Duration = Duration::hours(24);

/// A token `refresh_access_token` handed out, valid until `expires_at` (when Meta said).
pub struct Renewed {
    pub token: AccessToken,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Whether the token is due for renewal now: it ends within `window` and is
/// old enough for Meta to renew it.
pub fn due(account: &Account, window: Duration, now: DateTime<Utc>) -> bool {
    let health = &account.token;
    let ends_soon = (health.user_token_expires_at).is_some_and(|at| at.to_datetime() - now < window);
    // The token was issued (by the login or the last renewal) at last_refreshed_at.
    let old_enough = (health.last_refreshed_at).is_none_or(|at| now - at.to_datetime() >= MIN_AGE);
    ends_soon && old_enough
}

/// `refresh_access_token` for a long-lived token: a new one for 60 days.
pub async fn renew(app: &App, token: &AccessToken, deadline: Option<Instant>) -> Result<Renewed, GraphError> {
    let Some(clients) = app.instagram.as_ref() else {
        return Err(GraphError::transport(
            "refresh_access_token",
            None,
            "Instagram Login is not configured (IG_APP_ID is unset)".into(),
            None,
            Default::default(),
        ));
    };
    let asked = app.clock.utc_now();
    let long: super::types::LongLived = clients
        .graph
        .send(
            &Call::get("refresh_access_token", Auth::Instagram(token))
                .unversioned()
                .param("grant_type", "ig_refresh_token"),
            deadline,
        )
        .await?
        .data;
    Ok(Renewed {
        token: long.token(),
        expires_at: expiry_after(asked, long.expires_in),
    })
}

/// The daily health check: `/me` answers while the token works.
pub async fn check(app: &App, token: &AccessToken, deadline: Option<Instant>) -> Result<(), ConnectError> {
    super::profile(app, token, deadline).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use crate::store::{Login, TokenHealth, TokenStatus};

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
                user_token_expires_at: Some(Timestamp::from(now + Duration::days(expires_in_days))),
                data_access_expires_at: None,
                granted_scopes: vec![],
                last_checked_at: None,
                last_refreshed_at: Some(Timestamp::from(now - Duration::hours(issued_hours_ago))),
                generation: 1,
            },
            created_at: Timestamp::from(now),
            updated_at: Timestamp::from(now),
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
