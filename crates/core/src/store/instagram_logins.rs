//! Connections made through Instagram Login. The account's `tokens` row
//! holds the token that collects and its health, with `login` saying which
//! login it came from; `instagram_logins` remembers the Instagram-scoped id
//! that Meta's Instagram deauthorize and deletion callbacks name.

use libsql::params;

use super::accounts::{delete_account_rows, login_stored, returned_id, status_before};
use super::connections::{PAGE_TOKEN, USER_TOKEN};
use super::sql::now;
use super::{Connected, Result, Store};
use crate::domain::{InstagramUserId, Timestamp};
use crate::secret::AccessToken;

pub use crate::domain::Login;

/// An Instagram-login connection as the callback found it, the token in the clear.
#[derive(Debug, Clone)]
pub struct NewInstagramLogin {
    /// The professional account id, the same Facebook Login's path knows.
    pub instagram_user_id: InstagramUserId,
    /// The Instagram-scoped user id Meta's callbacks name.
    pub instagram_scoped_id: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub followers_count: Option<i64>,
    pub token: AccessToken,
    pub token_expires_at: Option<Timestamp>,
    pub granted_scopes: Vec<String>,
}

impl Store {
    /// Stores an Instagram-login connection: the account is created or
    /// updated in place (its Page details kept), the token becomes the one
    /// that collects (`login = 'instagram'`), the generation is bumped and
    /// `active` restored, with a recovery event when it was not active.
    pub async fn upsert_instagram_login(&self, c: &NewInstagramLogin) -> Result<Connected> {
        let conn = self.writer().await?;
        let tx = conn.transaction().await?;
        let now = now();
        let previous = status_before(&tx, &c.instagram_user_id).await?;
        let rows = tx
            .query(
                "INSERT INTO users (instagram_user_id, instagram_username, instagram_name, followers_count, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (instagram_user_id) DO UPDATE SET
                    instagram_username = COALESCE(excluded.instagram_username, users.instagram_username),
                    instagram_name = COALESCE(excluded.instagram_name, users.instagram_name),
                    followers_count = COALESCE(excluded.followers_count, users.followers_count),
                    updated_at = excluded.updated_at
                 RETURNING id",
                params![
                    c.instagram_user_id.as_str(),
                    c.username.clone(),
                    c.name.clone(),
                    c.followers_count,
                    now.as_str()
                ],
            )
            .await?;
        let account_id = returned_id(rows).await?;
        // The same token in both columns: every reader finds the token it needs.
        tx.execute(
            "INSERT INTO tokens (user_id, user_access_token, user_token_expires_at, page_access_token, data_access_expires_at,
                                 granted_scopes, status, login, last_refreshed_at, last_checked_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, NULL, ?5, 'active', 'instagram', ?6, ?6, ?6, ?6)
             ON CONFLICT (user_id) DO UPDATE SET
                user_access_token = excluded.user_access_token, user_token_expires_at = excluded.user_token_expires_at,
                page_access_token = excluded.page_access_token, data_access_expires_at = NULL,
                granted_scopes = excluded.granted_scopes, status = 'active', login = 'instagram',
                status_code = NULL, status_subcode = NULL, status_reason = NULL, reconnect_by = NULL,
                status_changed_at = CASE WHEN tokens.status = 'active' THEN tokens.status_changed_at ELSE excluded.updated_at END,
                generation = tokens.generation + 1, last_refreshed_at = excluded.last_refreshed_at,
                last_checked_at = excluded.last_checked_at, updated_at = excluded.updated_at",
            params![
                account_id,
                self.keys.encrypt(c.token.expose(), USER_TOKEN),
                c.token_expires_at.map(|t| t.to_string()),
                self.keys.encrypt(c.token.expose(), PAGE_TOKEN),
                c.granted_scopes.join(","),
                now.as_str()
            ],
        )
        .await?;
        tx.execute(
            "INSERT INTO instagram_logins (user_id, instagram_scoped_id, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
             ON CONFLICT (user_id) DO UPDATE SET instagram_scoped_id = excluded.instagram_scoped_id, updated_at = excluded.updated_at",
            params![account_id, c.instagram_scoped_id.as_str(), now.as_str()],
        )
        .await?;
        login_stored(
            tx,
            account_id,
            &c.instagram_user_id,
            c.username.as_deref(),
            Login::Instagram,
            previous,
        )
        .await
    }

    /// Deletes every account connected with this Instagram-scoped id, with
    /// everything collected for them, and records the request under its
    /// confirmation code, in one transaction. Returns how many were deleted.
    pub async fn delete_instagram_user(&self, scoped_id: &str, confirmation_code: &str, source: &str) -> Result<usize> {
        let conn = self.writer().await?;
        let tx = conn.transaction().await?;
        let mut ids = Vec::new();
        {
            let mut rows = tx
                .query(
                    "SELECT user_id FROM instagram_logins WHERE instagram_scoped_id = ?1",
                    [scoped_id],
                )
                .await?;
            while let Some(row) = rows.next().await? {
                ids.push(row.get::<i64>(0)?);
            }
        }
        for id in &ids {
            delete_account_rows(&tx, *id).await?;
        }
        // The receipt table names the user in `facebook_user_id`; here it is the scoped id.
        tx.execute(
            "INSERT INTO deletion_requests (confirmation_code, facebook_user_id, source, accounts_deleted, status, requested_at, completed_at)
             VALUES (?1, ?2, ?3, ?4, 'completed', ?5, ?5)",
            params![confirmation_code, scoped_id, source, ids.len() as i64, now()],
        )
        .await?;
        tx.commit().await?;
        Ok(ids.len())
    }
}
