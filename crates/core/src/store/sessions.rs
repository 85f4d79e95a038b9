//! Browser sessions: which accounts a session may see, and until when.
//! Rows are keyed by the SHA-256 of the cookie's id, never the id itself.

use chrono::{DateTime, Utc};
use libsql::params;
use sha2::{Digest, Sha256};

use super::sql::{parse_ts, ts};
use super::values::opt_instagram_user_id;
use super::{Conn, Result, Store, StoreError};
use crate::domain::InstagramUserId;
use crate::secret::SessionId;

/// A live session as stored.
#[derive(Debug, Clone)]
pub struct StoredSession {
    /// The Instagram ids it may see, in the order they were connected.
    pub accounts: Vec<InstagramUserId>,
    pub expires_at: DateTime<Utc>,
}

fn key(id: &SessionId) -> String {
    hex::encode(Sha256::digest(id.expose().as_bytes()))
}

impl Store {
    /// Opens session `id` until `expires_at` with the accounts of `previous`
    /// (if it is still live; it ends here) and `instagram_user_ids`, in one
    /// transaction. Expired sessions are swept on the way (and daily, see
    /// [`Store::delete_expired_sessions`]).
    pub async fn open_session(
        &self,
        id: &SessionId,
        previous: Option<&SessionId>,
        instagram_user_ids: &[InstagramUserId],
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let now = ts(Utc::now());
        let new = key(id);
        let conn = self.writer().await?;
        let tx = conn.transaction().await?;
        delete_expired(&tx, &now).await?;
        tx.execute(
            "INSERT INTO sessions (id, created_at, expires_at) VALUES (?1, ?2, ?3)",
            params![new.as_str(), now.as_str(), ts(expires_at)],
        )
        .await?;
        if let Some(previous) = previous.map(key) {
            tx.execute(
                "INSERT OR IGNORE INTO session_accounts (session_id, user_id)
                 SELECT ?1, user_id FROM session_accounts WHERE session_id = ?2 ORDER BY user_id",
                params![new.as_str(), previous.as_str()],
            )
            .await?;
            tx.execute(
                "DELETE FROM session_accounts WHERE session_id = ?1",
                [previous.as_str()],
            )
            .await?;
            tx.execute("DELETE FROM sessions WHERE id = ?1", [previous.as_str()])
                .await?;
        }
        for ig in instagram_user_ids {
            tx.execute(
                "INSERT OR IGNORE INTO session_accounts (session_id, user_id)
                 SELECT ?1, id FROM users WHERE instagram_user_id = ?2",
                params![new.as_str(), ig.as_str()],
            )
            .await?;
        }
        tx.commit().await
    }

    /// Deletes the sessions expired at `now`, with their grants; how many.
    pub async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let conn = self.writer().await?;
        let tx = conn.transaction().await?;
        let deleted = delete_expired(&tx, &ts(now)).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    /// The session, if it exists and has not expired at `now`.
    pub async fn session(&self, id: &SessionId, now: DateTime<Utc>) -> Result<Option<StoredSession>> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT s.expires_at, u.instagram_user_id FROM sessions s
                 LEFT JOIN session_accounts sa ON sa.session_id = s.id
                 LEFT JOIN users u ON u.id = sa.user_id
                 WHERE s.id = ?1 AND s.expires_at > ?2
                 ORDER BY u.id",
                params![key(id), ts(now)],
            )
            .await?;
        let mut session: Option<StoredSession> = None;
        while let Some(row) = rows.next().await? {
            let expires: String = row.get(0)?;
            let expires_at =
                parse_ts(&expires).ok_or_else(|| StoreError::Corrupt(format!("session expiry `{expires}`")))?;
            let s = session.get_or_insert_with(|| StoredSession {
                accounts: Vec::new(),
                expires_at,
            });
            s.accounts.extend(opt_instagram_user_id(&row, 1)?);
        }
        Ok(session)
    }

    /// Moves a live session's expiry to `expires_at`.
    pub async fn extend_session(&self, id: &SessionId, expires_at: DateTime<Utc>) -> Result<()> {
        self.writer()
            .await?
            .execute(
                "UPDATE sessions SET expires_at = ?2 WHERE id = ?1",
                params![key(id), ts(expires_at)],
            )
            .await?;
        Ok(())
    }

    /// Ends a session; false when there was none.
    pub async fn end_session(&self, id: &SessionId) -> Result<bool> {
        let id = key(id);
        let conn = self.writer().await?;
        let tx = conn.transaction().await?;
        tx.execute("DELETE FROM session_accounts WHERE session_id = ?1", [id.as_str()])
            .await?;
        let ended = tx.execute("DELETE FROM sessions WHERE id = ?1", [id.as_str()]).await?;
        tx.commit().await?;
        Ok(ended > 0)
    }
}

/// Deletes the sessions expired at `now`, inside the caller's transaction;
/// how many. Explicit deletes: a hosted connection may not enforce foreign keys.
async fn delete_expired(tx: &Conn, now: &str) -> Result<u64> {
    tx.execute(
        "DELETE FROM session_accounts WHERE session_id IN (SELECT id FROM sessions WHERE expires_at <= ?1)",
        [now],
    )
    .await?;
    tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now]).await
}
