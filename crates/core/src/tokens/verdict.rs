//! What a connection needs, from what its upkeep learned (a login Meta
//! would not extend, data access ending, a permission missing), and what a
//! Graph error anywhere says about it (invalidation from any call).

use chrono::{DateTime, Utc};

use super::DATA_ACCESS_WINDOW;
use crate::app::App;
use crate::domain::Timestamp;
use crate::graph::{ErrorKind, GraphError};
use crate::oauth;
use crate::store::{StatusChange, StatusUpdate, TokenHealth, TokenStatus};

/// Why a connection needs its user to log in again.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Problem {
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
    pub(super) fn sentence(&self) -> String {
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
pub(super) fn assess(
    health: &TokenHealth,
    refresh_problem: Option<Problem>,
    now: DateTime<Utc>,
) -> Option<StatusChange> {
    let mut problems: Vec<Problem> = refresh_problem.into_iter().collect();
    if let Some(at) = health.data_access_expires_at.map(Timestamp::to_datetime)
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
        reconnect_by: problems.iter().filter_map(Problem::deadline).min().map(Timestamp::from),
    })
}

/// The status an auth or permission error gives a connection.
pub(super) fn status_change_for(err: &GraphError) -> StatusChange {
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
pub(crate) mod tests {
    use super::*;

    pub(crate) fn health(expires_in_days: i64, data_access_in_days: i64, scopes: &[&str]) -> TokenHealth {
        let now = Utc::now();
        TokenHealth {
            status: TokenStatus::Active,
            code: None,
            subcode: None,
            reason: None,
            reconnect_by: None,
            user_token_expires_at: Some(Timestamp::from(now + chrono::Duration::days(expires_in_days))),
            data_access_expires_at: Some(Timestamp::from(now + chrono::Duration::days(data_access_in_days))),
            granted_scopes: scopes.iter().map(|s| s.to_string()).collect(),
            last_checked_at: Some(Timestamp::from(now)),
            last_refreshed_at: None,
            generation: 1,
        }
    }

    pub(crate) const ALL: &[&str] = &[
        "instagram_basic",
        "instagram_manage_insights",
        "pages_show_list",
        "pages_read_engagement",
    ];

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
        let expires = h.user_token_expires_at.expect("an expiry");
        let change = assess(
            &h,
            Some(Problem::NotExtended {
                expires_at: expires.to_datetime(),
            }),
            now,
        )
        .expect("reauth");
        assert_eq!(change.reconnect_by, Some(expires));
        let reason = change.reason.unwrap_or_default();
        assert!(
            reason.contains("did not extend") && reason.contains("data access"),
            "{reason}"
        );
    }
}
