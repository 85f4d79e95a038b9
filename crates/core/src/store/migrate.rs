//! Bringing a database to the current schema: each migration of
//! `schema::MIGRATIONS` applied once, all or nothing, whichever process gets
//! there first.

use super::{Conn, Result, Store, schema, sql};

impl Store {
    /// Applies every migration not yet applied; safe to call from many processes.
    pub async fn migrate(&self) -> Result<usize> {
        // sqld now and then interrupts a fresh server's first transactions
        // when the machine is busy ("SQLite error: interrupted"); every
        // migration is all-or-nothing, so trying again is safe.
        let mut attempt = 1;
        loop {
            match self.migrate_once().await {
                Err(e) if attempt < 3 && e.to_string().contains("interrupted") => {
                    tracing::warn!(attempt, error = %e, "migration interrupted; trying again");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn migrate_once(&self) -> Result<usize> {
        let conn = self.writer().await?;
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
            (),
        )
        .await?;
        let mut applied = 0;
        for m in schema::MIGRATIONS {
            if self.is_applied(&conn, m.version).await? {
                continue;
            }
            let batch = format!(
                "{}\nINSERT INTO schema_migrations (version, name, applied_at) VALUES ({}, {}, {});",
                m.sql,
                m.version,
                sql::text(m.name),
                sql::text(&sql::now())
            );
            match conn.execute_transactional_batch(&batch).await {
                Ok(_) => {
                    applied += 1;
                    tracing::info!(version = m.version, name = m.name, "migration applied");
                }
                // Another process may have applied it a moment ago.
                Err(e) if self.is_applied(&conn, m.version).await? => {
                    tracing::debug!(version = m.version, error = %e, "migration applied concurrently");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(applied)
    }

    async fn is_applied(&self, conn: &Conn, version: i64) -> Result<bool> {
        let mut rows = conn
            .query("SELECT 1 FROM schema_migrations WHERE version = ?1", [version])
            .await?;
        Ok(rows.next().await?.is_some())
    }

    pub async fn schema_version(&self) -> Result<i64> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", ())
            .await?;
        Ok(match rows.next().await? {
            Some(row) => row.get(0)?,
            None => 0,
        })
    }
}
