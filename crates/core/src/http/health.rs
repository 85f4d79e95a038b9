//! `GET /api/health` and `GET /api/health/db`.

use hyper::StatusCode;
use serde_json::json;

use super::{ApiError, ApiResponse};
use crate::app::App;

pub async fn health() -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::ok(
        &json!({ "status": "ok", "timestamp": crate::store::sql::now() }),
    ))
}

pub async fn db(app: &App) -> Result<ApiResponse, ApiError> {
    match app.store.users_count().await {
        Ok(users_count) => Ok(ApiResponse::ok(&json!({ "status": "ok", "users_count": users_count }))),
        Err(e) => {
            tracing::error!(error = %e, "database health check failed");
            Ok(ApiResponse::json(
                StatusCode::SERVICE_UNAVAILABLE,
                // The cause is in the log; the answer names no store internals.
                &json!({ "status": "error", "error": "database_unreachable", "message": "the database cannot be reached" }),
            ))
        }
    }
}
