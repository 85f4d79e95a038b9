//! Facebook Login: the dialog URL, and the callback's work from a code to
//! stored, encrypted tokens for every Instagram Business/Creator account the
//! user granted.

use tokio::time::Instant;
use url::Url;

use crate::app::App;
use crate::domain::{InstagramUserId, Timestamp, expiry_after};
use crate::graph::types::{DebugToken, DebugTokenEnvelope, FacebookPage, InstagramUser, PageInstagram, TokenResponse};
use crate::graph::{Auth, Call, GraphError};
use crate::secret::{AccessToken, AuthorizationCode, CsrfState};
use crate::store::{NewConnection, StoreError, TokenStatus};

pub use crate::graph::{REQUIRED_SCOPES, SCOPES};

/// How long the whole callback may spend on Graph calls.
const CALLBACK_BUDGET: std::time::Duration = std::time::Duration::from_secs(25);

/// The login dialog URL for one browser's `state`.
pub fn login_url(app: &App, state: &CsrfState) -> Url {
    let c = &app.config;
    let mut url = c.dialog_base_url.clone();
    url.set_path(&format!("{}/dialog/oauth", c.graph_version));
    url.query_pairs_mut()
        .append_pair("client_id", &c.app_id)
        .append_pair("redirect_uri", c.oauth_redirect_uri.as_str())
        .append_pair("scope", &SCOPES.join(","))
        .append_pair("state", state.expose())
        .append_pair("response_type", "code");
    // Facebook Login for Business takes its permissions from a configuration.
    if let Some(config_id) = &c.login_config_id {
        url.query_pairs_mut().append_pair("config_id", config_id);
    }
    url
}

/// Why a connect failed; each has a reason code the page explains.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the login state did not match this browser")]
    StateMismatch,
    #[error("the user cancelled or denied the login")]
    AccessDenied,
    #[error("the Facebook user manages no Page that was shared with the app")]
    NoPages,
    #[error("none of the user's Pages has an Instagram Business or Creator account")]
    NoInstagramAccount,
    #[error("permissions were declined: {}", .0.join(", "))]
    MissingPermissions(Vec<String>),
    #[error("the Instagram account is a personal one, not a Business or Creator account")]
    PersonalAccount,
    #[error("Instagram Login is not configured here")]
    InstagramOff,
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ConnectError {
    /// Every code [`reason_code`](Self::reason_code) gives: the page
    /// explains each in plain words (tested in Chromium).
    pub const REASON_CODES: [&'static str; 9] = [
        "state_mismatch",
        "access_denied",
        "no_pages",
        "no_instagram_account",
        "missing_permissions",
        "personal_account",
        "instagram_unavailable",
        "graph_error",
        "server_error",
    ];

    pub fn reason_code(&self) -> &'static str {
        match self {
            ConnectError::StateMismatch => "state_mismatch",
            ConnectError::AccessDenied => "access_denied",
            ConnectError::NoPages => "no_pages",
            ConnectError::NoInstagramAccount => "no_instagram_account",
            ConnectError::MissingPermissions(_) => "missing_permissions",
            ConnectError::PersonalAccount => "personal_account",
            ConnectError::InstagramOff => "instagram_unavailable",
            ConnectError::Graph(_) => "graph_error",
            ConnectError::Store(_) => "server_error",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectedAccount {
    pub instagram_user_id: InstagramUserId,
    pub username: Option<String>,
    pub facebook_page_id: String,
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub facebook_user_id: Option<String>,
    pub accounts: Vec<ConnectedAccount>,
    /// A connection that was not `active` is again: its recovery event is queued.
    pub restored: bool,
}

/// Code -> short-lived token -> long-lived user token -> granted scopes ->
/// every Page -> every linked Instagram account -> stored, both tokens encrypted.
pub async fn connect(app: &App, code: &AuthorizationCode) -> Result<Connection, ConnectError> {
    let graph = &app.graph;
    let deadline = Some(Instant::now() + CALLBACK_BUDGET);
    let cfg = &app.config;

    let short: TokenResponse = graph
        .send(
            &Call::get("oauth/access_token", Auth::None)
                .param("client_id", cfg.app_id.as_str())
                .param("client_secret", cfg.app_secret.expose())
                .param("redirect_uri", cfg.oauth_redirect_uri.as_str())
                .param("code", code.expose()),
            deadline,
        )
        .await?
        .data;
    let (user_token, expires_in) =
        exchange_for_long_lived(app, &AccessToken::new(short.access_token), deadline).await?;

    // One debug_token tells who the user is, what was granted and when access ends.
    let debug = inspect(app, &user_token, deadline).await?;
    let user_token_expires_at = expiry_after(app.clock.utc_now(), expires_in)
        .or_else(|| debug.expires())
        .map(Timestamp::from);
    let data_access_expires_at = debug.data_access_expires().map(Timestamp::from);
    let missing = missing_scopes(&debug.scopes);
    if !missing.is_empty() {
        return Err(ConnectError::MissingPermissions(missing));
    }

    let pages: Vec<FacebookPage> = pages(app, &user_token, deadline)
        .await?
        .into_iter()
        .filter(|p| p.access_token.is_some())
        .collect();
    if pages.is_empty() {
        return Err(ConnectError::NoPages);
    }

    let mut accounts = Vec::new();
    let mut restored = false;
    for page in pages {
        let Some(page_token) = page.access_token.map(AccessToken::new) else {
            continue;
        };
        let linked: PageInstagram = graph
            .send(
                &Call::get(page.id.as_str(), Auth::Page(&page_token)).param("fields", "instagram_business_account"),
                deadline,
            )
            .await?
            .data;
        let Some(ig) = linked.instagram_business_account else {
            continue;
        };
        let profile: InstagramUser = graph
            .send(
                &Call::get(ig.id.to_string(), Auth::Page(&page_token))
                    .param("fields", "id,username,name,followers_count"),
                deadline,
            )
            .await?
            .data;
        let stored = app
            .store
            .upsert_connection(&NewConnection {
                instagram_user_id: ig.id.clone(),
                username: profile.username.clone(),
                name: profile.name.clone(),
                facebook_page_id: page.id.clone(),
                facebook_page_name: page.name.clone(),
                facebook_user_id: debug.user_id.clone(),
                followers_count: profile.followers_count,
                user_token: user_token.clone(),
                user_token_expires_at,
                page_token,
                data_access_expires_at,
                granted_scopes: debug.scopes.clone(),
            })
            .await?;
        restored |= stored.previous_status.is_some_and(|s| s != TokenStatus::Active);
        tracing::info!(instagram_user_id = %ig.id, page_id = %page.id, "Instagram account connected");
        accounts.push(ConnectedAccount {
            instagram_user_id: ig.id,
            username: profile.username,
            facebook_page_id: page.id,
        });
    }
    if accounts.is_empty() {
        return Err(ConnectError::NoInstagramAccount);
    }
    Ok(Connection {
        facebook_user_id: debug.user_id,
        accounts,
        restored,
    })
}

/// `debug_token` with the app token: validity, expiry, data access, scopes, user.
pub async fn inspect(app: &App, token: &AccessToken, deadline: Option<Instant>) -> Result<DebugToken, GraphError> {
    let reply = app
        .graph
        .send::<DebugTokenEnvelope>(
            &Call::get("debug_token", Auth::App).param("input_token", token.expose()),
            deadline,
        )
        .await?;
    Ok(reply.data.data)
}

/// The [`REQUIRED_SCOPES`] missing from a grant.
pub fn missing_scopes(granted: &[String]) -> Vec<String> {
    REQUIRED_SCOPES
        .iter()
        .filter(|s| !granted.iter().any(|g| g == *s))
        .map(|s| s.to_string())
        .collect()
}

/// Every Page the user token can see (`/me/accounts`, all pages of it), with its Page token.
pub async fn pages(
    app: &App,
    user_token: &AccessToken,
    deadline: Option<Instant>,
) -> Result<Vec<FacebookPage>, GraphError> {
    app.graph
        .send_all(
            &Call::get("me/accounts", Auth::User(user_token)).param("fields", "id,name,access_token"),
            deadline,
            50,
        )
        .await
}

/// `fb_exchange_token`: a long-lived user token and its `expires_in`, when Meta gives one.
pub async fn exchange_for_long_lived(
    app: &App,
    token: &AccessToken,
    deadline: Option<Instant>,
) -> Result<(AccessToken, Option<i64>), GraphError> {
    let cfg = &app.config;
    let reply: TokenResponse = app
        .graph
        .send(
            &Call::get("oauth/access_token", Auth::None)
                .param("grant_type", "fb_exchange_token")
                .param("client_id", cfg.app_id.as_str())
                .param("client_secret", cfg.app_secret.expose())
                .param("fb_exchange_token", token.expose()),
            deadline,
        )
        .await?
        .data;
    Ok((AccessToken::new(reply.access_token), reply.expires_in))
}

/// Asks Meta to drop the app's permissions for this user (best effort).
pub async fn revoke(app: &App, user_token: &AccessToken) -> Result<(), GraphError> {
    app.graph
        .send::<crate::graph::types::Success>(
            &Call::delete("me/permissions", Auth::User(user_token)),
            Some(Instant::now() + std::time::Duration::from_secs(10)),
        )
        .await
        .map(|_| ())
}

#[cfg(test)]
mod reason_tests {
    use super::*;

    #[test]
    fn every_reason_code_is_listed_for_the_page() {
        let every = [
            ConnectError::StateMismatch,
            ConnectError::AccessDenied,
            ConnectError::NoPages,
            ConnectError::NoInstagramAccount,
            ConnectError::MissingPermissions(vec![]),
            ConnectError::PersonalAccount,
            ConnectError::InstagramOff,
            ConnectError::Graph(GraphError::transport(
                "me",
                None,
                "down".into(),
                None,
                Default::default(),
            )),
            ConnectError::Store(StoreError::Open("gone".into())),
        ];
        let codes: Vec<&str> = every.iter().map(ConnectError::reason_code).collect();
        assert_eq!(codes, ConnectError::REASON_CODES);
    }
}
