//! The plan's auth routes: login, callback, status, disconnect; and logout.

use serde::Deserialize;
use serde_json::json;

use super::session::{self, Principal};
use super::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::domain::InstagramUserId;
use crate::instagram;
use crate::oauth::{self, ConnectError};
use crate::secret::{AccessToken, AuthorizationCode, CsrfState};
use crate::store::{Login, StoreError};

/// `GET /api/auth/login[?provider=facebook|instagram]`: 302 to Facebook's
/// or Instagram's dialog, `state` bound to this browser.
pub async fn login(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let (state, url) = match req.query("provider").unwrap_or("facebook") {
        "facebook" => {
            let state = CsrfState::random();
            let url = oauth::login_url(app, &state);
            (state, url)
        }
        "instagram" => {
            let Some(ig) = &app.config.instagram else {
                return Err(ApiError::NotFound(
                    "Instagram Login is not configured here (IG_APP_ID is unset)".into(),
                ));
            };
            let state = instagram::new_state();
            let url = instagram::login_url(ig, &state);
            (state, url)
        }
        _ => return Err(ApiError::BadRequest("provider is facebook or instagram".into())),
    };
    Ok(ApiResponse::redirect(url.as_str()).with_cookie(&session::state_cookie(app, req, &state)))
}

/// `GET /api/auth/callback`: verifies state, connects every account found,
/// sets the session, and sends the browser to the success or error page.
pub async fn callback(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let state_matches = session::state_matches(app, req, req.query("state"));
    let result = if !state_matches {
        Err(ConnectError::StateMismatch)
    } else if let Some(error) = req.query("error") {
        tracing::info!(
            error,
            reason = req.query("error_reason").unwrap_or(""),
            "login dialog denied"
        );
        Err(ConnectError::AccessDenied)
    } else {
        // The state was verified above: its prefix says who started the login.
        let from_instagram = req.query("state").is_some_and(instagram::started_here);
        match req.query("code").filter(|c| !c.is_empty()) {
            None => Err(ConnectError::StateMismatch),
            Some(code) if from_instagram => instagram::connect(app, &AuthorizationCode::new(code)).await,
            Some(code) => oauth::connect(app, &AuthorizationCode::new(code)).await,
        }
    };
    let clear_state = session::clear_state_cookie(req);
    match result {
        Ok(connection) => {
            let ids: Vec<InstagramUserId> = connection
                .accounts
                .iter()
                .map(|a| a.instagram_user_id.clone())
                .collect();
            match session::grant(app, req, &ids).await {
                Ok(cookie) => Ok(ApiResponse::redirect(&app.config.frontend_success_url)
                    .with_cookie(&clear_state)
                    .with_cookie(&cookie)),
                Err(e) => {
                    tracing::error!(error = %e, "connected, but the session could not be stored");
                    Ok(ApiResponse::redirect(&app.config.error_redirect("server_error")).with_cookie(&clear_state))
                }
            }
        }
        Err(e) => {
            match &e {
                ConnectError::Graph(g) => {
                    tracing::warn!(error = %g, kind = g.kind.as_str(), "connect failed at Graph")
                }
                ConnectError::Store(s) => tracing::error!(error = %s, "connect failed at storage"),
                other => tracing::info!(reason = other.reason_code(), "connect refused: {other}"),
            }
            let redirect = ApiResponse::redirect(&app.config.error_redirect(e.reason_code()));
            // A stale or forged callback leaves the state of a newer login in this browser alone.
            Ok(match state_matches {
                true => redirect.with_cookie(&clear_state),
                false => redirect,
            })
        }
    }
}

/// `GET /api/auth/status`: the session's accounts and their health; with the
/// admin key, the account named by `instagram_user_id`, else every account.
pub async fn status(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    // An id of another shape names no account.
    let wanted = req.query("instagram_user_id").map(InstagramUserId::parse);
    let principal = Principal::of(app, req).await?;
    let accounts = match &principal {
        Principal::User(session) => {
            let mut accounts = Vec::new();
            for id in &session.accounts {
                if let Some(a) = app.store.account(id).await? {
                    accounts.push(a);
                }
            }
            accounts
        }
        Principal::Admin => match &wanted {
            Some(Some(id)) => app.store.account(id).await?.into_iter().collect(),
            Some(None) => Vec::new(),
            None => app.store.accounts().await?,
        },
        Principal::Anonymous => {
            return Ok(ApiResponse::json(
                hyper::StatusCode::UNAUTHORIZED,
                &json!({
                    "connected": false, "error": "unauthorized", "message": "no session: connect an account first",
                    // The page offers a button for each login this deployment has.
                    "logins": logins(app),
                }),
            ));
        }
    };
    if accounts.is_empty() {
        let response = ApiResponse::ok(&json!({ "connected": false, "accounts": [] }));
        // A session whose accounts are all gone is over.
        return Ok(match principal {
            Principal::User(_) => {
                session::end(app, req).await?;
                response.with_cookie(&session::clear_session_cookie(req))
            }
            _ => response,
        });
    }
    let current = wanted
        .flatten()
        .and_then(|w| accounts.iter().find(|a| a.instagram_user_id == w))
        .unwrap_or(&accounts[0]);
    let response = ApiResponse::ok(&json!({
        "connected": true,
        "username": current.username,
        "user_id": current.facebook_user_id,
        "instagram_user_id": current.instagram_user_id,
        "facebook_page_id": current.facebook_page_id,
        "facebook_page_name": current.facebook_page_name,
        "followers_count": current.followers_count,
        "login": current.login,
        "token_status": current.token.status,
        "reconnect_by": current.token.reconnect_by,
        "accounts": accounts,
    }));
    // The page asks on every visit: the browser keeps the cookie as long as the session lives.
    Ok(match &principal {
        Principal::User(s) => response.with_cookie(&session::session_cookie(req, &s.id)),
        _ => response,
    })
}

#[derive(Deserialize)]
struct DisconnectBody {
    instagram_user_id: String,
}

/// `POST /api/auth/disconnect {instagram_user_id}`: deletes the account and
/// its data, which ends every session's access to it. Meta's grant is
/// revoked only when no other account of the same Facebook user stays
/// connected: the grant is the user's, not the account's.
///
/// Until the deletion commits, a failure answers an error and nothing is
/// deleted. After it, the account is gone whatever fails next (checking for
/// the user's other accounts, ending the session): that is logged, and the
/// answer still says what was done.
pub async fn disconnect(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let principal = Principal::of(app, req).await?;
    if matches!(principal, Principal::Anonymous) {
        return Err(ApiError::Unauthorized(
            "connect an account first, or send the admin key".into(),
        ));
    }
    req.require_json()?;
    let body: DisconnectBody = req.json()?;
    let raw = body.instagram_user_id.trim();
    if raw.is_empty() || raw.chars().count() > 64 {
        return Err(ApiError::BadRequest(
            "instagram_user_id is required (at most 64 characters)".into(),
        ));
    }
    // A string that is no Instagram user id names no connected account.
    let Some(id) = InstagramUserId::parse(raw) else {
        return Err(ApiError::NotFound("no such connected account".into()));
    };
    principal.require_account(&id)?;
    let Some(account) = app.store.account(&id).await? else {
        return Err(ApiError::NotFound("no such connected account".into()));
    };
    let tokens = match app.store.tokens(account.id).await {
        Ok(tokens) => tokens,
        // Tokens this deployment cannot read cannot be revoked; the account can still go.
        Err(e @ (StoreError::Crypto(_) | StoreError::Corrupt(_))) => {
            tracing::warn!(error = %e, "the account's tokens cannot be read: deleting it without revoking");
            None
        }
        Err(e) => return Err(e.into()),
    };
    if !app.store.delete_account(&id).await? {
        // Disconnected by another request a moment ago.
        return Err(ApiError::NotFound("no such connected account".into()));
    }
    tracing::info!(instagram_user_id = %id, "account disconnected and its data deleted");
    // Meta documents no revoke for Instagram-login tokens: deleting them here is all.
    let revoked = match tokens.filter(|_| account.login == Login::Facebook) {
        Some(t) => revoke_if_last(app, account.facebook_user_id.as_deref(), &t.user_token).await,
        None => false,
    };
    let mut response = ApiResponse::ok(&json!({ "success": true, "revoked": revoked }));
    if let Principal::User(s) = principal
        && s.accounts.iter().all(|a| *a == id)
    {
        // Its last account is gone, so the session can see nothing any more;
        // a row left behind is swept when it expires.
        if let Err(e) = session::end(app, req).await {
            tracing::error!(error = %e, "account deleted, but its session could not be ended");
        }
        response.add_cookie(&session::clear_session_cookie(req));
    }
    Ok(response)
}

/// Revokes the Facebook user's grant at Meta (best effort) unless another of
/// their accounts is still connected, or that cannot be told: revoking then
/// could break accounts that still use the grant. Whether it revoked.
async fn revoke_if_last(app: &App, facebook_user_id: Option<&str>, user_token: &AccessToken) -> bool {
    if let Some(fb) = facebook_user_id {
        match app.store.accounts_of_facebook_user(fb).await {
            Ok(others) if !others.is_empty() => {
                tracing::info!(
                    remaining = others.len(),
                    "Meta grant kept: the Facebook user has other connected accounts"
                );
                return false;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(
                    error = %e,
                    "account deleted; Meta grant kept: could not check for the Facebook user's other accounts"
                );
                return false;
            }
        }
    }
    match oauth::revoke(app, user_token).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "permission revoke failed (account already deleted here)");
            false
        }
    }
}

/// `POST /api/auth/logout`: ends this browser's session (a no-op without one).
pub async fn logout(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    session::end(app, req).await?;
    Ok(ApiResponse::ok(&json!({ "success": true })).with_cookie(&session::clear_session_cookie(req)))
}

/// The logins this deployment offers: Facebook always, Instagram when configured.
fn logins(app: &App) -> Vec<&'static str> {
    let mut logins = vec!["facebook"];
    if app.config.instagram.is_some() {
        logins.push("instagram");
    }
    logins
}
