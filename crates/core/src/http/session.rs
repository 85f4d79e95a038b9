//! Who is asking: the admin key, a browser session, or nobody. Plus the
//! short-lived OAuth state cookie.
//!
//! A session cookie carries only a random id; the database says which
//! accounts the session may see and until when (see `store::sessions`), so a
//! session can be ended: by logout, by expiry (sliding, 30 days after its
//! last use), and account by account by a disconnect. Over HTTPS the cookies
//! carry the `__Host-` prefix: Secure, Path=/, no Domain, so no sibling
//! subdomain can set or overwrite them.

use chrono::{Duration, Utc};

use super::{ApiError, ApiRequest};
use crate::app::App;
use crate::crypto::{constant_time_eq, sign, verify_signed};
use crate::domain::InstagramUserId;
use crate::secret::{CsrfState, SessionId};
use crate::store::StoreError;

pub const SESSION_COOKIE: &str = "urlinsta_session";
pub const STATE_COOKIE: &str = "urlinsta_oauth_state";
const SESSION_DAYS: i64 = 30;
/// A session's expiry moves forward at most once a day: a read, not a write, per request.
const RENEW_AFTER_DAYS: i64 = 1;
const STATE_SECONDS: i64 = 600;

/// A live browser session.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: SessionId,
    /// The Instagram accounts this session may see.
    pub accounts: Vec<InstagramUserId>,
}

#[derive(Debug, Clone)]
pub enum Principal {
    Admin,
    User(Session),
    Anonymous,
}

impl Principal {
    /// The caller: a bearer must be the admin key (a wrong one is 401, never
    /// silently anonymous); otherwise a live session; otherwise nobody.
    pub async fn of(app: &App, req: &ApiRequest) -> Result<Principal, ApiError> {
        if let Some(given) = req.bearer() {
            return match &app.config.admin_api_key {
                Some(key) if constant_time_eq(key.expose().as_bytes(), given.as_bytes()) => Ok(Principal::Admin),
                _ => Err(ApiError::Unauthorized("the bearer key is not valid".into())),
            };
        }
        Ok(current(app, req)
            .await?
            .map(Principal::User)
            .unwrap_or(Principal::Anonymous))
    }

    /// Allows the admin and the sessions that may see the account.
    pub fn require_account(&self, instagram_user_id: &InstagramUserId) -> Result<(), ApiError> {
        match self {
            Principal::Admin => Ok(()),
            Principal::User(s) if s.accounts.contains(instagram_user_id) => Ok(()),
            Principal::User(_) => Err(ApiError::Forbidden(
                "this account was not connected from this browser".into(),
            )),
            Principal::Anonymous => Err(ApiError::Unauthorized(
                "connect an account first, or send the admin key".into(),
            )),
        }
    }
}

/// The cookie's name: `__Host-` over HTTPS.
fn cookie_name(base: &str, req: &ApiRequest) -> String {
    match req.secure {
        true => format!("__Host-{base}"),
        false => base.to_string(),
    }
}

/// The session id this browser sends, if it has the shape of one.
pub fn session_id(req: &ApiRequest) -> Option<SessionId> {
    let raw = req.cookie(&cookie_name(SESSION_COOKIE, req))?;
    let well_formed = raw.len() == 43 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| SessionId::new(raw))
}

/// Whether the request carries a session cookie at all (valid or not).
pub fn has_session_cookie(req: &ApiRequest) -> bool {
    req.cookie(&cookie_name(SESSION_COOKIE, req)).is_some()
}

/// The live session this browser's cookie names; its expiry slides forward.
pub async fn current(app: &App, req: &ApiRequest) -> Result<Option<Session>, StoreError> {
    let Some(id) = session_id(req) else {
        return Ok(None);
    };
    let now = Utc::now();
    let Some(stored) = app.store.session(&id, now).await? else {
        return Ok(None);
    };
    let lifetime = Duration::days(SESSION_DAYS);
    if stored.expires_at < now + lifetime - Duration::days(RENEW_AFTER_DAYS) {
        app.store.extend_session(&id, now + lifetime).await?;
    }
    Ok(Some(Session {
        id,
        accounts: stored.accounts,
    }))
}

/// Grants this browser the accounts it has just connected, and only this
/// browser: a fresh session id that also keeps the accounts of the browser's
/// current session (whose id ends here). Any login provider's callback calls
/// this once its accounts are stored. Returns the Set-Cookie value.
pub async fn grant(app: &App, req: &ApiRequest, instagram_user_ids: &[InstagramUserId]) -> Result<String, StoreError> {
    let id = SessionId::random();
    let expires_at = Utc::now() + Duration::days(SESSION_DAYS);
    app.store
        .open_session(&id, session_id(req).as_ref(), instagram_user_ids, expires_at)
        .await?;
    Ok(session_cookie(req, &id))
}

/// Ends this browser's session, if it has one.
pub async fn end(app: &App, req: &ApiRequest) -> Result<(), StoreError> {
    if let Some(id) = session_id(req) {
        app.store.end_session(&id).await?;
    }
    Ok(())
}

/// The session cookie for `id`, kept by the browser as long as the session may live.
pub fn session_cookie(req: &ApiRequest, id: &SessionId) -> String {
    cookie(req, SESSION_COOKIE, id.expose(), SESSION_DAYS * 86_400)
}

pub fn clear_session_cookie(req: &ApiRequest) -> String {
    cookie(req, SESSION_COOKIE, "", 0)
}

/// Binds a login's `state` to this browser for ten minutes.
pub fn state_cookie(app: &App, req: &ApiRequest, state: &CsrfState) -> String {
    let value = sign(
        &app.config.session_secret,
        "state",
        &format!("{}~{}", state.expose(), Utc::now().timestamp() + STATE_SECONDS),
    );
    cookie(req, STATE_COOKIE, &value, STATE_SECONDS)
}

pub fn clear_state_cookie(req: &ApiRequest) -> String {
    cookie(req, STATE_COOKIE, "", 0)
}

/// Whether `state` from the callback is the one this browser's cookie holds, unexpired.
pub fn state_matches(app: &App, req: &ApiRequest, state: Option<&str>) -> bool {
    let (Some(state), Some(raw)) = (state, req.cookie(&cookie_name(STATE_COOKIE, req))) else {
        return false;
    };
    let Some(value) = verify_signed(&app.config.session_secret, "state", raw) else {
        return false;
    };
    let Some((expected, exp)) = value.rsplit_once('~') else {
        return false;
    };
    let fresh = exp.parse::<i64>().is_ok_and(|e| e > Utc::now().timestamp());
    fresh && !state.is_empty() && constant_time_eq(expected.as_bytes(), state.as_bytes())
}

/// HttpOnly, SameSite=Lax, Path=/ and never a Domain; over HTTPS Secure and `__Host-`.
fn cookie(req: &ApiRequest, base: &str, value: &str, max_age: i64) -> String {
    let name = cookie_name(base, req);
    let secure = if req.secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}
