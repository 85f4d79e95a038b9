//! Re-encryption after a key rotation: every encrypted value still sealed
//! with an old key is sealed again with the current one, so that the old key
//! can be dropped from `TOKEN_ENCRYPTION_KEY`.
//!
//! Safe beside running jobs and reconnects: each value is rewritten only if it
//! still holds the ciphertext that was read (every write seals with a fresh
//! nonce, so a changed row never matches), one transactional batch per chunk.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use super::connections::{PAGE_TOKEN, USER_TOKEN};
use super::sql::text;
use super::{Result, Store, StoreError};
use crate::crypto::Keyring;

/// Every encrypted column of `tokens` and the associated data it is sealed
/// with. A new encrypted column belongs here, or a rotation leaves it behind.
pub const SEALED_COLUMNS: [(&str, &str); 2] = [("user_access_token", USER_TOKEN), ("page_access_token", PAGE_TOKEN)];

/// One encrypted value as stored (ciphertext only; the token stays sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedValue {
    pub account_id: i64,
    pub column: &'static str,
    pub stored: String,
    /// The associated data the column is sealed with.
    context: &'static str,
}

/// A value to seal again: written only while the row still holds `expected`.
#[derive(Debug, Clone)]
pub struct Reseal {
    pub account_id: i64,
    pub column: &'static str,
    pub expected: String,
    pub replacement: String,
}

/// A value no configured key opens; reported by account, never by value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub account_id: i64,
    pub column: &'static str,
    pub key_id: Option<String>,
    pub reason: String,
}

/// What a rekey run found and did. Counts are of encrypted values (two per account).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RekeyReport {
    pub dry_run: bool,
    pub current_key: String,
    /// Values per key id before the run, and after it (a dry run changes nothing).
    pub before: BTreeMap<String, u64>,
    pub after: BTreeMap<String, u64>,
    /// Values sealed again with the current key (a dry run: that would be).
    pub rewritten: u64,
    /// Values left alone because a refresh, reconnect or deletion wrote them
    /// between our read and our write; what it wrote uses the current key.
    pub changed_meanwhile: u64,
    pub unreadable: Vec<Unreadable>,
    /// Configured keys other than the current one.
    pub old_keys: Vec<String>,
    /// The old keys that still seal a value:
    /// dropping one of them would lose those tokens.
    pub old_keys_in_use: Vec<String>,
}

impl RekeyReport {
    /// Whether every key but the current one can be dropped now.
    pub fn old_keys_droppable(&self) -> bool {
        self.old_keys_in_use.is_empty()
    }

    pub fn skipped(&self) -> u64 {
        self.changed_meanwhile + self.unreadable.len() as u64
    }
}

/// Progress after each chunk: values scanned so far and rewritten so far.
#[derive(Debug, Clone, Copy)]
pub struct RekeyProgress {
    pub scanned: u64,
    pub rewritten: u64,
}

impl Store {
    /// Seals every value still under an old key with the current key, `chunk`
    /// accounts at a time. With `dry_run`, counts and checks only.
    pub async fn rekey(
        &self,
        chunk: u32,
        dry_run: bool,
        progress: &(dyn Fn(RekeyProgress) + Send + Sync),
    ) -> Result<RekeyReport> {
        let keys = &self.keys;
        let mut report = RekeyReport {
            dry_run,
            current_key: keys.current_key_id().to_string(),
            ..RekeyReport::default()
        };
        let mut scanned = 0;
        let mut after_id = 0;
        loop {
            let values = self.sealed_values(after_id, chunk).await?;
            let Some(last) = values.last() else { break };
            after_id = last.account_id;
            scanned += values.len() as u64;
            let reseals = reseals_for(keys, values, &mut report);
            let wanted = reseals.len() as u64;
            let written = match dry_run {
                true => wanted,
                false => self.reseal(&reseals).await?,
            };
            report.rewritten += written;
            report.changed_meanwhile += wanted - written;
            tracing::info!(scanned, rewritten = report.rewritten, dry_run, "rekey chunk done");
            progress(RekeyProgress {
                scanned,
                rewritten: report.rewritten,
            });
        }
        report.after = match dry_run {
            true => report.before.clone(),
            false => self.values_per_key().await?,
        };
        report.old_keys = keys.key_ids().skip(1).map(str::to_string).collect();
        report.old_keys_in_use = (report.old_keys.iter())
            .filter(|id| report.after.get(*id).is_some_and(|n| *n > 0))
            .cloned()
            .collect();
        Ok(report)
    }

    /// Encrypted values per key id, as stored now.
    async fn values_per_key(&self) -> Result<BTreeMap<String, u64>> {
        let mut counts = BTreeMap::new();
        let mut after_id = 0;
        loop {
            let values = self.sealed_values(after_id, 500).await?;
            let Some(last) = values.last() else { break };
            after_id = last.account_id;
            for value in values {
                *counts.entry(key_label(Keyring::key_id_of(&value.stored))).or_default() += 1;
            }
        }
        Ok(counts)
    }

    /// The encrypted values of up to `limit` accounts after `after_account`, in account order.
    pub async fn sealed_values(&self, after_account: i64, limit: u32) -> Result<Vec<SealedValue>> {
        self.query_sealed(
            "WHERE user_id > ?1 ORDER BY user_id LIMIT ?2",
            libsql::params![after_account, limit],
        )
        .await
    }

    /// The encrypted values of the `tokens` rows `filter` selects.
    async fn query_sealed(&self, filter: &str, params: impl libsql::params::IntoParams) -> Result<Vec<SealedValue>> {
        let columns = SEALED_COLUMNS.map(|(c, _)| c).join(", ");
        let conn = self.conn().await?;
        let mut rows = conn
            .query(&format!("SELECT user_id, {columns} FROM tokens {filter}"), params)
            .await?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await? {
            let account_id: i64 = row.get(0)?;
            for (i, (column, context)) in SEALED_COLUMNS.into_iter().enumerate() {
                out.push(SealedValue {
                    account_id,
                    column,
                    stored: row.get((i + 1) as i32)?,
                    context,
                });
            }
        }
        Ok(out)
    }

    /// Writes each replacement only where its row still holds the expected
    /// ciphertext, in one transactional batch; returns how many were written.
    /// Generation and timestamps stay: the tokens inside are the same, so a
    /// refresh that read them may still write over them.
    pub async fn reseal(&self, reseals: &[Reseal]) -> Result<u64> {
        if reseals.is_empty() {
            return Ok(0);
        }
        // Column names go into the SQL text: only the listed ones ever do.
        if let Some(r) = reseals
            .iter()
            .find(|r| !SEALED_COLUMNS.iter().any(|(c, _)| *c == r.column))
        {
            return Err(StoreError::Corrupt(format!(
                "`{}` is not an encrypted column",
                r.column
            )));
        }
        let script: String = reseals
            .iter()
            .map(|r| {
                format!(
                    "UPDATE tokens SET {col} = {new} WHERE user_id = {id} AND {col} = {old};\n",
                    col = r.column,
                    new = text(&r.replacement),
                    id = r.account_id,
                    old = text(&r.expected),
                )
            })
            .collect();
        self.write_script(script).await?;
        // Fresh nonces make every replacement unique: where it is stored now, our write won.
        let ids: Vec<String> = reseals.iter().map(|r| r.account_id.to_string()).collect();
        let now: HashSet<_> = (self
            .query_sealed(&format!("WHERE user_id IN ({})", ids.join(",")), ())
            .await?)
            .into_iter()
            .map(|v| (v.account_id, v.column, v.stored))
            .collect();
        let written = reseals
            .iter()
            .filter(|r| now.contains(&(r.account_id, r.column, r.replacement.clone())));
        Ok(written.count() as u64)
    }
}

/// What to seal again among `values`, counting them per key id in `report`
/// and reporting the ones no configured key opens.
fn reseals_for(keys: &Keyring, values: Vec<SealedValue>, report: &mut RekeyReport) -> Vec<Reseal> {
    let mut reseals = Vec::new();
    for value in values {
        let key_id = Keyring::key_id_of(&value.stored).map(str::to_string);
        *report.before.entry(key_label(key_id.as_deref())).or_default() += 1;
        if keys.is_current(&value.stored) {
            continue;
        }
        match keys.reencrypt(&value.stored, value.context) {
            Ok(replacement) => reseals.push(Reseal {
                account_id: value.account_id,
                column: value.column,
                expected: value.stored,
                replacement,
            }),
            Err(e) => {
                tracing::warn!(
                    account_id = value.account_id,
                    column = value.column,
                    key_id = ?key_id,
                    error = %e,
                    "a stored token cannot be decrypted; left alone"
                );
                report.unreadable.push(Unreadable {
                    account_id: value.account_id,
                    column: value.column,
                    key_id,
                    reason: e.to_string(),
                });
            }
        }
    }
    reseals
}

/// A value's key id for counting; values not in the `v1:<id>:` form count together.
fn key_label(key_id: Option<&str>) -> String {
    key_id.unwrap_or("(not v1)").to_string()
}
