//! Leases against overlapping runs, and the per-run collection log.

use std::time::Duration;

use chrono::{DateTime, Utc};
use libsql::params;

use super::sql::{account_exists, now, opt_int, opt_text, text, ts};
use super::{CollectKind, Result, Store};
use crate::domain::{LeaseName, Timestamp};

/// One row of the collection log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogStatus {
    Success,
    Failed,
    Skipped,
}

impl LogStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LogStatus::Success => "success",
            LogStatus::Failed => "failed",
            LogStatus::Skipped => "skipped",
        }
    }
}

/// What a log row is about: a step of a token's upkeep, or a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogJob {
    TokenCheck,
    TokenRefresh,
    Collect(CollectKind),
}

impl LogJob {
    /// Its `job_type` column.
    pub fn as_str(self) -> &'static str {
        match self {
            LogJob::TokenCheck => "token_check",
            LogJob::TokenRefresh => "token_refresh",
            LogJob::Collect(kind) => kind.as_str(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct LogEntry<'a> {
    pub account_id: Option<i64>,
    pub run_id: &'a str,
    pub job_type: LogJob,
    pub status: LogStatus,
    pub error_code: Option<i64>,
    /// Already free of secrets (Graph errors never carry them).
    pub error_message: Option<String>,
    pub details: Option<serde_json::Value>,
    pub started_at: Timestamp,
}

/// A lease this process may still hold: its taking or giving back timed out.
#[derive(Debug, Clone)]
pub(super) struct UnsureLease {
    name: LeaseName,
    holder: String,
}

impl Store {
    /// Takes the lease `name` for `ttl` unless someone else holds an unexpired
    /// one. One statement, so two processes cannot both win.
    ///
    /// A try that timed out may have taken the lease all the same (the
    /// answer was lost, not the write): this process remembers it and gives
    /// such a lease back before its next try, so that the next run here is
    /// not locked out until the lease expires.
    pub async fn try_lease(&self, name: &LeaseName, holder: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool> {
        self.release_unsure_leases(name).await?;
        let taken = self.take_lease(name, holder, now, ttl).await;
        self.remember_if_unsure(&taken, name, holder);
        taken
    }

    /// A lease whose release timed out may still be held: it is given back
    /// before this process's next try too.
    pub async fn release_lease(&self, name: &LeaseName, holder: &str) -> Result<()> {
        let released = self.delete_lease(name, holder).await;
        self.remember_if_unsure(&released, name, holder);
        released
    }

    fn remember_if_unsure<T>(&self, outcome: &Result<T>, name: &LeaseName, holder: &str) {
        if matches!(outcome, Err(e) if e.is_timeout()) {
            self.unsure_leases().push(UnsureLease {
                name: name.clone(),
                holder: holder.to_string(),
            });
        }
    }

    async fn release_unsure_leases(&self, name: &LeaseName) -> Result<()> {
        let unsure: Vec<UnsureLease> = {
            let mut all = self.unsure_leases();
            let (mine, others) = std::mem::take(&mut *all).into_iter().partition(|u| u.name == *name);
            *all = others;
            mine
        };
        for (i, lease) in unsure.iter().enumerate() {
            if let Err(e) = self.delete_lease(name, &lease.holder).await {
                // Still unsure: keep them for the next try.
                self.unsure_leases().extend(unsure[i..].iter().cloned());
                return Err(e);
            }
        }
        Ok(())
    }

    async fn take_lease(&self, name: &LeaseName, holder: &str, now_t: DateTime<Utc>, ttl: Duration) -> Result<bool> {
        let conn = self.writer().await?;
        let expires = lease_end(now_t, ttl);
        let changed = conn
            .execute(
                "INSERT INTO job_leases (name, holder, acquired_at, expires_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, acquired_at = excluded.acquired_at,
                        expires_at = excluded.expires_at
                 WHERE job_leases.expires_at <= excluded.acquired_at OR job_leases.holder = excluded.holder",
                params![name.as_str(), holder, ts(now_t), ts(expires)],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Moves the end of `holder`'s lease to `ttl` after `now`; false when
    /// the lease is no longer theirs (it lapsed and someone else took it).
    pub async fn renew_lease(&self, name: &LeaseName, holder: &str, now: DateTime<Utc>, ttl: Duration) -> Result<bool> {
        let conn = self.writer().await?;
        let changed = conn
            .execute(
                "UPDATE job_leases SET expires_at = ?3 WHERE name = ?1 AND holder = ?2",
                params![name.as_str(), holder, ts(lease_end(now, ttl))],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn delete_lease(&self, name: &LeaseName, holder: &str) -> Result<()> {
        let conn = self.writer().await?;
        conn.execute(
            "DELETE FROM job_leases WHERE name = ?1 AND holder = ?2",
            params![name.as_str(), holder],
        )
        .await?;
        Ok(())
    }

    pub async fn log_run(&self, e: &LogEntry<'_>) -> Result<()> {
        let conn = self.writer().await?;
        conn.execute(
            "INSERT INTO collection_log (user_id, run_id, job_type, status, error_code, error_message, details, started_at, completed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                e.account_id,
                e.run_id,
                e.job_type.as_str(),
                e.status.as_str(),
                e.error_code,
                e.error_message.clone(),
                e.details.as_ref().map(|d| d.to_string()),
                e.started_at.to_string(),
                now()
            ],
        )
        .await?;
        Ok(())
    }

    /// The most recent log rows of an account (newest first).
    pub async fn recent_log(&self, account_id: i64, limit: i64) -> Result<Vec<serde_json::Value>> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT job_type, status, error_code, error_message, details, started_at, completed_at, run_id
                 FROM collection_log WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2",
                params![account_id, limit],
            )
            .await?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().await? {
            out.push(serde_json::json!({
                "job_type": r.get::<String>(0)?,
                "status": r.get::<String>(1)?,
                "error_code": r.get::<Option<i64>>(2)?,
                "error_message": r.get::<Option<String>>(3)?,
                "details": r.get::<Option<String>>(4)?.and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok()),
                "started_at": r.get::<String>(5)?,
                "completed_at": r.get::<Option<String>>(6)?,
                "run_id": r.get::<Option<String>>(7)?,
            }));
        }
        Ok(out)
    }
}

fn lease_end(now: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(15))
}

/// The log row as one SQL statement, for writes that travel in one batch.
pub(crate) fn log_sql(e: &LogEntry<'_>) -> String {
    // A row about an account is written only while the account exists.
    let guard = e
        .account_id
        .map(|id| format!(" WHERE {}", account_exists(id)))
        .unwrap_or_default();
    format!(
        "INSERT INTO collection_log (user_id, run_id, job_type, status, error_code, error_message, details, started_at, completed_at) SELECT {}, {}, {}, {}, {}, {}, {}, {}, {}{guard};\n",
        opt_int(e.account_id),
        text(e.run_id),
        text(e.job_type.as_str()),
        text(e.status.as_str()),
        opt_int(e.error_code),
        opt_text(e.error_message.as_deref()),
        opt_text(e.details.as_ref().map(|d| d.to_string()).as_deref()),
        text(&e.started_at.to_string()),
        text(&now())
    )
}
