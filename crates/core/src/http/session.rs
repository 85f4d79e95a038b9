//! Who is asking: the admin key, a signed session cookie naming the accounts
//! this browser connected, or nobody. Plus the short-lived OAuth state cookie.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiRequest};
use crate::app::App;
use crate::crypto::{b64url, b64url_decode, constant_time_eq, sign, verify_signed};
use crate::secret::CsrfState;

pub const SESSION_COOKIE: &str = "urlinsta_session";
pub const STATE_COOKIE: &str = "urlinsta_oauth_state";
const SESSION_DAYS: i64 = 30;
const STATE_SECONDS: i64 = 600;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Session {
    /// Instagram account ids this browser connected.
    pub accounts: Vec<String>,
    /// The Facebook user who connected them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facebook_user_id: Option<String>,
    /// Unix time after which the cookie is ignored.
    pub exp: i64,
}

#[derive(Debug, Clone)]
pub enum Principal {
    Admin,
    User(Session),
    Anonymous,
}

impl Principal {
    /// The caller: a bearer must be the admin key (a wrong one is 401, never
    /// silently anonymous); otherwise a valid session cookie; otherwise nobody.
    pub fn of(app: &App, req: &ApiRequest) -> Result<Principal, ApiError> {
        if let Some(given) = req.bearer() {
            return match &app.config.admin_api_key {
                Some(key) if constant_time_eq(key.expose().as_bytes(), given.as_bytes()) => Ok(Principal::Admin),
                _ => Err(ApiError::Unauthorized("the bearer key is not valid".into())),
            };
        }
        Ok(read_session(app, req)
            .map(Principal::User)
            .unwrap_or(Principal::Anonymous))
    }

    /// Allows the admin and the session that connected the account.
    pub fn require_account(&self, instagram_user_id: &str) -> Result<(), ApiError> {
        match self {
            Principal::Admin => Ok(()),
            Principal::User(s) if s.accounts.iter().any(|a| a == instagram_user_id) => Ok(()),
            Principal::User(_) => Err(ApiError::Forbidden(
                "this account was not connected from this browser".into(),
            )),
            Principal::Anonymous => Err(ApiError::Unauthorized(
                "connect an account first, or send the admin key".into(),
            )),
        }
    }
}

pub fn read_session(app: &App, req: &ApiRequest) -> Option<Session> {
    let raw = req.cookie(SESSION_COOKIE)?;
    let payload = verify_signed(&app.config.session_secret, "session", raw)?;
    let session: Session = serde_json::from_slice(&b64url_decode(payload)?).ok()?;
    (session.exp > Utc::now().timestamp()).then_some(session)
}

/// A session cookie for these accounts, valid for 30 days.
pub fn session_cookie(app: &App, req: &ApiRequest, accounts: Vec<String>, facebook_user_id: Option<String>) -> String {
    let session = Session {
        accounts,
        facebook_user_id,
        exp: Utc::now().timestamp() + SESSION_DAYS * 86_400,
    };
    let payload = b64url(&serde_json::to_vec(&session).unwrap_or_default());
    let value = sign(&app.config.session_secret, "session", &payload);
    cookie(SESSION_COOKIE, &value, "/", SESSION_DAYS * 86_400, req.secure)
}

pub fn clear_session_cookie(req: &ApiRequest) -> String {
    cookie(SESSION_COOKIE, "", "/", 0, req.secure)
}

/// Binds a login's `state` to this browser for ten minutes.
pub fn state_cookie(app: &App, req: &ApiRequest, state: &CsrfState) -> String {
    let value = sign(
        &app.config.session_secret,
        "state",
        &format!("{}~{}", state.expose(), Utc::now().timestamp() + STATE_SECONDS),
    );
    cookie(STATE_COOKIE, &value, "/api/auth", STATE_SECONDS, req.secure)
}

pub fn clear_state_cookie(req: &ApiRequest) -> String {
    cookie(STATE_COOKIE, "", "/api/auth", 0, req.secure)
}

/// Whether `state` from the callback is the one this browser's cookie holds, unexpired.
pub fn state_matches(app: &App, req: &ApiRequest, state: Option<&str>) -> bool {
    let (Some(state), Some(raw)) = (state, req.cookie(STATE_COOKIE)) else {
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

fn cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}
