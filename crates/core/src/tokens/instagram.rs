//! An Instagram-login connection's upkeep: renewed on Instagram's host when
//! its token nears its end (and is a day old), else checked there once a
//! day (`instagram::renew`). What it learned is written like a Facebook
//! login's, at once ([`finish`]): one database round trip per account.

use tokio::time::Instant;

use super::verdict::status_change_for;
use super::{JOB_CHECK, JOB_REFRESH, Logbook, Upkeep, finish, is_stale};
use crate::app::App;
use crate::domain::Timestamp;
use crate::engine::Run;
use crate::graph::{ErrorKind, GraphError};
use crate::instagram::renew;
use crate::oauth::ConnectError;
use crate::store::{
    CheckedToken, LogEntry, LogStatus, RenewedTokens, StatusChange, StoreError, TokenStatus, UpkeepCandidate,
    UpkeepRecord,
};

/// How long one account's upkeep may spend on Instagram's hosts.
const BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

pub(super) async fn upkeep(app: &App, run: &Run, candidate: &UpkeepCandidate) -> Result<Upkeep, StoreError> {
    let account = &candidate.account;
    let token = app.store.open_tokens(candidate)?.user_token;
    let log = Logbook {
        run,
        account_id: account.id,
    };
    let mut out = Upkeep::default();
    let mut record = UpkeepRecord::default();
    let now = run.utc_now();
    let deadline = Some((Instant::now() + BUDGET).min(run.deadline));
    let window = (app.config.instagram.as_ref()).map_or(chrono::Duration::zero(), |ig| {
        chrono::Duration::days(ig.renew_before_days)
    });
    let started = Timestamp::from(now);

    if renew::due(account, window, now) {
        match renew::renew(app, &token, deadline).await {
            Ok(renewed) => {
                let expires_at = renewed.expires_at.map(Timestamp::from);
                let details = serde_json::json!({ "user_token_expires_at": expires_at, "login": "instagram" });
                record
                    .log
                    .push(log.entry(JOB_REFRESH, LogStatus::Success, None, Some(details), started));
                // The same token in both columns, as the login stored it.
                record.renewed = Some(RenewedTokens {
                    user_token: renewed.token.clone(),
                    user_token_expires_at: expires_at,
                    page_token: renewed.token,
                });
                // A renewal proves the token works.
                out.refreshed = true;
                out.checked = true;
                record.status = revived(account.token.status);
            }
            Err(e) => judge(&mut out, &mut record, log.graph_error(JOB_REFRESH, &e, started), &e),
        }
    } else if is_stale(account.token.last_checked_at, now) {
        match renew::check(app, &token, deadline).await {
            Ok(()) => {
                out.checked = true;
                record
                    .log
                    .push(log.entry(JOB_CHECK, LogStatus::Success, None, None, started));
                record.checked = Some(CheckedToken {
                    user_token_expires_at: account.token.user_token_expires_at,
                    data_access_expires_at: None,
                    granted_scopes: account.token.granted_scopes.clone(),
                });
                // A permission Meta withdrew (a code) is not proven back by `/me`.
                if account.token.code.is_none() {
                    record.status = revived(account.token.status);
                }
            }
            Err(ConnectError::Graph(e)) => {
                out.checked = true;
                judge(&mut out, &mut record, log.graph_error(JOB_CHECK, &e, started), &e);
            }
            Err(ConnectError::Store(e)) => return Err(e),
            // The path was switched off meanwhile: nothing checked, nothing judged.
            Err(_) => out.failed = true,
        }
    }
    finish(app, &log, candidate, record, out).await
}

/// A working token makes a connection that was not `active` active again.
fn revived(status: TokenStatus) -> Option<StatusChange> {
    (status != TokenStatus::Active).then(StatusChange::active)
}

/// What Meta's refusal says: about the token (auth, permission) it sets the
/// status; anything else fails this run's upkeep, and the next run tries again.
fn judge<'a>(out: &mut Upkeep, record: &mut UpkeepRecord<'a>, entry: LogEntry<'a>, e: &GraphError) {
    record.log.push(entry);
    if matches!(e.kind, ErrorKind::Auth | ErrorKind::Permission) {
        record.status = Some(status_change_for(e));
    } else {
        out.failed = true;
    }
}
