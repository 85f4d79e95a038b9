//! What refresh-tokens reads and writes, in one round trip each: the
//! connections due for upkeep with their sealed tokens (one query for the
//! whole run), and everything one account's upkeep leaves behind (what the
//! check learned, renewed tokens, a status and its webhook event, the log
//! rows) in one transactional write, shared with the accounts that finish
//! meanwhile (see [`Store::write_script`]).

use libsql::params;

use super::accounts::{ACCOUNT_COLUMNS, ACCOUNT_TABLES, account_from_row};
use super::connections::{CheckedToken, PAGE_TOKEN, RenewedTokens, USER_TOKEN, checked_sets, renewed_sets};
use super::jobs::{LogEntry, log_sql};
use super::sql::{opt_int, text};
use super::status::{Effect, StatusChange, StatusUpdate, TokenStatus, event_sql, status_sets};
use super::{Account, AccountTokens, Login, Result, Store};
use crate::domain::Timestamp;
use crate::secret::{AccessToken, Secret};

/// A connection due for upkeep, with its tokens as stored (sealed).
#[derive(Debug, Clone)]
pub struct UpkeepCandidate {
    pub account: Account,
    sealed_user_token: Secret,
    sealed_page_token: Secret,
}

/// Everything one account's upkeep leaves behind, written at once.
#[derive(Debug, Default)]
pub struct UpkeepRecord<'a> {
    pub checked: Option<CheckedToken>,
    pub renewed: Option<RenewedTokens>,
    pub status: Option<StatusChange>,
    pub log: Vec<LogEntry<'a>>,
}

/// What [`Store::finish_upkeep`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upkept {
    /// Written; what became of the record's status change, if it had one.
    Written(Option<StatusUpdate>),
    /// Nothing written: a reconnect replaced the tokens meanwhile (they stand),
    /// or the account is gone.
    Superseded,
}

/// How the connection stood when a write was decided on it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Standing {
    generation: i64,
    status: TokenStatus,
    code: Option<i64>,
}

/// A write decided on a standing that has changed meanwhile is decided once
/// more on the new one, this many times at most.
const DECISIONS: usize = 3;

impl Store {
    /// Usable connections of `login` (not `invalid`) whose user token
    /// expires before `refresh_before` or whose last health check is older
    /// than `checked_before`: those due for a refresh first, soonest expiry
    /// first, then the longest unchecked.
    pub async fn upkeep_candidates(
        &self,
        login: Login,
        refresh_before: Timestamp,
        checked_before: Timestamp,
    ) -> Result<Vec<UpkeepCandidate>> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS}, t.user_access_token, t.page_access_token FROM {ACCOUNT_TABLES}
                     WHERE t.status != 'invalid' AND t.login = ?3
                       AND (t.user_token_expires_at < ?1 OR t.last_checked_at IS NULL OR t.last_checked_at < ?2)
                     ORDER BY CASE WHEN t.user_token_expires_at < ?1 THEN 0 ELSE 1 END,
                              CASE WHEN t.user_token_expires_at < ?1 THEN t.user_token_expires_at ELSE t.last_checked_at END,
                              u.id"
                ),
                params![refresh_before.to_string(), checked_before.to_string(), login.as_str()],
            )
            .await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            let sealed_column = |i| row.get::<String>(i).map(Secret::new);
            out.push(UpkeepCandidate {
                account: account_from_row(&row)?,
                sealed_user_token: sealed_column(22)?,
                sealed_page_token: sealed_column(23)?,
            });
        }
        Ok(out)
    }

    /// The tokens of a candidate, decrypted.
    pub fn open_tokens(&self, c: &UpkeepCandidate) -> Result<AccountTokens> {
        Ok(AccountTokens {
            account_id: c.account.id,
            generation: c.account.token.generation,
            user_token: AccessToken::new(self.keys.decrypt(c.sealed_user_token.expose(), USER_TOKEN)?),
            page_token: AccessToken::new(self.keys.decrypt(c.sealed_page_token.expose(), PAGE_TOKEN)?),
        })
    }

    /// Writes what one account's upkeep found, all or nothing, in one
    /// round trip. Whatever it writes to the tokens row (check, tokens,
    /// status) is one statement guarded by the row as the candidate was read:
    /// the same generation, and for a status change the same status and
    /// code, since the status rules ([`Effect`]) were applied to them. When
    /// the row moved meanwhile, the write is undone whole; a new generation
    /// (a reconnect) or a deleted account means nothing is written, a status
    /// someone else changed means the change is decided again on it.
    /// `now` dates what it writes (the run's clock).
    pub async fn finish_upkeep(
        &self,
        c: &UpkeepCandidate,
        record: &UpkeepRecord<'_>,
        now: Timestamp,
    ) -> Result<Upkept> {
        let token = &c.account.token;
        let mut standing = Standing {
            generation: token.generation,
            status: token.status,
            code: token.code,
        };
        let mut attempt = 1;
        loop {
            let (sql, update) = self.upkeep_script(c, record, standing, now);
            let Err(e) = self.write_script(sql).await else {
                return Ok(Upkept::Written(update));
            };
            match self.standing(c.account.id).await? {
                Some(now) if now.generation == standing.generation && now != standing && attempt < DECISIONS => {
                    standing = now;
                    attempt += 1;
                }
                Some(now) if now.generation == standing.generation => return Err(e),
                // A reconnect wrote new tokens, or the account is gone.
                _ => return Ok(Upkept::Superseded),
            }
        }
    }

    fn upkeep_script(
        &self,
        c: &UpkeepCandidate,
        record: &UpkeepRecord<'_>,
        standing: Standing,
        now: Timestamp,
    ) -> (String, Option<StatusUpdate>) {
        let id = c.account.id;
        let now = now.to_string();
        let mut sets = Vec::new();
        let mut guard = format!("user_id = {id} AND generation = {}", standing.generation);
        if let Some(checked) = &record.checked {
            sets.extend(checked_sets(checked, &now));
        }
        if let Some(renewed) = &record.renewed {
            sets.extend(renewed_sets(&self.keys, renewed, &now));
        }
        let mut event = None;
        let update = record.status.as_ref().map(|change| {
            let effect = Effect::of(standing.status, standing.code, change);
            if effect != Effect::Kept {
                sets.extend(status_sets(change, effect == Effect::Transition, &now));
                guard.push_str(&format!(
                    " AND status = {} AND status_code IS {}",
                    text(standing.status.as_str()),
                    opt_int(standing.code)
                ));
            }
            if effect == Effect::Transition {
                let username = c.account.username.as_deref();
                event = Some(event_sql(
                    id,
                    &c.account.instagram_user_id,
                    username,
                    c.account.login,
                    change,
                ));
            }
            effect.update(standing.status)
        });
        let mut sql = String::new();
        if !sets.is_empty() {
            // The tokens row as read, or the whole write is undone: a failing
            // statement (abs() of the smallest integer overflows) rolls it back.
            sql.push_str(&format!("UPDATE tokens SET {} WHERE {guard};\n", sets.join(", ")));
            sql.push_str("SELECT CASE WHEN changes() = 1 THEN 0 ELSE abs(-9223372036854775808) END;\n");
        }
        if let Some(event) = event {
            sql.push_str(&event);
            sql.push('\n');
        }
        for entry in &record.log {
            sql.push_str(&log_sql(entry));
        }
        (sql, update)
    }

    async fn standing(&self, account_id: i64) -> Result<Option<Standing>> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT generation, status, status_code FROM tokens WHERE user_id = ?1",
                [account_id],
            )
            .await?;
        let Some(row) = rows.next().await? else {
            return Ok(None);
        };
        Ok(Some(Standing {
            generation: row.get(0)?,
            status: TokenStatus::parse(&row.get::<String>(1)?)?,
            code: row.get(2)?,
        }))
    }
}
