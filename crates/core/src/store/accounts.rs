//! Connected accounts: storing a connection made through a login, reading
//! accounts, deleting them with everything collected for them. Their tokens
//! and health are in `connections`.

use libsql::{Row, params};
use serde::Serialize;

use super::connections::{PAGE_TOKEN, TokenHealth, USER_TOKEN};
use super::sql::now;
use super::status::{StatusChange, TokenStatus, event_sql};
use super::values::{instagram_user_id, login, opt_timestamp, timestamp};
use super::{Conn, Login, Result, Rows, Store, StoreError, Tx};
use crate::domain::{InstagramUserId, Timestamp};
use crate::secret::AccessToken;

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    #[serde(skip)]
    pub id: i64,
    pub instagram_user_id: InstagramUserId,
    pub username: Option<String>,
    pub name: Option<String>,
    pub facebook_page_id: Option<String>,
    pub facebook_page_name: Option<String>,
    pub facebook_user_id: Option<String>,
    pub followers_count: Option<i64>,
    /// The login whose token collects this account.
    pub login: Login,
    pub token: TokenHealth,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A connection as the OAuth callback found it, tokens in the clear.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub instagram_user_id: InstagramUserId,
    pub username: Option<String>,
    pub name: Option<String>,
    pub facebook_page_id: String,
    pub facebook_page_name: String,
    pub facebook_user_id: Option<String>,
    pub followers_count: Option<i64>,
    pub user_token: AccessToken,
    pub user_token_expires_at: Option<Timestamp>,
    pub page_token: AccessToken,
    pub data_access_expires_at: Option<Timestamp>,
    pub granted_scopes: Vec<String>,
}

/// What a reconnect found before it wrote.
#[derive(Debug, Clone)]
pub struct Connected {
    pub account_id: i64,
    pub previous_status: Option<TokenStatus>,
}

/// The columns [`account_from_row`] reads, from [`ACCOUNT_TABLES`].
pub(super) const ACCOUNT_COLUMNS: &str =
    "u.id, u.instagram_user_id, u.instagram_username, u.instagram_name, u.facebook_page_id,
        u.facebook_page_name, u.facebook_user_id, u.followers_count, u.created_at, u.updated_at,
        t.status, t.status_code, t.status_subcode, t.status_reason, t.reconnect_by, t.user_token_expires_at,
        t.data_access_expires_at, t.granted_scopes, t.last_checked_at, t.last_refreshed_at, t.generation, t.login";
pub(super) const ACCOUNT_TABLES: &str = "users u JOIN tokens t ON t.user_id = u.id";

pub(super) fn account_from_row(row: &Row) -> Result<Account> {
    let scopes: String = row.get(17)?;
    Ok(Account {
        id: row.get(0)?,
        instagram_user_id: instagram_user_id(row, 1)?,
        username: row.get(2)?,
        name: row.get(3)?,
        facebook_page_id: row.get(4)?,
        facebook_page_name: row.get(5)?,
        facebook_user_id: row.get(6)?,
        followers_count: row.get(7)?,
        created_at: timestamp(row, 8)?,
        updated_at: timestamp(row, 9)?,
        login: login(row, 21)?,
        token: TokenHealth {
            status: TokenStatus::parse(&row.get::<String>(10)?)?,
            code: row.get(11)?,
            subcode: row.get(12)?,
            reason: row.get(13)?,
            reconnect_by: opt_timestamp(row, 14)?,
            user_token_expires_at: opt_timestamp(row, 15)?,
            data_access_expires_at: opt_timestamp(row, 16)?,
            granted_scopes: scopes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            last_checked_at: opt_timestamp(row, 18)?,
            last_refreshed_at: opt_timestamp(row, 19)?,
            generation: row.get(20)?,
        },
    })
}

pub(super) async fn collect_accounts(
    conn: &Conn,
    where_sql: &str,
    params: impl libsql::params::IntoParams,
) -> Result<Vec<Account>> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNT_TABLES} {where_sql}");
    let mut rows = conn.query(&sql, params).await?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(account_from_row(&row)?);
    }
    Ok(out)
}

/// The status of the account's connection before a login stores a new one
/// (None: a new account), read in the login's transaction.
pub(super) async fn status_before(tx: &Conn, instagram_user_id: &InstagramUserId) -> Result<Option<TokenStatus>> {
    let mut rows = tx
        .query(
            "SELECT t.status FROM users u JOIN tokens t ON t.user_id = u.id WHERE u.instagram_user_id = ?1",
            [instagram_user_id.as_str()],
        )
        .await?;
    match rows.next().await? {
        Some(row) => Ok(Some(TokenStatus::parse(&row.get::<String>(0)?)?)),
        None => Ok(None),
    }
}

/// The id of the account `instagram_user_id`, if it is connected.
pub(super) async fn account_id(conn: &Conn, instagram_user_id: &InstagramUserId) -> Result<Option<i64>> {
    let mut rows = conn
        .query(
            "SELECT id FROM users WHERE instagram_user_id = ?1",
            [instagram_user_id.as_str()],
        )
        .await?;
    match rows.next().await? {
        Some(row) => Ok(Some(row.get(0)?)),
        None => Ok(None),
    }
}

/// The account id an upsert's `RETURNING id` gave.
pub(super) async fn returned_id(mut rows: Rows) -> Result<i64> {
    match rows.next().await? {
        Some(row) => Ok(row.get(0)?),
        None => Err(StoreError::Corrupt("upsert returned no id".into())),
    }
}

/// The end of a login's transaction, its tokens stored: the account's state
/// row, the recovery event of a connection that was not active, the commit.
pub(super) async fn login_stored(
    tx: Tx,
    account_id: i64,
    instagram_user_id: &InstagramUserId,
    username: Option<&str>,
    // A connection that was not active is taken over by this login.
    login: Login,
    previous: Option<TokenStatus>,
) -> Result<Connected> {
    tx.execute(
        "INSERT OR IGNORE INTO account_state (user_id) VALUES (?1)",
        [account_id],
    )
    .await?;
    if matches!(previous, Some(s) if s != TokenStatus::Active) {
        let event = event_sql(account_id, instagram_user_id, username, login, &StatusChange::active());
        tx.execute_batch(&event).await?;
    }
    tx.commit().await?;
    Ok(Connected {
        account_id,
        previous_status: previous,
    })
}

impl Store {
    /// Stores a connection made through OAuth: creates the account or updates
    /// it in place (never a duplicate), replaces both tokens, bumps the token
    /// generation (so a refresh that read the old tokens cannot overwrite
    /// these) and restores `active`. The callback's `debug_token` counts as
    /// the day's health check. A recovery event is queued in the same
    /// transaction when the connection was not active before.
    pub async fn upsert_connection(&self, c: &NewConnection) -> Result<Connected> {
        let conn = self.writer().await?;
        let tx = conn.transaction().await?;
        let now = now();
        let previous = status_before(&tx, &c.instagram_user_id).await?;
        let rows = tx
            .query(
                "INSERT INTO users (instagram_user_id, instagram_username, instagram_name, facebook_page_id, facebook_page_name,
                                    facebook_user_id, followers_count, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                 ON CONFLICT (instagram_user_id) DO UPDATE SET
                    instagram_username = excluded.instagram_username, instagram_name = excluded.instagram_name,
                    facebook_page_id = excluded.facebook_page_id, facebook_page_name = excluded.facebook_page_name,
                    facebook_user_id = excluded.facebook_user_id,
                    followers_count = COALESCE(excluded.followers_count, users.followers_count),
                    updated_at = excluded.updated_at
                 RETURNING id",
                params![
                    c.instagram_user_id.as_str(),
                    c.username.clone(),
                    c.name.clone(),
                    c.facebook_page_id.as_str(),
                    c.facebook_page_name.as_str(),
                    c.facebook_user_id.clone(),
                    c.followers_count,
                    now.as_str()
                ],
            )
            .await?;
        let account_id = returned_id(rows).await?;
        tx.execute(
            "INSERT INTO tokens (user_id, user_access_token, user_token_expires_at, page_access_token, data_access_expires_at,
                                 granted_scopes, status, last_refreshed_at, last_checked_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?7, ?7, ?7)
             ON CONFLICT (user_id) DO UPDATE SET
                user_access_token = excluded.user_access_token, user_token_expires_at = excluded.user_token_expires_at,
                page_access_token = excluded.page_access_token, data_access_expires_at = excluded.data_access_expires_at,
                granted_scopes = excluded.granted_scopes, status = 'active', status_code = NULL, status_subcode = NULL,
                status_reason = NULL, reconnect_by = NULL, login = 'facebook',
                status_changed_at = CASE WHEN tokens.status = 'active' THEN tokens.status_changed_at ELSE excluded.updated_at END,
                generation = tokens.generation + 1, last_refreshed_at = excluded.last_refreshed_at,
                last_checked_at = excluded.last_checked_at, updated_at = excluded.updated_at
             -- An active Instagram-login token keeps collecting (it renews itself).
             WHERE tokens.login = 'facebook' OR tokens.status != 'active'",
            params![
                account_id,
                self.keys.encrypt(c.user_token.expose(), USER_TOKEN),
                c.user_token_expires_at.map(|t| t.to_string()),
                self.keys.encrypt(c.page_token.expose(), PAGE_TOKEN),
                c.data_access_expires_at.map(|t| t.to_string()),
                c.granted_scopes.join(","),
                now.as_str()
            ],
        )
        .await?;
        login_stored(
            tx,
            account_id,
            &c.instagram_user_id,
            c.username.as_deref(),
            Login::Facebook,
            previous,
        )
        .await
    }

    pub async fn account(&self, instagram_user_id: &InstagramUserId) -> Result<Option<Account>> {
        let conn = self.conn().await?;
        Ok(
            collect_accounts(&conn, "WHERE u.instagram_user_id = ?1", [instagram_user_id.as_str()])
                .await?
                .into_iter()
                .next(),
        )
    }

    pub async fn account_by_id(&self, account_id: i64) -> Result<Option<Account>> {
        let conn = self.conn().await?;
        Ok(collect_accounts(&conn, "WHERE u.id = ?1", [account_id])
            .await?
            .into_iter()
            .next())
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let conn = self.conn().await?;
        collect_accounts(&conn, "ORDER BY u.id", ()).await
    }

    /// Accounts a Facebook user connected (deletion callbacks name the user).
    pub async fn accounts_of_facebook_user(&self, facebook_user_id: &str) -> Result<Vec<Account>> {
        let conn = self.conn().await?;
        collect_accounts(&conn, "WHERE u.facebook_user_id = ?1 ORDER BY u.id", [facebook_user_id]).await
    }

    /// Deletes an account and everything collected for it, in one transaction.
    pub async fn delete_account(&self, instagram_user_id: &InstagramUserId) -> Result<bool> {
        let conn = self.writer().await?;
        let tx = conn.transaction().await?;
        let Some(id) = account_id(&tx, instagram_user_id).await? else {
            return Ok(false);
        };
        delete_account_rows(&tx, id).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes every account a Facebook user connected, with everything
    /// collected for them, and records the request under its confirmation
    /// code, in one transaction. Returns how many accounts were deleted.
    pub async fn delete_facebook_user(
        &self,
        facebook_user_id: &str,
        confirmation_code: &str,
        source: &str,
    ) -> Result<usize> {
        let conn = self.writer().await?;
        let tx = conn.transaction().await?;
        let mut ids = Vec::new();
        {
            let mut rows = tx
                .query("SELECT id FROM users WHERE facebook_user_id = ?1", [facebook_user_id])
                .await?;
            while let Some(row) = rows.next().await? {
                ids.push(row.get::<i64>(0)?);
            }
        }
        for id in &ids {
            delete_account_rows(&tx, *id).await?;
        }
        tx.execute(
            "INSERT INTO deletion_requests (confirmation_code, facebook_user_id, source, accounts_deleted, status, requested_at, completed_at)
             VALUES (?1, ?2, ?3, ?4, 'completed', ?5, ?5)",
            params![
                confirmation_code,
                facebook_user_id,
                source,
                ids.len() as i64,
                now()
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(ids.len())
    }
}

/// Deletes one account's rows everywhere, inside the caller's transaction.
/// Explicit deletes: a hosted connection may not enforce foreign keys.
pub(super) async fn delete_account_rows(tx: &Conn, id: i64) -> Result<()> {
    for table in [
        "insights",
        "audience_data",
        "audience_snapshots",
        "collection_log",
        "account_state",
        "tokens",
        "instagram_logins",
        "notifications",
        "media",
        "media_insights",
        "story_final_insights",
        "media_rejected_metrics",
        // Every session's access to it ends with it.
        "session_accounts",
    ] {
        tx.execute(&format!("DELETE FROM {table} WHERE user_id = ?1"), [id])
            .await?;
    }
    tx.execute("DELETE FROM users WHERE id = ?1", [id]).await?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::DatabaseConfig;
    use crate::crypto::Keyring;

    /// A migrated store on an embedded file in `dir`.
    pub(crate) async fn store(dir: &tempfile::TempDir) -> Store {
        let keys = Keyring::parse(&Keyring::generate_spec()).unwrap();
        let store = Store::open(
            &DatabaseConfig::Local {
                path: dir.path().join("t.db"),
            },
            keys,
        )
        .await
        .unwrap();
        store.migrate().await.unwrap();
        store
    }

    pub(crate) fn connection() -> NewConnection {
        NewConnection {
            instagram_user_id: crate::domain::InstagramUserId::parse("17841400000000001").expect("an id"),
            username: Some("creator".into()),
            name: None,
            facebook_page_id: "200000000000001".into(),
            facebook_page_name: "Studio".into(),
            facebook_user_id: Some("100000000000001".into()),
            followers_count: Some(10),
            user_token: AccessToken::new("user-token"),
            user_token_expires_at: None,
            page_token: AccessToken::new("page-token"),
            data_access_expires_at: None,
            granted_scopes: vec!["instagram_basic".into()],
        }
    }
}
