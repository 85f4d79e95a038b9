//! The adapter for Vercel functions: each `api/**/*.rs` is
//! `run(service_fn(|req| vercel::handle(req, Route::X)))`.

use vercel_runtime::{Error, Request, Response, ResponseBody};

use super::request::{from_hyper, to_hyper};
use super::{ApiError, ApiResponse, Route};
use crate::app::{App, StartupError};

pub async fn handle(req: Request, route: Route) -> Result<Response<ResponseBody>, Error> {
    let response = match App::global().await {
        // Liveness is the process and its configuration, not the database
        // (that is /api/health/db): a cold start with the database away still answers it.
        Err(e) if route == Route::Health && req.method() == "GET" && matches!(*e, StartupError::Store(_)) => {
            tracing::warn!(error = %e, "started without the database");
            super::health::health().await.unwrap_or_else(ApiError::into_response)
        }
        Err(e) => {
            // Logged once per failed start; the body names no secret.
            tracing::error!(error = %e, "startup failed");
            eprintln!("urlinsta startup failed: {e}");
            let what = match *e {
                StartupError::Store(_) => "the database cannot be reached",
                _ => "the service is not configured correctly",
            };
            ApiError::Unavailable(format!("{what}; see the function logs")).into_response()
        }
        Ok(app) => match from_hyper(req).await {
            Err(e) => e.into_response(),
            Ok(mut api_req) => {
                api_req.params = path_params(&api_req.path);
                super::handle(app, route, api_req).await
            }
        },
    };
    Ok(to_hyper(with_security_headers(response)))
}

/// The path parameters of a request. A dynamic route (`api/insights/[userId].rs`)
/// may be handed the public path (`/api/insights/123`) or its own file path
/// (`/api/insights/[userId]`) with the value in the query (`?userId=123`); a
/// placeholder is no value, so the query's counts then ([`super::ApiRequest::param`]).
fn path_params(path: &str) -> Vec<(String, String)> {
    let Some((_, params)) = Route::resolve(path) else {
        return Vec::new();
    };
    params
        .into_iter()
        .filter(|(name, value)| *value != format!("[{name}]"))
        .collect()
}

fn with_security_headers(mut r: ApiResponse) -> ApiResponse {
    r.set_header("x-content-type-options", "nosniff");
    r.set_header("referrer-policy", "no-referrer");
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::ApiRequest;

    fn code_of(path_and_query: &str) -> Option<String> {
        let mut req = ApiRequest::new(hyper::Method::GET, path_and_query);
        req.params = path_params(&req.path);
        req.param("code").map(str::to_string)
    }

    #[test]
    fn dynamic_routes_read_the_path_or_the_query() {
        // The public path.
        assert_eq!(code_of("/api/auth/deletion-status/abc123").as_deref(), Some("abc123"));
        // The file path Vercel's route rewrites to, with the value in the query.
        assert_eq!(
            code_of("/api/auth/deletion-status/[code]?code=abc123").as_deref(),
            Some("abc123")
        );
        assert_eq!(
            code_of("/api/auth/deletion-status/%5Bcode%5D?code=abc123").as_deref(),
            Some("abc123")
        );
        assert_eq!(code_of("/api/auth/deletion-status/[code]"), None);
    }
}
