//! A connection's status (`active`, `reauth_required`, `invalid`): the
//! rules every writer of it follows, once, and the webhook event each
//! transition queues in the same transaction.

use serde::{Deserialize, Serialize};

use super::sql::{now, opt_int, opt_text, opt_time, text};
use super::values::{instagram_user_id, login};
use super::{Result, Store, StoreError};
use crate::domain::{InstagramUserId, Login, Timestamp};

/// The health of a connection, as influencers and operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    Active,
    ReauthRequired,
    Invalid,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::ReauthRequired => "reauth_required",
            TokenStatus::Invalid => "invalid",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(TokenStatus::Active),
            "reauth_required" => Ok(TokenStatus::ReauthRequired),
            "invalid" => Ok(TokenStatus::Invalid),
            other => Err(StoreError::Corrupt(format!("token status `{other}`"))),
        }
    }
}

/// A change of a connection's status, stored together with its webhook event.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub status: TokenStatus,
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub reason: Option<String>,
    pub reconnect_by: Option<Timestamp>,
}

impl StatusChange {
    /// Back to `active`, nothing to report.
    pub fn active() -> Self {
        StatusChange {
            status: TokenStatus::Active,
            code: None,
            subcode: None,
            reason: None,
            reconnect_by: None,
        }
    }
}

/// What [`Store::update_status`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusUpdate {
    /// The status changed and its event was queued.
    Changed,
    /// No transition, no event: the connection is (still) in this status.
    Unchanged(TokenStatus),
    /// Nothing written: the account is gone or its tokens were replaced since.
    Stale,
}

/// What a status change does to a connection now in `status` (set with
/// `code`). Two rules keep the status honest whoever writes it: an `invalid`
/// connection stays invalid until a reconnect, and a status a Graph error
/// set (it carries a code) is not replaced by a verdict without a code,
/// except by `invalid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// Nothing is written: the rules keep the status as it is.
    Kept,
    /// The same status, its code and reason written again; no event.
    Rewritten,
    /// A new status, dated, with its webhook event.
    Transition,
}

impl Effect {
    pub(super) fn of(status: TokenStatus, code: Option<i64>, change: &StatusChange) -> Effect {
        let kept = (status == TokenStatus::Invalid && change.status != TokenStatus::Invalid)
            || (change.status != TokenStatus::Invalid && change.code.is_none() && code.is_some());
        match (kept, status == change.status) {
            (true, _) => Effect::Kept,
            (false, true) => Effect::Rewritten,
            (false, false) => Effect::Transition,
        }
    }

    /// What the caller of a write with this effect learns.
    pub(super) fn update(self, status: TokenStatus) -> StatusUpdate {
        match self {
            Effect::Transition => StatusUpdate::Changed,
            Effect::Kept | Effect::Rewritten => StatusUpdate::Unchanged(status),
        }
    }
}

/// The assignments of `UPDATE tokens SET ...` that write `change` (a
/// transition also dates it).
pub(super) fn status_sets(change: &StatusChange, transition: bool, now: &str) -> Vec<String> {
    let mut sets = vec![
        format!("status = {}", text(change.status.as_str())),
        format!("status_code = {}", opt_int(change.code)),
        format!("status_subcode = {}", opt_int(change.subcode)),
        format!("status_reason = {}", opt_text(change.reason.as_deref())),
        format!("reconnect_by = {}", opt_time(change.reconnect_by)),
        format!("updated_at = {}", text(now)),
    ];
    if transition {
        sets.push(format!("status_changed_at = {}", text(now)));
    }
    sets
}

impl Store {
    /// Moves a connection to a new status. When the status really changes, the
    /// webhook event is queued in the same transaction (one event per
    /// transition, never one per run). Returns whether it changed.
    pub async fn set_status(&self, account_id: i64, change: &StatusChange) -> Result<bool> {
        Ok(self.update_status(account_id, None, change).await? == StatusUpdate::Changed)
    }

    /// [`Store::set_status`], and only while the tokens are those read at
    /// `expected_generation` (when given): a verdict about tokens that a
    /// reconnect has replaced says nothing about the new ones. The rules of
    /// [`Effect`] decide what is written.
    pub async fn update_status(
        &self,
        account_id: i64,
        expected_generation: Option<i64>,
        change: &StatusChange,
    ) -> Result<StatusUpdate> {
        let conn = self.writer().await?;
        let tx = conn.transaction().await?;
        let current = {
            let mut rows = tx
                .query(
                    "SELECT t.status, t.status_code, t.generation, u.instagram_user_id, u.instagram_username, t.login
                     FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.user_id = ?1",
                    [account_id],
                )
                .await?;
            match rows.next().await? {
                Some(row) => Some((
                    TokenStatus::parse(&row.get::<String>(0)?)?,
                    row.get::<Option<i64>>(1)?,
                    row.get::<i64>(2)?,
                    instagram_user_id(&row, 3)?,
                    row.get::<Option<String>>(4)?,
                    login(&row, 5)?,
                )),
                None => None,
            }
        };
        let Some((status, code, generation, ig_id, username, login)) = current else {
            return Ok(StatusUpdate::Stale);
        };
        if expected_generation.is_some_and(|g| g != generation) {
            return Ok(StatusUpdate::Stale);
        }
        let effect = Effect::of(status, code, change);
        if effect == Effect::Kept {
            return Ok(effect.update(status));
        }
        let transition = effect == Effect::Transition;
        let mut sql = format!(
            "UPDATE tokens SET {} WHERE user_id = {account_id};\n",
            status_sets(change, transition, &now()).join(", ")
        );
        if transition {
            sql.push_str(&event_sql(account_id, &ig_id, username.as_deref(), login, change));
        }
        tx.execute_batch(&sql).await?;
        tx.commit().await?;
        Ok(effect.update(status))
    }
}

/// The SQL that queues one webhook event for a status transition of a
/// connection collected through `login` (the event says which, so that a
/// receiver knows where the person must log in again).
pub(super) fn event_sql(
    account_id: i64,
    instagram_user_id: &InstagramUserId,
    username: Option<&str>,
    login: Login,
    change: &StatusChange,
) -> String {
    let event = match change.status {
        TokenStatus::Active => "connection.restored",
        TokenStatus::ReauthRequired => "connection.reauth_required",
        TokenStatus::Invalid => "connection.invalid",
    };
    let created_at = now();
    let payload = serde_json::json!({
        "id": crate::crypto::random_token(12),
        "type": event,
        "created_at": created_at,
        "account": { "instagram_user_id": instagram_user_id, "username": username },
        "login": login,
        "token_status": change.status.as_str(),
        "code": change.code,
        "subcode": change.subcode,
        "reason": change.reason,
        "reconnect_by": change.reconnect_by,
    });
    format!(
        "INSERT INTO notifications (user_id, instagram_user_id, event, payload, created_at, next_attempt_at) VALUES ({}, {}, {}, {}, {}, {});",
        account_id,
        text(instagram_user_id.as_str()),
        text(event),
        text(&payload.to_string()),
        text(&created_at),
        text(&created_at)
    )
}

#[cfg(test)]
mod tests {
    use super::super::accounts::tests::{connection, store};
    use super::*;

    fn change(status: TokenStatus, code: Option<i64>) -> StatusChange {
        StatusChange {
            status,
            code,
            subcode: None,
            reason: Some(format!("{status:?} {code:?}")),
            reconnect_by: None,
        }
    }

    async fn status(store: &Store, id: i64) -> (TokenStatus, Option<i64>) {
        let a = store.account_by_id(id).await.unwrap().unwrap();
        (a.token.status, a.token.code)
    }

    #[tokio::test]
    async fn status_changes_follow_the_rules_and_queue_one_event_each() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let id = store.upsert_connection(&connection()).await.unwrap().account_id;
        let generation = store.tokens(id).await.unwrap().unwrap().generation;
        use StatusUpdate::*;
        use TokenStatus::*;

        // A permission error from a call: reauth_required, with its code.
        assert_eq!(
            store
                .update_status(id, None, &change(ReauthRequired, Some(10)))
                .await
                .unwrap(),
            Changed
        );
        assert_eq!(
            store
                .update_status(id, None, &change(ReauthRequired, Some(10)))
                .await
                .unwrap(),
            Unchanged(ReauthRequired)
        );
        // The job's own verdicts (no code) do not undo what a Graph error said.
        assert_eq!(
            store
                .update_status(id, Some(generation), &change(Active, None))
                .await
                .unwrap(),
            Unchanged(ReauthRequired)
        );
        assert_eq!(status(&store, id).await, (ReauthRequired, Some(10)));
        // A verdict about tokens a reconnect replaced is not written.
        assert_eq!(
            store
                .update_status(id, Some(generation + 1), &change(Invalid, Some(190)))
                .await
                .unwrap(),
            Stale
        );
        // Invalid stays invalid until a reconnect.
        assert_eq!(
            store
                .update_status(id, Some(generation), &change(Invalid, Some(190)))
                .await
                .unwrap(),
            Changed
        );
        assert_eq!(
            store
                .update_status(id, None, &change(ReauthRequired, Some(200)))
                .await
                .unwrap(),
            Unchanged(Invalid)
        );
        assert_eq!(status(&store, id).await, (Invalid, Some(190)));

        let again = store.upsert_connection(&connection()).await.unwrap();
        assert_eq!(again.previous_status, Some(Invalid));
        assert_eq!(status(&store, id).await, (Active, None));
        assert_eq!(store.tokens(id).await.unwrap().unwrap().generation, generation + 1);
        let events: Vec<String> = store
            .recent_notifications(10)
            .await
            .unwrap()
            .into_iter()
            .rev()
            .map(|n| n.event)
            .collect();
        assert_eq!(
            events,
            [
                "connection.reauth_required",
                "connection.invalid",
                "connection.restored"
            ]
        );
    }
}
