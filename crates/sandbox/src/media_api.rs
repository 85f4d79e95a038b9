//! The media endpoints: `GET /{ig-user-id}/media` (newest first, cursor
//! paging, the 10,000 newest at most, never stories), `GET /{ig-user-id}/stories` (live stories only),
//! `GET /{media-id}`, `GET /{media-id}/children` and `GET /{media-id}/insights`,
//! with `children{...}` and `insights.metric(...)` field expansion.
//!
//! One metric a media's product type does not support fails the whole
//! request with error 100, in an expansion over a page of media too.
//!
//! Both logins' hosts serve these reads; each checks its own tokens (a
//! [`Reader`]): Facebook Login's here, Instagram Login's in `instagram::media`.

use serde_json::{Map, Value, json};

use crate::auth::{self, Caller};
use crate::errors::GraphError;
use crate::fields::{Field, Fields};
use crate::graph::authorize_ig;
use crate::insights::{hash, parse_time};
use crate::media::{MIN_STORY_VIEWERS, Media, MediaKind, ProductType, REMOVED_METRICS, Via, media_metric};
use crate::request::{ApiRequest, Reply};
use crate::world::World;

const DEFAULT_PAGE_SIZE: usize = 25;
const MAX_PAGE_SIZE: usize = 100;

/// The two list edges of an Instagram user.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Edge {
    Media,
    Stories,
}

/// What a read of media needs of its caller's token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Need {
    /// The media themselves.
    Basic,
    /// Their insights.
    Insights,
}

/// How one login's host checks the tokens that read media.
pub(crate) trait Reader {
    /// The request's token, checked before anything is looked up (Meta
    /// answers a bad token before a missing object).
    fn authenticate(world: &World, req: &ApiRequest) -> Result<(), GraphError>;
    /// Whether that token may read `owner`'s media (`asked` is the node in the path).
    fn authorize(world: &World, req: &ApiRequest, owner: &str, asked: &str, need: Need) -> Result<(), GraphError>;
}

/// Facebook Login's host: a user or Page token of someone with a role on
/// the Page the Instagram account is linked to, with `instagram_basic`
/// (and `instagram_manage_insights` for insights).
pub(crate) struct Facebook;

impl Reader for Facebook {
    fn authenticate(world: &World, req: &ApiRequest) -> Result<(), GraphError> {
        auth::authenticate(world, req).map(|_| ())
    }

    fn authorize(world: &World, req: &ApiRequest, owner: &str, asked: &str, need: Need) -> Result<(), GraphError> {
        let caller = auth::authenticate(world, req)?;
        authorize_ig(world, &caller, owner, asked)?;
        let scope = match need {
            Need::Basic => "instagram_basic",
            Need::Insights => "instagram_manage_insights",
        };
        require_scope(world, &caller, scope)
    }
}

/// `GET /{ig-user-id}/media` or `/stories`.
pub(crate) fn list<R: Reader>(
    world: &mut World,
    req: &ApiRequest,
    ig_id: &str,
    edge: Edge,
) -> Result<Reply, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::unsupported(&req.method, ig_id));
    }
    R::authenticate(world, req)?;
    R::authorize(world, req, ig_id, ig_id, Need::Basic)?;
    let fields = Fields::parse(req.param("fields").unwrap_or(""))?;
    let limit = req
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .min(MAX_PAGE_SIZE);
    let since = parse_time(req.nonempty("since"), "since")?;
    let until = parse_time(req.nonempty("until"), "until")?;
    let now = world.now();
    let products: &[ProductType] = match edge {
        Edge::Media => &[ProductType::Feed, ProductType::Reels],
        Edge::Stories => &[ProductType::Story],
    };
    let ids: Vec<String> = world
        .media
        .listed(ig_id, products, now)
        .into_iter()
        .filter(|m| since.is_none_or(|s| m.posted_at >= s) && until.is_none_or(|u| m.posted_at <= u))
        .map(|m| m.id.clone())
        .collect();
    let start = match req.nonempty("after") {
        Some(after) => {
            let id = decode_cursor(after).ok_or_else(|| GraphError::param("The after cursor is invalid"))?;
            // A cursor whose media is gone continues after where it would sort.
            ids.iter().position(|m| *m == id).map_or(ids.len(), |i| i + 1)
        }
        None => 0,
    };
    let end = (start + limit).min(ids.len());
    let page = ids.get(start..end).unwrap_or(&[]);
    let mut data = Vec::with_capacity(page.len());
    for id in page {
        data.push(media_json(world, id, &fields)?);
    }
    let mut body = json!({ "data": data });
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        body["paging"] = json!({ "cursors": { "before": cursor(first), "after": cursor(last) } });
        if end < ids.len() {
            body["paging"]["next"] = json!(next_link(world, req, &cursor(last)));
        }
    }
    Ok(Reply::ok(body))
}

/// `GET /{media-id}`.
pub(crate) fn node<R: Reader>(world: &mut World, req: &ApiRequest, id: &str) -> Result<Reply, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::unsupported(&req.method, id));
    }
    authorize_media::<R>(world, req, id, Need::Basic)?;
    let fields = Fields::parse(req.param("fields").unwrap_or(""))?;
    Ok(Reply::ok(media_json(world, id, &fields)?))
}

/// `GET /{media-id}/children`: a carousel's images.
pub(crate) fn children<R: Reader>(world: &mut World, req: &ApiRequest, id: &str) -> Result<Reply, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::unsupported(&req.method, id));
    }
    let media = authorize_media::<R>(world, req, id, Need::Basic)?;
    let fields = Fields::parse(req.param("fields").unwrap_or(""))?;
    let mut data = Vec::new();
    for child in &media.children {
        data.push(media_json(world, child, &fields)?);
    }
    Ok(Reply::ok(json!({ "data": data })))
}

/// `GET /{media-id}/insights?metric=...`: lifetime values.
pub(crate) fn insights<R: Reader>(world: &mut World, req: &ApiRequest, id: &str) -> Result<Reply, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::unsupported(&req.method, id));
    }
    authorize_media::<R>(world, req, id, Need::Insights)?;
    if let Some(period) = req.nonempty("period").filter(|p| *p != "lifetime") {
        return Err(GraphError::param(format!(
            "Incompatible period: media insights support period=lifetime only, not {period}"
        )));
    }
    let metrics = req.param("metric").unwrap_or("");
    Ok(Reply::ok(
        json!({ "data": insights_data(world, id, metrics, Via::Edge)? }),
    ))
}

/// The media if it can be read now by the caller for `need`; a deleted
/// media and an expired story do not exist any more (unverified: Meta's
/// exact answer for an expired story).
fn authorize_media<R: Reader>(world: &World, req: &ApiRequest, id: &str, need: Need) -> Result<Media, GraphError> {
    R::authenticate(world, req)?;
    let media = world
        .media
        .get(id)
        .filter(|m| m.visible(world.now()))
        .ok_or_else(|| GraphError::unsupported("GET", id))?;
    R::authorize(world, req, &media.owner, id, need)?;
    Ok(media.clone())
}

fn require_scope(world: &World, caller: &Caller, scope: &str) -> Result<(), GraphError> {
    match caller.user_id() {
        Some(user) if world.has_scope(user, scope) => Ok(()),
        _ => Err(GraphError::no_permission()),
    }
}

/// The insights entries of one media, with Meta's checks in its order:
/// metric names, the product type's metric set, albums, the viewer threshold.
fn insights_data(world: &mut World, id: &str, metrics: &str, via: Via) -> Result<Vec<Value>, GraphError> {
    let names: Vec<&str> = metrics.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
    if names.is_empty() {
        return Err(GraphError::param("The parameter metric is required"));
    }
    for (index, name) in names.iter().enumerate() {
        if media_metric(name).is_none() || REMOVED_METRICS.contains(name) {
            return Err(unknown_metric(index, name));
        }
    }
    let now = world.now();
    let media = world
        .media
        .get(id)
        .cloned()
        .ok_or_else(|| GraphError::unsupported("GET", id))?;
    let unsupported: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !world.media.supports(media.product, n))
        .collect();
    if !unsupported.is_empty() {
        world.media.incompatible += 1;
        return Err(GraphError::param(format!(
            "The Media Insights API does not support the {} metric for this media product type.",
            unsupported.join(", ")
        )));
    }
    if media.parent.is_some() {
        // Unverified: Meta's exact answer for a carousel child.
        return Err(GraphError::param(
            "Insights data is not available for media within an album",
        ));
    }
    if media.product == ProductType::Story && media.value("reach", now).unwrap_or(0) < MIN_STORY_VIEWERS {
        return Err(GraphError::new(
            10,
            "(#10) Not enough viewers for the media to show insights",
        ));
    }
    world.media.count_metric_set(media.product, &names, via);
    Ok(names
        .iter()
        .filter_map(|name| {
            let metric = media_metric(name)?;
            let value = media.value(name, now)?;
            Some(json!({
                "name": metric.name,
                "period": "lifetime",
                "values": [{ "value": value }],
                "title": metric.title,
                "description": metric.description,
                "id": format!("{}/insights/{}/lifetime", media.id, metric.name),
            }))
        })
        .collect())
}

fn unknown_metric(index: usize, name: &str) -> GraphError {
    let valid: Vec<&str> = crate::media::MEDIA_METRICS.iter().map(|m| m.name).collect();
    GraphError::param(format!(
        "metric[{index}] must be one of the following values: {}. '{name}' is not a valid metric",
        valid.join(", ")
    ))
}

/// One media with the fields asked for (`id` alone by default).
fn media_json(world: &mut World, id: &str, fields: &Fields) -> Result<Value, GraphError> {
    let media = world
        .media
        .get(id)
        .cloned()
        .ok_or_else(|| GraphError::unsupported("GET", id))?;
    let now = world.now();
    let mut out = Map::new();
    for field in fields.iter_or(&["id"]) {
        let value = match field.name.as_str() {
            "children" if media.kind == MediaKind::CarouselAlbum => {
                let sub = field.sub.clone().unwrap_or_default();
                let mut data = Vec::new();
                for child in &media.children {
                    data.push(media_json(world, child, &sub)?);
                }
                json!({ "data": data })
            }
            // A photo or video has no children edge at all.
            "children" => continue,
            "insights" => insights_expansion(world, &media, &field)?,
            name => match plain_field(world, &media, name, now) {
                Some(value) => value,
                None if is_media_field(name) => continue,
                None => return Err(GraphError::nonexisting_field(name, "IGMedia")),
            },
        };
        out.insert(field.name.clone(), value);
    }
    out.entry("id").or_insert_with(|| json!(media.id));
    Ok(Value::Object(out))
}

fn insights_expansion(world: &mut World, media: &Media, field: &Field) -> Result<Value, GraphError> {
    let metrics = field
        .modifier("metric")
        .ok_or_else(|| GraphError::param("The parameter metric is required"))?;
    Ok(json!({ "data": insights_data(world, &media.id, metrics, Via::Expansion)? }))
}

/// Fields Meta knows on media that this one may lack (a child's permalink,
/// an image's thumbnail).
fn is_media_field(name: &str) -> bool {
    matches!(name, "permalink" | "thumbnail_url" | "caption")
}

fn plain_field(world: &World, media: &Media, name: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Value> {
    let owner = world.igs.get(&media.owner);
    Some(match name {
        "id" => json!(media.id),
        "media_type" => json!(media.kind.as_str()),
        "media_product_type" => json!(media.product.as_str()),
        "timestamp" => json!(media.posted_at.format("%Y-%m-%dT%H:%M:%S+0000").to_string()),
        "caption" if media.parent.is_none() => json!(media.caption),
        "permalink" if media.parent.is_none() => json!(permalink(media, owner.map(|o| o.username.as_str()))),
        "shortcode" => json!(shortcode(media)),
        "like_count" => json!(media.lifetime("likes", now).unwrap_or(0)),
        "comments_count" => json!(media.lifetime("comments", now).unwrap_or(0)),
        "is_comment_enabled" => json!(media.product != ProductType::Story),
        "media_url" => json!(format!("{}/sandbox/avatar/{}.svg", world.base_url, media.owner)),
        "thumbnail_url" if media.kind == MediaKind::Video => {
            json!(format!("{}/sandbox/avatar/{}.svg", world.base_url, media.owner))
        }
        "username" => json!(owner.map(|o| o.username.clone())),
        "owner" => json!({ "id": media.owner }),
        _ => return None,
    })
}

fn permalink(media: &Media, username: Option<&str>) -> String {
    let code = shortcode(media);
    match media.product {
        ProductType::Feed => format!("https://www.instagram.com/p/{code}/"),
        ProductType::Reels => format!("https://www.instagram.com/reel/{code}/"),
        ProductType::Story => format!(
            "https://www.instagram.com/stories/{}/{}/",
            username.unwrap_or("instagram"),
            media.id
        ),
    }
}

/// Eleven URL-safe characters, stable per media.
fn shortcode(media: &Media) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut n = hash(&[&media.id, "shortcode"]);
    (0..11)
        .map(|_| {
            let c = ALPHABET[(n % 64) as usize] as char;
            n /= 64;
            c
        })
        .collect()
}

fn cursor(media_id: &str) -> String {
    hex::encode(format!("media:{media_id}"))
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = hex::decode(cursor).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("media:")
        .map(str::to_string)
}

/// The same request (token and proof included) with `after` replaced.
fn next_link(world: &World, req: &ApiRequest, after: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in req.params.iter().filter(|(k, _)| k != "after" && k != "before") {
        query.append_pair(k, v);
    }
    query.append_pair("after", after);
    format!("{}{}?{}", world.base_url, req.path, query.finish())
}
