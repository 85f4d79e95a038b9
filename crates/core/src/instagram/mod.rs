//! Instagram API with Instagram Login: the path for professional accounts
//! that have no Facebook Page. Business Login for Instagram gives a
//! short-lived token for a code (`api.instagram.com`), a long-lived one for
//! that (`graph.instagram.com`), and long-lived tokens renew there for
//! another 60 days once they are a day old, without the person.
//!
//! An account connected both ways is one account (one `users` row, keyed by
//! the professional account id that both paths name). Its Instagram-login
//! token collects while it works: it renews itself, where Facebook Login's
//! needs the person back every 60 days. A Facebook login of such an account
//! updates its Page details only; once the Instagram-login token is no
//! longer active, a Facebook login takes over again.

pub mod renew;
pub mod round;
mod types;

use tokio::time::Instant;
use url::Url;

use crate::app::App;
use crate::config::InstagramLogin;
use crate::domain::{Timestamp, expiry_after};
use crate::graph::{Call, INSTAGRAM_SCOPES};
use crate::oauth::{ConnectError, ConnectedAccount, Connection};
use crate::secret::{AccessToken, AuthorizationCode, CsrfState};
use crate::store::{NewInstagramLogin, TokenStatus};
use types::{LongLived, Profile, ShortLived};

/// The fields of `/me` the callback stores.
const PROFILE_FIELDS: &str = "id,user_id,username,name,account_type,followers_count";

/// How long the whole callback may spend on Meta's hosts.
const CALLBACK_BUDGET: std::time::Duration = std::time::Duration::from_secs(25);

/// Logins started with "Continue with Instagram" carry this before their
/// random `state`: the signed state cookie then tells the callback which
/// provider the code comes from.
const STATE_PREFIX: &str = "ig.";

/// A fresh `state` for an Instagram login.
pub fn new_state() -> CsrfState {
    CsrfState::new(format!("{STATE_PREFIX}{}", crate::crypto::random_token(32)))
}

/// Whether a (verified) `state` started an Instagram login.
pub fn started_here(state: &str) -> bool {
    state.starts_with(STATE_PREFIX)
}

/// Instagram's authorize dialog for one browser's `state`.
pub fn login_url(ig: &InstagramLogin, state: &CsrfState) -> Url {
    let mut url = crate::graph::join(&ig.dialog_base_url, "oauth/authorize");
    url.query_pairs_mut()
        .append_pair("client_id", &ig.app_id)
        .append_pair("redirect_uri", ig.redirect_uri.as_str())
        .append_pair("response_type", "code")
        .append_pair("scope", &INSTAGRAM_SCOPES.join(","))
        .append_pair("state", state.expose());
    url
}

/// Meta appends `#_` to the redirect; a code copied with it (or a client
/// that sends the fragment on) must not fail the exchange.
pub fn clean_code(raw: &str) -> &str {
    raw.trim_end_matches("#_")
}

/// Code -> short-lived token (with the granted permissions) -> long-lived
/// token -> the professional account -> stored, the token encrypted.
/// Nothing is stored unless every step succeeds.
pub async fn connect(app: &App, code: &AuthorizationCode) -> Result<Connection, ConnectError> {
    let (Some(ig), Some(clients)) = (app.config.instagram.as_ref(), app.instagram.as_ref()) else {
        return Err(ConnectError::InstagramOff);
    };
    let deadline = Some(Instant::now() + CALLBACK_BUDGET);
    let short: ShortLived = clients
        .api
        .send(
            &Call::post("oauth/access_token", crate::graph::Auth::None)
                .unversioned()
                .param("client_id", ig.app_id.as_str())
                .param("client_secret", ig.app_secret.expose())
                .param("grant_type", "authorization_code")
                .param("redirect_uri", ig.redirect_uri.as_str())
                .param("code", clean_code(code.expose())),
            deadline,
        )
        .await?
        .data;
    let short = short.into_grant();
    let missing: Vec<String> = INSTAGRAM_SCOPES
        .iter()
        .filter(|s| !short.permissions.iter().any(|p| p == *s))
        .map(|s| s.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ConnectError::MissingPermissions(missing));
    }

    let long: LongLived = clients
        .graph
        .send(
            &Call::get("access_token", crate::graph::Auth::None)
                .unversioned()
                .param("grant_type", "ig_exchange_token")
                .param("client_secret", ig.app_secret.expose())
                .param("access_token", short.access_token.expose()),
            deadline,
        )
        .await?
        .data;
    let token = long.token();
    let profile = profile(app, &token, deadline).await?;
    if profile.is_personal() {
        return Err(ConnectError::PersonalAccount);
    }
    let expires_at = expiry_after(app.clock.utc_now(), long.expires_in).map(Timestamp::from);
    let stored = app
        .store
        .upsert_instagram_login(&NewInstagramLogin {
            instagram_user_id: profile.user_id.clone(),
            instagram_scoped_id: short.user_id.clone(),
            username: profile.username.clone(),
            name: profile.name.clone(),
            followers_count: profile.followers_count,
            token,
            token_expires_at: expires_at,
            granted_scopes: short.permissions.clone(),
        })
        .await?;
    tracing::info!(instagram_user_id = %profile.user_id, "Instagram account connected through Instagram Login");
    Ok(Connection {
        facebook_user_id: None,
        accounts: vec![ConnectedAccount {
            instagram_user_id: profile.user_id,
            username: profile.username,
            facebook_page_id: String::new(),
        }],
        restored: stored.previous_status.is_some_and(|s| s != TokenStatus::Active),
    })
}

/// `/me` on the graph host: the professional account behind a token. Also
/// the daily health check of these tokens, which have no `debug_token`.
pub async fn profile(app: &App, token: &AccessToken, deadline: Option<Instant>) -> Result<Profile, ConnectError> {
    let Some(clients) = app.instagram.as_ref() else {
        return Err(ConnectError::InstagramOff);
    };
    let profile: Profile = clients
        .graph
        .send(
            &Call::get("me", crate::graph::Auth::Instagram(token)).param("fields", PROFILE_FIELDS),
            deadline,
        )
        .await?
        .data;
    Ok(profile)
}
