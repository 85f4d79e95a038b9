//! Media on `graph.instagram.com`: the same lists, nodes and insights as on
//! Facebook Login's host (`media_api`), read with an Instagram-login token
//! of the account that owns them: `instagram_business_basic` for the media,
//! and `instagram_business_manage_insights` too for their insights (Meta's
//! Media Insights reference lists both for Instagram Login, and says the
//! `total_*` metrics, which count ads too, are Facebook Login's only).
//! Unverified: whether the `stories` edge is served here (its reference
//! names only Facebook Login's permissions), and the words of the refusal
//! of a `total_*` metric.

use super::graph::resolve;
use super::tokens::live;
use super::{AccountType, BASIC_SCOPE, INSIGHTS_SCOPE};
use crate::errors::GraphError;
use crate::media_api::{self, Edge, Need, Reader};
use crate::request::{ApiRequest, Reply};
use crate::world::World;

/// Media metrics served on Facebook Login's host only.
const FACEBOOK_ONLY: [&str; 3] = ["total_likes", "total_comments", "total_views"];

/// Instagram Login's host: the account's own token, nobody else's.
pub(crate) struct Instagram;

impl Reader for Instagram {
    fn authenticate(world: &World, req: &ApiRequest) -> Result<(), GraphError> {
        live(world, req).map(|_| ())
    }

    fn authorize(world: &World, req: &ApiRequest, owner: &str, asked: &str, need: Need) -> Result<(), GraphError> {
        let token = live(world, req)?;
        if token.ig_id != owner {
            return Err(GraphError::unsupported(&req.method, asked));
        }
        let has = |scope: &str| token.scopes.iter().any(|s| s == scope);
        let personal = world
            .ig_login
            .profiles
            .get(owner)
            .is_some_and(|p| p.account_type == AccountType::Personal);
        let allowed = match need {
            Need::Basic => has(BASIC_SCOPE),
            Need::Insights => has(BASIC_SCOPE) && has(INSIGHTS_SCOPE) && !personal,
        };
        allowed.then_some(()).ok_or_else(GraphError::no_permission)
    }
}

/// `GET /{ig-id}/media` or `/stories`, the account named as on `/me`'s
/// routes (`me`, its professional id or its Instagram-scoped id).
pub(crate) fn list(world: &mut World, req: &ApiRequest, node: &str, edge: Edge) -> Result<Reply, GraphError> {
    live(world, req)?;
    let ig_id = resolve(world, req, node).ok_or_else(|| GraphError::unsupported(&req.method, node))?;
    let expanded = req
        .param("fields")
        .and_then(|f| f.split("insights.metric(").nth(1))
        .and_then(|rest| rest.split(')').next());
    refuse_facebook_only(expanded)?;
    media_api::list::<Instagram>(world, req, &ig_id, edge)
}

pub(crate) fn node(world: &mut World, req: &ApiRequest, id: &str) -> Result<Reply, GraphError> {
    media_api::node::<Instagram>(world, req, id)
}

pub(crate) fn children(world: &mut World, req: &ApiRequest, id: &str) -> Result<Reply, GraphError> {
    media_api::children::<Instagram>(world, req, id)
}

pub(crate) fn insights(world: &mut World, req: &ApiRequest, id: &str) -> Result<Reply, GraphError> {
    live(world, req)?;
    refuse_facebook_only(req.param("metric"))?;
    media_api::insights::<Instagram>(world, req, id)
}

/// Meta's error 100 for the first metric of `metrics` this host does not serve.
fn refuse_facebook_only(metrics: Option<&str>) -> Result<(), GraphError> {
    let names = metrics.unwrap_or("").split(',').map(str::trim);
    match names.enumerate().find(|(_, name)| FACEBOOK_ONLY.contains(name)) {
        Some((index, name)) => Err(GraphError::param(format!(
            "metric[{index}] is not available with Instagram Login: '{name}' is served for Instagram API with Facebook Login only"
        ))),
        None => Ok(()),
    }
}
