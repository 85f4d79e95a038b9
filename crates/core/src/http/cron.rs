//! `GET /api/cron/<job>`: Vercel Cron (or any scheduler holding CRON_SECRET)
//! runs one slice of a job and gets its counts back.

use super::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::crypto::constant_time_eq;
use crate::jobs::{self, Job, JobContext, JobError, Shard};

pub async fn run(app: &App, req: &ApiRequest, job: Job) -> Result<ApiResponse, ApiError> {
    authorize(app, req)?;
    let shard =
        Shard::parse(req.query("shard"), req.query("shards")).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let ctx = JobContext::new(app, job, shard);
    let report = jobs::run(app, &ctx).await.map_err(|e| match e {
        JobError::BadShard(m) => ApiError::BadRequest(m),
        other => ApiError::Unavailable(format!("the job could not run: {other}")),
    })?;
    Ok(ApiResponse::ok(&report))
}

/// `Authorization: Bearer <CRON_SECRET>`, compared in constant time. Without a
/// CRON_SECRET the routes are open, which configuration allows in local development only.
pub fn authorize(app: &App, req: &ApiRequest) -> Result<(), ApiError> {
    match &app.config.cron_secret {
        None if !app.config.strict => Ok(()),
        None => Err(ApiError::Unauthorized("CRON_SECRET is not configured".into())),
        Some(secret) => match req.bearer() {
            Some(given) if constant_time_eq(secret.expose().as_bytes(), given.as_bytes()) => Ok(()),
            _ => Err(ApiError::Unauthorized(
                "cron routes need Authorization: Bearer <CRON_SECRET>".into(),
            )),
        },
    }
}
