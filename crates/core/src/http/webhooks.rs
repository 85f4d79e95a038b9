//! `GET|POST /api/webhooks/instagram`: Meta's subscription check and its
//! Instagram deliveries (`story_insights`). Unsigned 401, badly signed 403,
//! malformed 400; none of them writes anything.

use hyper::{Method, StatusCode};
use serde_json::json;

use super::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::media::webhook::{self, SubscribeError, WebhookError};

pub async fn instagram(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    if req.method == Method::POST {
        return deliver(app, req).await;
    }
    let challenge = webhook::subscribe(
        app.config.webhook_verify_token.as_ref(),
        req.query("hub.mode"),
        req.query("hub.verify_token"),
        req.query("hub.challenge"),
    )
    .map_err(|e| {
        tracing::warn!(reason = %e, "Instagram webhook subscription refused");
        match e {
            SubscribeError::BadChallenge => ApiError::BadRequest(e.to_string()),
            SubscribeError::NotConfigured | SubscribeError::Refused => ApiError::Forbidden(e.to_string()),
        }
    })?;
    Ok(ApiResponse::text(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        challenge,
    ))
}

async fn deliver(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let signature = req.header("x-hub-signature-256");
    match webhook::receive(app, signature, &req.body).await {
        Ok(received) => Ok(ApiResponse::ok(&json!({ "received": received }))),
        Err(e) => {
            tracing::warn!(reason = %e, "Instagram webhook delivery refused");
            Err(match e {
                WebhookError::Unsigned => ApiError::Unauthorized(e.to_string()),
                WebhookError::BadSignature => ApiError::Forbidden(e.to_string()),
                WebhookError::Malformed(_) => ApiError::BadRequest(e.to_string()),
                WebhookError::Store(store) => store.into(),
            })
        }
    }
}
