//! `GET /api/cron/<job>`: Vercel Cron (or any scheduler holding CRON_SECRET)
//! runs one slice of a job and gets its counts back.

use super::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::crypto::constant_time_eq;
use crate::engine::{RunOptions, Shard};
use crate::jobs::{self, JobKind};

pub async fn run(app: &App, req: &ApiRequest, job: JobKind) -> Result<ApiResponse, ApiError> {
    authorize(app, req)?;
    let shard =
        Shard::parse(req.query("shard"), req.query("shards")).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // A job fails as a whole only at its database (a lease or the list of
    // what is due): the cause goes to the log, never into the answer.
    let report = jobs::run(app, job, RunOptions::shard(shard)).await.map_err(|e| {
        tracing::error!(job = job.name(), cause = %super::response::chain(&e), "the job could not run");
        ApiError::Unavailable("the job could not run: the database did not serve it; try again later".into())
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
