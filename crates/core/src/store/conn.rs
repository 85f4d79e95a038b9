//! A connection whose every call ends in time.
//!
//! A hosted database can accept a request and never answer (Turso having a
//! bad minute, a network black hole). Without a deadline such a call stalls
//! a cron run until Vercel kills the function, its lease then blocks the next
//! runs, and API requests hang. So the store hands out only [`Conn`], whose
//! calls (query, execute, batch, transaction steps, row fetches) each give up
//! after the deadline with [`StoreError::TimedOut`]: no store method can
//! forget it. An embedded file needs none: it answers or fails by itself
//! (busy timeout).
//!
//! Another process may hold the database's write lock (a second function
//! instance, `urlinsta rekey` beside a job). Write transactions therefore
//! begin IMMEDIATE, taking the lock up front (a server waits for it; a
//! transaction that read first would fail at its first write instead),
//! and a call that still meets SQLITE_BUSY is tried again, through the one
//! retry loop, until the deadline. Only whole units are: a statement or
//! batch outside a transaction, and a transaction's BEGIN; a statement
//! inside a transaction is not (SQLite wants the transaction rolled back).
//! A hosted database that turns a call away (HTTP 429: no connection free)
//! ran none of it, and the call is tried again the same way.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use libsql::params::IntoParams;
use libsql::{Row, TransactionBehavior};
use tokio::sync::OwnedSemaphorePermit;

use super::{Result, StoreError};
use crate::retry::{Attempt, Backoff, Retry};

/// How a call that met another process's write lock is tried again: soon,
/// then less and less often, for as long as its deadline allows.
pub(super) const BUSY_BACKOFF: Backoff = Backoff {
    max_attempts: u32::MAX,
    base: Duration::from_millis(20),
    cap: Duration::from_secs(1),
};

/// How long an embedded file's writer waits for another (SQLite's busy
/// timeout, then our retries).
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct Conn {
    inner: libsql::Connection,
    /// None for an embedded file.
    deadline: Option<Duration>,
    /// Retries SQLITE_BUSY; `None` inside a transaction, whose statements are not retried alone.
    busy: Option<Retry>,
    /// This connection's place among the process's hosted connections,
    /// given back when the last clone is dropped; None for an embedded file.
    _slot: Option<Arc<OwnedSemaphorePermit>>,
}

impl Conn {
    pub(super) fn new(
        inner: libsql::Connection,
        deadline: Option<Duration>,
        busy: Retry,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Self {
        Conn {
            inner,
            deadline,
            busy: Some(busy),
            _slot: slot.map(Arc::new),
        }
    }

    pub async fn query(&self, sql: &str, params: impl IntoParams) -> Result<Rows> {
        let params = params.into_params()?;
        let rows = self.call(|| self.inner.query(sql, params.clone())).await?;
        Ok(Rows {
            inner: rows,
            deadline: self.deadline,
        })
    }

    pub async fn execute(&self, sql: &str, params: impl IntoParams) -> Result<u64> {
        let params = params.into_params()?;
        self.call(|| self.inner.execute(sql, params.clone())).await
    }

    /// Statements one by one, never tried again: a failure may leave the
    /// ones before it applied.
    pub async fn execute_batch(&self, sql: &str) -> Result<()> {
        bounded(self.deadline, self.inner.execute_batch(sql)).await.map(drop)
    }

    /// All statements or none: a batch that times out may still land later
    /// on the server, whole, never in part.
    pub async fn execute_transactional_batch(&self, sql: &str) -> Result<()> {
        self.call(|| self.inner.execute_transactional_batch(sql))
            .await
            .map(drop)
    }

    /// A write transaction, holding the write lock from its BEGIN, so that
    /// no statement inside can meet SQLITE_BUSY. Its statements and commit
    /// are bounded like any call. Dropped uncommitted (a step timed out), it
    /// rolls back: on a hosted database libsql tries at once, and the server
    /// does when the stream expires.
    pub async fn transaction(&self) -> Result<Tx> {
        let begin = || self.inner.transaction_with_behavior(TransactionBehavior::Immediate);
        let tx = self.call(begin).await?;
        let conn = Conn {
            inner: (*tx).clone(),
            deadline: self.deadline,
            busy: None,
            _slot: self._slot.clone(),
        };
        Ok(Tx { tx, conn })
    }

    pub(super) fn busy_timeout(&self, timeout: Duration) -> Result<()> {
        Ok(self.inner.busy_timeout(timeout)?)
    }

    /// One call, bounded by the deadline; outside a transaction, made again
    /// while another process holds the write lock, or the server has no
    /// connection free for it, and the deadline allows.
    async fn call<T, Fut>(&self, mut attempt: impl FnMut() -> Fut) -> Result<T>
    where
        Fut: Future<Output = libsql::Result<T>>,
    {
        let Some(busy) = &self.busy else {
            return bounded(self.deadline, attempt()).await;
        };
        let until = busy.clock().now() + self.deadline.unwrap_or(BUSY_TIMEOUT);
        let retried = busy.run(Some(until), |_| {
            let answer = attempt();
            async move {
                match answer.await {
                    Err(e) if is_busy(&e) => {
                        tracing::debug!(error = %e, "the database is locked by another writer; trying again");
                        Attempt::retry(Err(e), None)
                    }
                    Err(e) if is_turned_away(&e) => {
                        tracing::debug!(error = %e, "the database has no connection free; trying again");
                        Attempt::retry(Err(e), None)
                    }
                    answer => Attempt::Done(answer),
                }
            }
        });
        bounded(self.deadline, retried).await
    }
}

/// SQLITE_BUSY, from an embedded file or a hosted database: another
/// connection holds the write lock, and nothing of this call was applied.
pub(super) fn is_busy(e: &libsql::Error) -> bool {
    match e {
        libsql::Error::SqliteFailure(code, _) => (*code & 0xff) == 5,
        other => {
            let text = other.to_string();
            text.contains("SQLITE_BUSY") || text.contains("database is locked")
        }
    }
}

/// A hosted database that turned the call away before running any of it:
/// HTTP 429, sqld's answer when none of its connections (128) came free
/// within a second, or 128 requests already wait. Other processes share
/// them (function instances, a job beside `urlinsta serve`); this one keeps
/// to its share (see `MAX_HOSTED_CONNECTIONS`).
pub(super) fn is_turned_away(e: &libsql::Error) -> bool {
    matches!(e, libsql::Error::Hrana(_)) && e.to_string().contains("status=429")
}

/// Rows of a query; a hosted database streams them, so each fetch is bounded too.
pub struct Rows {
    inner: libsql::Rows,
    deadline: Option<Duration>,
}

impl Rows {
    pub async fn next(&mut self) -> Result<Option<Row>> {
        bounded(self.deadline, self.inner.next()).await
    }
}

pub struct Tx {
    tx: libsql::Transaction,
    /// The transaction's own connection, bounded.
    conn: Conn,
}

impl Tx {
    pub async fn commit(self) -> Result<()> {
        bounded(self.conn.deadline, self.tx.commit()).await
    }
}

impl std::ops::Deref for Tx {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.conn
    }
}

async fn bounded<T>(deadline: Option<Duration>, call: impl Future<Output = libsql::Result<T>>) -> Result<T> {
    match deadline {
        None => Ok(call.await?),
        Some(limit) => match tokio::time::timeout(limit, call).await {
            Ok(answer) => Ok(answer?),
            Err(_) => Err(StoreError::TimedOut(limit)),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use chrono::Utc;

    use super::*;
    use crate::clock::{Clock, ManualClock};

    /// A clock for which time passes only in sleeps: the first sleep lets
    /// the other writer (holding `lock`) commit, so the next attempt finds
    /// the lock free, with no real waiting.
    struct OtherWriterCommitsMeanwhile {
        time: ManualClock,
        lock: Mutex<Option<libsql::Connection>>,
    }

    impl std::fmt::Debug for OtherWriterCommitsMeanwhile {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("OtherWriterCommitsMeanwhile")
                .field("time", &self.time)
                .finish_non_exhaustive()
        }
    }

    impl Clock for OtherWriterCommitsMeanwhile {
        fn now(&self) -> tokio::time::Instant {
            self.time.now()
        }

        fn utc_now(&self) -> chrono::DateTime<Utc> {
            self.time.utc_now()
        }

        fn sleep(&self, wait: Duration) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
            let slept = self.time.sleep(wait);
            let holder = self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
            Box::pin(async move {
                slept.await;
                if let Some(holder) = holder {
                    holder.execute("COMMIT", ()).await.expect("the other writer commits");
                }
            })
        }
    }

    /// An embedded file with a table, and another connection holding its write lock.
    async fn locked_file(dir: &tempfile::TempDir) -> (libsql::Database, libsql::Connection) {
        let db = libsql::Builder::new_local(dir.path().join("busy.db"))
            .build()
            .await
            .expect("open");
        let holder = db.connect().expect("connect");
        holder.execute("CREATE TABLE t (who TEXT)", ()).await.expect("create");
        holder.execute("BEGIN IMMEDIATE", ()).await.expect("begin");
        holder
            .execute("INSERT INTO t VALUES ('holder')", ())
            .await
            .expect("insert");
        (db, holder)
    }

    async fn rows(db: &libsql::Database) -> Vec<String> {
        let conn = db.connect().expect("connect");
        let mut rows = conn.query("SELECT who FROM t ORDER BY who", ()).await.expect("query");
        let mut out = Vec::new();
        while let Some(row) = rows.next().await.expect("row") {
            out.push(row.get::<String>(0).expect("text"));
        }
        out
    }

    #[tokio::test]
    async fn a_write_that_meets_another_writer_s_lock_lands_once_the_lock_is_free() {
        let dir = tempfile::tempdir().expect("dir");
        let (db, holder) = locked_file(&dir).await;
        let clock = Arc::new(OtherWriterCommitsMeanwhile {
            time: ManualClock::new(Utc::now()),
            lock: Mutex::new(Some(holder)),
        });
        // No busy timeout: SQLite answers SQLITE_BUSY at once, as a server may.
        let conn = Conn::new(
            db.connect().expect("connect"),
            None,
            Retry::fixed(BUSY_BACKOFF, clock.clone(), 3),
            None,
        );
        let written = conn
            .execute("INSERT INTO t VALUES (?1)", ["second"])
            .await
            .expect("lands");
        assert_eq!(written, 1);
        assert_eq!(rows(&db).await, ["holder", "second"]);
        assert_eq!(clock.time.sleeps().len(), 1, "one wait, then the lock was free");
    }

    #[tokio::test]
    async fn a_lock_held_past_the_deadline_fails_the_write_as_busy_in_time() {
        let dir = tempfile::tempdir().expect("dir");
        let (db, _holder) = locked_file(&dir).await;
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let deadline = Duration::from_secs(3);
        let conn = Conn::new(
            db.connect().expect("connect"),
            Some(deadline),
            Retry::fixed(BUSY_BACKOFF, clock.clone(), 3),
            None,
        );
        let e = conn
            .execute_transactional_batch("INSERT INTO t VALUES ('never');")
            .await
            .expect_err("still locked");
        assert!(matches!(&e, StoreError::Db(inner) if is_busy(inner)), "{e}");
        let waited: Duration = clock.sleeps().iter().sum();
        assert!(waited < deadline && clock.sleeps().len() > 3, "{:?}", clock.sleeps());
        let e = conn
            .transaction()
            .await
            .err()
            .expect("no transaction begins under the lock");
        assert!(matches!(&e, StoreError::Db(inner) if is_busy(inner)), "{e}");
    }

    #[test]
    fn a_hosted_database_s_429_is_a_call_turned_away_and_nothing_else_is() {
        let hrana = |text: &str| libsql::Error::Hrana(Box::new(std::io::Error::other(text.to_owned())));
        let refused = hrana(
            "api error: `status=429 Too Many Requests, body={\"error\":\"Timed out while opening database connection\"}`",
        );
        let crowded =
            hrana("api error: `status=429 Too Many Requests, body={\"error\":\"Too many concurrent requests\"}`");
        let failed = hrana("api error: `status=500 Internal Server Error, body={\"error\":\"disk I/O error\"}`");
        assert!(is_turned_away(&refused) && is_turned_away(&crowded));
        assert!(!is_turned_away(&failed) && !is_busy(&failed));
    }
}
