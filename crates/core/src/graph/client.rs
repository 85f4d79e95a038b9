//! The Graph HTTP client: versioned paths, `appsecret_proof` on every call
//! made with a user or Page token, Meta's error bodies turned into
//! [`GraphError`] in one function, and retries with full-jitter backoff
//! bounded by a deadline.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;

use super::error::{ErrorKind, GraphError, InstagramErrorBody, MetaErrorBody};
use super::usage::Usage;
use crate::config::Config;
use crate::crypto::hmac_hex;
use crate::secret::{AccessToken, AppSecret};

/// Which credential a call carries; explicit at every call site.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    User(&'a AccessToken),
    Page(&'a AccessToken),
    /// `APP_ID|APP_SECRET`, for `debug_token`.
    App,
    /// Token endpoints authenticate with `client_secret` in the parameters.
    None,
    /// An Instagram-login token on Instagram Login's hosts: sent as the
    /// `access_token` parameter, as Meta documents it there, without proof.
    Instagram(&'a AccessToken),
}

/// One Graph request, described without a URL so that nothing secret is ever formatted.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub method: reqwest::Method,
    /// Relative to the version, e.g. `me/accounts` or `17841.../insights`.
    pub path: String,
    pub params: Vec<(String, String)>,
    pub auth: Auth<'a>,
    /// Without the `vNN.0/` prefix (Instagram Login's token endpoints).
    pub unversioned: bool,
}

impl<'a> Call<'a> {
    pub fn get(path: impl Into<String>, auth: Auth<'a>) -> Self {
        Call {
            method: reqwest::Method::GET,
            path: path.into(),
            params: Vec::new(),
            auth,
            unversioned: false,
        }
    }

    /// A POST; its parameters travel as a form body (batches can be long).
    pub fn post(path: impl Into<String>, auth: Auth<'a>) -> Self {
        Call {
            method: reqwest::Method::POST,
            path: path.into(),
            params: Vec::new(),
            auth,
            unversioned: false,
        }
    }

    pub fn delete(path: impl Into<String>, auth: Auth<'a>) -> Self {
        Call {
            method: reqwest::Method::DELETE,
            path: path.into(),
            params: Vec::new(),
            auth,
            unversioned: false,
        }
    }

    /// Addresses `path` at the host's root, without the version.
    pub fn unversioned(mut self) -> Self {
        self.unversioned = true;
        self
    }

    pub fn param(mut self, key: &str, value: impl Into<String>) -> Self {
        self.params.push((key.to_string(), value.into()));
        self
    }

    /// The name used in logs and errors: the path without ids' meaning lost.
    pub(super) fn operation(&self) -> String {
        self.path.clone()
    }
}

#[derive(Debug)]
pub struct Reply<T> {
    pub data: T,
    pub usage: Usage,
}

/// Exponential backoff with full jitter: attempt n sleeps a random time in
/// `[0, min(cap, base * 2^n))`. A server's Retry-After is honoured when it fits.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl RetryPolicy {
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << attempt.min(16)).min(self.cap);
        let jitter = Duration::from_secs_f64(rand::rng().random_range(0.0..=1.0) * ceiling.as_secs_f64());
        match retry_after {
            Some(ra) => ra.max(jitter),
            None => jitter,
        }
    }
}

#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    version: String,
    app_id: String,
    app_secret: AppSecret,
    retry: RetryPolicy,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GraphClient({}, {})", self.inner.base, self.inner.version)
    }
}

impl GraphClient {
    pub fn new(config: &Config) -> Result<Self, reqwest::Error> {
        Self::for_host(config, &config.graph_base_url, &config.app_id, &config.app_secret)
    }

    /// A client for another of Meta's hosts (Instagram Login's), with that
    /// product's app; the same timeouts, retries and error path.
    pub fn for_host(config: &Config, base: &Url, app_id: &str, app_secret: &AppSecret) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(config.graph_timeout)
            .connect_timeout(Duration::from_secs(5))
            // Token responses must never be followed elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("urlinsta/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(GraphClient {
            inner: Arc::new(Inner {
                http,
                base: base.clone(),
                version: config.graph_version.clone(),
                app_id: app_id.to_string(),
                app_secret: app_secret.clone(),
                retry: RetryPolicy {
                    max_attempts: 3,
                    base: config.retry_base,
                    cap: config.retry_base.saturating_mul(30),
                },
            }),
        })
    }

    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    pub fn app_secret(&self) -> &AppSecret {
        &self.inner.app_secret
    }

    pub fn version(&self) -> &str {
        &self.inner.version
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    /// `appsecret_proof` and `appsecret_time` for a token (current form of Meta's docs).
    pub fn proof(&self, token: &AccessToken) -> (String, String) {
        let time = chrono::Utc::now().timestamp().to_string();
        let proof = hmac_hex(
            self.inner.app_secret.expose().as_bytes(),
            format!("{}|{time}", token.expose()).as_bytes(),
        );
        (proof, time)
    }

    /// One call with retries for transient and throttled errors, never past `deadline`.
    pub async fn send<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        deadline: Option<Instant>,
    ) -> Result<Reply<T>, GraphError> {
        let policy = &self.inner.retry;
        let mut attempt = 0;
        loop {
            match self.send_once(call).await {
                Ok(reply) => return Ok(reply),
                Err(e) if e.retryable() && attempt + 1 < policy.max_attempts => {
                    let wait = policy.delay(attempt, e.retry_after);
                    // A throttle that lasts beyond the cap is for the caller to park, not to sleep through.
                    let fits_cap = e.retry_after.is_none_or(|ra| ra <= policy.cap);
                    let fits_deadline = deadline.is_none_or(|d| Instant::now() + wait < d);
                    if !fits_cap || !fits_deadline {
                        return Err(e);
                    }
                    tracing::debug!(operation = %e.operation, kind = ?e.kind, attempt, wait_ms = wait.as_millis() as u64, "retrying Graph call");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Follows `paging` to the end of a list and returns every item.
    /// Our own request is re-issued with Meta's `after` cursor, so no URL from a
    /// response is ever trusted or logged.
    pub async fn send_all<T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        deadline: Option<Instant>,
        max_pages: usize,
    ) -> Result<Vec<T>, GraphError> {
        let mut items = Vec::new();
        let mut page_call = call.clone();
        for _ in 0..max_pages {
            let reply: Reply<super::types::Page<T>> = self.send(&page_call, deadline).await?;
            items.extend(reply.data.data);
            let Some(after) = reply.data.paging.and_then(|p| {
                if p.next.is_some() {
                    p.cursors.and_then(|c| c.after)
                } else {
                    None
                }
            }) else {
                return Ok(items);
            };
            page_call = call.clone().param("after", after);
        }
        tracing::warn!(operation = %call.path, max_pages, "stopped following paging after the page limit");
        Ok(items)
    }

    /// A single attempt. Every non-success becomes a [`GraphError`] here and nowhere else.
    pub async fn send_once<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<Reply<T>, GraphError> {
        let operation = call.operation();
        // Below the base's own path, so that a base like `http://sandbox/ig/graph` works.
        let mut url = self.inner.base.clone();
        let root = self.inner.base.path().trim_end_matches('/');
        let path = call.path.trim_start_matches('/');
        url.set_path(&match call.unversioned {
            true => format!("{root}/{path}"),
            false => format!("{root}/{}/{path}", self.inner.version),
        });
        let mut params = call.params.clone();
        let mut request = self.inner.http.request(call.method.clone(), url);
        match call.auth {
            Auth::User(token) | Auth::Page(token) => {
                let (proof, time) = self.proof(token);
                params.push(("appsecret_proof".into(), proof));
                params.push(("appsecret_time".into(), time));
                request = request.bearer_auth(token.expose());
            }
            Auth::App => {
                request = request.bearer_auth(format!("{}|{}", self.inner.app_id, self.inner.app_secret.expose()));
            }
            Auth::Instagram(token) => params.push(("access_token".into(), token.expose().to_string())),
            Auth::None => {}
        }
        request = if call.method == reqwest::Method::POST {
            request.form(&params)
        } else {
            request.query(&params)
        };
        let response = match request.send().await {
            Ok(r) => r,
            // without_url(): the URL may carry a code or client_secret.
            Err(e) => {
                return Err(GraphError::transport(
                    &operation,
                    None,
                    describe_reqwest(&e.without_url()),
                    None,
                    Usage::default(),
                ));
            }
        };
        let status = response.status().as_u16();
        let usage = usage_of(response.headers());
        let retry_after = retry_after_of(response.headers());
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Err(GraphError::transport(
                    &operation,
                    Some(status),
                    describe_reqwest(&e.without_url()),
                    retry_after,
                    usage,
                ));
            }
        };
        if (200..300).contains(&status) {
            return match serde_json::from_slice::<T>(&body) {
                Ok(data) => Ok(Reply { data, usage }),
                Err(e) => Err(GraphError::transport(
                    &operation,
                    Some(status),
                    format!("unreadable response body ({e})"),
                    None,
                    usage,
                )),
            };
        }
        // Error texts are logged and stored: whatever the body repeats of the
        // request (a proxy's error page may print the URL) is redacted first.
        match serde_json::from_slice::<MetaErrorBody>(&body) {
            Ok(mut b) => {
                b.error.message = self.redact(call, &b.error.message);
                Err(GraphError::from_meta(&operation, status, b.error, retry_after, usage))
            }
            // api.instagram.com answers in Instagram's older shape.
            Err(_) if let Ok(legacy) = serde_json::from_slice::<InstagramErrorBody>(&body) => {
                let mut error = legacy.into_meta();
                error.message = self.redact(call, &error.message);
                Err(GraphError::from_meta(&operation, status, error, retry_after, usage))
            }
            Err(_) => Err(GraphError::transport(
                &operation,
                Some(status),
                format!(
                    "HTTP {status} without a Graph error body: {}",
                    snippet(&self.redact(call, &String::from_utf8_lossy(&body[..body.len().min(16 * 1024)])))
                ),
                retry_after,
                usage,
            )),
        }
    }

    /// `text` without any secret the call carries, raw or URL-encoded.
    fn redact(&self, call: &Call<'_>, text: &str) -> String {
        let token = match call.auth {
            Auth::User(t) | Auth::Page(t) | Auth::Instagram(t) => Some(t.expose()),
            Auth::App | Auth::None => None,
        };
        let params = call
            .params
            .iter()
            .filter(|(k, _)| SECRET_PARAMS.contains(&k.as_str()))
            .map(|(_, v)| v.as_str());
        let mut out = text.to_string();
        for secret in params
            .chain(token)
            .chain([self.inner.app_secret.expose()])
            .filter(|s| !s.is_empty())
        {
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            out = out.replace(secret, "[redacted]").replace(&encoded, "[redacted]");
        }
        out
    }
}

/// Parameters whose values must never reach a log line or an error text.
const SECRET_PARAMS: &[&str] = &[
    "client_secret",
    "code",
    "fb_exchange_token",
    "input_token",
    "access_token",
    "appsecret_proof",
];

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::Permission => "permission",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Transient => "transient",
            ErrorKind::InvalidParameter => "invalid_parameter",
            ErrorKind::Other => "other",
        }
    }
}

pub(super) fn usage_of(headers: &HeaderMap) -> Usage {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    Usage::from_headers(get("x-app-usage"), get("x-business-use-case-usage"))
}

pub(super) fn retry_after_of(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn describe_reqwest(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    // The source chain says why (refused, reset...); the URL was removed before.
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {detail}")
    }
}

/// The start of a non-JSON body, on one line, for the log.
fn snippet(body: &str) -> String {
    let words = body.split_whitespace().collect::<Vec<_>>().join(" ");
    words.chars().take(160).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_has_full_jitter_and_a_cap() {
        let p = RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(250),
        };
        for attempt in 0..6 {
            let d = p.delay(attempt, None);
            assert!(d <= Duration::from_millis(250), "{d:?}");
        }
        assert!(p.delay(0, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
    }
}
