//! From a path to what it asks for: the API version, the route, and for the
//! call log the endpoint and the account it touches.

use crate::control::TokenKind;
use crate::errors::GraphError;
use crate::faults::Endpoint;
use crate::insights::is_demographic;
use crate::request::ApiRequest;
use crate::world::World;

/// The oldest and newest Graph API versions Meta serves in November 2026.
const OLDEST_VERSION: u32 = 22;
const NEWEST_VERSION: u32 = 27;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    /// The leading `vNN.M` segment, if any.
    pub version: Option<String>,
    pub route: Route,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Route {
    /// `/` or `/vNN.0/`: batch requests.
    Root,
    Dialog,
    DialogConfirm,
    AccessToken,
    DebugToken,
    /// `me` or an object id.
    Node(String),
    Accounts(String),
    Insights(String),
    Permissions(String, Option<String>),
    /// `{ig-id}/media`, `{ig-id}/stories`, `{media-id}/children`.
    MediaList(String),
    Stories(String),
    Children(String),
    /// A local stand-in for Instagram's profile picture CDN.
    Avatar(String),
    /// One of Instagram Login's hosts, under `/ig/<host>`.
    Instagram(crate::instagram::IgRoute),
    Unknown,
}

pub(crate) fn parse(path: &str) -> Target {
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let Some(target) = crate::instagram::parse(&segments) {
        return target;
    }
    let version = match segments.first() {
        Some(first) if looks_like_version(first) => Some(segments.remove(0).to_string()),
        _ => None,
    };
    let route = match segments.as_slice() {
        [] => Route::Root,
        ["dialog", "oauth"] => Route::Dialog,
        ["dialog", "oauth", "confirm"] => Route::DialogConfirm,
        ["oauth", "access_token"] => Route::AccessToken,
        ["debug_token"] => Route::DebugToken,
        ["sandbox", "avatar", file] if version.is_none() => Route::Avatar(file.trim_end_matches(".svg").to_string()),
        [node] => Route::Node(node.to_string()),
        [node, "accounts"] => Route::Accounts(node.to_string()),
        [node, "insights"] => Route::Insights(node.to_string()),
        [node, "permissions"] => Route::Permissions(node.to_string(), None),
        [node, "media"] => Route::MediaList(node.to_string()),
        [node, "stories"] => Route::Stories(node.to_string()),
        [node, "children"] => Route::Children(node.to_string()),
        [node, "permissions", scope] => Route::Permissions(node.to_string(), Some(scope.to_string())),
        _ => Route::Unknown,
    };
    Target { version, route }
}

pub(crate) fn looks_like_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && major.bytes().all(|b| b.is_ascii_digit())
                && !minor.is_empty()
                && minor.bytes().all(|b| b.is_ascii_digit())
        })
}

impl Target {
    /// Meta's answer to a version it no longer (or never) served. Unversioned
    /// paths run on the app's default version, which is always served.
    pub fn check_version(&self) -> Result<(), GraphError> {
        let Some(segment) = &self.version else {
            return Ok(());
        };
        let (major, minor) = segment[1..].split_once('.').unwrap_or((segment, ""));
        let major: u32 = major.parse().unwrap_or(0);
        if major < OLDEST_VERSION {
            return Err(GraphError::deprecated_version(major));
        }
        if major > NEWEST_VERSION || minor != "0" {
            return Err(GraphError::new(2500, format!("Unknown path components: /{segment}")));
        }
        Ok(())
    }

    pub fn is_batch(&self, req: &ApiRequest) -> bool {
        self.route == Route::Root && req.method == "POST" && !req.in_batch
    }

    /// The prefix to build links on the same version: "/v26.0" or "".
    pub fn version_prefix(&self) -> String {
        self.version.as_ref().map(|v| format!("/{v}")).unwrap_or_default()
    }
}

/// What a node id names in this world, seen by the given token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeRef {
    User(String),
    Page(String),
    Ig(String),
    Missing,
}

pub(crate) fn resolve_node(world: &World, id: &str, token: Option<&str>) -> NodeRef {
    if id == "me" {
        let token = token.and_then(|t| world.tokens.get(t));
        return match token {
            Some(t) if t.kind == TokenKind::Page => match &t.page_id {
                Some(page) => NodeRef::Page(page.clone()),
                None => NodeRef::Missing,
            },
            Some(t) if t.kind == TokenKind::User => NodeRef::User(t.user_id.clone()),
            _ => NodeRef::Missing,
        };
    }
    if world.pages.contains_key(id) {
        NodeRef::Page(id.to_string())
    } else if world.igs.contains_key(id) {
        NodeRef::Ig(id.to_string())
    } else if world.users.contains_key(id) {
        NodeRef::User(id.to_string())
    } else {
        NodeRef::Missing
    }
}

/// The endpoint a call counts as and the account (IG or Page id) it touches.
pub(crate) fn classify(world: &World, req: &ApiRequest, target: &Target) -> (Endpoint, Option<String>) {
    let node = |id: &str| resolve_node(world, id, req.token());
    let media_owner = |id: &str| world.media.get(id).map(|m| m.owner.clone());
    match &target.route {
        Route::Node(id) | Route::Children(id) if media_owner(id).is_some() => (Endpoint::MediaNode, media_owner(id)),
        Route::Insights(id) if media_owner(id).is_some() => (Endpoint::MediaInsights, media_owner(id)),
        Route::MediaList(id) => (Endpoint::MediaList, Some(id.clone())),
        Route::Stories(id) => (Endpoint::Stories, Some(id.clone())),
        Route::Children(_) => (Endpoint::MediaNode, None),
        Route::Root if target.is_batch(req) => (Endpoint::Batch, None),
        Route::Root | Route::Unknown | Route::Avatar(_) => (Endpoint::Other, None),
        Route::Dialog | Route::DialogConfirm => (Endpoint::Dialog, None),
        Route::AccessToken => match req.param("grant_type") {
            Some("fb_exchange_token") => (Endpoint::LongLivedExchange, None),
            Some("client_credentials") => (Endpoint::AppToken, None),
            _ => (Endpoint::CodeExchange, None),
        },
        Route::DebugToken => (Endpoint::DebugToken, None),
        Route::Node(id) => match node(id) {
            NodeRef::Page(page) => (Endpoint::PageInstagram, Some(page)),
            NodeRef::Ig(ig) => (Endpoint::IgUser, Some(ig)),
            NodeRef::User(_) => (Endpoint::Me, None),
            NodeRef::Missing => (Endpoint::Other, None),
        },
        Route::Accounts(_) => (Endpoint::MeAccounts, None),
        Route::Insights(id) => {
            let account = match node(id) {
                NodeRef::Ig(ig) => Some(ig),
                NodeRef::Page(page) => Some(page),
                _ => None,
            };
            let demographic = req
                .param("metric")
                .is_some_and(|m| m.split(',').any(|m| is_demographic(m.trim())));
            let endpoint = if demographic {
                Endpoint::Demographics
            } else {
                Endpoint::Insights
            };
            (endpoint, account)
        }
        Route::Permissions(..) if req.method == "DELETE" => (Endpoint::Revoke, None),
        Route::Permissions(..) => (Endpoint::Permissions, None),
        Route::Instagram(route) => crate::instagram::classify(world, req, route),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_version_and_route() {
        let t = parse("/v26.0/17841400000000001/insights");
        assert_eq!(t.version.as_deref(), Some("v26.0"));
        assert_eq!(t.route, Route::Insights("17841400000000001".into()));
        assert_eq!(parse("/v26.0/").route, Route::Root);
        assert_eq!(parse("/").route, Route::Root);
        assert_eq!(parse("/me/accounts").version, None);
        assert_eq!(parse("/v26.0/a/b/c/d").route, Route::Unknown);
        assert_eq!(
            parse("/v26.0/me/permissions/email").route,
            Route::Permissions("me".into(), Some("email".into()))
        );
    }

    #[test]
    fn versions_are_checked() {
        assert!(parse("/v26.0/me").check_version().is_ok());
        assert!(parse("/v22.0/me").check_version().is_ok());
        assert!(parse("/me").check_version().is_ok());
        let old = parse("/v18.0/me").check_version();
        assert_eq!(old.map_err(|e| e.code), Err(2635));
        let future = parse("/v99.0/me").check_version();
        assert_eq!(future.map_err(|e| e.code), Err(2500));
        assert!(parse("/v26.1/me").check_version().is_err());
    }
}
