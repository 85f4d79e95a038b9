//! Tokens: `oauth/access_token` (code, long-lived and app tokens),
//! `debug_token`, and the user's `permissions` (read and revoke).

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{Value, json};

use crate::auth::{self, Caller};
use crate::control::{ExchangePolicy, TokenKind};
use crate::errors::GraphError;
use crate::request::{ApiRequest, Reply};
use crate::world::{APP_NAME, CODE_LIFETIME_MINUTES, LONG_LIVED_SECS, Token, World};

/// Short-lived user tokens live one to two hours.
const SHORT_LIVED_SECS: std::ops::RangeInclusive<i64> = 3600..=7200;

/// `GET /oauth/access_token` in its three grant types.
pub(crate) fn access_token(world: &mut World, req: &ApiRequest) -> Result<Reply, GraphError> {
    if req.method != "GET" && req.method != "POST" {
        return Err(GraphError::unsupported(&req.method, "access_token"));
    }
    match req.nonempty("client_id") {
        None => return Err(GraphError::new(101, "Missing client_id parameter.")),
        Some(id) if id != world.app_id => {
            return Err(GraphError::new(
                101,
                "Error validating application. Invalid application ID.",
            ));
        }
        Some(_) => {}
    }
    if req.param("client_secret") != Some(world.app_secret.as_str()) {
        return Err(GraphError::new(1, "Error validating client secret."));
    }
    match req.param("grant_type") {
        Some("fb_exchange_token") => exchange(world, req),
        Some("client_credentials") => {
            let token = world.issue_app_token();
            Ok(Reply::ok(json!({ "access_token": token, "token_type": "bearer" })))
        }
        None | Some("authorization_code") => redeem_code(world, req),
        Some(_) => Err(GraphError::param("Unsupported grant_type")),
    }
}

/// A code from the dialog for a short-lived user token: single use, ten
/// minutes, and only with the dialog's exact redirect URI.
fn redeem_code(world: &mut World, req: &ApiRequest) -> Result<Reply, GraphError> {
    let value = req
        .nonempty("code")
        .ok_or_else(|| GraphError::new(100, "Missing code parameter."))?;
    let now = world.now();
    let code = world
        .codes
        .get(value)
        .ok_or_else(|| GraphError::new(100, "Invalid verification code format."))?;
    if code.used {
        return Err(GraphError::new(100, "This authorization code has been used.").with_subcode(36009));
    }
    if now - code.issued_at > chrono::Duration::minutes(CODE_LIFETIME_MINUTES) {
        return Err(GraphError::new(100, "This authorization code has expired.").with_subcode(36007));
    }
    if req.param("redirect_uri") != Some(code.redirect_uri.as_str()) {
        return Err(GraphError::new(
            100,
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        )
        .with_subcode(36008));
    }
    let user_id = code.user_id.clone();
    if let Some(code) = world.codes.get_mut(value) {
        code.used = true;
    }
    let lifetime = rand::rng().random_range(SHORT_LIVED_SECS);
    let token = world.issue_user_token(&user_id, false, lifetime);
    Ok(Reply::ok(json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": lifetime,
    })))
}

/// `fb_exchange_token`: short-lived to long-lived; an already long-lived
/// token per the world's [`ExchangePolicy`].
fn exchange(world: &mut World, req: &ApiRequest) -> Result<Reply, GraphError> {
    let value = req
        .nonempty("fb_exchange_token")
        .ok_or_else(|| GraphError::param("Missing fb_exchange_token parameter"))?;
    if world.is_app_token(value) {
        return Err(GraphError::param("An app access token cannot be exchanged"));
    }
    let token = world.live_token(value)?;
    let now = world.now();
    let remaining = world.expiry_of(token).map(|at| (at - now).num_seconds().max(0));
    let (kind, long_lived, user_id) = (token.kind, token.long_lived, token.user_id.clone());
    let fresh = |world: &mut World| world.issue_user_token(&user_id, true, LONG_LIVED_SECS);
    let (access_token, expires_in) = match (kind, long_lived, world.exchange_policy) {
        // Page tokens come back as they are.
        (TokenKind::Page, ..) => (value.to_string(), remaining),
        (_, false, _) => (fresh(world), Some(LONG_LIVED_SECS)),
        (_, true, ExchangePolicy::SameToken) => (value.to_string(), remaining),
        (_, true, ExchangePolicy::Extend) => (fresh(world), Some(LONG_LIVED_SECS)),
        (_, true, ExchangePolicy::ExtendWithoutExpiresIn) => (fresh(world), None),
    };
    let mut body = json!({ "access_token": access_token, "token_type": "bearer" });
    if let Some(secs) = expires_in {
        body["expires_in"] = json!(secs);
    }
    Ok(Reply::ok(body))
}

/// `GET /debug_token?input_token=T` with an app token.
pub(crate) fn debug_token(world: &mut World, req: &ApiRequest) -> Result<Reply, GraphError> {
    let caller = req.token().ok_or_else(GraphError::missing_token)?;
    if !world.is_app_token(caller) {
        return Err(match world.tokens.get(caller) {
            Some(_) => GraphError::new(190, "This method must be called with an app access_token."),
            None => GraphError::unparsable_token(),
        });
    }
    let input = req
        .nonempty("input_token")
        .ok_or_else(|| GraphError::param("The parameter input_token is required"))?;
    if world.is_app_token(input) {
        return Ok(Reply::ok(json!({ "data": {
            "app_id": world.app_id,
            "type": "APP",
            "application": APP_NAME,
            "is_valid": true,
            "scopes": [],
        }})));
    }
    let Some(token) = world.tokens.get(input) else {
        return Ok(Reply::ok(json!({ "data": {
            "error": { "code": 190, "message": "Invalid OAuth access token - Cannot parse access token" },
            "is_valid": false,
            "scopes": [],
        }})));
    };
    Ok(Reply::ok(json!({ "data": token_data(world, token) })))
}

fn token_data(world: &World, token: &Token) -> Value {
    let now = world.now();
    let data_access = world.data_access_expiry(&token.user_id);
    let mut data = json!({
        "app_id": world.app_id,
        "type": if token.kind == TokenKind::Page { "PAGE" } else { "USER" },
        "application": APP_NAME,
        "data_access_expires_at": data_access.map_or(0, |t| t.timestamp()),
        "expires_at": world.expiry_of(token).map_or(0, |t| t.timestamp()),
        "is_valid": true,
        "scopes": world.scopes_of(&token.user_id),
        "granular_scopes": granular_scopes(world, &token.user_id),
        "user_id": token.user_id,
    });
    // Meta shows `issued_at` for long-lived tokens only.
    if token.long_lived {
        data["issued_at"] = json!(token.issued_at.timestamp());
    }
    if let Some(page) = &token.page_id {
        data["profile_id"] = json!(page);
    }
    // Whether Meta calls a token with lapsed data access invalid is
    // unverified; saying so makes clients ask the user back in time.
    let problem = match world.token_health(token) {
        Err(error) => Some(error),
        Ok(()) if data_access.is_some_and(|at| at <= now) => Some(GraphError::data_access_expired()),
        Ok(()) => None,
    };
    if let Some(error) = problem {
        data["is_valid"] = json!(false);
        let mut detail = json!({ "code": error.code, "message": error.message });
        if let Some(subcode) = error.subcode {
            detail["subcode"] = json!(subcode);
        }
        data["error"] = detail;
    }
    data
}

/// Page-scoped permissions list the user's Pages; Instagram ones the linked
/// Instagram accounts; the rest have no targets.
fn granular_scopes(world: &World, user_id: &str) -> Vec<Value> {
    let pages = world.users.get(user_id).map(|u| u.pages.clone()).unwrap_or_default();
    let igs: Vec<String> = pages
        .iter()
        .filter_map(|p| world.ig_of_page(p).map(|ig| ig.id.clone()))
        .collect();
    world
        .scopes_of(user_id)
        .into_iter()
        .map(|scope| {
            if scope.starts_with("pages_") {
                json!({ "scope": scope, "target_ids": pages })
            } else if scope.starts_with("instagram_") {
                json!({ "scope": scope, "target_ids": igs })
            } else {
                json!({ "scope": scope })
            }
        })
        .collect()
}

/// `GET|DELETE /{user}/permissions[/{scope}]`.
pub(crate) fn permissions(
    world: &mut World,
    req: &ApiRequest,
    node: &str,
    scope: Option<&str>,
) -> Result<Reply, GraphError> {
    let caller = auth::authenticate(world, req)?;
    let user_id = match (&caller, node) {
        (Caller::User { user_id, .. }, "me") => user_id.clone(),
        (Caller::User { user_id, .. }, id) if id == user_id => user_id.clone(),
        // The app may act on any of its users.
        (Caller::App, id) if world.users.contains_key(id) => id.to_string(),
        (Caller::Page { .. }, _) => return Err(GraphError::nonexisting_field("permissions", "Page")),
        _ => return Err(GraphError::unsupported(&req.method, node)),
    };
    match (req.method.as_str(), scope) {
        ("GET", None) => Ok(Reply::ok(json!({ "data": permission_list(world, &user_id) }))),
        ("DELETE", None) => {
            revoke_all(world, &user_id);
            Ok(Reply::ok(json!({ "success": true })))
        }
        ("DELETE", Some(scope)) => {
            if let Some(user) = world.users.get_mut(&user_id) {
                user.granted.remove(scope);
            }
            Ok(Reply::ok(json!({ "success": true })))
        }
        _ => Err(GraphError::unsupported(&req.method, node)),
    }
}

fn permission_list(world: &World, user_id: &str) -> Vec<Value> {
    let Some(user) = world.users.get(user_id) else {
        return Vec::new();
    };
    let granted = world.scopes_of(user_id);
    let declined = user
        .declined
        .iter()
        .map(|s| json!({ "permission": s, "status": "declined" }));
    granted
        .iter()
        .map(|s| json!({ "permission": s, "status": "granted" }))
        .chain(declined)
        .collect()
}

/// The user removed the app: every token dies with 458 and the grant is gone.
fn revoke_all(world: &mut World, user_id: &str) {
    world.kill_user_tokens(user_id, 458);
    if let Some(user) = world.users.get_mut(user_id) {
        user.granted.clear();
        user.data_access_expires_at = None;
    }
}

/// When data access lapses after a grant made now.
pub(crate) fn data_access_from(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::days(crate::world::DATA_ACCESS_DAYS)
}
