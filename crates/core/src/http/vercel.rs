//! The adapter for Vercel functions: each `api/**/*.rs` is
//! `run(service_fn(|req| vercel::handle(req, Route::X)))`.

use vercel_runtime::{Error, Request, Response, ResponseBody};

use super::request::{from_hyper, to_hyper};
use super::{ApiError, ApiResponse, Route};
use crate::app::App;

pub async fn handle(req: Request, route: Route) -> Result<Response<ResponseBody>, Error> {
    let response = match App::global().await {
        Err(e) => {
            // Logged once per failed start; the body names no secret.
            tracing::error!(error = %e, "startup failed");
            eprintln!("urlinsta startup failed: {e}");
            ApiError::Unavailable("the service is not configured correctly; see the function logs".into())
                .into_response()
        }
        Ok(app) => match from_hyper(req).await {
            Err(e) => e.into_response(),
            Ok(mut api_req) => {
                // A dynamic route (api/insights/[userId].rs) may see its own
                // file path; its parameters then arrive in the query string.
                if let Some((_, params)) = Route::resolve(&api_req.path) {
                    api_req.params = params;
                }
                super::handle(app, route, api_req).await
            }
        },
    };
    Ok(to_hyper(with_security_headers(response)))
}

fn with_security_headers(mut r: ApiResponse) -> ApiResponse {
    r.set_header("x-content-type-options", "nosniff");
    r.set_header("referrer-policy", "no-referrer");
    r
}
