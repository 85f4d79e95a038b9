//! Storage on libSQL: an embedded file or a hosted database (Turso, `sqld`).
//!
//! The `Database` is opened once per process; a `Connection` is opened per
//! request or job and dropped after, because a remote connection dies when
//! idle (platform-facts). Nothing outside this module writes SQL.

mod accounts;
mod allowance;
mod candidates;
mod collect;
mod collect_read;
mod conn;
mod connections;
mod deletions;
mod history;
mod instagram_logins;
mod jobs;
mod media;
mod media_basis;
mod media_history;
mod media_read;
mod migrate;
mod notifications;
mod rekey;
mod schema;
mod sessions;
pub mod sql;
mod status;
mod upkeep;
mod values;

use std::time::Duration;

use libsql::{Builder, Database};

pub use accounts::*;
pub use candidates::*;
pub use collect::*;
pub use collect_read::*;
use conn::{BUSY_BACKOFF, BUSY_TIMEOUT};
pub use conn::{Conn, Rows, Tx};
pub use connections::*;
pub use deletions::*;
pub use history::*;
pub use instagram_logins::*;
pub use jobs::*;
pub use media::*;
pub use media_basis::{KnownMedia, MediaBasis, MediaReach, RefusedMetric};
pub use media_history::*;
pub use media_read::*;
pub use notifications::*;
pub use rekey::*;
pub use sessions::*;
pub use status::*;
pub use upkeep::*;

use crate::config::DatabaseConfig;
use crate::crypto::{CryptoError, Keyring};

/// How much of a script an embedded file is given at once (see [`Store::write_script`]).
const SCRIPT_PIECE_BYTES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] libsql::Error),
    #[error("could not open the database: {0}")]
    Open(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("stored data is not what this version expects: {0}")]
    Corrupt(String),
    /// A write that went to the database in a group (see `Store::write_script`).
    #[error("database error: {0}")]
    Write(String),
    /// A hosted database that did not answer within DB_TIMEOUT_MS: as good as
    /// unreachable. A write may still land later, whole (see [`Conn`]).
    #[error("the database did not answer within {} ms", .0.as_millis())]
    TimedOut(Duration),
}

impl StoreError {
    /// A uniqueness or foreign-key violation, on the local and the remote path alike.
    pub fn is_constraint(&self) -> bool {
        match self {
            StoreError::Db(libsql::Error::SqliteFailure(code, _)) => (*code & 0xff) == 19,
            StoreError::Db(e) => e.to_string().contains("CONSTRAINT"),
            StoreError::Write(e) => e.contains("CONSTRAINT"),
            _ => false,
        }
    }

    /// The database did not answer in time: every call is likely to fail the
    /// same way for a while, so a job starts no more accounts.
    pub fn is_timeout(&self) -> bool {
        matches!(self, StoreError::TimedOut(_))
    }

    /// Another process held the write lock, or the hosted database had no
    /// connection free, for the whole deadline.
    pub fn is_busy(&self) -> bool {
        match self {
            StoreError::Db(e) => conn::is_busy(e) || conn::is_turned_away(e),
            StoreError::Write(text) => {
                text.contains("SQLITE_BUSY") || text.contains("database is locked") || text.contains("status=429")
            }
            _ => false,
        }
    }

    /// The same failure for another waiter of a group write: a timeout stays
    /// one, anything else keeps its text.
    fn shared(&self) -> StoreError {
        match self {
            StoreError::TimedOut(after) => StoreError::TimedOut(*after),
            StoreError::Db(e) => StoreError::Write(e.to_string()),
            StoreError::Write(e) => StoreError::Write(e.clone()),
            other => StoreError::Write(other.to_string()),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone)]
pub struct Store {
    db: std::sync::Arc<Database>,
    local: bool,
    /// How long a hosted database may take to answer one call; None for a file.
    deadline: Option<Duration>,
    keys: Keyring,
    /// How calls that met another process's write lock are tried again.
    busy: crate::retry::Retry,
    /// Held by this process's one writer to a hosted database; see [`Store::writer`].
    write_turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Scripts waiting for the writer; see [`Store::write_script`].
    waiting: std::sync::Arc<std::sync::Mutex<Vec<WaitingScript>>>,
    /// Leases whose taking or giving back timed out; see [`Store::try_lease`].
    unsure_leases: std::sync::Arc<std::sync::Mutex<Vec<jobs::UnsureLease>>>,
    /// This process's share of a hosted database's connections; see [`MAX_HOSTED_CONNECTIONS`].
    slots: Option<std::sync::Arc<tokio::sync::Semaphore>>,
}

/// A transactional script and who waits for its outcome.
struct WaitingScript {
    sql: String,
    done: tokio::sync::oneshot::Sender<Result<()>>,
}

/// A connection for writing; on a hosted database, its holder is the process's only writer.
pub(crate) struct Writer {
    conn: Conn,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl std::ops::Deref for Writer {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// Connections to a hosted database this process has open at once, at most.
/// Each holds one of the server's connection slots from its first call until
/// it is dropped (a query's stream stays open while its rows are read). sqld
/// has 128 (`--max-concurrent-connections`) and answers HTTP 429 to a request
/// that waited a second for one, or that finds 128 others waiting: under a
/// burst (200 reads at once on a busy machine) that was a 500 for the reader.
/// Past this share a caller waits here instead, within its deadline.
const MAX_HOSTED_CONNECTIONS: usize = 64;

impl Store {
    pub async fn open(config: &DatabaseConfig, keys: Keyring) -> Result<Self> {
        let (db, local, deadline) = match config {
            DatabaseConfig::Local { path } => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Open(format!("{}: {e}", dir.display())))?;
                }
                (Builder::new_local(path).build().await?, true, None)
            }
            DatabaseConfig::Remote {
                url,
                auth_token,
                timeout,
            } => {
                // Turso's libsql:// is HTTPS underneath.
                let url = match url.strip_prefix("libsql://") {
                    Some(rest) => format!("https://{rest}"),
                    None => url.clone(),
                };
                (
                    Builder::new_remote(url, auth_token.expose().to_string())
                        .build()
                        .await?,
                    false,
                    Some(*timeout),
                )
            }
        };
        let store = Store {
            db: std::sync::Arc::new(db),
            local,
            deadline,
            keys,
            busy: crate::retry::Retry::new(BUSY_BACKOFF),
            write_turn: Default::default(),
            waiting: Default::default(),
            unsure_leases: Default::default(),
            slots: (!local).then(|| std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_HOSTED_CONNECTIONS))),
        };
        if local {
            // WAL lets readers and one writer work at once; it persists in the file.
            let conn = store.conn().await?;
            let mut rows = conn.query("PRAGMA journal_mode=WAL", ()).await?;
            while rows.next().await?.is_some() {}
        }
        Ok(store)
    }

    pub fn is_local(&self) -> bool {
        self.local
    }

    pub fn keys(&self) -> &Keyring {
        &self.keys
    }

    /// A fresh connection, every call of which ends in time; local ones wait
    /// on locks and enforce foreign keys; hosted ones are at most
    /// `MAX_HOSTED_CONNECTIONS` at once, and a caller past that waits here.
    pub async fn conn(&self) -> Result<Conn> {
        let slot = match (&self.slots, self.deadline) {
            (Some(slots), Some(limit)) => {
                let wait = slots.clone().acquire_owned();
                match tokio::time::timeout(limit, wait).await {
                    Ok(Ok(slot)) => Some(slot),
                    // Never closed; and a wait past the deadline is the database not keeping up.
                    _ => return Err(StoreError::TimedOut(limit)),
                }
            }
            _ => None,
        };
        let conn = Conn::new(self.db.connect()?, self.deadline, self.busy.clone(), slot);
        if self.local {
            conn.busy_timeout(BUSY_TIMEOUT)?;
            conn.execute("PRAGMA foreign_keys = ON", ()).await?;
        }
        Ok(conn)
    }

    /// A connection for writing. On a hosted database it waits until this
    /// process's writes before it are done: sqld answers concurrent write
    /// transactions with SQLITE_BUSY and, when they go on, stops answering
    /// altogether (BENCHMARKS.md), while it runs one writer at a time anyway.
    /// An embedded file queues its writers itself (busy timeout), as fast.
    /// Never take a second writer while holding one.
    pub(crate) async fn writer(&self) -> Result<Writer> {
        let turn = match self.local {
            true => None,
            false => Some(self.write_turn.clone().lock_owned().await),
        };
        Ok(Writer {
            conn: self.conn().await?,
            _turn: turn,
        })
    }

    /// Runs `sql` as one transactional batch. On a hosted database, the
    /// scripts that wait for the writer meanwhile go along in the same batch:
    /// one round trip for all of them, so that writing one at a time
    /// ([`Store::writer`]) costs one round trip per turn, not per account,
    /// however far the database is. If the group fails, each script goes again
    /// alone, so that only a failing one fails.
    pub(crate) async fn write_script(&self, sql: String) -> Result<()> {
        if self.local {
            // libsql's transactional batch copies the rest of the script at
            // each statement, which is quadratic: a run's media write of a few
            // hundred kB spent most of the collection's CPU there
            // (BENCHMARKS.md). A few statements at a time in one transaction
            // do the same in linear time.
            let writer = self.writer().await?;
            let tx = writer.transaction().await?;
            for piece in sql::pieces(&sql, SCRIPT_PIECE_BYTES) {
                tx.execute_batch(piece).await?;
            }
            return tx.commit().await;
        }
        let (done, outcome) = tokio::sync::oneshot::channel();
        self.waiting().push(WaitingScript { sql, done });
        let writer = self.writer().await;
        // Empty when a writer before took this script along.
        let group = std::mem::take(&mut *self.waiting());
        match writer {
            Ok(writer) => Self::write_group(&writer, group).await,
            Err(e) => group.into_iter().for_each(|w| drop(w.done.send(Err(e.shared())))),
        }
        match outcome.await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Write("the write was dropped unanswered".into())),
        }
    }

    /// All scripts in one transaction; if that fails, each alone, so that only
    /// a failing one fails. Not after a timeout or a lock held all along: the
    /// database is not answering or not free, and trying each alone would
    /// only wait once more per script.
    async fn write_group(writer: &Writer, group: Vec<WaitingScript>) {
        let together = match group.len() > 1 {
            true => {
                let all: String = group.iter().map(|w| w.sql.as_str()).collect();
                Some(writer.execute_transactional_batch(&all).await)
            }
            false => None,
        };
        for w in group {
            let result = match &together {
                Some(Ok(())) => Ok(()),
                Some(Err(e)) if e.is_timeout() || e.is_busy() => Err(e.shared()),
                _ => writer.execute_transactional_batch(&w.sql).await,
            };
            let _ = w.done.send(result);
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, Vec<WaitingScript>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn unsure_leases(&self) -> std::sync::MutexGuard<'_, Vec<jobs::UnsureLease>> {
        self.unsure_leases.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub async fn users_count(&self) -> Result<i64> {
        let conn = self.conn().await?;
        let mut rows = conn.query("SELECT COUNT(*) FROM users", ()).await?;
        Ok(match rows.next().await? {
            Some(row) => row.get(0)?,
            None => 0,
        })
    }
}
