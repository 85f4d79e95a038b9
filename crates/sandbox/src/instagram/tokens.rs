//! Instagram Login's tokens: the code exchange at `api.instagram.com`
//! (short-lived, one hour), the long-lived exchange and the refresh at
//! `graph.instagram.com`, and the check every graph-host call makes.

use chrono::Duration;
use serde_json::json;

use super::{CODE_LIFETIME_MINUTES, LONG_LIVED_SECS, REFRESH_MIN_AGE_HOURS, SHORT_LIVED_SECS, Token};
use crate::errors::GraphError;
use crate::request::{ApiRequest, Reply};
use crate::world::{World, random_chars};

/// `POST /oauth/access_token` on the api host: a code for a short-lived
/// token, its Instagram-scoped user id and the granted permissions. Errors
/// come in the api host's own shape, `{error_type, code, error_message}`.
pub(crate) fn code_exchange(world: &mut World, req: &ApiRequest) -> Reply {
    match exchange_code(world, req) {
        Ok(reply) => reply,
        Err(message) => Reply::json(
            400,
            &json!({ "error_type": "OAuthException", "code": 400, "error_message": message }),
        ),
    }
}

fn exchange_code(world: &mut World, req: &ApiRequest) -> Result<Reply, &'static str> {
    if req.method != "POST" {
        return Err("Unsupported method: the code is exchanged with POST");
    }
    if req.param("client_id") != Some(world.ig_login.app_id.as_str()) {
        return Err("Invalid platform app");
    }
    if req.param("client_secret") != Some(world.ig_login.app_secret.as_str()) {
        return Err("Error validating client secret.");
    }
    if req.param("grant_type") != Some("authorization_code") {
        return Err("Invalid grant_type: authorization_code is expected");
    }
    let now = world.now();
    let code = req.nonempty("code").unwrap_or("");
    let Some(found) = world.ig_login.codes.get_mut(code) else {
        return Err("Matching code was not found or was already used.");
    };
    if found.used {
        return Err("This authorization code has been used");
    }
    if now - found.issued_at > Duration::minutes(CODE_LIFETIME_MINUTES) {
        return Err("This authorization code has expired");
    }
    if req.param("redirect_uri") != Some(found.redirect_uri.as_str()) {
        return Err(
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        );
    }
    found.used = true;
    let (ig_id, scopes) = (found.ig_id.clone(), found.scopes.clone());
    let token = world.issue_ig_token(&ig_id, scopes.clone(), false);
    let scoped_id = world.ig_profile(&ig_id).scoped_id.clone();
    // Meta sends the id as a number; a client reading it as f64 loses digits.
    let user_id: u64 = scoped_id.parse().unwrap_or_default();
    Ok(Reply::ok(json!({
        "data": [{ "access_token": token, "user_id": user_id, "permissions": scopes.join(",") }]
    })))
}

/// `GET /access_token?grant_type=ig_exchange_token`: a short-lived token
/// for a long-lived one of about 60 days; the app's secret proves the app.
pub(crate) fn long_lived_exchange(world: &mut World, req: &ApiRequest) -> Result<Reply, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::unsupported(&req.method, "access_token"));
    }
    if req.param("grant_type") != Some("ig_exchange_token") {
        return Err(GraphError::param(
            "Unsupported grant_type: ig_exchange_token is expected",
        ));
    }
    if req.param("client_secret") != Some(world.ig_login.app_secret.as_str()) {
        return Err(GraphError::new(101, "Error validating client secret."));
    }
    let token = live(world, req)?;
    if token.long_lived {
        // Unverified: Meta documents the exchange for short-lived tokens only.
        return Err(GraphError::param("The access token is already long-lived"));
    }
    let (ig_id, scopes) = (token.ig_id.clone(), token.scopes.clone());
    let long = world.issue_ig_token(&ig_id, scopes, true);
    Ok(Reply::ok(json!({
        "access_token": long,
        "token_type": "bearer",
        "expires_in": LONG_LIVED_SECS,
    })))
}

/// `GET /refresh_access_token?grant_type=ig_refresh_token`: a long-lived
/// token at least 24 hours old and unexpired comes back as a new one, good
/// for 60 days from now. The old string keeps working until its own expiry.
pub(crate) fn refresh(world: &mut World, req: &ApiRequest) -> Result<Reply, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::unsupported(&req.method, "refresh_access_token"));
    }
    if req.param("grant_type") != Some("ig_refresh_token") {
        return Err(GraphError::param(
            "Unsupported grant_type: ig_refresh_token is expected",
        ));
    }
    let now = world.now();
    let token = live(world, req)?;
    // Unverified: Meta's exact answer to a token too young or short-lived
    // (field reports show this message with code 100).
    if !token.long_lived || now - token.issued_at < Duration::hours(REFRESH_MIN_AGE_HOURS) {
        return Err(GraphError::new(100, "Unsupported request - method type: get").with_type("IGApiException"));
    }
    let (ig_id, scopes) = (token.ig_id.clone(), token.scopes.clone());
    let fresh = world.issue_ig_token(&ig_id, scopes, true);
    Ok(Reply::ok(json!({
        "access_token": fresh,
        "token_type": "bearer",
        "expires_in": LONG_LIVED_SECS,
    })))
}

/// The request's Instagram-login token if it still works, else Meta's 190:
/// a Facebook token (or any other string) cannot be parsed here.
pub(crate) fn live<'w>(world: &'w World, req: &ApiRequest) -> Result<&'w Token, GraphError> {
    let value = req.token().ok_or_else(GraphError::missing_token)?;
    let token = world
        .ig_login
        .tokens
        .get(value)
        .ok_or_else(GraphError::unparsable_token)?;
    if let Some(subcode) = token.dead {
        return Err(GraphError::dead_token(subcode, &world.ig_login.app_id));
    }
    let now = world.now();
    if token.expires_at <= now {
        return Err(GraphError::expired_token(token.expires_at, now));
    }
    Ok(token)
}

impl World {
    /// A new Instagram-login token string: "IGAA" plus opaque characters,
    /// as Meta's Instagram User tokens look.
    pub(crate) fn issue_ig_token(&mut self, ig_id: &str, scopes: Vec<String>, long_lived: bool) -> String {
        let now = self.now();
        let lifetime = if long_lived { LONG_LIVED_SECS } else { SHORT_LIVED_SECS };
        let value = format!("IGAA{}", random_chars(150, false));
        self.ig_login.tokens.insert(
            value.clone(),
            Token {
                ig_id: ig_id.to_string(),
                scopes,
                issued_at: now,
                expires_at: now + Duration::seconds(lifetime),
                long_lived,
                dead: None,
            },
        );
        self.issued.push(value.clone());
        value
    }
}
