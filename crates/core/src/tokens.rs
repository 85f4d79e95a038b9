//! Keeping connections alive: the refresh-tokens job, daily health checks,
//! and invalidation from any call. (Issue: "Keep every connection alive".)
//!
//! For each usable connection, stalest first and many at once:
//! 1. once a day, `debug_token` on the user token: expiry, data-access
//!    expiry and scopes are stored; a token Meta calls invalid makes the
//!    connection `invalid`;
//! 2. when the user token expires within [`REFRESH_WINDOW`], try
//!    `fb_exchange_token`; if the expiry really moved, store the new user
//!    token with a new Page token from `/me/accounts`, in one write that
//!    loses to any reconnect made meanwhile;
//! 3. judge what is left: a login Facebook would not extend, data access
//!    ending within [`DATA_ACCESS_WINDOW`] or a required scope missing make
//!    the connection `reauth_required` with a `reconnect_by` date; a
//!    connection that needed nothing is (again) `active`.
//!
//! Transient failures are logged `failed` and retried on the next run; only
//! what Meta says about the token changes its status. Instagram-login
//! connections are checked and renewed their own way (`instagram::renew`). Every status change
//! queues one webhook event (see `notify`).

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;

use crate::app::App;
use crate::graph::types::DebugTokenError;
use crate::graph::{ErrorKind, GraphError, MetaError};
use crate::jobs::{JobContext, JobError, LeaseGuard, Progress, lease_ttl};
use crate::oauth;
use crate::secret::AccessToken;
use crate::store::sql::{self, parse_ts, ts};
use crate::store::{
    Account, AccountTokens, LogEntry, LogStatus, Login, StatusChange, StatusUpdate, StoreError, TokenHealth,
    TokenStatus,
};

/// A user token this close to its end is refreshed (the plan's 10 days).
pub const REFRESH_WINDOW: chrono::Duration = chrono::Duration::days(10);
/// Data access ending this soon asks the user to reconnect.
pub const DATA_ACCESS_WINDOW: chrono::Duration = chrono::Duration::days(14);
/// How often every connection is checked with `debug_token`.
pub const CHECK_INTERVAL: chrono::Duration = chrono::Duration::hours(24);
/// A refresh counts only if it moved the expiry at least this far.
const MIN_EXTENSION: chrono::Duration = chrono::Duration::days(1);

const JOB_REFRESH: &str = "token_refresh";
const JOB_CHECK: &str = "token_check";

#[derive(Debug, Default, Serialize)]
pub struct RefreshReport {
    pub refreshed: usize,
    pub failed: usize,
    pub reauth_required: usize,
    pub invalid: usize,
    pub checked: usize,
    pub duration_ms: u64,
}

/// One run of refresh-tokens over the context's shard. A run that finds the
/// lease taken does nothing: the other run covers the same accounts.
pub async fn run(app: &App, ctx: &JobContext) -> Result<RefreshReport, JobError> {
    let lease_name = ctx.shard.lease_name(ctx.job);
    let Some(lease) = LeaseGuard::acquire(app, &lease_name, lease_ttl(app)).await? else {
        tracing::info!(lease = %lease_name, run_id = %ctx.run_id, "another refresh-tokens run holds the lease");
        return Ok(RefreshReport {
            duration_ms: ctx.elapsed_ms(),
            ..Default::default()
        });
    };
    let result = upkeep_all(app, ctx).await;
    lease.release(app).await;
    let mut report = result?;
    report.duration_ms = ctx.elapsed_ms();
    tracing::info!(run_id = %ctx.run_id, ?report, "refresh-tokens finished");
    Ok(report)
}

async fn upkeep_all(app: &App, ctx: &JobContext) -> Result<RefreshReport, JobError> {
    let now = Utc::now();
    let due: Vec<Account> = app
        .store
        .accounts_due_for_upkeep(&ts(now + REFRESH_WINDOW), &ts(now - CHECK_INTERVAL))
        .await?
        .into_iter()
        .chain(instagram_logins_due(app, now).await?)
        .filter(|a| ctx.shard.includes(&a.instagram_user_id))
        .collect();
    let mut progress = Progress {
        total: due.len(),
        ..Progress::default()
    };
    let mut report = RefreshReport::default();
    let mut not_started = 0;
    // Set when the database stops answering: it would fail every account alike.
    let silent = AtomicBool::new(false);
    // Accounts start in order (stalest first) as slots free up; none starts
    // after the deadline or once the database is silent.
    let mut outcomes = futures_util::stream::iter(due)
        .map(|account| {
            let silent = &silent;
            async move {
                if ctx.out_of_time() || silent.load(Ordering::Relaxed) {
                    return None;
                }
                Some(upkeep(app, ctx, &account, silent).await)
            }
        })
        .buffer_unordered(app.config.collect_concurrency);
    while let Some(outcome) = outcomes.next().await {
        let Some(outcome) = outcome else {
            not_started += 1;
            continue;
        };
        report.checked += usize::from(outcome.checked);
        report.refreshed += usize::from(outcome.refreshed);
        report.failed += usize::from(outcome.failed);
        match outcome.status {
            Some(TokenStatus::ReauthRequired) => report.reauth_required += 1,
            Some(TokenStatus::Invalid) => report.invalid += 1,
            _ => {}
        }
        progress.done += 1;
        progress.failed += usize::from(outcome.failed);
        ctx.report(progress);
    }
    if not_started > 0 {
        tracing::info!(run_id = %ctx.run_id, not_started, "time budget spent; the next run continues");
    }
    Ok(report)
}

/// What one account's upkeep did, for the report.
#[derive(Debug, Default)]
struct Outcome {
    checked: bool,
    refreshed: bool,
    /// Something failed that the next run will try again.
    failed: bool,
    /// The connection's status after this run, when this run decided it.
    status: Option<TokenStatus>,
}

impl Outcome {
    fn failed() -> Self {
        Outcome {
            failed: true,
            ..Outcome::default()
        }
    }
}

/// Instagram-login connections due for their check or renewal (none while that path is off).
async fn instagram_logins_due(app: &App, now: DateTime<Utc>) -> Result<Vec<Account>, StoreError> {
    let Some(ig) = &app.config.instagram else {
        return Ok(Vec::new());
    };
    let renew_before = now + chrono::Duration::days(ig.renew_before_days);
    app.store
        .instagram_logins_due(&ts(renew_before), &ts(now - CHECK_INTERVAL))
        .await
}

/// One account's check, refresh and verdict; a failure stays with this account.
async fn upkeep(app: &App, ctx: &JobContext, account: &Account, silent: &AtomicBool) -> Outcome {
    match try_upkeep(app, ctx, account).await {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::error!(account_id = account.id, error = %e, "token upkeep failed at storage");
            if e.is_timeout() && !silent.swap(true, Ordering::Relaxed) {
                tracing::warn!(run_id = %ctx.run_id, "the database is not answering: no new account this run");
            }
            Outcome::failed()
        }
    }
}

async fn try_upkeep(app: &App, ctx: &JobContext, account: &Account) -> Result<Outcome, StoreError> {
    if account.login == Login::Instagram {
        let r = crate::instagram::renew::upkeep(app, &ctx.run_id, account).await?;
        return Ok(Outcome {
            checked: r.checked,
            refreshed: r.refreshed,
            failed: r.failed,
            status: r.status,
        });
    }
    let Some(tokens) = app.store.tokens(account.id).await? else {
        return Ok(Outcome::default()); // disconnected meanwhile
    };
    let log = RunLog {
        app,
        ctx,
        account_id: account.id,
    };
    let mut out = Outcome::default();
    let mut health = account.token.clone();
    let mut generation = tokens.generation;
    let now = Utc::now();

    // 1. The daily health check.
    if is_stale(health.last_checked_at.as_deref(), now) {
        let started = sql::now();
        match check(app, ctx, &tokens.user_token).await {
            Ok(Check::Valid(facts)) => {
                out.checked = true;
                let (expires, data_access) = (facts.expires_at.map(ts), facts.data_access_expires_at.map(ts));
                let stored = app
                    .store
                    .record_token_check(
                        account.id,
                        generation,
                        expires.as_deref(),
                        data_access.as_deref(),
                        &facts.scopes,
                    )
                    .await?;
                if !stored {
                    log.superseded(JOB_CHECK, started).await?;
                    return Ok(out);
                }
                log.write(JOB_CHECK, LogStatus::Success, None, Some(facts.details()), started)
                    .await?;
                health.user_token_expires_at = expires;
                health.data_access_expires_at = data_access;
                health.granted_scopes = facts.scopes;
            }
            Ok(Check::Invalid(change)) => {
                out.checked = true;
                let error = (change.code, change.reason.clone().unwrap_or_default());
                log.write(JOB_CHECK, LogStatus::Failed, Some(error), None, started)
                    .await?;
                out.status = apply(app, account, generation, &change).await?;
                return Ok(out);
            }
            // The check call itself failed (Meta, the network or our app's
            // credentials): nothing is known about this user's token.
            Err(e) => {
                out.failed = true;
                log.graph_error(JOB_CHECK, &e, started).await?;
            }
        }
    }

    // 2. The refresh, when the login nears its end.
    let mut refresh_problem = None;
    if let Some(expires_at) = due_for_refresh(&health, now) {
        let started = sql::now();
        match refresh(app, ctx, account, &tokens, expires_at).await {
            Ok(Refresh::Extended {
                user_token,
                page_token,
                expires_at,
            }) => {
                let expires = expires_at.map(ts);
                let replaced = app
                    .store
                    .replace_tokens(account.id, generation, &user_token, expires.as_deref(), &page_token)
                    .await?;
                if !replaced {
                    log.superseded(JOB_REFRESH, started).await?;
                    return Ok(out);
                }
                generation += 1;
                out.refreshed = true;
                health.user_token_expires_at = expires.clone();
                let details = serde_json::json!({ "user_token_expires_at": expires, "page_token": "regenerated" });
                log.write(JOB_REFRESH, LogStatus::Success, None, Some(details), started)
                    .await?;
            }
            Ok(Refresh::Refused(problem)) => {
                log.write(
                    JOB_REFRESH,
                    LogStatus::Failed,
                    Some((None, problem.sentence())),
                    None,
                    started,
                )
                .await?;
                refresh_problem = Some(problem);
            }
            Err(e) if matches!(e.kind, ErrorKind::Auth | ErrorKind::Permission) => {
                log.graph_error(JOB_REFRESH, &e, started).await?;
                out.status = apply(app, account, generation, &status_change_for(&e)).await?;
                return Ok(out);
            }
            Ok(Refresh::Unverified(e)) | Err(e) => {
                out.failed = true;
                log.graph_error(JOB_REFRESH, &e, started).await?;
            }
        }
    }

    // 3. The verdict. A half-done run knows too little to judge; the next one will.
    if out.failed {
        return Ok(out);
    }
    let verdict = assess(&health, refresh_problem, now);
    out.status = match verdict {
        Some(change) => apply(app, account, generation, &change).await?,
        // Healthy and already active: nothing to write.
        None if health.status == TokenStatus::Active => Some(TokenStatus::Active),
        None => apply(app, account, generation, &StatusChange::active()).await?,
    };
    Ok(out)
}

/// Stores a verdict about the tokens read at `generation` and returns the
/// status the connection is left in (None when a reconnect overtook it).
async fn apply(
    app: &App,
    account: &Account,
    generation: i64,
    change: &StatusChange,
) -> Result<Option<TokenStatus>, StoreError> {
    let update = app.store.update_status(account.id, Some(generation), change).await?;
    if update == StatusUpdate::Changed {
        tracing::warn!(
            account_id = account.id,
            instagram_user_id = %account.instagram_user_id,
            status = change.status.as_str(),
            reason = change.reason.as_deref().unwrap_or(""),
            "connection status changed"
        );
    }
    Ok(match update {
        StatusUpdate::Changed => Some(change.status),
        StatusUpdate::Unchanged(status) => Some(status),
        StatusUpdate::Stale => None,
    })
}

// ---- the health check ----

enum Check {
    Valid(TokenFacts),
    /// Meta says the token no longer works.
    Invalid(StatusChange),
}

struct TokenFacts {
    expires_at: Option<DateTime<Utc>>,
    data_access_expires_at: Option<DateTime<Utc>>,
    scopes: Vec<String>,
}

impl TokenFacts {
    fn details(&self) -> serde_json::Value {
        serde_json::json!({
            "user_token_expires_at": self.expires_at.map(ts),
            "data_access_expires_at": self.data_access_expires_at.map(ts),
            "scopes": self.scopes,
        })
    }
}

async fn check(app: &App, ctx: &JobContext, user_token: &AccessToken) -> Result<Check, GraphError> {
    let debug = oauth::inspect(app, user_token, Some(ctx.deadline)).await?;
    if debug.is_valid {
        return Ok(Check::Valid(TokenFacts {
            expires_at: debug.expires(),
            data_access_expires_at: debug.data_access_expires(),
            scopes: debug.scopes,
        }));
    }
    let error = verdict_error(debug.error);
    let reason = match error.subcode {
        Some(_) => error.reason(),
        // Without a subcode Meta's own words say more than "invalid".
        None => format!("Facebook reports the login invalid: {}", error.message),
    };
    Ok(Check::Invalid(StatusChange {
        status: TokenStatus::Invalid,
        code: error.code,
        subcode: error.subcode,
        reason: Some(reason),
        reconnect_by: None,
    }))
}

/// Meta's verdict on a token `debug_token` calls invalid, read like any
/// Graph error so that it gets the same reason.
fn verdict_error(detail: Option<DebugTokenError>) -> GraphError {
    let detail = detail.unwrap_or_default();
    GraphError::from_meta(
        "debug_token",
        200,
        MetaError {
            message: detail.message.unwrap_or_else(|| "the token is not valid".into()),
            error_type: None,
            code: Some(detail.code.unwrap_or(190)),
            error_subcode: detail.subcode,
            is_transient: Some(false),
            fbtrace_id: None,
        },
        None,
        Default::default(),
    )
}

fn is_stale(last_checked_at: Option<&str>, now: DateTime<Utc>) -> bool {
    last_checked_at
        .and_then(parse_ts)
        .is_none_or(|t| t <= now - CHECK_INTERVAL)
}

// ---- the refresh ----

enum Refresh {
    Extended {
        user_token: AccessToken,
        page_token: AccessToken,
        expires_at: Option<DateTime<Utc>>,
    },
    /// Meta answered, but the connection cannot be kept alive without the user.
    Refused(Problem),
    /// The new token's expiry could not be confirmed: it is dropped, the
    /// stored login stands, and the next run tries again.
    Unverified(GraphError),
}

/// The expiry of a user token that is due for a refresh.
fn due_for_refresh(health: &TokenHealth, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    health
        .user_token_expires_at
        .as_deref()
        .and_then(parse_ts)
        .filter(|at| *at < now + REFRESH_WINDOW)
}

/// `fb_exchange_token`, the real new expiry (`expires_in`, else `debug_token`),
/// and, when it moved, the stored Page's new token from `/me/accounts`.
async fn refresh(
    app: &App,
    ctx: &JobContext,
    account: &Account,
    tokens: &AccountTokens,
    expires_at: DateTime<Utc>,
) -> Result<Refresh, GraphError> {
    let deadline = Some(ctx.deadline);
    let (user_token, expires_in) = oauth::exchange_for_long_lived(app, &tokens.user_token, deadline).await?;
    let new_expiry = match expires_in.filter(|s| *s > 0) {
        Some(secs) => Some(Utc::now() + chrono::Duration::seconds(secs)),
        // debug_token runs on the app's own credentials: its errors say
        // nothing about the user's login, and neither does an odd answer
        // about a token Meta minted a moment ago.
        None => match oauth::inspect(app, &user_token, deadline).await {
            Ok(debug) if debug.is_valid => debug.expires(),
            Ok(debug) => return Ok(Refresh::Unverified(verdict_error(debug.error))),
            Err(e) => return Ok(Refresh::Unverified(e)),
        },
    };
    // No expiry at all is the best extension there is.
    if new_expiry.is_some_and(|at| at < expires_at + MIN_EXTENSION) {
        return Ok(Refresh::Refused(Problem::NotExtended { expires_at }));
    }
    let page_id = account.facebook_page_id.clone().unwrap_or_default();
    let page_token = oauth::pages(app, &user_token, deadline)
        .await?
        .into_iter()
        .find(|p| p.id == page_id)
        .and_then(|p| p.access_token);
    match page_token {
        Some(page_token) => Ok(Refresh::Extended {
            user_token,
            page_token: AccessToken::new(page_token),
            expires_at: new_expiry,
        }),
        None => Ok(Refresh::Refused(Problem::PageLost {
            page: account.facebook_page_name.clone().unwrap_or(page_id),
            expires_at,
        })),
    }
}

// ---- the verdict ----

/// Why a connection needs its user to log in again.
#[derive(Debug, Clone, PartialEq)]
enum Problem {
    /// Facebook would not extend the login; it ends at `expires_at`.
    NotExtended {
        expires_at: DateTime<Utc>,
    },
    /// The user no longer manages the Page (or stopped sharing it).
    PageLost {
        page: String,
        expires_at: DateTime<Utc>,
    },
    DataAccessEnding {
        at: DateTime<Utc>,
    },
    MissingScopes(Vec<String>),
}

impl Problem {
    fn sentence(&self) -> String {
        match self {
            Problem::NotExtended { expires_at } => {
                format!("Facebook did not extend the login, which ends {}", day(*expires_at))
            }
            Problem::PageLost { page, .. } => {
                format!("the Facebook user no longer shares the Page `{page}` with urlinsta")
            }
            Problem::DataAccessEnding { at } => format!("Facebook data access ends {}", day(*at)),
            Problem::MissingScopes(scopes) => {
                format!("permissions missing: {}", scopes.join(", "))
            }
        }
    }

    /// The last moment a reconnect keeps the data flowing.
    fn deadline(&self) -> Option<DateTime<Utc>> {
        match self {
            Problem::NotExtended { expires_at } | Problem::PageLost { expires_at, .. } => Some(*expires_at),
            Problem::DataAccessEnding { at } => Some(*at),
            Problem::MissingScopes(_) => None,
        }
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("on %Y-%m-%d at %H:%M UTC").to_string()
}

/// What the connection needs, from what is known of its tokens: `None` when
/// nothing, else `reauth_required` with every reason and the earliest deadline.
fn assess(health: &TokenHealth, refresh_problem: Option<Problem>, now: DateTime<Utc>) -> Option<StatusChange> {
    let mut problems: Vec<Problem> = refresh_problem.into_iter().collect();
    if let Some(at) = health.data_access_expires_at.as_deref().and_then(parse_ts)
        && at < now + DATA_ACCESS_WINDOW
    {
        problems.push(Problem::DataAccessEnding { at });
    }
    let missing = oauth::missing_scopes(&health.granted_scopes);
    if !missing.is_empty() {
        problems.push(Problem::MissingScopes(missing));
    }
    if problems.is_empty() {
        return None;
    }
    let reason = problems.iter().map(Problem::sentence).collect::<Vec<_>>().join("; ");
    Some(StatusChange {
        status: TokenStatus::ReauthRequired,
        code: None,
        subcode: None,
        reason: Some(format!("{reason}: reconnect to keep the data flowing")),
        reconnect_by: problems.iter().filter_map(Problem::deadline).min().map(ts),
    })
}

/// The status an auth or permission error gives a connection.
fn status_change_for(err: &GraphError) -> StatusChange {
    let status = if err.kind == ErrorKind::Auth {
        TokenStatus::Invalid
    } else {
        TokenStatus::ReauthRequired
    };
    StatusChange {
        status,
        code: err.code,
        subcode: err.subcode,
        reason: Some(err.reason()),
        reconnect_by: None,
    }
}

// ---- the collection log ----

/// Writes this run's rows for one account.
struct RunLog<'a> {
    app: &'a App,
    ctx: &'a JobContext,
    account_id: i64,
}

impl RunLog<'_> {
    async fn write(
        &self,
        job_type: &str,
        status: LogStatus,
        error: Option<(Option<i64>, String)>,
        details: Option<serde_json::Value>,
        started_at: String,
    ) -> Result<(), StoreError> {
        let (error_code, error_message) = error.map_or((None, None), |(code, message)| (code, Some(message)));
        self.app
            .store
            .log_run(&LogEntry {
                account_id: Some(self.account_id),
                run_id: &self.ctx.run_id,
                job_type,
                status,
                error_code,
                error_message,
                details,
                started_at,
            })
            .await
    }

    async fn graph_error(&self, job_type: &str, e: &GraphError, started_at: String) -> Result<(), StoreError> {
        tracing::warn!(account_id = self.account_id, job_type, kind = e.kind.as_str(), error = %e, "token upkeep call failed");
        let details = serde_json::json!({ "kind": e.kind.as_str(), "subcode": e.subcode });
        self.write(
            job_type,
            LogStatus::Failed,
            Some((e.code, e.to_string())),
            Some(details),
            started_at,
        )
        .await
    }

    async fn superseded(&self, job_type: &str, started_at: String) -> Result<(), StoreError> {
        let note = "a reconnect stored newer tokens meanwhile; they stand".to_string();
        self.write(job_type, LogStatus::Skipped, Some((None, note)), None, started_at)
            .await
    }
}

// ---- invalidation from any call ----

/// Invalidation from any call: whatever made a Graph call for an account
/// hands its error here. Auth errors (190, 102) mark the connection `invalid`;
/// permission errors (10, 200-299) mark it `reauth_required`, naming the
/// permission, unless the tokens of `generation` (those the call used) have
/// been replaced since. Returns the new status when it changed.
pub async fn note_graph_error(app: &App, account_id: i64, generation: i64, err: &GraphError) -> Option<TokenStatus> {
    if !matches!(err.kind, ErrorKind::Auth | ErrorKind::Permission) {
        return None;
    }
    let change = status_change_for(err);
    // Only for the tokens that earned the error: a reconnect since then stands.
    match app.store.update_status(account_id, Some(generation), &change).await {
        Ok(StatusUpdate::Changed) => {
            tracing::warn!(account_id, status = change.status.as_str(), code = ?err.code, subcode = ?err.subcode, reason = %err.reason(), "connection status changed");
            Some(change.status)
        }
        Ok(_) => None,
        Err(e) => {
            tracing::error!(account_id, error = %e, "could not record the connection's new status");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(expires_in_days: i64, data_access_in_days: i64, scopes: &[&str]) -> TokenHealth {
        let now = Utc::now();
        TokenHealth {
            status: TokenStatus::Active,
            code: None,
            subcode: None,
            reason: None,
            reconnect_by: None,
            user_token_expires_at: Some(ts(now + chrono::Duration::days(expires_in_days))),
            data_access_expires_at: Some(ts(now + chrono::Duration::days(data_access_in_days))),
            granted_scopes: scopes.iter().map(|s| s.to_string()).collect(),
            last_checked_at: Some(ts(now)),
            last_refreshed_at: None,
            generation: 1,
        }
    }

    const ALL: &[&str] = &[
        "instagram_basic",
        "instagram_manage_insights",
        "pages_show_list",
        "pages_read_engagement",
    ];

    #[test]
    fn refresh_is_due_inside_ten_days_only() {
        let now = Utc::now();
        assert!(due_for_refresh(&health(9, 80, ALL), now).is_some());
        assert!(due_for_refresh(&health(11, 80, ALL), now).is_none());
        let mut never = health(0, 80, ALL);
        never.user_token_expires_at = None;
        assert!(due_for_refresh(&never, now).is_none());
    }

    #[test]
    fn checks_are_daily() {
        let now = Utc::now();
        assert!(is_stale(None, now));
        assert!(is_stale(Some(&ts(now - chrono::Duration::hours(25))), now));
        assert!(!is_stale(Some(&ts(now - chrono::Duration::hours(23))), now));
    }

    #[test]
    fn a_healthy_connection_needs_nothing() {
        assert_eq!(assess(&health(50, 80, ALL), None, Utc::now()).map(|c| c.status), None);
    }

    #[test]
    fn data_access_ending_within_two_weeks_asks_for_a_reconnect_by_then() {
        let h = health(50, 13, ALL);
        let change = assess(&h, None, Utc::now()).expect("reauth");
        assert_eq!(change.status, TokenStatus::ReauthRequired);
        assert_eq!(change.reconnect_by, h.data_access_expires_at);
        assert!(change.reason.unwrap_or_default().contains("data access ends"));
        assert!(assess(&health(50, 15, ALL), None, Utc::now()).is_none());
    }

    #[test]
    fn a_missing_scope_is_named() {
        let change = assess(
            &health(50, 80, &["instagram_basic", "pages_show_list"]),
            None,
            Utc::now(),
        )
        .expect("reauth");
        assert!(change.reason.unwrap_or_default().contains("instagram_manage_insights"));
        assert_eq!(change.reconnect_by, None);
    }

    #[test]
    fn the_earliest_deadline_wins() {
        let now = Utc::now();
        let h = health(5, 12, ALL);
        let expires = parse_ts(h.user_token_expires_at.as_deref().unwrap_or_default()).expect("ts");
        let change = assess(&h, Some(Problem::NotExtended { expires_at: expires }), now).expect("reauth");
        assert_eq!(change.reconnect_by, Some(ts(expires)));
        let reason = change.reason.unwrap_or_default();
        assert!(
            reason.contains("did not extend") && reason.contains("data access"),
            "{reason}"
        );
    }
}
