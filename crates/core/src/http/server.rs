//! The local server of `urlinsta serve` and of the tests: every `/api` route
//! through the same handlers as the Vercel functions, and `public/` with the
//! headers `vercel.json` sets.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::request::{from_hyper, to_hyper};
use super::{ApiError, ApiResponse, Route};
use crate::app::App;

/// The Content-Security-Policy of the page: nothing from any other host.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A running server; dropping the handle does not stop it, `shutdown` does.
pub struct ServerHandle {
    pub addr: SocketAddr,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    served: Arc<AtomicU64>,
}

impl ServerHandle {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered so far (API and static files).
    pub fn requests_served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Serves on `listener` until shut down.
pub fn spawn(listener: TcpListener, app: App, public_dir: PathBuf) -> std::io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let served = Arc::new(AtomicU64::new(0));
    let counter = served.clone();
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = stopped.changed() => return,
            };
            let (stream, _) = match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
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
                        let response = respond(&app, &public_dir, req).await;
                        counter.fetch_add(1, Ordering::Relaxed);
                        Ok::<_, Infallible>(to_hyper::<Full<Bytes>>(response))
                    }
                });
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
        }
    });
    Ok(ServerHandle {
        addr,
        stop,
        task,
        served,
    })
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
}
