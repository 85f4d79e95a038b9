//! The network between the app and a hosted database, under a test's control.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The network between the app and sqld, which a test can cut, slow down,
/// set to cut itself after a number of requests, or make silent.
pub struct Link {
    pub url: String,
    state: Arc<LinkState>,
    task: tokio::task::JoinHandle<()>,
}

struct LinkState {
    down: AtomicBool,
    delay_ms: AtomicU64,
    /// HTTP requests forwarded so far.
    requests: AtomicU64,
    /// Cut the link once this many requests went through.
    down_after: AtomicU64,
    /// Go silent (a black hole) once this many requests went through.
    silent_after: AtomicU64,
    /// Go silent from the first request after the next COMMIT.
    silent_after_commit: AtomicBool,
    /// Bumped on every cut: connections of an older epoch close.
    epoch: AtomicU64,
    /// What goes missing while the link is silent (`SILENT_*`): connections
    /// stay open and nothing comes back.
    silent: AtomicU8,
}

const SILENT_NOT: u8 = 0;
/// A black hole: nothing reaches the database, nothing comes back.
pub const SILENT_BLACK_HOLE: u8 = 1;
/// Requests reach the database and are carried out; the answers are lost.
pub const SILENT_ANSWERS_LOST: u8 = 2;

impl Link {
    pub async fn to(upstream: &str) -> Link {
        let upstream = upstream.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(LinkState {
            down: AtomicBool::new(false),
            delay_ms: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            down_after: AtomicU64::new(u64::MAX),
            silent_after: AtomicU64::new(u64::MAX),
            silent_after_commit: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            silent: AtomicU8::new(SILENT_NOT),
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if shared.down.load(Ordering::SeqCst) {
                    continue; // dropped: the database is unreachable
                }
                if shared.silent.load(Ordering::SeqCst) == SILENT_BLACK_HOLE {
                    tokio::spawn(swallow(client)); // accepted, never answered
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let epoch = shared.epoch.load(Ordering::SeqCst);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pipe(cr, sw, shared.clone(), epoch, true));
                tokio::spawn(pipe(sr, cw, shared.clone(), epoch, false));
            }
        });
        Link { url, state, task }
    }

    pub fn cut(&self) {
        self.state.down.store(true, Ordering::SeqCst);
        self.state.epoch.fetch_add(1, Ordering::SeqCst);
    }

    pub fn restore(&self) {
        self.state.down_after.store(u64::MAX, Ordering::SeqCst);
        self.state.silent_after.store(u64::MAX, Ordering::SeqCst);
        self.state.silent_after_commit.store(false, Ordering::SeqCst);
        self.state.down.store(false, Ordering::SeqCst);
        self.state.silent.store(SILENT_NOT, Ordering::SeqCst);
    }

    pub fn hang_after(&self, more_requests: u64) {
        let now = self.state.requests.load(Ordering::SeqCst);
        self.state.silent_after.store(now + more_requests, Ordering::SeqCst);
    }

    /// Lets the next transaction commit and its answer come back, then goes
    /// silent from the request after it.
    pub fn hang_after_commit(&self) {
        self.state.silent_after_commit.store(true, Ordering::SeqCst);
    }

    /// Keeps every connection open and answers nothing (`SILENT_*` says what is lost).
    pub fn hang(&self, how: u8) {
        self.state.silent.store(how, Ordering::SeqCst);
    }

    pub fn slow(&self, each_way: Duration) {
        self.state.delay_ms.store(each_way.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn cut_after(&self, more_requests: u64) {
        let now = self.state.requests.load(Ordering::SeqCst);
        self.state.down_after.store(now + more_requests, Ordering::SeqCst);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies one direction until either side closes or the link is cut.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    link: Arc<LinkState>,
    epoch: u64,
    client_to_server: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if client_to_server {
            let starts = buf[..n].windows(5).filter(|w| w == b"POST ").count() as u64;
            let total = link.requests.fetch_add(starts, Ordering::SeqCst) + starts;
            if total > link.down_after.load(Ordering::SeqCst) && !link.down.swap(true, Ordering::SeqCst) {
                link.epoch.fetch_add(1, Ordering::SeqCst);
            }
            if total > link.silent_after.load(Ordering::SeqCst) {
                link.silent.store(SILENT_BLACK_HOLE, Ordering::SeqCst);
            }
            if buf[..n].windows(6).any(|w| w == b"COMMIT") && link.silent_after_commit.swap(false, Ordering::SeqCst) {
                link.silent_after.store(total, Ordering::SeqCst);
            }
        }
        let lost = match link.silent.load(Ordering::SeqCst) {
            SILENT_BLACK_HOLE => true,
            SILENT_ANSWERS_LOST => !client_to_server,
            _ => false,
        };
        if lost {
            continue;
        }
        let delay = link.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if link.epoch.load(Ordering::SeqCst) != epoch || to.write_all(&buf[..n]).await.is_err() {
            return; // cut: both halves drop, the connection closes
        }
    }
}

/// Reads a connection to its end and answers nothing.
async fn swallow(mut client: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(1..) = client.read(&mut buf).await {}
}
