//! Collecting insights and audience. (Issue: "Collect Instagram insights and audience".)

use serde::Serialize;

use crate::app::App;
use crate::jobs::{JobContext, JobError};

#[derive(Debug, Default, Serialize)]
pub struct CollectReport {
    pub collected: usize,
    pub failed: usize,
    pub skipped: usize,
    pub remaining: usize,
    pub duration_ms: u64,
}

pub async fn run_insights(_app: &App, ctx: &JobContext) -> Result<CollectReport, JobError> {
    Ok(CollectReport {
        duration_ms: ctx.elapsed_ms(),
        ..Default::default()
    })
}

pub async fn run_audience(_app: &App, ctx: &JobContext) -> Result<CollectReport, JobError> {
    Ok(CollectReport {
        duration_ms: ctx.elapsed_ms(),
        ..Default::default()
    })
}
