//! The scheduled jobs by name: which [`engine::Job`] each cron function,
//! `urlinsta run` and the local scheduler start, and their reports. A new
//! job is a module implementing `engine::Job` plus one [`JobKind`] and one
//! arm of [`run`] here (and its api file, `[[bin]]`, cron and OpenAPI entry,
//! which the consistency tests ask for).

pub mod schedule;

use std::time::Duration;

use serde::Serialize;

use crate::app::App;
use crate::collect::{CollectCounts, Collection};
use crate::engine::{self, Report, RunOptions};
use crate::store::{CollectKind, StoreError};
use crate::tokens::{RefreshTokens, UpkeepCounts};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobKind {
    RefreshTokens,
    CollectInsights,
    CollectAudience,
}

impl JobKind {
    pub const ALL: [JobKind; 3] = [
        JobKind::RefreshTokens,
        JobKind::CollectInsights,
        JobKind::CollectAudience,
    ];

    pub fn name(self) -> &'static str {
        match self {
            JobKind::RefreshTokens => "refresh-tokens",
            JobKind::CollectInsights => "collect-insights",
            JobKind::CollectAudience => "collect-audience",
        }
    }

    /// The cron function's path, as in `vercel.json`.
    pub fn cron_path(self) -> String {
        format!("/api/cron/{}", self.name())
    }

    pub fn parse(name: &str) -> Option<JobKind> {
        Self::ALL.into_iter().find(|j| j.name() == name)
    }
}

/// What a run of a job did: the cron answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum JobReport {
    RefreshTokens(Report<UpkeepCounts>),
    /// collect-insights and collect-audience.
    Collect(Report<CollectCounts>),
}

impl JobReport {
    /// Another run held the lease; this one did nothing.
    pub fn busy(&self) -> bool {
        match self {
            JobReport::RefreshTokens(r) => r.busy,
            JobReport::Collect(r) => r.busy,
        }
    }
}

/// How long a run may spend delivering webhook events after its work.
const NOTIFY_BUDGET: Duration = Duration::from_secs(15);

/// Runs one job over its slice and returns its report. Every job ends by
/// delivering the webhook events queued so far, its own status changes
/// included, whether its work succeeded or not. refresh-tokens, the
/// connections' upkeep, also removes the browser sessions that have expired.
pub async fn run(app: &App, kind: JobKind, options: RunOptions) -> Result<JobReport, StoreError> {
    let report = match kind {
        JobKind::RefreshTokens => {
            let report = engine::run(app, RefreshTokens, options).await;
            // A busy run did nothing: the run holding the lease sweeps.
            if report.as_ref().is_ok_and(|r| !r.busy) {
                delete_expired_sessions(app).await;
            }
            report.map(JobReport::RefreshTokens)
        }
        JobKind::CollectInsights => engine::run(app, Collection::new(CollectKind::Insights), options)
            .await
            .map(JobReport::Collect),
        JobKind::CollectAudience => engine::run(app, Collection::new(CollectKind::Audience), options)
            .await
            .map(JobReport::Collect),
    };
    crate::notify::deliver_pending(app, NOTIFY_BUDGET).await;
    report
}

/// Sessions past their expiry, which no request can use any more (a login
/// removes them too); a failure leaves them for the next run.
async fn delete_expired_sessions(app: &App) {
    match app.store.delete_expired_sessions(app.clock.utc_now()).await {
        Ok(0) => {}
        Ok(sessions) => tracing::info!(sessions, "expired sessions deleted"),
        Err(e) => tracing::warn!(error = %e, "expired sessions not deleted; the next run tries again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Job;

    #[test]
    fn each_kind_runs_the_job_of_its_name() {
        assert_eq!(RefreshTokens.name(), JobKind::RefreshTokens.name());
        let insights = Collection::new(CollectKind::Insights);
        assert_eq!(insights.name(), JobKind::CollectInsights.name());
        let audience = Collection::new(CollectKind::Audience);
        assert_eq!(audience.name(), JobKind::CollectAudience.name());
    }
}
