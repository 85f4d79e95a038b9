//! The local server of `urlinsta serve` and of the tests: every `/api` route
//! through the same handlers as the Vercel functions, and `public/` with the
//! headers `vercel.json` sets. Unlike Vercel's edge, it faces clients itself,
//! so it bounds what slow and many clients can hold: see [`Limits`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::request::{from_hyper, to_hyper};
use super::{ApiError, ApiResponse, Route};
use crate::app::App;

/// The Content-Security-Policy of the page: nothing from any other host.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What one server allows its clients, so that slow or many of them cannot
/// hold it: each bound ends a different way of holding it.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// A client that has not sent a whole request head by then is dropped;
    /// so is a kept-alive connection that sends no next request.
    pub header_read: Duration,
    /// Reading an API request's body and answering it; Vercel's maxDuration
    /// of `api/**` functions (vercel.json).
    pub api_deadline: Duration,
    /// The same for the cron routes, whose jobs run up to their time budget.
    pub cron_deadline: Duration,
    /// Open connections at most: past it, new ones wait in the kernel's
    /// backlog, and the process keeps file descriptors for its database.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(30),
            api_deadline: Duration::from_secs(30),
            cron_deadline: Duration::from_secs(300),
            max_connections: 512,
        }
    }
}

/// A running server; dropping the handle does not stop it, `shutdown` does.
pub struct ServerHandle {
    pub addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    served: Arc<AtomicU64>,
    connections: Arc<Semaphore>,
    max_connections: usize,
}

impl ServerHandle {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far (API and static files).
    pub fn requests_served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.max_connections - self.connections.available_permits()
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Serves on `listener` with the default [`Limits`] until shut down.
pub fn spawn(listener: TcpListener, app: App, public_dir: PathBuf) -> std::io::Result<ServerHandle> {
    spawn_with(listener, app, public_dir, Limits::default())
}

/// Serves on `listener` until shut down.
pub fn spawn_with(
    listener: TcpListener,
    app: App,
    public_dir: PathBuf,
    limits: Limits,
) -> std::io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let served = Arc::new(AtomicU64::new(0));
    let counter = served.clone();
    let max_connections = limits.max_connections.max(1);
    let connections = Arc::new(Semaphore::new(max_connections));
    let slots = connections.clone();
    let task = tokio::spawn(async move {
        let mut backoff = AcceptBackoff::default();
        loop {
            // A free slot first: at the cap, new clients wait in the backlog.
            let slot = tokio::select! {
                s = slots.clone().acquire_owned() => s,
                _ = stopped.changed() => return,
            };
            let Ok(slot) = slot else { return };
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stopped.changed() => return,
            };
            let stream = match accepted {
                Ok((stream, _)) => {
                    backoff.succeeded();
                    stream
                }
                Err(e) => {
                    // Out of file descriptors, most likely: trying again at
                    // once only spins. Wait, longer each time, and say so once.
                    let pause = backoff.failed(&e);
                    drop(slot);
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => continue,
                        _ = stopped.changed() => return,
                    }
                }
            };
            let app = app.clone();
            let public_dir = public_dir.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let app = app.clone();
                    let public_dir = public_dir.clone();
                    let counter = counter.clone();
                    async move {
                        let response = respond_within(&app, &public_dir, req, &limits).await;
                        counter.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, Infallible>(to_hyper::<Full<Bytes>>(response))
                    }
                });
                if let Err(e) = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_read)
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                drop(slot);
            });
        }
    });
    Ok(ServerHandle {
        addr,
        stop,
        task,
        served,
        connections,
        max_connections,
    })
}

/// Pauses between failed accepts: 10 ms, doubling up to 1 s; one warning
/// when a burst of failures starts and one when accepting works again.
#[derive(Debug, Default)]
struct AcceptBackoff {
    failures: u64,
    pause: Duration,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MOST: Duration = Duration::from_secs(1);

    /// How long to wait before the next accept.
    fn failed(&mut self, error: &std::io::Error) -> Duration {
        if self.failures == 0 {
            tracing::warn!(error = %error, "accept failed; retrying with a growing pause until it works again");
            self.pause = Self::FIRST;
        } else {
            self.pause = (self.pause * 2).min(Self::MOST);
        }
        self.failures += 1;
        self.pause
    }

    fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::warn!(failures = self.failures, "accept works again");
            self.failures = 0;
        }
    }
}

/// [`respond`], cut off at the route's deadline (body reading included).
async fn respond_within(
    app: &App,
    public_dir: &Path,
    req: hyper::Request<hyper::body::Incoming>,
    limits: &Limits,
) -> ApiResponse {
    let deadline = match req.uri().path().starts_with("/api/cron/") {
        true => limits.cron_deadline,
        false => limits.api_deadline,
    };
    let path = sanitize_for_log(req.uri().path());
    match tokio::time::timeout(deadline, respond(app, public_dir, req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(path = %path, seconds = deadline.as_secs_f64(), "request cut off at its deadline");
            let mut response = ApiError::Unavailable(format!(
                "the request took longer than {} s; try again",
                deadline.as_secs_f64()
            ))
            .into_response();
            security_headers(&mut response);
            response
        }
    }
}

async fn respond(app: &App, public_dir: &Path, req: hyper::Request<hyper::body::Incoming>) -> ApiResponse {
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let mut response = if path == "/api" || path.starts_with("/api/") {
        match Route::resolve(&path) {
            None => ApiError::NotFound(format!("no API route at {}", sanitize_for_log(&path))).into_response(),
            Some((route, params)) => match from_hyper(req).await {
                Err(e) => e.into_response(),
                Ok(mut api_req) => {
                    api_req.params = params;
                    super::handle(app, route, api_req).await
                }
            },
        }
    } else {
        static_file(public_dir, &method, &path).await
    };
    security_headers(&mut response);
    tracing::debug!(method = %method, path = %sanitize_for_log(&path), status = response.status.as_u16(), ms = started.elapsed().as_millis() as u64, "served");
    response
}

fn security_headers(r: &mut ApiResponse) {
    r.set_header("x-content-type-options", "nosniff");
    r.set_header("referrer-policy", "no-referrer");
    r.set_header("x-frame-options", "DENY");
    r.set_header("content-security-policy", PAGE_CSP);
}

/// Paths can hold anything a client sends; logs get a bounded, printable form.
fn sanitize_for_log(path: &str) -> String {
    path.chars()
        .take(120)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

async fn static_file(public_dir: &Path, method: &Method, path: &str) -> ApiResponse {
    if method != Method::GET && method != Method::HEAD {
        return ApiError::MethodNotAllowed(&[Method::GET, Method::HEAD]).into_response();
    }
    let Some(relative) = safe_relative_path(path) else {
        return ApiError::BadRequest("invalid path".into()).into_response();
    };
    let mut file = public_dir.join(&relative);
    if relative.as_os_str().is_empty() || file.is_dir() {
        file = file.join("index.html");
    }
    match tokio::fs::read(&file).await {
        Ok(bytes) => {
            let mut r = ApiResponse::text(StatusCode::OK, content_type(&file), bytes);
            r.set_header("cache-control", "no-cache");
            r
        }
        Err(_) => ApiError::NotFound("no such file".into()).into_response(),
    }
}

/// The request path as a path under `public/`, or None when it tries to leave it.
fn safe_relative_path(path: &str) -> Option<PathBuf> {
    let decoded: String = url::form_urlencoded::parse(format!("p={}", path.replace('+', "%2B")).as_bytes())
        .next()?
        .1
        .into_owned();
    if decoded.contains('\0') || decoded.contains('\\') {
        return None;
    }
    let mut out = PathBuf::new();
    for component in Path::new(decoded.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) if !part.to_string_lossy().starts_with('.') => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_cannot_leave_public() {
        assert_eq!(safe_relative_path("/"), Some(PathBuf::new()));
        assert_eq!(safe_relative_path("/app.js"), Some(PathBuf::from("app.js")));
        assert_eq!(safe_relative_path("/../Cargo.toml"), None);
        assert_eq!(safe_relative_path("/%2e%2e/Cargo.toml"), None);
        assert_eq!(safe_relative_path("/a/%2e%2e/%2e%2e/x"), None);
        assert_eq!(safe_relative_path("/.env"), None);
        assert_eq!(safe_relative_path("/a%5c..%5cb"), None);
        assert_eq!(safe_relative_path("/%00"), None);
    }

    #[test]
    fn failed_accepts_back_off_and_start_over_after_a_success() {
        let error = std::io::Error::from_raw_os_error(24); // EMFILE: too many open files
        let mut backoff = AcceptBackoff::default();
        let pauses: Vec<Duration> = (0..1000).map(|_| backoff.failed(&error)).collect();
        assert_eq!(pauses[0], Duration::from_millis(10));
        assert_eq!(pauses[1], Duration::from_millis(20));
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]), "never shorter");
        assert_eq!(*pauses.last().unwrap(), Duration::from_secs(1), "capped at a second");
        // A thousand failures take minutes, not a spinning core.
        assert!(pauses.iter().sum::<Duration>() > Duration::from_secs(900));
        assert_eq!(backoff.failures, 1000);
        backoff.succeeded();
        assert_eq!(
            backoff.failed(&error),
            Duration::from_millis(10),
            "a new burst starts short"
        );
    }
}
