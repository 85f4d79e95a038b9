//! Graph nodes and edges: the user, `accounts` (Pages with their tokens),
//! Pages and Instagram users, with Meta's `fields` selection.

use serde_json::{Map, Value, json};

use crate::auth::{self, Caller};
use crate::errors::GraphError;
use crate::fields::Fields;
use crate::request::{ApiRequest, Reply};
use crate::route::{NodeRef, Target, resolve_node};
use crate::world::{IgAccount, World};

const DEFAULT_PAGE_SIZE: usize = 25;
const MAX_PAGE_SIZE: usize = 100;
const PAGE_TASKS: [&str; 6] = [
    "ANALYZE",
    "ADVERTISE",
    "CREATE_CONTENT",
    "MESSAGING",
    "MODERATE",
    "MANAGE",
];

/// `GET /{id}` or `GET /me`.
pub(crate) fn node(world: &mut World, req: &ApiRequest, id: &str) -> Result<Reply, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::unsupported(&req.method, id));
    }
    let caller = auth::authenticate(world, req)?;
    let fields = Fields::parse(req.param("fields").unwrap_or(""))?;
    match resolve_node(world, id, req.token()) {
        NodeRef::User(user_id) if caller.user_id() == Some(user_id.as_str()) => user_node(world, &user_id, &fields),
        NodeRef::Page(page_id) => {
            authorize_page(world, &caller, &page_id, id)?;
            page_node(world, &caller, &page_id, &fields)
        }
        NodeRef::Ig(ig_id) => {
            let ig = authorize_ig(world, &caller, &ig_id, id)?;
            require_instagram_basic(world, &caller)?;
            Ok(Reply::ok(ig_node(world, ig, &fields)?))
        }
        _ if id == "me" => Err(GraphError::new(
            2500,
            "An active access token must be used to query information about the current user.",
        )),
        _ => Err(GraphError::unsupported("GET", id)),
    }
}

fn user_node(world: &World, user_id: &str, fields: &Fields) -> Result<Reply, GraphError> {
    let Some(user) = world.users.get(user_id) else {
        return Err(GraphError::unsupported("GET", user_id));
    };
    let mut out = Map::new();
    for field in fields.names_or(&["name", "id"]) {
        let value = match field {
            "id" => json!(user.id),
            "name" => json!(user.name),
            "short_name" | "first_name" => {
                json!(user.name.split(' ').next().unwrap_or(&user.name))
            }
            other => return Err(GraphError::nonexisting_field(other, "User")),
        };
        out.insert(field.to_string(), value);
    }
    out.entry("id").or_insert_with(|| json!(user.id));
    Ok(Reply::ok(Value::Object(out)))
}

/// Who may read a Page: a page token of it, or a user token of an admin.
fn authorize_page(world: &World, caller: &Caller, page_id: &str, asked: &str) -> Result<(), GraphError> {
    let allowed = match caller {
        Caller::Page { page_id: own, .. } => own == page_id,
        Caller::User { user_id, .. } => world
            .users
            .get(user_id)
            .is_some_and(|u| u.pages.iter().any(|p| p == page_id)),
        Caller::App => false,
    };
    if allowed {
        Ok(())
    } else {
        Err(GraphError::unsupported("GET", asked))
    }
}

/// Who may read an Instagram account: tokens that may read its Page, with
/// `instagram_basic` granted.
pub(crate) fn authorize_ig<'w>(
    world: &'w World,
    caller: &Caller,
    ig_id: &str,
    asked: &str,
) -> Result<&'w IgAccount, GraphError> {
    let page = world
        .page_of_ig(ig_id)
        .ok_or_else(|| GraphError::unsupported("GET", asked))?;
    authorize_page(world, caller, &page.id, asked)?;
    world
        .igs
        .get(ig_id)
        .ok_or_else(|| GraphError::unsupported("GET", asked))
}

fn page_node(world: &mut World, caller: &Caller, page_id: &str, fields: &Fields) -> Result<Reply, GraphError> {
    let mut out = Map::new();
    for field in fields.iter_or(&["name", "id"]) {
        let value = match field.name.as_str() {
            "access_token" => match caller {
                Caller::User { token, .. } => json!(world.page_token_for(token, page_id)),
                Caller::Page { token, .. } => json!(token),
                Caller::App => continue,
            },
            "instagram_business_account" => match world.ig_of_page(page_id) {
                Some(ig) => {
                    let sub = field.sub.clone().unwrap_or_else(|| Fields::of(&["id"]));
                    if sub.iter().any(|f| f.name != "id")
                        && !caller.user_id().is_some_and(|u| world.has_scope(u, "instagram_basic"))
                    {
                        return Err(GraphError::no_permission());
                    }
                    ig_node(world, ig, &sub)?
                }
                // An unlinked Page simply lacks the field.
                None => continue,
            },
            name => match page_field(world, page_id, name) {
                Some(value) => value,
                None => return Err(GraphError::nonexisting_field(name, "Page")),
            },
        };
        out.insert(field.name.clone(), value);
    }
    // Meta always identifies the node, after the fields asked for.
    out.entry("id").or_insert_with(|| json!(page_id));
    Ok(Reply::ok(Value::Object(out)))
}

fn page_field(world: &World, page_id: &str, name: &str) -> Option<Value> {
    let page = world.pages.get(page_id)?;
    Some(match name {
        "id" => json!(page.id),
        "name" => json!(page.name),
        "category" => json!(page.category),
        "category_list" => json!([{ "id": "2700", "name": page.category }]),
        "tasks" => json!(PAGE_TASKS),
        "link" => json!(format!("https://www.facebook.com/{}", page.id)),
        _ => return None,
    })
}

fn ig_node(world: &World, ig: &IgAccount, fields: &Fields) -> Result<Value, GraphError> {
    let mut out = Map::new();
    out.insert("id".to_string(), json!(ig.id));
    for field in fields.names_or(&["id"]) {
        let value = match field {
            "id" => continue,
            "username" => json!(ig.username),
            "name" => json!(ig.name),
            "followers_count" => json!(ig.followers_count),
            "follows_count" => json!(ig.follows_count),
            "media_count" => json!(ig.media_count),
            "profile_picture_url" => {
                json!(format!("{}/sandbox/avatar/{}.svg", world.base_url, ig.id))
            }
            "biography" => json!(format!("Stories from {} (sandbox)", ig.name)),
            "website" => json!(format!("https://example.com/{}", ig.username)),
            "ig_id" => json!(ig.id.trim_start_matches("178414").trim_start_matches('0')),
            other => return Err(GraphError::nonexisting_field(other, "IGUser")),
        };
        out.insert(field.to_string(), value);
    }
    Ok(Value::Object(out))
}

/// `GET /{ig-id}` needs `instagram_basic`; checked here, not in `ig_node`,
/// because the Page's `instagram_business_account{id}` does not.
fn require_instagram_basic(world: &World, caller: &Caller) -> Result<(), GraphError> {
    match caller.user_id() {
        Some(user) if world.has_scope(user, "instagram_basic") => Ok(()),
        _ => Err(GraphError::no_permission()),
    }
}

/// `GET /me/accounts` or `/{user-id}/accounts`: the user's Pages with page
/// tokens, 25 to a page, with cursors and an absolute `next` link.
pub(crate) fn accounts(world: &mut World, req: &ApiRequest, target: &Target, node: &str) -> Result<Reply, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::unsupported(&req.method, node));
    }
    let caller = auth::authenticate(world, req)?;
    let (token, user_id) = match &caller {
        Caller::User { token, user_id } => (token.clone(), user_id.clone()),
        Caller::Page { .. } => return Err(GraphError::nonexisting_field("accounts", "Page")),
        Caller::App => return Err(GraphError::unsupported("GET", node)),
    };
    if node != "me" && node != user_id {
        return Err(GraphError::unsupported("GET", node));
    }
    if !world.has_scope(&user_id, "pages_show_list") {
        return Ok(Reply::ok(json!({ "data": [] })));
    }
    let fields = Fields::parse(req.param("fields").unwrap_or(""))?;
    let limit = req
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .min(MAX_PAGE_SIZE);
    let pages = world.users.get(&user_id).map(|u| u.pages.clone()).unwrap_or_default();
    let start = match (req.nonempty("after"), req.nonempty("before")) {
        (Some(after), _) => position_after(&pages, after)?,
        (None, Some(before)) => position_before(&pages, before, limit)?,
        (None, None) => 0,
    };
    let end = (start + limit).min(pages.len());
    let slice = pages.get(start..end).unwrap_or(&[]);
    let mut data = Vec::with_capacity(slice.len());
    for page_id in slice {
        data.push(account_entry(world, &token, page_id, &fields)?);
    }
    let mut body = json!({ "data": data });
    if let (Some(first), Some(last)) = (slice.first(), slice.last()) {
        let mut paging = json!({
            "cursors": { "before": cursor(first), "after": cursor(last) }
        });
        let link = |key: &str, value: String| paging_link(world, req, target, &user_id, key, &value);
        if end < pages.len() {
            paging["next"] = json!(link("after", cursor(last)));
        }
        if start > 0 {
            paging["previous"] = json!(link("before", cursor(first)));
        }
        body["paging"] = paging;
    }
    Ok(Reply::ok(body))
}

fn account_entry(world: &mut World, user_token: &str, page_id: &str, fields: &Fields) -> Result<Value, GraphError> {
    const DEFAULT: [&str; 6] = ["access_token", "category", "category_list", "name", "id", "tasks"];
    let mut out = Map::new();
    for field in fields.iter_or(&DEFAULT) {
        let value = match field.name.as_str() {
            "access_token" => json!(world.page_token_for(user_token, page_id)),
            "instagram_business_account" => match world.ig_of_page(page_id) {
                Some(ig) => {
                    let sub = field.sub.clone().unwrap_or_else(|| Fields::of(&["id"]));
                    ig_node(world, ig, &sub)?
                }
                None => continue,
            },
            name => match page_field(world, page_id, name) {
                Some(value) => value,
                None => return Err(GraphError::nonexisting_field(name, "Page")),
            },
        };
        out.insert(field.name.clone(), value);
    }
    // Meta always identifies edge items.
    out.entry("id").or_insert_with(|| json!(page_id));
    Ok(Value::Object(out))
}

/// Like Meta's: the same parameters (token and proof included) on the
/// user's id path, with the cursor replaced.
fn paging_link(world: &World, req: &ApiRequest, target: &Target, user_id: &str, key: &str, value: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &req.params {
        if k != "after" && k != "before" {
            query.append_pair(k, v);
        }
    }
    query.append_pair(key, value);
    format!(
        "{}{}/{}/accounts?{}",
        world.base_url,
        target.version_prefix(),
        user_id,
        query.finish()
    )
}

/// Cursors are opaque to clients; these encode the page id.
fn cursor(page_id: &str) -> String {
    hex::encode(format!("page:{page_id}"))
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = hex::decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("page:").map(str::to_string)
}

fn position_after(pages: &[String], after: &str) -> Result<usize, GraphError> {
    let id = decode_cursor(after).ok_or_else(|| GraphError::param("The after cursor is invalid"))?;
    Ok(pages.iter().position(|p| *p == id).map_or(pages.len(), |i| i + 1))
}

fn position_before(pages: &[String], before: &str, limit: usize) -> Result<usize, GraphError> {
    let id = decode_cursor(before).ok_or_else(|| GraphError::param("The before cursor is invalid"))?;
    let index = pages.iter().position(|p| *p == id).unwrap_or(0);
    Ok(index.saturating_sub(limit))
}

/// A small SVG standing in for Instagram's profile picture CDN, so pages that
/// show it need nothing from outside.
pub(crate) fn avatar(world: &World, ig_id: &str) -> Reply {
    let initial = world
        .igs
        .get(ig_id)
        .and_then(|ig| ig.username.chars().next())
        .map(|c| c.to_ascii_uppercase())
        .unwrap_or('?');
    let initial = if initial.is_ascii_alphanumeric() { initial } else { '?' };
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="150" height="150" viewBox="0 0 150 150"><defs><linearGradient id="g" x1="0" y1="1" x2="1" y2="0"><stop offset="0" stop-color="#feda75"/><stop offset=".5" stop-color="#d62976"/><stop offset="1" stop-color="#4f5bd5"/></linearGradient></defs><circle cx="75" cy="75" r="75" fill="url(#g)"/><text x="75" y="96" font-family="Helvetica, Arial, sans-serif" font-size="64" text-anchor="middle" fill="#fff">{initial}</text></svg>"##
    );
    let mut reply = Reply::html(200, svg);
    reply.content_type = "image/svg+xml".to_string();
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let pages: Vec<String> = (1..=5).map(|i| i.to_string()).collect();
        assert_eq!(position_after(&pages, &cursor("2")).ok(), Some(2));
        assert_eq!(position_before(&pages, &cursor("5"), 2).ok(), Some(2));
        assert!(position_after(&pages, "zz").is_err());
    }
}
