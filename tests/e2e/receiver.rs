//! A webhook receiver for tests: a tiny HTTP server that records every
//! request and answers 204, or the failure statuses it is told to answer
//! first. Signatures are verified here with hmac/sha2 directly, not with the
//! app's own code.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sha2::Sha256;
use tokio::net::TcpListener;

pub const WEBHOOK_SECRET: &str = "test-webhook-secret-0123456789";

#[derive(Debug, Clone)]
pub struct Received {
    pub signature: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    failures: VecDeque<u16>,
}

pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let url = format!("http://{}/hooks/urlinsta", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| record(state.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { url, state, task }
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The next `times` requests are answered `status`.
    pub fn fail_next(&self, times: usize, status: u16) {
        self.state
            .lock()
            .unwrap()
            .failures
            .extend(std::iter::repeat_n(status, times));
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(
    state: Arc<Mutex<State>>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (signature, content_type) = (header("x-urlinsta-signature"), header("content-type"));
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let status = {
        let mut s = state.lock().unwrap();
        s.received.push(Received {
            signature,
            content_type,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        s.failures.pop_front().unwrap_or(204)
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    Ok(response)
}

/// Checks `X-Urlinsta-Signature: t=<unix>,v1=<hex>` over `<t>.<body>` with the
/// shared secret and a timestamp within five minutes; returns the parsed event.
pub fn verified(r: &Received) -> serde_json::Value {
    let header = r.signature.as_deref().expect("the event is signed");
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (t, v1) = (t.expect("t= in the signature"), v1.expect("v1= in the signature"));
    let age = chrono::Utc::now().timestamp() - t.parse::<i64>().expect("t is unix seconds");
    assert!((-60..300).contains(&age), "signature timestamp is current ({age} s)");
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", r.body).as_bytes());
    mac.verify_slice(&hex::decode(v1).expect("hex signature"))
        .expect("the signature matches the body");
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    serde_json::from_str(&r.body).expect("the body is JSON")
}
