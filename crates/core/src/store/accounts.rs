//! Connected accounts, their tokens (encrypted) and their health.

use libsql::{Row, TransactionBehavior, params};
use serde::Serialize;

use super::sql::{now, text};
use super::{Conn, Login, Result, Store, StoreError};
use crate::secret::AccessToken;

/// The health of a connection, as influencers and operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

#[derive(Debug, Clone, Serialize)]
pub struct TokenHealth {
    pub status: TokenStatus,
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub reason: Option<String>,
    pub reconnect_by: Option<String>,
    pub user_token_expires_at: Option<String>,
    pub data_access_expires_at: Option<String>,
    pub granted_scopes: Vec<String>,
    pub last_checked_at: Option<String>,
    pub last_refreshed_at: Option<String>,
    #[serde(skip)]
    pub generation: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    #[serde(skip)]
    pub id: i64,
    pub instagram_user_id: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub facebook_page_id: Option<String>,
    pub facebook_page_name: Option<String>,
    pub facebook_user_id: Option<String>,
    pub followers_count: Option<i64>,
    /// The login whose token collects this account.
    pub login: Login,
    pub token: TokenHealth,
    pub created_at: String,
    pub updated_at: String,
}

/// A connection as the OAuth callback found it, tokens in the clear.
#[derive(Debug, Clone)]
pub struct NewConnection {
    pub instagram_user_id: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub facebook_page_id: String,
    pub facebook_page_name: String,
    pub facebook_user_id: Option<String>,
    pub followers_count: Option<i64>,
    pub user_token: AccessToken,
    pub user_token_expires_at: Option<String>,
    pub page_token: AccessToken,
    pub data_access_expires_at: Option<String>,
    pub granted_scopes: Vec<String>,
}

/// The decrypted tokens of one account, with the generation they were read at.
#[derive(Debug, Clone)]
pub struct AccountTokens {
    pub account_id: i64,
    pub generation: i64,
    pub user_token: AccessToken,
    pub page_token: AccessToken,
}

/// A change of a connection's status, stored together with its webhook event.
#[derive(Debug, Clone)]
pub struct StatusChange {
    pub status: TokenStatus,
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub reason: Option<String>,
    pub reconnect_by: Option<String>,
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

/// What a reconnect found before it wrote.
#[derive(Debug, Clone)]
pub struct Connected {
    pub account_id: i64,
    pub previous_status: Option<TokenStatus>,
}

pub(super) const USER_TOKEN: &str = "user_token";
pub(super) const PAGE_TOKEN: &str = "page_token";

const ACCOUNT_SELECT: &str =
    "SELECT u.id, u.instagram_user_id, u.instagram_username, u.instagram_name, u.facebook_page_id,
        u.facebook_page_name, u.facebook_user_id, u.followers_count, u.created_at, u.updated_at,
        t.status, t.status_code, t.status_subcode, t.status_reason, t.reconnect_by, t.user_token_expires_at,
        t.data_access_expires_at, t.granted_scopes, t.last_checked_at, t.last_refreshed_at, t.generation, t.login
    FROM users u JOIN tokens t ON t.user_id = u.id";

fn account_from_row(row: &Row) -> Result<Account> {
    let scopes: String = row.get(17)?;
    Ok(Account {
        id: row.get(0)?,
        instagram_user_id: row.get(1)?,
        username: row.get(2)?,
        name: row.get(3)?,
        facebook_page_id: row.get(4)?,
        facebook_page_name: row.get(5)?,
        facebook_user_id: row.get(6)?,
        followers_count: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
        login: Login::parse(&row.get::<String>(21)?)?,
        token: TokenHealth {
            status: TokenStatus::parse(&row.get::<String>(10)?)?,
            code: row.get(11)?,
            subcode: row.get(12)?,
            reason: row.get(13)?,
            reconnect_by: row.get(14)?,
            user_token_expires_at: row.get(15)?,
            data_access_expires_at: row.get(16)?,
            granted_scopes: scopes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            last_checked_at: row.get(18)?,
            last_refreshed_at: row.get(19)?,
            generation: row.get(20)?,
        },
    })
}

pub(super) async fn collect_accounts(
    conn: &Conn,
    where_sql: &str,
    params: impl libsql::params::IntoParams,
) -> Result<Vec<Account>> {
    let mut rows = conn.query(&format!("{ACCOUNT_SELECT} {where_sql}"), params).await?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().await? {
        out.push(account_from_row(&row)?);
    }
    Ok(out)
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
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).await?;
        let now = now();
        let previous = {
            let mut rows = tx
                .query(
                    "SELECT t.status FROM users u JOIN tokens t ON t.user_id = u.id WHERE u.instagram_user_id = ?1",
                    [c.instagram_user_id.as_str()],
                )
                .await?;
            match rows.next().await? {
                Some(row) => Some(TokenStatus::parse(&row.get::<String>(0)?)?),
                None => None,
            }
        };
        let mut rows = tx
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
        let account_id: i64 = match rows.next().await? {
            Some(row) => row.get(0)?,
            None => return Err(StoreError::Corrupt("upsert returned no id".into())),
        };
        drop(rows);
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
                c.user_token_expires_at.clone(),
                self.keys.encrypt(c.page_token.expose(), PAGE_TOKEN),
                c.data_access_expires_at.clone(),
                c.granted_scopes.join(","),
                now.as_str()
            ],
        )
        .await?;
        tx.execute(
            "INSERT OR IGNORE INTO account_state (user_id) VALUES (?1)",
            [account_id],
        )
        .await?;
        if matches!(previous, Some(s) if s != TokenStatus::Active) {
            let event = event_sql(
                account_id,
                &c.instagram_user_id,
                c.username.as_deref(),
                &StatusChange::active(),
            );
            tx.execute_batch(&event).await?;
        }
        tx.commit().await?;
        Ok(Connected {
            account_id,
            previous_status: previous,
        })
    }

    pub async fn account(&self, instagram_user_id: &str) -> Result<Option<Account>> {
        let conn = self.conn().await?;
        Ok(
            collect_accounts(&conn, "WHERE u.instagram_user_id = ?1", [instagram_user_id])
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

    /// The account's tokens, decrypted.
    pub async fn tokens(&self, account_id: i64) -> Result<Option<AccountTokens>> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT generation, user_access_token, page_access_token FROM tokens WHERE user_id = ?1",
                [account_id],
            )
            .await?;
        let Some(row) = rows.next().await? else {
            return Ok(None);
        };
        Ok(Some(AccountTokens {
            account_id,
            generation: row.get(0)?,
            user_token: AccessToken::new(self.keys.decrypt(&row.get::<String>(1)?, USER_TOKEN)?),
            page_token: AccessToken::new(self.keys.decrypt(&row.get::<String>(2)?, PAGE_TOKEN)?),
        }))
    }

    /// Replaces both tokens after a refresh, only if nobody wrote newer ones
    /// since `expected_generation` was read. Returns whether it wrote.
    pub async fn replace_tokens(
        &self,
        account_id: i64,
        expected_generation: i64,
        user_token: &AccessToken,
        user_token_expires_at: Option<&str>,
        page_token: &AccessToken,
    ) -> Result<bool> {
        let conn = self.writer().await?;
        let changed = conn
            .execute(
                "UPDATE tokens SET user_access_token = ?1, user_token_expires_at = ?2, page_access_token = ?3,
                        generation = generation + 1, last_refreshed_at = ?4, updated_at = ?4
                 WHERE user_id = ?5 AND generation = ?6",
                params![
                    self.keys.encrypt(user_token.expose(), USER_TOKEN),
                    user_token_expires_at.map(str::to_string),
                    self.keys.encrypt(page_token.expose(), PAGE_TOKEN),
                    now(),
                    account_id,
                    expected_generation
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Moves a connection to a new status. When the status really changes, the
    /// webhook event is queued in the same transaction (one event per
    /// transition, never one per run). Returns whether it changed.
    pub async fn set_status(&self, account_id: i64, change: &StatusChange) -> Result<bool> {
        Ok(self.update_status(account_id, None, change).await? == StatusUpdate::Changed)
    }

    /// [`Store::set_status`], and only while the tokens are those read at
    /// `expected_generation` (when given): a verdict about tokens that a
    /// reconnect has replaced says nothing about the new ones.
    ///
    /// Two rules keep the status honest whoever writes it: an `invalid`
    /// connection stays invalid until a reconnect, and a status a Graph error
    /// set (it carries a code) is not replaced by a verdict without a code,
    /// except by `invalid`.
    pub async fn update_status(
        &self,
        account_id: i64,
        expected_generation: Option<i64>,
        change: &StatusChange,
    ) -> Result<StatusUpdate> {
        let conn = self.writer().await?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).await?;
        let current = {
            let mut rows = tx
                .query(
                    "SELECT t.status, t.status_code, t.generation, u.instagram_user_id, u.instagram_username
                     FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.user_id = ?1",
                    [account_id],
                )
                .await?;
            match rows.next().await? {
                Some(row) => Some((
                    TokenStatus::parse(&row.get::<String>(0)?)?,
                    row.get::<Option<i64>>(1)?,
                    row.get::<i64>(2)?,
                    row.get::<String>(3)?,
                    row.get::<Option<String>>(4)?,
                )),
                None => None,
            }
        };
        let Some((status, code, generation, ig_id, username)) = current else {
            return Ok(StatusUpdate::Stale);
        };
        if expected_generation.is_some_and(|g| g != generation) {
            return Ok(StatusUpdate::Stale);
        }
        let kept = (status == TokenStatus::Invalid && change.status != TokenStatus::Invalid)
            || (change.status != TokenStatus::Invalid && change.code.is_none() && code.is_some());
        if kept {
            return Ok(StatusUpdate::Unchanged(status));
        }
        let transition = status != change.status;
        let now = now();
        tx.execute(
            "UPDATE tokens SET status = ?1, status_code = ?2, status_subcode = ?3, status_reason = ?4, reconnect_by = ?5,
                    status_changed_at = CASE WHEN ?6 THEN ?7 ELSE status_changed_at END, updated_at = ?7
             WHERE user_id = ?8",
            params![
                change.status.as_str(),
                change.code,
                change.subcode,
                change.reason.clone(),
                change.reconnect_by.clone(),
                transition,
                now.as_str(),
                account_id
            ],
        )
        .await?;
        if transition {
            tx.execute_batch(&event_sql(account_id, &ig_id, username.as_deref(), change))
                .await?;
        }
        tx.commit().await?;
        Ok(if transition {
            StatusUpdate::Changed
        } else {
            StatusUpdate::Unchanged(status)
        })
    }

    /// Records what a health check learned about the user token read at
    /// `generation`. Returns false when a reconnect replaced the tokens since.
    pub async fn record_token_check(
        &self,
        account_id: i64,
        generation: i64,
        user_token_expires_at: Option<&str>,
        data_access_expires_at: Option<&str>,
        granted_scopes: &[String],
    ) -> Result<bool> {
        let conn = self.writer().await?;
        let changed = conn
            .execute(
                "UPDATE tokens SET user_token_expires_at = ?1, data_access_expires_at = ?2, granted_scopes = ?3,
                        last_checked_at = ?4
                 WHERE user_id = ?5 AND generation = ?6",
                params![
                    user_token_expires_at.map(str::to_string),
                    data_access_expires_at.map(str::to_string),
                    granted_scopes.join(","),
                    now(),
                    account_id,
                    generation
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Usable Facebook-login connections (not `invalid`) whose user token expires before
    /// `refresh_before` or whose last health check is older than
    /// `checked_before`: those due for a refresh first, soonest expiry first,
    /// then the longest unchecked.
    pub async fn accounts_due_for_upkeep(&self, refresh_before: &str, checked_before: &str) -> Result<Vec<Account>> {
        let conn = self.conn().await?;
        collect_accounts(
            &conn,
            "WHERE t.status != 'invalid' AND t.login = 'facebook'
               AND (t.user_token_expires_at < ?1 OR t.last_checked_at IS NULL OR t.last_checked_at < ?2)
             ORDER BY CASE WHEN t.user_token_expires_at < ?1 THEN 0 ELSE 1 END,
                      CASE WHEN t.user_token_expires_at < ?1 THEN t.user_token_expires_at ELSE t.last_checked_at END,
                      u.id",
            params![refresh_before, checked_before],
        )
        .await
    }

    /// Deletes an account and everything collected for it, in one transaction.
    pub async fn delete_account(&self, instagram_user_id: &str) -> Result<bool> {
        let conn = self.writer().await?;
        let tx = conn.transaction().await?;
        let id: Option<i64> = {
            let mut rows = tx
                .query("SELECT id FROM users WHERE instagram_user_id = ?1", [instagram_user_id])
                .await?;
            match rows.next().await? {
                Some(row) => Some(row.get(0)?),
                None => None,
            }
        };
        let Some(id) = id else { return Ok(false) };
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

/// The SQL that queues one webhook event for a status transition.
pub(super) fn event_sql(
    account_id: i64,
    instagram_user_id: &str,
    username: Option<&str>,
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
        "token_status": change.status.as_str(),
        "code": change.code,
        "subcode": change.subcode,
        "reason": change.reason,
        "reconnect_by": change.reconnect_by,
    });
    format!(
        "INSERT INTO notifications (user_id, instagram_user_id, event, payload, created_at, next_attempt_at) VALUES ({}, {}, {}, {}, {}, {});",
        account_id,
        text(instagram_user_id),
        text(event),
        text(&payload.to_string()),
        text(&created_at),
        text(&created_at)
    )
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
            instagram_user_id: "17841400000000001".into(),
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
