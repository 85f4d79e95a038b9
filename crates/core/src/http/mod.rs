//! HTTP, framework-neutral: a request and response of our own, one route
//! table, one mapping from errors to responses. The Vercel functions and the
//! local server both adapt their transport to [`ApiRequest`] and call [`handle`].

mod auth;
mod cron;
mod health;
mod insights;
mod media;
mod media_history;
mod meta;
mod openapi;
mod origin;
mod query;
mod request;
mod response;
pub mod server;
pub mod session;
mod trends;
pub mod vercel;
mod webhooks;

pub use insights::{AccountView, AccountsBody, CollectedNow};
pub use request::ApiRequest;
pub use response::{ApiError, ApiResponse};

use hyper::Method;

use crate::app::App;
use crate::jobs::JobKind;
use crate::meta_callbacks::Callback;

/// Every API route, at the plan's paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    HealthDb,
    AuthLogin,
    AuthCallback,
    AuthStatus,
    AuthDisconnect,
    AuthLogout,
    AuthDeauthorize,
    AuthDataDeletion,
    AuthDeletionStatus,
    Cron(JobKind),
    Insights,
    InsightsAudience,
    InsightsRefresh,
    InsightsSummary,
    InsightsMedia,
    InsightsMediaHistory,
    InsightsMediaDetail,
    AdminAccounts,
    OpenApi,
    WebhookInstagram,
}

impl Route {
    /// The route table: `(route, path pattern, methods)`. `:name` is a path parameter.
    pub const TABLE: &'static [(Route, &'static str, &'static [Method])] = &[
        (Route::Health, "/api/health", &[Method::GET]),
        (Route::HealthDb, "/api/health/db", &[Method::GET]),
        (Route::AuthLogin, "/api/auth/login", &[Method::GET]),
        (Route::AuthCallback, "/api/auth/callback", &[Method::GET]),
        (Route::AuthStatus, "/api/auth/status", &[Method::GET]),
        (Route::AuthDisconnect, "/api/auth/disconnect", &[Method::POST]),
        (Route::AuthLogout, "/api/auth/logout", &[Method::POST]),
        (Route::AuthDeauthorize, "/api/auth/deauthorize", &[Method::POST]),
        (Route::AuthDataDeletion, "/api/auth/data-deletion", &[Method::POST]),
        (
            Route::AuthDeletionStatus,
            "/api/auth/deletion-status/:code",
            &[Method::GET],
        ),
        (
            Route::Cron(JobKind::RefreshTokens),
            "/api/cron/refresh-tokens",
            &[Method::GET],
        ),
        (
            Route::Cron(JobKind::CollectInsights),
            "/api/cron/collect-insights",
            &[Method::GET],
        ),
        (
            Route::Cron(JobKind::CollectAudience),
            "/api/cron/collect-audience",
            &[Method::GET],
        ),
        (Route::Insights, "/api/insights/:userId", &[Method::GET]),
        (
            Route::InsightsAudience,
            "/api/insights/:userId/audience",
            &[Method::GET],
        ),
        (Route::InsightsRefresh, "/api/insights/:userId/refresh", &[Method::POST]),
        (Route::InsightsSummary, "/api/insights/:userId/summary", &[Method::GET]),
        (Route::InsightsMedia, "/api/insights/:userId/media", &[Method::GET]),
        // Before `:mediaId`, which it would otherwise match.
        (
            Route::InsightsMediaHistory,
            "/api/insights/:userId/media/history",
            &[Method::GET, Method::POST],
        ),
        (
            Route::InsightsMediaDetail,
            "/api/insights/:userId/media/:mediaId",
            &[Method::GET],
        ),
        (Route::AdminAccounts, "/api/admin/accounts", &[Method::GET]),
        (Route::OpenApi, "/api/openapi.json", &[Method::GET]),
        (
            Route::WebhookInstagram,
            "/api/webhooks/instagram",
            &[Method::GET, Method::POST],
        ),
    ];

    /// Finds the route for a path, with its path parameters.
    pub fn resolve(path: &str) -> Option<(Route, Vec<(String, String)>)> {
        let path = path.trim_end_matches('/');
        Self::TABLE
            .iter()
            .find_map(|(route, pattern, _)| match_pattern(pattern, path).map(|params| (*route, params)))
    }

    pub fn methods(self) -> &'static [Method] {
        Self::TABLE
            .iter()
            .find(|(r, _, _)| *r == self)
            .map(|(_, _, m)| *m)
            .unwrap_or(&[])
    }

    pub fn pattern(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|(r, _, _)| *r == self)
            .map(|(_, p, _)| *p)
            .unwrap_or("")
    }
}

fn match_pattern(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) if w.starts_with(':') => {
                if g.is_empty() {
                    return None;
                }
                let value = percent_decode(g)?;
                params.push((w[1..].to_string(), value));
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    url::form_urlencoded::parse(format!("v={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
}

/// Runs one API request: method check, the route's handler, errors to responses.
pub async fn handle(app: &App, route: Route, req: ApiRequest) -> ApiResponse {
    let methods = route.methods();
    let allowed = methods.contains(&req.method) || (req.method == Method::HEAD && methods.contains(&Method::GET));
    if !allowed {
        return ApiError::MethodNotAllowed(methods).into_response();
    }
    if let Err(refused) = origin::refuse_cross_site(&app.config, route, &req) {
        let mut response = refused.into_response();
        response.set_header("cache-control", "no-store");
        return response;
    }
    let result = match route {
        Route::Health => health::health().await,
        Route::HealthDb => health::db(app).await,
        Route::AuthLogin => auth::login(app, &req).await,
        Route::AuthCallback => auth::callback(app, &req).await,
        Route::AuthStatus => auth::status(app, &req).await,
        Route::AuthDisconnect => auth::disconnect(app, &req).await,
        Route::AuthLogout => auth::logout(app, &req).await,
        Route::AuthDeauthorize => meta::callback(app, &req, Callback::Deauthorize).await,
        Route::AuthDataDeletion => meta::callback(app, &req, Callback::DataDeletion).await,
        Route::AuthDeletionStatus => meta::deletion_status(app, &req).await,
        Route::Cron(job) => cron::run(app, &req, job).await,
        Route::Insights => insights::insights(app, &req).await,
        Route::InsightsAudience => insights::audience(app, &req).await,
        Route::InsightsRefresh => insights::collect_now(app, &req).await,
        Route::InsightsSummary => trends::summary(app, &req).await,
        Route::InsightsMedia => media::list(app, &req).await,
        Route::InsightsMediaHistory => media_history::handle(app, &req).await,
        Route::InsightsMediaDetail => media::detail(app, &req).await,
        Route::AdminAccounts => insights::admin_accounts(app, &req).await,
        Route::OpenApi => openapi::document().await,
        Route::WebhookInstagram => webhooks::instagram(app, &req).await,
    };
    let mut response = result.unwrap_or_else(|e| e.into_response());
    response.set_header("cache-control", "no-store");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_with_parameters() {
        assert_eq!(Route::resolve("/api/health").map(|r| r.0), Some(Route::Health));
        assert_eq!(Route::resolve("/api/health/").map(|r| r.0), Some(Route::Health));
        assert_eq!(Route::resolve("/api/auth/status").map(|r| r.0), Some(Route::AuthStatus));
        assert!(Route::resolve("/api/nothing").is_none());
        for job in JobKind::ALL {
            assert_eq!(Route::resolve(&job.cron_path()).map(|r| r.0), Some(Route::Cron(job)));
        }
        let (route, params) = Route::resolve("/api/insights/17841400000000001/audience").unwrap();
        assert_eq!(route, Route::InsightsAudience);
        assert_eq!(params, vec![("userId".to_string(), "17841400000000001".to_string())]);
        assert_eq!(
            Route::resolve("/api/insights/17841400000000001").map(|r| r.0),
            Some(Route::Insights)
        );
        assert_eq!(
            match_pattern("/api/insights/:userId", "/api/insights/17%2041"),
            Some(vec![("userId".into(), "17 41".into())])
        );
        assert_eq!(match_pattern("/api/insights/:userId", "/api/insights/"), None);
        assert_eq!(
            Route::resolve("/api/insights/17841400000000001/media/history").map(|r| r.0),
            Some(Route::InsightsMediaHistory)
        );
        assert_eq!(
            Route::resolve("/api/insights/17841400000000001/media/17900000000000001").map(|r| r.0),
            Some(Route::InsightsMediaDetail)
        );
    }
}
