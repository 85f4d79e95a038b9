//! `graph.instagram.com` reads: the account itself (`/me` or its id) and its
//! insights, with the same metrics and shapes as the Facebook-login host.

use serde_json::{Map, Value, json};

use super::tokens::live;
use super::{BASIC_SCOPE, INSIGHTS_SCOPE, Token};
use crate::errors::GraphError;
use crate::request::{ApiRequest, Reply};
use crate::world::World;

/// The Instagram account `node` names for this token: `me`, the
/// professional id or the Instagram-scoped id, never someone else's.
pub(crate) fn resolve(world: &World, req: &ApiRequest, node: &str) -> Option<String> {
    let token = req.token().and_then(|t| world.ig_login.tokens.get(t))?;
    let own = node == "me"
        || node == token.ig_id
        || world
            .ig_login
            .profiles
            .get(&token.ig_id)
            .is_some_and(|p| p.scoped_id == node);
    own.then(|| token.ig_id.clone())
}

fn authorize<'w>(world: &'w World, req: &ApiRequest, node: &str) -> Result<(&'w Token, String), GraphError> {
    let token = live(world, req)?;
    let ig_id = resolve(world, req, node).ok_or_else(|| GraphError::unsupported(&req.method, node))?;
    if !token.scopes.iter().any(|s| s == BASIC_SCOPE) {
        return Err(GraphError::no_permission());
    }
    Ok((token, ig_id))
}

/// `GET /me` or `GET /{id}`: `id` is the Instagram-scoped id, `user_id` the
/// professional account's id (the one Facebook Login's path knows).
pub(crate) fn profile(world: &mut World, req: &ApiRequest, node: &str) -> Result<Reply, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::unsupported(&req.method, node));
    }
    let ig_id = authorize(world, req, node)?.1;
    let (scoped_id, account_type) = {
        let profile = world.ig_profile(&ig_id);
        (profile.scoped_id.clone(), profile.account_type)
    };
    let ig = world
        .igs
        .get(&ig_id)
        .ok_or_else(|| GraphError::unsupported("GET", node))?;
    let mut out = Map::new();
    let wanted = req.nonempty("fields").unwrap_or("id");
    for field in wanted.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let value = match field {
            "id" => json!(scoped_id),
            "user_id" => json!(ig.id),
            "username" => json!(ig.username),
            "name" => json!(ig.name),
            "account_type" => json!(account_type.as_str()),
            "followers_count" => json!(ig.followers_count),
            "follows_count" => json!(ig.follows_count),
            "media_count" => json!(ig.media_count),
            "profile_picture_url" => json!(format!("{}/sandbox/avatar/{}.svg", world.base_url, ig.id)),
            other => return Err(GraphError::nonexisting_field(other, "User")),
        };
        out.insert(field.to_string(), value);
    }
    out.entry("id").or_insert_with(|| json!(scoped_id));
    Ok(Reply::ok(Value::Object(out)))
}

/// `GET /{id}/insights`: needs `instagram_business_manage_insights`; a
/// personal account has no insights to give.
pub(crate) fn insights(world: &mut World, req: &ApiRequest, node: &str) -> Result<Reply, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::unsupported(&req.method, node));
    }
    let (granted, ig_id) = {
        let (token, ig_id) = authorize(world, req, node)?;
        (token.scopes.iter().any(|s| s == INSIGHTS_SCOPE), ig_id)
    };
    if !granted {
        return Err(GraphError::no_permission());
    }
    if world.ig_profile(&ig_id).account_type == super::AccountType::Personal {
        return Err(GraphError::no_permission());
    }
    let ig = world
        .igs
        .get(&ig_id)
        .ok_or_else(|| GraphError::unsupported("GET", node))?;
    crate::insights::answer(world, req, ig)
}
