//! Keeping connections alive: the refresh-tokens job, daily health checks,
//! invalidation from any call, and notifications. (Issue: "Keep every connection alive".)

use serde::Serialize;

use crate::app::App;
use crate::graph::{ErrorKind, GraphError};
use crate::jobs::{JobContext, JobError};
use crate::store::{StatusChange, TokenStatus};

#[derive(Debug, Default, Serialize)]
pub struct RefreshReport {
    pub refreshed: usize,
    pub failed: usize,
    pub reauth_required: usize,
    pub invalid: usize,
    pub checked: usize,
    pub duration_ms: u64,
}

pub async fn run(_app: &App, ctx: &JobContext) -> Result<RefreshReport, JobError> {
    Ok(RefreshReport {
        duration_ms: ctx.elapsed_ms(),
        ..Default::default()
    })
}

/// Invalidation from any call: whatever made a Graph call for an account
/// hands its error here. Auth errors (190, 102) mark the connection `invalid`;
/// permission errors (10, 200-299) mark it `reauth_required`, naming the
/// permission. Returns the new status when it changed.
pub async fn note_graph_error(app: &App, account_id: i64, err: &GraphError) -> Option<TokenStatus> {
    let status = match err.kind {
        ErrorKind::Auth => TokenStatus::Invalid,
        ErrorKind::Permission => TokenStatus::ReauthRequired,
        _ => return None,
    };
    let change = StatusChange {
        status,
        code: err.code,
        subcode: err.subcode,
        reason: Some(err.reason()),
        reconnect_by: None,
    };
    match app.store.set_status(account_id, &change).await {
        Ok(true) => {
            tracing::warn!(account_id, status = status.as_str(), code = ?err.code, subcode = ?err.subcode, reason = %err.reason(), "connection status changed");
            Some(status)
        }
        Ok(false) => None,
        Err(e) => {
            tracing::error!(account_id, error = %e, "could not record the connection's new status");
            None
        }
    }
}
