//! Keeping connections alive: the refresh-tokens job, daily health checks,
//! and invalidation from any call. (Issue: "Keep every connection alive".)
//!
//! For each usable connection, stalest first and many at once, its upkeep:
//! 1. once a day, `debug_token` on the user token: expiry, data-access
//!    expiry and scopes are stored; a token Meta calls invalid makes the
//!    connection `invalid`;
//! 2. when the user token expires within [`REFRESH_WINDOW`], try
//!    `fb_exchange_token`; if the expiry really moved, store the new user
//!    token with a new Page token from `/me/accounts`;
//! 3. judge what is left: a login Facebook would not extend, data access
//!    ending within [`DATA_ACCESS_WINDOW`] or a required scope missing make
//!    the connection `reauth_required` with a `reconnect_by` date; a
//!    connection that needed nothing is (again) `active`.
//!
//! The candidate carries the tokens, and what the upkeep learned is written
//! at the end, all at once: one database round trip per account, which
//! loses to any reconnect made meanwhile. Transient failures are logged
//! `failed` and retried on the next run; only what Meta says about the token
//! changes its status. Every status change queues one webhook event (see
//! `notify`). An Instagram-login connection is checked and renewed on
//! Instagram's host instead (`instagram`), and recorded the same way.

mod instagram;
mod steps;
mod verdict;

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::domain::{InstagramUserId, Timestamp};
use crate::engine::{self, Run};
use crate::graph::{ErrorKind, GraphError};
use crate::store::{
    CheckedToken, LogEntry, LogJob, LogStatus, Login, StatusChange, StatusUpdate, StoreError, TokenStatus,
    UpkeepCandidate, UpkeepRecord, Upkept,
};
use steps::{Check, Refresh, check, due_for_refresh, is_stale, refresh};
pub use verdict::note_graph_error;
use verdict::{assess, status_change_for};

/// A user token this close to its end is refreshed (the plan's 10 days).
pub const REFRESH_WINDOW: chrono::Duration = chrono::Duration::days(10);
/// Data access ending this soon asks the user to reconnect.
pub const DATA_ACCESS_WINDOW: chrono::Duration = chrono::Duration::days(14);
/// How often every connection is checked with `debug_token`.
pub const CHECK_INTERVAL: chrono::Duration = chrono::Duration::hours(24);
/// A refresh counts only if it moved the expiry at least this far.
const MIN_EXTENSION: chrono::Duration = chrono::Duration::days(1);

const JOB_REFRESH: LogJob = LogJob::TokenRefresh;
const JOB_CHECK: LogJob = LogJob::TokenCheck;

/// What a refresh-tokens run did: the cron answer's counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpkeepCounts {
    pub refreshed: usize,
    pub failed: usize,
    pub reauth_required: usize,
    pub invalid: usize,
    pub checked: usize,
}

impl engine::Counts<Upkeep> for UpkeepCounts {
    fn add(&mut self, upkeep: &Upkeep) {
        self.checked += usize::from(upkeep.checked);
        self.refreshed += usize::from(upkeep.refreshed);
        self.failed += usize::from(upkeep.failed);
        match upkeep.status {
            Some(TokenStatus::ReauthRequired) => self.reauth_required += 1,
            Some(TokenStatus::Invalid) => self.invalid += 1,
            _ => {}
        }
    }

    fn failed(&self) -> usize {
        self.failed
    }
}

/// The refresh-tokens job: every usable connection whose login nears its
/// end or whose daily check is due, soonest expiry first.
pub struct RefreshTokens;

impl engine::Candidate for UpkeepCandidate {
    fn instagram_user_id(&self) -> &InstagramUserId {
        &self.account.instagram_user_id
    }
}

impl engine::Job for RefreshTokens {
    type Candidate = UpkeepCandidate;
    type Outcome = Upkeep;
    type Counts = UpkeepCounts;

    fn name(&self) -> &'static str {
        "refresh-tokens"
    }

    async fn candidates(&self, app: &App, run: &Run) -> Result<Vec<UpkeepCandidate>, StoreError> {
        let now = Timestamp::from(run.utc_now());
        let checked_before = now - CHECK_INTERVAL;
        let mut due = (app.store)
            .upkeep_candidates(Login::Facebook, now + REFRESH_WINDOW, checked_before)
            .await?;
        // Instagram Login's connections, unless that path is off.
        if let Some(ig) = &app.config.instagram {
            let renew_before = now + chrono::Duration::days(ig.renew_before_days);
            due.extend(
                (app.store)
                    .upkeep_candidates(Login::Instagram, renew_before, checked_before)
                    .await?,
            );
        }
        Ok(due)
    }

    async fn work(&self, app: &App, run: &Run, candidate: UpkeepCandidate) -> Upkeep {
        let upkept = match candidate.account.login {
            Login::Facebook => try_upkeep(app, run, &candidate).await,
            Login::Instagram => instagram::upkeep(app, run, &candidate).await,
        };
        upkept.unwrap_or_else(|e| {
            tracing::error!(account_id = candidate.account.id, error = %e, "token upkeep failed at storage");
            run.note_store_error(&e);
            Upkeep {
                failed: true,
                ..Upkeep::default()
            }
        })
    }
}

/// What one account's upkeep did, for the report.
#[derive(Debug, Default)]
pub struct Upkeep {
    checked: bool,
    refreshed: bool,
    /// Something failed that the next run will try again.
    failed: bool,
    /// The connection's status after this run, when this run decided it.
    status: Option<TokenStatus>,
}

/// One account's check, refresh and verdict; a failure stays with this account.
async fn try_upkeep(app: &App, run: &Run, candidate: &UpkeepCandidate) -> Result<Upkeep, StoreError> {
    let account = &candidate.account;
    let tokens = app.store.open_tokens(candidate)?;
    let log = Logbook {
        run,
        account_id: account.id,
    };
    let mut out = Upkeep::default();
    let mut record = UpkeepRecord::default();
    let mut health = account.token.clone();
    let now = run.utc_now();

    // 1. The daily health check.
    if is_stale(health.last_checked_at, now) {
        let started = Timestamp::from(now);
        match check(app, run, &tokens.user_token).await {
            Ok(Check::Valid(facts)) => {
                out.checked = true;
                record
                    .log
                    .push(log.entry(JOB_CHECK, LogStatus::Success, None, Some(facts.details()), started));
                health.user_token_expires_at = facts.expires_at.map(Timestamp::from);
                health.data_access_expires_at = facts.data_access_expires_at.map(Timestamp::from);
                health.granted_scopes = facts.scopes;
                record.checked = Some(CheckedToken {
                    user_token_expires_at: health.user_token_expires_at,
                    data_access_expires_at: health.data_access_expires_at,
                    granted_scopes: health.granted_scopes.clone(),
                });
            }
            Ok(Check::Invalid(change)) => {
                out.checked = true;
                let error = (change.code, change.reason.clone().unwrap_or_default());
                record
                    .log
                    .push(log.entry(JOB_CHECK, LogStatus::Failed, Some(error), None, started));
                record.status = Some(change);
                return finish(app, &log, candidate, record, out).await;
            }
            // The check call itself failed (Meta, the network or our app's
            // credentials): nothing is known about this user's token.
            Err(e) => {
                out.failed = true;
                record.log.push(log.graph_error(JOB_CHECK, &e, started));
            }
        }
    }

    // 2. The refresh, when the login nears its end.
    let mut refresh_problem = None;
    if let Some(expires_at) = due_for_refresh(&health, now) {
        let started = Timestamp::from(now);
        match refresh(app, run, account, &tokens, expires_at).await {
            Ok(Refresh::Extended(renewed)) => {
                out.refreshed = true;
                health.user_token_expires_at = renewed.user_token_expires_at;
                let details = serde_json::json!({
                    "user_token_expires_at": renewed.user_token_expires_at,
                    "page_token": "regenerated",
                });
                record
                    .log
                    .push(log.entry(JOB_REFRESH, LogStatus::Success, None, Some(details), started));
                record.renewed = Some(renewed);
            }
            Ok(Refresh::Refused(problem)) => {
                let error = (None, problem.sentence());
                record
                    .log
                    .push(log.entry(JOB_REFRESH, LogStatus::Failed, Some(error), None, started));
                refresh_problem = Some(problem);
            }
            Err(e) if matches!(e.kind, ErrorKind::Auth | ErrorKind::Permission) => {
                record.log.push(log.graph_error(JOB_REFRESH, &e, started));
                record.status = Some(status_change_for(&e));
                return finish(app, &log, candidate, record, out).await;
            }
            Ok(Refresh::Unverified(e)) | Err(e) => {
                out.failed = true;
                record.log.push(log.graph_error(JOB_REFRESH, &e, started));
            }
        }
    }

    // 3. The verdict. A half-done run knows too little to judge; the next one will.
    if !out.failed {
        record.status = match assess(&health, refresh_problem, now) {
            Some(change) => Some(change),
            // Healthy and already active: nothing to write.
            None if health.status == TokenStatus::Active => {
                out.status = Some(TokenStatus::Active);
                None
            }
            None => Some(StatusChange::active()),
        };
    }
    finish(app, &log, candidate, record, out).await
}

/// Writes everything the upkeep learned at once, and says how the
/// connection is left. A reconnect that wrote new tokens meanwhile wins:
/// nothing is written but a log row that says so.
async fn finish(
    app: &App,
    log: &Logbook<'_>,
    candidate: &UpkeepCandidate,
    record: UpkeepRecord<'_>,
    mut out: Upkeep,
) -> Result<Upkeep, StoreError> {
    let account = &candidate.account;
    match (app.store)
        .finish_upkeep(candidate, &record, Timestamp::from(log.run.utc_now()))
        .await?
    {
        Upkept::Written(None) => {}
        Upkept::Written(Some(update)) => {
            let change = record.status.as_ref();
            out.status = match update {
                StatusUpdate::Changed => {
                    let change = change.map(|c| (c.status, c.reason.as_deref().unwrap_or("")));
                    if let Some((status, reason)) = change {
                        tracing::warn!(account_id = account.id, instagram_user_id = %account.instagram_user_id,
                            status = status.as_str(), reason, "connection status changed");
                    }
                    change.map(|(status, _)| status)
                }
                StatusUpdate::Unchanged(status) => Some(status),
                StatusUpdate::Stale => None,
            };
        }
        Upkept::Superseded => {
            let job_type = if record.renewed.is_some() {
                JOB_REFRESH
            } else {
                JOB_CHECK
            };
            let started = record
                .log
                .last()
                .map_or_else(|| Timestamp::from(log.run.utc_now()), |entry| entry.started_at);
            let note = "a reconnect stored newer tokens meanwhile; they stand".to_string();
            let superseded = log.entry(job_type, LogStatus::Skipped, Some((None, note)), None, started);
            app.store.log_run(&superseded).await?;
            out.refreshed = false;
            out.status = None;
        }
    }
    Ok(out)
}

/// This run's log rows for one account.
struct Logbook<'a> {
    run: &'a Run,
    account_id: i64,
}

impl<'a> Logbook<'a> {
    fn entry(
        &self,
        job_type: LogJob,
        status: LogStatus,
        error: Option<(Option<i64>, String)>,
        details: Option<serde_json::Value>,
        started_at: Timestamp,
    ) -> LogEntry<'a> {
        let (error_code, error_message) = error.map_or((None, None), |(code, message)| (code, Some(message)));
        LogEntry {
            account_id: Some(self.account_id),
            run_id: &self.run.id,
            job_type,
            status,
            error_code,
            error_message,
            details,
            started_at,
        }
    }

    fn graph_error(&self, job_type: LogJob, e: &GraphError, started_at: Timestamp) -> LogEntry<'a> {
        tracing::warn!(account_id = self.account_id, job_type = job_type.as_str(), kind = e.kind.as_str(), error = %e, "token upkeep call failed");
        let details = serde_json::json!({ "kind": e.kind.as_str(), "subcode": e.subcode });
        let error = Some((e.code, e.to_string()));
        self.entry(job_type, LogStatus::Failed, error, Some(details), started_at)
    }
}
