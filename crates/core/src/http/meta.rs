//! Meta's callbacks: `POST /api/auth/deauthorize`, `POST /api/auth/data-deletion`
//! (form field `signed_request`), and `GET /api/auth/deletion-status/:code`,
//! the status page whose URL the data deletion callback hands back.

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::meta_callbacks::{self, Callback, SignedRequestError};
use crate::store::DeletionRequest;

#[derive(Deserialize)]
struct CallbackBody {
    signed_request: String,
}

/// Verifies the `signed_request`, deletes the user's data, and answers
/// `{url, confirmation_code}` (Meta requires it of the deletion callback; the
/// deauthorize callback gets the same, which Meta ignores).
pub async fn callback(app: &App, req: &ApiRequest, callback: Callback) -> Result<ApiResponse, ApiError> {
    let body: CallbackBody = req.json()?;
    let now = chrono::Utc::now();
    // Facebook Login's callbacks are signed with the Meta app's secret,
    // Instagram Login's with the Instagram app's: the key that verifies says
    // which kind of user id the request names.
    let parsed = match meta_callbacks::parse_signed_request(&app.config.app_secret, &body.signed_request, now) {
        Err(SignedRequestError::BadSignature) if let Some(ig) = &app.config.instagram => {
            meta_callbacks::parse_signed_request(&ig.app_secret, &body.signed_request, now).map(|r| (r, true))
        }
        other => other.map(|r| (r, false)),
    };
    let (request, from_instagram) = parsed.map_err(|e| {
        tracing::warn!(callback = callback.as_str(), reason = %e, "Meta callback refused");
        match e {
            SignedRequestError::BadSignature => ApiError::Forbidden(e.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        }
    })?;
    let receipt = match from_instagram {
        true => meta_callbacks::delete_instagram_user_data(app, &request, callback).await?,
        false => meta_callbacks::delete_user_data(app, &request, callback).await?,
    };
    Ok(ApiResponse::ok(&json!({
        "url": receipt.status_url,
        "confirmation_code": receipt.confirmation_code,
    })))
}

/// The status of a deletion request: a small page for a browser, JSON otherwise.
pub async fn deletion_status(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let code = req.param("code").unwrap_or("");
    let Some(request) = meta_callbacks::status(app, code).await? else {
        return Err(ApiError::NotFound(
            "no deletion request has this confirmation code".into(),
        ));
    };
    let wants_html = req.header("accept").is_some_and(|a| a.contains("text/html"));
    Ok(if wants_html {
        ApiResponse::text(StatusCode::OK, "text/html; charset=utf-8", status_page(&request))
    } else {
        ApiResponse::ok(&request)
    })
}

/// Plain HTML, no inline script or style (the CSP allows neither). Every value
/// shown is one we wrote: a checked code, fixed words and timestamps.
fn status_page(r: &DeletionRequest) -> String {
    let what = match r.accounts_deleted {
        0 => "No connected Instagram account was stored for you, so there was nothing to delete.".to_string(),
        1 => "Your connected Instagram account and everything collected for it were deleted.".to_string(),
        n => format!("Your {n} connected Instagram accounts and everything collected for them were deleted."),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Data deletion request</title></head>\n\
         <body><main><h1>Data deletion request</h1>\n\
         <p>Confirmation code: <code>{code}</code></p>\n\
         <p>Status: <strong>{status}</strong>, requested {requested}, completed {completed}.</p>\n\
         <p>{what}</p></main></body></html>\n",
        code = r.confirmation_code,
        status = r.status,
        requested = r.requested_at,
        completed = r.completed_at.map_or_else(|| "not yet".to_string(), |t| t.to_string()),
    )
}
