//! A connection's tokens (sealed at rest) and what is known of them:
//! reading them, and the writes that change them, each guarded so that
//! nothing learned about tokens a reconnect has replaced lands on the new
//! ones. Its status and the rules of changing it are in `status`.

use libsql::params;
use serde::Serialize;

use super::sql::{now, opt_time, text};
use super::status::TokenStatus;
use super::{Result, Store};
use crate::crypto::Keyring;
use crate::domain::Timestamp;
use crate::secret::AccessToken;

#[derive(Debug, Clone, Serialize)]
pub struct TokenHealth {
    pub status: TokenStatus,
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub reason: Option<String>,
    pub reconnect_by: Option<Timestamp>,
    pub user_token_expires_at: Option<Timestamp>,
    pub data_access_expires_at: Option<Timestamp>,
    pub granted_scopes: Vec<String>,
    pub last_checked_at: Option<Timestamp>,
    pub last_refreshed_at: Option<Timestamp>,
    #[serde(skip)]
    pub generation: i64,
}

/// The decrypted tokens of one account, with the generation they were read at.
#[derive(Debug, Clone)]
pub struct AccountTokens {
    pub account_id: i64,
    pub generation: i64,
    pub user_token: AccessToken,
    pub page_token: AccessToken,
}

pub(super) const USER_TOKEN: &str = "user_token";
pub(super) const PAGE_TOKEN: &str = "page_token";

/// What a health check learned about a user token, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedToken {
    pub user_token_expires_at: Option<Timestamp>,
    pub data_access_expires_at: Option<Timestamp>,
    pub granted_scopes: Vec<String>,
}

/// A user token a refresh obtained, with the Page token minted from it.
#[derive(Debug, Clone)]
pub struct RenewedTokens {
    pub user_token: AccessToken,
    pub user_token_expires_at: Option<Timestamp>,
    pub page_token: AccessToken,
}

/// The assignments that store what a health check learned.
pub(super) fn checked_sets(checked: &CheckedToken, now: &str) -> Vec<String> {
    vec![
        format!("user_token_expires_at = {}", opt_time(checked.user_token_expires_at)),
        format!("data_access_expires_at = {}", opt_time(checked.data_access_expires_at)),
        format!("granted_scopes = {}", text(&checked.granted_scopes.join(","))),
        format!("last_checked_at = {}", text(now)),
    ]
}

/// The assignments that store a refresh's tokens, sealed, as a new generation.
pub(super) fn renewed_sets(keys: &Keyring, renewed: &RenewedTokens, now: &str) -> Vec<String> {
    vec![
        format!(
            "user_access_token = {}",
            text(&keys.encrypt(renewed.user_token.expose(), USER_TOKEN))
        ),
        format!("user_token_expires_at = {}", opt_time(renewed.user_token_expires_at)),
        format!(
            "page_access_token = {}",
            text(&keys.encrypt(renewed.page_token.expose(), PAGE_TOKEN))
        ),
        "generation = generation + 1".to_string(),
        format!("last_refreshed_at = {}", text(now)),
        format!("updated_at = {}", text(now)),
    ]
}

impl Store {
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
        user_token_expires_at: Option<Timestamp>,
        page_token: &AccessToken,
    ) -> Result<bool> {
        let renewed = RenewedTokens {
            user_token: user_token.clone(),
            user_token_expires_at,
            page_token: page_token.clone(),
        };
        let sets = renewed_sets(&self.keys, &renewed, &now());
        self.update_tokens_at(account_id, expected_generation, &sets).await
    }

    /// Records what a health check learned about the user token read at
    /// `generation`. Returns false when a reconnect replaced the tokens since.
    pub async fn record_token_check(
        &self,
        account_id: i64,
        generation: i64,
        user_token_expires_at: Option<Timestamp>,
        data_access_expires_at: Option<Timestamp>,
        granted_scopes: &[String],
    ) -> Result<bool> {
        let checked = CheckedToken {
            user_token_expires_at,
            data_access_expires_at,
            granted_scopes: granted_scopes.to_vec(),
        };
        let sets = checked_sets(&checked, &now());
        self.update_tokens_at(account_id, generation, &sets).await
    }

    async fn update_tokens_at(&self, account_id: i64, generation: i64, sets: &[String]) -> Result<bool> {
        let conn = self.writer().await?;
        let changed = conn
            .execute(
                &format!(
                    "UPDATE tokens SET {} WHERE user_id = ?1 AND generation = ?2",
                    sets.join(", ")
                ),
                params![account_id, generation],
            )
            .await?;
        Ok(changed == 1)
    }
}
