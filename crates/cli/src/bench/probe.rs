//! What the bench reads about the machine and this process: resident memory
//! (peak and sampled), the load average, the hardware, and the write
//! transactions an embedded database committed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

/// A field of `/proc/self/status` in kB (`VmHWM`, `VmRSS`).
pub fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// CPU seconds this process has used so far, all threads, user and system
/// (`/proc/self/stat`, in the kernel's 100 ticks a second).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which may hold spaces: state is
    // the first of them, utime the 12th and stime the 13th.
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = rest.next()?.parse().ok()?;
    let system: u64 = rest.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

/// Resets `VmHWM` to the current RSS (Linux: `5` to `clear_refs`), so a
/// phase's peak is its own and not the setup's.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Samples `VmRSS` every few milliseconds on its own thread and keeps the highest.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    max_kb: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(every: Duration) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let max_kb = Arc::new(AtomicU64::new(status_kb("VmRSS").unwrap_or(0)));
        let (s, m) = (stop.clone(), max_kb.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(kb) = status_kb("VmRSS") {
                    m.fetch_max(kb, Ordering::Relaxed);
                }
                std::thread::sleep(every);
            }
        });
        RssSampler {
            stop,
            max_kb,
            thread: Some(thread),
        }
    }

    /// The highest sample, in kB.
    pub fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.max_kb.load(Ordering::Relaxed)
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cpus: usize,
    pub memory_gib: f64,
    pub kernel: String,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kb: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpu,
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            memory_gib: mem_kb / 1024.0 / 1024.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
        }
    }
}

/// Counts the write transactions committed to an embedded database: the
/// commit frames of its write-ahead log. A read snapshot is held meanwhile,
/// so SQLite cannot checkpoint the log and start it over (which would lose
/// the count); the checkpoints it postpones run after [`WalCommits::release`].
pub struct WalCommits {
    wal: PathBuf,
    // Dropped in this order: the snapshot, then its connection, then the database.
    snapshot: Option<libsql::Transaction>,
    _conn: libsql::Connection,
    _db: libsql::Database,
    start: WalState,
}

#[derive(Debug, Clone, Copy, Default)]
struct WalState {
    salt: (u32, u32),
    commits: u64,
}

impl WalCommits {
    pub async fn pin(db_path: &Path) -> anyhow::Result<WalCommits> {
        let db = libsql::Builder::new_local(db_path).build().await?;
        let conn = db.connect()?;
        let snapshot = conn.transaction().await?;
        // A read makes the snapshot real.
        let mut rows = snapshot.query("SELECT COUNT(*) FROM schema_migrations", ()).await?;
        while rows.next().await?.is_some() {}
        drop(rows);
        let mut wal = db_path.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let start = read_wal(&wal)?;
        Ok(WalCommits {
            wal,
            snapshot: Some(snapshot),
            _conn: conn,
            _db: db,
            start,
        })
    }

    /// Write transactions committed since [`WalCommits::pin`].
    pub fn commits(&self) -> anyhow::Result<u64> {
        let now = read_wal(&self.wal)?;
        // A log started over once (it was fully checkpointed when pinned): all its commits are new.
        Ok(if now.salt == self.start.salt {
            now.commits - self.start.commits
        } else {
            now.commits
        })
    }

    pub async fn release(mut self) {
        if let Some(snapshot) = self.snapshot.take() {
            let _ = snapshot.rollback().await;
        }
    }
}

/// The header salts and the number of valid commit frames of a WAL file.
fn read_wal(path: &Path) -> anyhow::Result<WalState> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(WalState::default()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if bytes.len() < 32 {
        return Ok(WalState::default());
    }
    let be = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let page_size = be(8) as usize;
    let salt = (be(16), be(20));
    let mut commits = 0;
    let mut at = 32;
    while page_size > 0 && at + 24 + page_size <= bytes.len() {
        // A frame of this log generation carries its salts; a nonzero "size after commit" ends a transaction.
        if (be(at + 8), be(at + 12)) != salt {
            break;
        }
        if be(at + 4) != 0 {
            commits += 1;
        }
        at += 24 + page_size;
    }
    Ok(WalState { salt, commits })
}
