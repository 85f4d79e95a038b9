//! Receipts of Meta's data deletion callbacks, looked up by confirmation code.

use serde::Serialize;

use super::values::{opt_timestamp, timestamp};
use super::{Result, Store};
use crate::domain::Timestamp;

/// A deletion request as its status page shows it (never the Facebook user id).
#[derive(Debug, Clone, Serialize)]
pub struct DeletionRequest {
    pub confirmation_code: String,
    /// `deauthorize` or `data_deletion`.
    pub source: String,
    pub status: String,
    pub accounts_deleted: i64,
    pub requested_at: Timestamp,
    pub completed_at: Option<Timestamp>,
}

impl Store {
    pub async fn deletion_request(&self, confirmation_code: &str) -> Result<Option<DeletionRequest>> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT confirmation_code, source, status, accounts_deleted, requested_at, completed_at
                 FROM deletion_requests WHERE confirmation_code = ?1",
                [confirmation_code],
            )
            .await?;
        let Some(row) = rows.next().await? else {
            return Ok(None);
        };
        Ok(Some(DeletionRequest {
            confirmation_code: row.get(0)?,
            source: row.get(1)?,
            status: row.get(2)?,
            accounts_deleted: row.get(3)?,
            requested_at: timestamp(&row, 4)?,
            completed_at: opt_timestamp(&row, 5)?,
        }))
    }
}
