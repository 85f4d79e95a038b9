//! The Graph HTTP client: versioned paths, `appsecret_proof` on every call
//! made with a user or Page token, Meta's error bodies turned into
//! [`GraphError`] in one function (`answer::read`), and retries of
//! transient failures through the one retry loop, bounded by a deadline.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::time::Instant;
use url::Url;

use super::answer::{Answer, Secrets, read, retry_after_of, usage_of};
use super::call::{Auth, Call};
use super::error::GraphError;
use super::usage::Usage;
use crate::config::Config;
use crate::crypto::hmac_hex;
use crate::domain::Login;
use crate::retry::{Attempt, Backoff, Retry};
use crate::secret::{AccessToken, AppSecret};

#[derive(Debug)]
pub struct Reply<T> {
    pub data: T,
    pub usage: Usage,
}

#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    http: reqwest::Client,
    base: Url,
    version: String,
    app_id: String,
    app_secret: AppSecret,
    retry: Retry,
    /// Whose hosts these are: every error this client returns says so.
    login: Login,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GraphClient({}, {})", self.inner.base, self.inner.version)
    }
}

impl GraphClient {
    pub fn new(config: &Config) -> Result<Self, reqwest::Error> {
        Self::for_host(
            config,
            &config.graph_base_url,
            &config.app_id,
            &config.app_secret,
            Login::Facebook,
        )
    }

    /// A client for another of Meta's hosts (Instagram Login's), with that
    /// product's app; the same timeouts, retries and error path.
    pub fn for_host(
        config: &Config,
        base: &Url,
        app_id: &str,
        app_secret: &AppSecret,
        login: Login,
    ) -> Result<Self, reqwest::Error> {
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
                retry: Retry::new(Backoff {
                    max_attempts: 3,
                    base: config.retry_base,
                    cap: config.retry_base.saturating_mul(30),
                }),
                login,
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

    /// The login whose hosts this client calls.
    pub fn login(&self) -> Login {
        self.inner.login
    }

    /// How Graph calls are retried, with the clock and dice of every retry.
    pub fn retry(&self) -> &Retry {
        &self.inner.retry
    }

    /// The same client, retrying with `retry` (tests fix its clock and seed).
    pub fn with_retry(&self, retry: Retry) -> Self {
        let inner = Inner {
            retry,
            ..(*self.inner).clone()
        };
        GraphClient { inner: Arc::new(inner) }
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
        let cap = self.inner.retry.backoff().cap;
        let attempt = |_| async move {
            match self.send_once(call).await {
                Ok(reply) => Attempt::Done(Ok(reply)),
                // A throttle that lasts beyond the cap is for the caller to park, not to sleep through.
                Err(e) if e.retryable() && e.retry_after.is_none_or(|after| after <= cap) => {
                    tracing::debug!(operation = %e.operation, kind = e.kind.as_str(), "Graph call failed for a moment");
                    let after = e.retry_after;
                    Attempt::retry(Err(e), after)
                }
                Err(e) => Attempt::Done(Err(e)),
            }
        };
        self.inner.retry.run(deadline, attempt).await
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

    /// A single attempt. Every non-success becomes a [`GraphError`] here and
    /// nowhere else, saying whose hosts answered.
    pub async fn send_once<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<Reply<T>, GraphError> {
        self.attempt(call).await.map_err(|e| e.on(self.inner.login))
    }

    async fn attempt<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<Reply<T>, GraphError> {
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
        let headers = response.headers().clone();
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Err(GraphError::transport(
                    &operation,
                    Some(status),
                    describe_reqwest(&e.without_url()),
                    retry_after_of(&headers),
                    usage_of(&headers),
                ));
            }
        };
        let answer = Answer {
            status,
            headers: &headers,
            body: &body,
        };
        read(call, &Secrets::of(call, &self.inner.app_secret), answer)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::graph::ErrorKind;
    use crate::graph::stub::{client, meta_answering};

    #[tokio::test]
    async fn retries_wait_exact_delays_on_a_fixed_clock_and_seed() {
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let backoff = Backoff {
            max_attempts: 4,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(6),
        };
        let unavailable = meta_answering(503, ("x-app-usage", "{}"), "<html>down</html>".into()).await;
        let graph = client(&unavailable).with_retry(Retry::fixed(backoff, clock.clone(), 42));
        let call = Call::get("me", Auth::None);
        let e = graph
            .send::<serde_json::Value>(&call, None)
            .await
            .expect_err("Meta is down");
        assert_eq!(e.kind, ErrorKind::Transient);
        // Seed 42's draws under ceilings of 200, 400 and 800 ms, to the nanosecond.
        assert_eq!(
            clock.sleeps(),
            [136_379_238, 380_110_163, 342_013_122].map(Duration::from_nanos),
            "three waits between four attempts"
        );

        // Meta's Retry-After is a floor; one beyond the cap is the caller's to park.
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let throttled = meta_answering(429, ("retry-after", "2"), "{}".into()).await;
        let graph = client(&throttled).with_retry(Retry::fixed(backoff, clock.clone(), 42));
        graph
            .send::<serde_json::Value>(&call, None)
            .await
            .expect_err("throttled");
        assert_eq!(clock.sleeps(), [2, 2, 2].map(Duration::from_secs));
        let parked = meta_answering(429, ("retry-after", "7"), "{}".into()).await;
        let graph = client(&parked).with_retry(Retry::fixed(backoff, clock.clone(), 42));
        graph
            .send::<serde_json::Value>(&call, None)
            .await
            .expect_err("throttled");
        assert_eq!(clock.sleeps().len(), 3, "no wait for a throttle longer than the cap");
    }
}
