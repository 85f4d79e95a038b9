//! Instagram API with Instagram Login ("Business Login for Instagram"): the
//! three hosts Meta splits it over, served by this one emulator under path
//! prefixes so that each base URL can point here on its own:
//!
//! | Meta's host                 | here          | serves |
//! |-----------------------------|---------------|--------|
//! | `https://www.instagram.com`   | `/ig/www`     | the authorize dialog (`/oauth/authorize`) |
//! | `https://api.instagram.com`   | `/ig/api`     | the code exchange (`/oauth/access_token`) |
//! | `https://graph.instagram.com` | `/ig/graph`   | `/access_token`, `/refresh_access_token`, `/{v}/me`, `/{v}/{id}`, `/{v}/{id}/insights`, `/{v}/{id}/media`, `/{v}/{id}/stories`, `/{v}/{media-id}/children` |
//!
//! Instagram-login tokens live apart from Facebook's, so each family is
//! refused by the other's endpoints with Meta's "Cannot parse access token".
//! Where Meta's behaviour is not documented the choice is marked
//! "unverified": what a personal account gets (`account_type` PERSONAL on
//! `/me`), the refusal of a refresh before 24 hours, of a second
//! long-lived exchange and of batch requests on the graph host.

mod control;
mod dialog;
mod graph;
mod media;
mod tokens;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::errors::GraphError;
use crate::faults::Endpoint;
use crate::media_api::Edge;
use crate::request::{ApiRequest, Reply};
use crate::route::{Route, Target};
use crate::world::World;

/// The Instagram Login permissions the dialog knows. The `business_*` names
/// were retired on 2025-01-27 and are refused like any unknown scope.
pub(crate) const KNOWN_SCOPES: [(&str, &str); 5] = [
    ("instagram_business_basic", "Access your profile info and media"),
    (
        "instagram_business_manage_insights",
        "Access insights for your professional account",
    ),
    ("instagram_business_content_publish", "Publish content to your account"),
    ("instagram_business_manage_comments", "Manage comments on your content"),
    ("instagram_business_manage_messages", "Manage your messages"),
];

pub(crate) const BASIC_SCOPE: &str = "instagram_business_basic";
pub(crate) const INSIGHTS_SCOPE: &str = "instagram_business_manage_insights";

/// A code from the authorize dialog works once, within the hour.
pub(crate) const CODE_LIFETIME_MINUTES: i64 = 60;
/// Short-lived tokens live an hour, long-lived ones about 60 days.
pub(crate) const SHORT_LIVED_SECS: i64 = 3_600;
pub(crate) const LONG_LIVED_SECS: i64 = 5_183_944;
/// A long-lived token may be refreshed once it is this old.
pub(crate) const REFRESH_MIN_AGE_HOURS: i64 = 24;

/// One kind of Instagram Login call, for the call log and fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgEndpoint {
    /// The authorize dialog and its confirm step (`www.instagram.com`).
    Dialog,
    /// `POST /oauth/access_token` with a code (`api.instagram.com`).
    CodeExchange,
    /// `GET /access_token?grant_type=ig_exchange_token`.
    LongLivedExchange,
    /// `GET /refresh_access_token?grant_type=ig_refresh_token`.
    Refresh,
    /// `/me` or `/{ig-id}`.
    Profile,
    /// `/{ig-id}/insights` for account metrics.
    Insights,
    /// `/{ig-id}/insights` for follower or engaged-audience demographics.
    Demographics,
    /// `/{ig-id}/media`: posts and reels, newest first.
    MediaList,
    /// `/{ig-id}/stories`: live stories.
    Stories,
    /// A media node or its `children` edge.
    MediaNode,
    /// `/{media-id}/insights`.
    MediaInsights,
    /// Anything else on these hosts.
    Other,
}

/// Which of Meta's three hosts a path stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Host {
    Www,
    Api,
    Graph,
}

/// A path on one of the three hosts, without the `/ig/<host>` prefix.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum IgRoute {
    Authorize,
    AuthorizeConfirm,
    CodeExchange,
    LongLivedExchange,
    Refresh,
    /// `/{node}`: the account (`me` or one of its ids) or a media.
    Profile(String),
    /// `/{node}/insights`: the account's or a media's.
    Insights(String),
    Media(String),
    Stories(String),
    Children(String),
    Unknown(Host),
}

/// What an Instagram account is to Instagram Login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountType {
    Business,
    MediaCreator,
    /// Not professional: Meta's API serves no insights for it.
    Personal,
}

impl AccountType {
    /// As `/me?fields=account_type` spells it (the spelling is unverified).
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Business => "BUSINESS",
            AccountType::MediaCreator => "MEDIA_CREATOR",
            AccountType::Personal => "PERSONAL",
        }
    }
}

/// Instagram Login's side of the world: its own app, who is logged in on
/// the dialog, each account's grants, and the codes and tokens issued.
pub(crate) struct IgLogin {
    pub app_id: String,
    pub app_secret: String,
    /// The Instagram account the dialog logs in as.
    pub dialog_account: String,
    pub profiles: BTreeMap<String, Profile>,
    pub codes: HashMap<String, Code>,
    pub tokens: HashMap<String, Token>,
}

/// An Instagram account as Instagram Login knows it.
pub(crate) struct Profile {
    /// The Instagram-scoped user id: what the code exchange and Meta's
    /// deauthorize and deletion callbacks name (not the professional id).
    pub scoped_id: String,
    pub account_type: AccountType,
    /// Scopes this person unticks in the dialog.
    pub declined: BTreeSet<String>,
}

pub(crate) struct Code {
    pub ig_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub used: bool,
}

pub(crate) struct Token {
    pub ig_id: String,
    pub scopes: Vec<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub long_lived: bool,
    /// The 190 subcode this token answers once it has been killed.
    pub dead: Option<i64>,
}

impl IgLogin {
    pub fn new(app_id: &str, app_secret: &str, dialog_account: &str) -> IgLogin {
        IgLogin {
            app_id: app_id.to_string(),
            app_secret: app_secret.to_string(),
            dialog_account: dialog_account.to_string(),
            profiles: BTreeMap::new(),
            codes: HashMap::new(),
            tokens: HashMap::new(),
        }
    }
}

/// The Instagram-scoped id of a professional id: distinct from every
/// Facebook user, Page and Instagram id this world hands out.
pub(crate) fn scoped_id_of(ig_id: &str) -> String {
    let tail: String = ig_id
        .chars()
        .rev()
        .take(15)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("26{tail:0>15}")
}

impl World {
    /// The account's Instagram Login profile, made on first use: accounts
    /// linked to a Page are business accounts, others creators.
    pub(crate) fn ig_profile(&mut self, ig_id: &str) -> &mut Profile {
        let has_page = self.page_of_ig(ig_id).is_some();
        self.ig_login
            .profiles
            .entry(ig_id.to_string())
            .or_insert_with(|| Profile {
                scoped_id: scoped_id_of(ig_id),
                account_type: if has_page {
                    AccountType::Business
                } else {
                    AccountType::MediaCreator
                },
                declined: BTreeSet::new(),
            })
    }
}

/// Splits `/ig/<host>/[vNN.M/]rest` into a target; `None` for other paths.
pub(crate) fn parse(segments: &[&str]) -> Option<Target> {
    let ["ig", host, rest @ ..] = segments else {
        return None;
    };
    let host = match *host {
        "www" => Host::Www,
        "api" => Host::Api,
        "graph" => Host::Graph,
        _ => return None,
    };
    let (version, rest) = match rest {
        [first, tail @ ..] if crate::route::looks_like_version(first) => (Some(first.to_string()), tail),
        _ => (None, rest),
    };
    let route = match (host, rest) {
        (Host::Www, ["oauth", "authorize"]) => IgRoute::Authorize,
        (Host::Www, ["oauth", "authorize", "confirm"]) => IgRoute::AuthorizeConfirm,
        (Host::Api, ["oauth", "access_token"]) => IgRoute::CodeExchange,
        (Host::Graph, ["access_token"]) => IgRoute::LongLivedExchange,
        (Host::Graph, ["refresh_access_token"]) => IgRoute::Refresh,
        (Host::Graph, [node]) => IgRoute::Profile(node.to_string()),
        (Host::Graph, [node, "insights"]) => IgRoute::Insights(node.to_string()),
        (Host::Graph, [node, "media"]) => IgRoute::Media(node.to_string()),
        (Host::Graph, [node, "stories"]) => IgRoute::Stories(node.to_string()),
        (Host::Graph, [node, "children"]) => IgRoute::Children(node.to_string()),
        (host, _) => IgRoute::Unknown(host),
    };
    Some(Target {
        version,
        route: Route::Instagram(route),
    })
}

/// The endpoint a call counts as and the Instagram account it touches.
pub(crate) fn classify(world: &World, req: &ApiRequest, route: &IgRoute) -> (Endpoint, Option<String>) {
    let account = |node: &str| graph::resolve(world, req, node);
    let media_owner = |id: &str| world.media.get(id).map(|m| m.owner.clone());
    let on = |endpoint, account| (Endpoint::Instagram(endpoint), account);
    let endpoint = match route {
        IgRoute::Profile(id) | IgRoute::Children(id) if media_owner(id).is_some() => {
            return on(IgEndpoint::MediaNode, media_owner(id));
        }
        IgRoute::Insights(id) if media_owner(id).is_some() => return on(IgEndpoint::MediaInsights, media_owner(id)),
        IgRoute::Media(node) => return on(IgEndpoint::MediaList, account(node)),
        IgRoute::Stories(node) => return on(IgEndpoint::Stories, account(node)),
        IgRoute::Children(_) => IgEndpoint::MediaNode,
        IgRoute::Authorize | IgRoute::AuthorizeConfirm => IgEndpoint::Dialog,
        IgRoute::CodeExchange => IgEndpoint::CodeExchange,
        IgRoute::LongLivedExchange => IgEndpoint::LongLivedExchange,
        IgRoute::Refresh => IgEndpoint::Refresh,
        IgRoute::Profile(node) => return (Endpoint::Instagram(IgEndpoint::Profile), account(node)),
        IgRoute::Insights(node) => {
            let demographic = req
                .param("metric")
                .is_some_and(|m| m.split(',').any(|m| crate::insights::is_demographic(m.trim())));
            let endpoint = if demographic {
                IgEndpoint::Demographics
            } else {
                IgEndpoint::Insights
            };
            return (Endpoint::Instagram(endpoint), account(node));
        }
        IgRoute::Unknown(_) => IgEndpoint::Other,
    };
    (Endpoint::Instagram(endpoint), None)
}

pub(crate) fn handle(world: &mut World, req: &ApiRequest, route: &IgRoute) -> Reply {
    match route {
        IgRoute::Authorize => dialog::show(world, req),
        IgRoute::AuthorizeConfirm => dialog::confirm(world, req),
        // api.instagram.com answers in its own, older error shape.
        IgRoute::CodeExchange => tokens::code_exchange(world, req),
        IgRoute::LongLivedExchange => graph_reply(tokens::long_lived_exchange(world, req)),
        IgRoute::Refresh => graph_reply(tokens::refresh(world, req)),
        IgRoute::Profile(id) if world.media.get(id).is_some() => graph_reply(media::node(world, req, id)),
        IgRoute::Insights(id) if world.media.get(id).is_some() => graph_reply(media::insights(world, req, id)),
        IgRoute::Profile(node) => graph_reply(graph::profile(world, req, node)),
        IgRoute::Insights(node) => graph_reply(graph::insights(world, req, node)),
        IgRoute::Media(node) => graph_reply(media::list(world, req, node, Edge::Media)),
        IgRoute::Stories(node) => graph_reply(media::list(world, req, node, Edge::Stories)),
        IgRoute::Children(id) => graph_reply(media::children(world, req, id)),
        // Batch requests (`POST /`) included: unverified whether the graph host
        // serves them; the Instagram Login docs never mention them.
        IgRoute::Unknown(_) => Reply::error(&GraphError::unsupported(&req.method, "")),
    }
}

fn graph_reply(result: Result<Reply, GraphError>) -> Reply {
    result.unwrap_or_else(|error| Reply::error(&error))
}

/// The world's Instagram-only accounts: a creator with no Facebook Page,
/// who can connect through Instagram Login only, and a personal account.
pub(crate) fn seed(world: &mut World) {
    let solo = crate::control::IgSpec {
        id: "17841400000000901".to_string(),
        username: "solo.creator".to_string(),
        name: "Solo Creator".to_string(),
        followers_count: 4_321,
        follows_count: 210,
        media_count: 64,
    };
    let personal = crate::control::IgSpec {
        id: "17841400000000902".to_string(),
        username: "just.personal".to_string(),
        name: "Just Personal".to_string(),
        followers_count: 180,
        follows_count: 400,
        media_count: 12,
    };
    control::add(world, solo, AccountType::MediaCreator);
    control::add(world, personal, AccountType::Personal);
}
