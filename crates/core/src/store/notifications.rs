//! The outbox of webhook events. Rows are written in the same transaction as
//! the status change they announce (see `accounts.rs`); these are the reads
//! and writes of their delivery.

use libsql::params;

use super::sql::now;
use super::values::{opt_instagram_user_id, opt_timestamp, timestamp};
use super::{Result, Store};
use crate::domain::{InstagramUserId, Timestamp};

/// An event waiting to be delivered.
#[derive(Debug, Clone)]
pub struct PendingNotification {
    pub id: i64,
    pub event: String,
    /// The exact JSON body to POST (and to sign).
    pub payload: String,
    /// Delivery attempts so far.
    pub attempts: i64,
}

/// One row of the outbox, for operators and tests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NotificationRecord {
    pub id: i64,
    pub instagram_user_id: Option<InstagramUserId>,
    pub event: String,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub attempts: i64,
    pub next_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

impl Store {
    /// Undelivered events whose next attempt is due, oldest first.
    pub async fn due_notifications(&self, limit: i64) -> Result<Vec<PendingNotification>> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT id, event, payload, attempts FROM notifications
                 WHERE delivered_at IS NULL AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?1
                 ORDER BY id LIMIT ?2",
                params![now(), limit],
            )
            .await?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().await? {
            out.push(PendingNotification {
                id: r.get(0)?,
                event: r.get(1)?,
                payload: r.get(2)?,
                attempts: r.get(3)?,
            });
        }
        Ok(out)
    }

    pub async fn mark_notification_delivered(&self, id: i64) -> Result<()> {
        let conn = self.writer().await?;
        conn.execute(
            "UPDATE notifications SET delivered_at = ?1, attempts = attempts + 1, next_attempt_at = NULL, last_error = NULL
             WHERE id = ?2",
            params![now(), id],
        )
        .await?;
        Ok(())
    }

    /// Counts a failed attempt; `next_attempt_at` None gives up on the event.
    pub async fn mark_notification_failed(
        &self,
        id: i64,
        next_attempt_at: Option<Timestamp>,
        error: &str,
    ) -> Result<()> {
        let conn = self.writer().await?;
        conn.execute(
            "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?1, last_error = ?2 WHERE id = ?3",
            params![next_attempt_at.map(|t| t.to_string()), error, id],
        )
        .await?;
        Ok(())
    }

    /// The most recent events (newest first).
    pub async fn recent_notifications(&self, limit: i64) -> Result<Vec<NotificationRecord>> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT id, instagram_user_id, event, created_at, delivered_at, attempts, next_attempt_at, last_error
                 FROM notifications ORDER BY id DESC LIMIT ?1",
                [limit],
            )
            .await?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().await? {
            out.push(NotificationRecord {
                id: r.get(0)?,
                instagram_user_id: opt_instagram_user_id(&r, 1)?,
                event: r.get(2)?,
                created_at: timestamp(&r, 3)?,
                delivered_at: opt_timestamp(&r, 4)?,
                attempts: r.get(5)?,
                next_attempt_at: opt_timestamp(&r, 6)?,
                last_error: r.get(7)?,
            });
        }
        Ok(out)
    }
}
