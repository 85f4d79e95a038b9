//! `GET /api/insights/:userId/summary?days=7|28|90`: the trend tiles' figures.

use serde_json::json;

use super::insights::authorized_account;
use super::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::trends::{self, WINDOWS};

/// The window when none is asked for.
const DEFAULT_DAYS: u32 = 28;

pub async fn summary(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let account = authorized_account(app, req).await?;
    let days = match req.query("days") {
        None => DEFAULT_DAYS,
        // Exactly as documented: "07" or "+7" is not one of the windows.
        Some(v) => WINDOWS
            .into_iter()
            .find(|d| d.to_string() == v)
            .ok_or_else(|| ApiError::BadRequest("`days` must be 7, 28 or 90".into()))?,
    };
    let summary = trends::summary(&app.store, account.id, days, app.clock.utc_now()).await?;
    let mut body = serde_json::to_value(&summary).map_err(ApiError::internal)?;
    body["instagram_user_id"] = json!(account.instagram_user_id);
    Ok(ApiResponse::ok(&body))
}
