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

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use libsql::params::IntoParams;
use libsql::{Row, TransactionBehavior};
use tokio::sync::OwnedSemaphorePermit;

use super::{Result, StoreError};

#[derive(Clone)]
pub struct Conn {
    inner: libsql::Connection,
    /// None for an embedded file.
    deadline: Option<Duration>,
    /// This connection's place among the process's hosted connections,
    /// given back when the last clone is dropped; None for an embedded file.
    _slot: Option<Arc<OwnedSemaphorePermit>>,
}

impl Conn {
    pub(super) fn new(
        inner: libsql::Connection,
        deadline: Option<Duration>,
        slot: Option<OwnedSemaphorePermit>,
    ) -> Self {
        Conn {
            inner,
            deadline,
            _slot: slot.map(Arc::new),
        }
    }

    pub async fn query(&self, sql: &str, params: impl IntoParams) -> Result<Rows> {
        let rows = bounded(self.deadline, self.inner.query(sql, params)).await?;
        Ok(Rows {
            inner: rows,
            deadline: self.deadline,
        })
    }

    pub async fn execute(&self, sql: &str, params: impl IntoParams) -> Result<u64> {
        bounded(self.deadline, self.inner.execute(sql, params)).await
    }

    pub async fn execute_batch(&self, sql: &str) -> Result<()> {
        bounded(self.deadline, self.inner.execute_batch(sql)).await.map(drop)
    }

    /// All statements or none: a batch that times out may still land later
    /// on the server, whole, never in part.
    pub async fn execute_transactional_batch(&self, sql: &str) -> Result<()> {
        bounded(self.deadline, self.inner.execute_transactional_batch(sql))
            .await
            .map(drop)
    }

    pub async fn transaction(&self) -> Result<Tx> {
        self.transaction_with_behavior(TransactionBehavior::Deferred).await
    }

    /// A transaction whose statements and commit are bounded like any call.
    /// Dropped uncommitted (a step timed out), it rolls back: on a hosted
    /// database libsql tries at once, and the server does when the stream expires.
    pub async fn transaction_with_behavior(&self, behavior: TransactionBehavior) -> Result<Tx> {
        let tx = bounded(self.deadline, self.inner.transaction_with_behavior(behavior)).await?;
        let conn = Conn {
            inner: (*tx).clone(),
            deadline: self.deadline,
            _slot: self._slot.clone(),
        };
        Ok(Tx { tx, conn })
    }

    pub(super) fn busy_timeout(&self, timeout: Duration) -> Result<()> {
        Ok(self.inner.busy_timeout(timeout)?)
    }
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
