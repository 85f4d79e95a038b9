//! The plan's auth routes: login, callback, status, disconnect.

use serde::Deserialize;
use serde_json::json;

use super::session::{self, Principal};
use super::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::instagram;
use crate::oauth::{self, ConnectError};
use crate::secret::{AuthorizationCode, CsrfState};
use crate::store::Login;

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
            // Keep the accounts this browser connected before, add the new ones.
            let mut accounts = session::read_session(app, req).map(|s| s.accounts).unwrap_or_default();
            for a in &connection.accounts {
                if !accounts.contains(&a.instagram_user_id) {
                    accounts.push(a.instagram_user_id.clone());
                }
            }
            Ok(ApiResponse::redirect(&app.config.frontend_success_url)
                .with_cookie(&clear_state)
                .with_cookie(&session::session_cookie(
                    app,
                    req,
                    accounts,
                    connection.facebook_user_id,
                )))
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
    let wanted = req.query("instagram_user_id");
    let principal = Principal::of(app, req)?;
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
        Principal::Admin => match wanted {
            Some(id) => app.store.account(id).await?.into_iter().collect(),
            None => app.store.accounts().await?,
        },
        Principal::Anonymous => {
            return Ok(ApiResponse::json(
                hyper::StatusCode::UNAUTHORIZED,
                &json!({ "connected": false, "error": "unauthorized", "message": "no session: connect an account first" }),
            ));
        }
    };
    if accounts.is_empty() {
        let response = ApiResponse::ok(&json!({ "connected": false, "accounts": [] }));
        // A session whose accounts are all gone is over.
        return Ok(match principal {
            Principal::User(_) => response.with_cookie(&session::clear_session_cookie(req)),
            _ => response,
        });
    }
    let current = wanted
        .and_then(|w| accounts.iter().find(|a| a.instagram_user_id == w))
        .unwrap_or(&accounts[0]);
    Ok(ApiResponse::ok(&json!({
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
    })))
}

#[derive(Deserialize)]
struct DisconnectBody {
    instagram_user_id: String,
}

/// `POST /api/auth/disconnect {instagram_user_id}`: deletes the account and
/// its data, and asks Meta to revoke the app's permissions (best effort).
pub async fn disconnect(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let principal = Principal::of(app, req)?;
    if matches!(principal, Principal::Anonymous) {
        return Err(ApiError::Unauthorized(
            "connect an account first, or send the admin key".into(),
        ));
    }
    let body: DisconnectBody = req.json()?;
    let id = body.instagram_user_id.trim();
    if id.is_empty() || id.chars().count() > 64 {
        return Err(ApiError::BadRequest(
            "instagram_user_id is required (at most 64 characters)".into(),
        ));
    }
    principal.require_account(id)?;
    let Some(account) = app.store.account(id).await? else {
        return Err(ApiError::NotFound("no such connected account".into()));
    };
    let tokens = app.store.tokens(account.id).await.ok().flatten();
    app.store.delete_account(id).await?;
    tracing::info!(instagram_user_id = %id, "account disconnected and its data deleted");
    let mut revoked = false;
    // Meta documents no revoke for Instagram-login tokens: deleting them here is all.
    if let Some(t) = tokens.filter(|_| account.login == Login::Facebook) {
        match oauth::revoke(app, &t.user_token).await {
            Ok(()) => revoked = true,
            Err(e) => {
                tracing::warn!(error = %e, "permission revoke failed (account already deleted here)")
            }
        }
    }
    let mut response = ApiResponse::ok(&json!({ "success": true, "revoked": revoked }));
    if let Principal::User(mut s) = principal {
        s.accounts.retain(|a| a != id);
        let cookie = if s.accounts.is_empty() {
            session::clear_session_cookie(req)
        } else {
            session::session_cookie(app, req, s.accounts, s.facebook_user_id)
        };
        response.add_cookie(&cookie);
    }
    Ok(response)
}
