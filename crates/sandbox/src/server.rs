//! The HTTP side: accept connections, turn each request into an
//! [`ApiRequest`], run it through faults, throttles and the handlers, add
//! usage headers, log the call, answer.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::auth;
use crate::batch;
use crate::control::CallRecord;
use crate::errors::GraphError;
use crate::faults::{Fault, fault_reply, throttle_reply, truncated};
use crate::media_api::Facebook;
use crate::request::{ApiRequest, Reply, Saturation, parse_pairs};
use crate::route::{self, Route, Target};
use crate::world::World;
use crate::{dialog, graph, insights, media_api, oauth};

pub(crate) type Shared = Arc<Mutex<World>>;

/// Request bodies above this are refused; Meta's own limit is far lower
/// than anything a test needs.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

pub(crate) fn lock(world: &Mutex<World>) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|e| e.into_inner())
}

/// Accepts connections until `shutdown` fires; dropping the returned future
/// (or firing `shutdown`) also ends every open connection, so a stopped
/// sandbox answers nothing, not even on kept-alive connections.
pub(crate) async fn accept_loop(listener: TcpListener, world: Shared, mut shutdown: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, world.clone()));
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(%error, "sandbox accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

async fn serve_connection(stream: TcpStream, world: Shared) {
    let service = service_fn(move |req| serve_http(world.clone(), req));
    if let Err(error) = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        // Includes the connections a `Close` fault drops on purpose.
        tracing::debug!(%error, "sandbox connection ended");
    }
}

/// Returned by the service to make hyper drop the connection unanswered.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

async fn serve_http(world: Shared, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, DropConnection> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let error = GraphError::param("The request body could not be read");
            return Ok(to_response(Reply::error(&error)));
        }
    };
    let api = api_request(&parts, &body);
    let latency = {
        let mut w = lock(&world);
        w.http_requests += 1;
        w.latency
    };
    let outcome = dispatch(&world, api).await;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match outcome {
        Outcome::Reply(reply) => Ok(to_response(reply)),
        Outcome::Drop => Err(DropConnection),
    }
}

fn api_request(parts: &hyper::http::request::Parts, body: &[u8]) -> ApiRequest {
    let mut params = parts.uri.query().map(parse_pairs).unwrap_or_default();
    let content_type = parts
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    params.extend(body_params(content_type, body));
    let header_token = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("OAuth ")))
        .map(|t| t.trim().to_string());
    ApiRequest {
        method: parts.method.as_str().to_ascii_uppercase(),
        path: parts.uri.path().to_string(),
        params,
        header_token,
        in_batch: false,
    }
}

/// Form bodies (the usual) and flat JSON objects, which Meta also accepts.
fn body_params(content_type: &str, body: &[u8]) -> Vec<(String, String)> {
    if body.is_empty() {
        return Vec::new();
    }
    if content_type.starts_with("application/json") {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Vec::new();
        };
        return map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect();
    }
    match std::str::from_utf8(body) {
        Ok(text) => parse_pairs(text),
        Err(_) => Vec::new(),
    }
}

fn to_response(reply: Reply) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    let all = std::iter::once(("Content-Type".to_string(), reply.content_type)).chain(reply.headers);
    for (name, value) in all {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            headers.append(name, value);
        }
    }
    response
}

/// What a call comes to: an answer, or nothing at all (a dropped
/// connection, or a batch operation that timed out).
pub(crate) enum Outcome {
    Reply(Reply),
    Drop,
}

pub(crate) async fn dispatch(world: &Mutex<World>, req: ApiRequest) -> Outcome {
    let target = route::parse(&req.path);
    if target.is_batch(&req) {
        return batch::run(world, req, target).await;
    }
    serve_call(world, req, target).await
}

/// One Graph call, at top level or inside a batch.
pub(crate) async fn serve_call(world: &Mutex<World>, req: ApiRequest, target: Target) -> Outcome {
    let call = match before(world, &req, &target).await {
        Ok(call) => call,
        Err(outcome) => return outcome,
    };
    let mut w = lock(world);
    let throttle = call
        .account
        .as_deref()
        .and_then(|a| w.active_throttle(a))
        .map(|t| (t.code, t.until));
    let mut reply = match throttle {
        Some((code, until)) => {
            let minutes = ((until - w.now()).num_seconds().max(0) as u64).div_ceil(60);
            throttle_reply(code, minutes)
        }
        None => handle(&mut w, &req, &target),
    };
    if call.truncate {
        reply = truncated(reply);
    }
    finish(&mut w, &req, &call, reply)
}

/// What the log needs to know about a call, and a pending `Truncated`.
pub(crate) struct CallInfo {
    pub endpoint: crate::faults::Endpoint,
    pub account: Option<String>,
    pub truncate: bool,
}

/// Classifies the call, refuses retired versions and fires an armed fault.
/// `Err` is the final outcome (already logged); `Ok` lets the call proceed.
pub(crate) async fn before(world: &Mutex<World>, req: &ApiRequest, target: &Target) -> Result<CallInfo, Outcome> {
    let (call, fault) = {
        let mut w = lock(world);
        let (endpoint, account) = route::classify(&w, req, target);
        let call = CallInfo {
            endpoint,
            account,
            truncate: false,
        };
        if let Err(error) = target.check_version() {
            return Err(finish(&mut w, req, &call, Reply::error(&error)));
        }
        let fault = w.faults.take(endpoint);
        (call, fault)
    };
    match fault {
        None => Ok(call),
        Some(Fault::Truncated) => Ok(CallInfo { truncate: true, ..call }),
        Some(Fault::Delay(d)) if req.in_batch && d > batch::OPERATION_TIMEOUT => {
            // Meta gives up on the operation and answers null for it; the
            // test need not wait for the timeout.
            record(&mut lock(world), req, &call, 0);
            Err(Outcome::Drop)
        }
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            Ok(call)
        }
        Some(Fault::Close) => {
            record(&mut lock(world), req, &call, 0);
            Err(Outcome::Drop)
        }
        Some(fault) => match fault_reply(fault, req) {
            Some(reply) => Err(finish(&mut lock(world), req, &call, reply)),
            None => Ok(call),
        },
    }
}

/// Adds usage headers, logs the call and hands the reply out.
pub(crate) fn finish(world: &mut World, req: &ApiRequest, call: &CallInfo, mut reply: Reply) -> Outcome {
    add_usage_headers(world, &mut reply, call.account.as_deref());
    record(world, req, call, reply.status);
    Outcome::Reply(reply)
}

/// The call log keeps this many records; a long local run forgets the oldest.
const MAX_CALL_RECORDS: usize = 100_000;

fn record(world: &mut World, req: &ApiRequest, call: &CallInfo, status: u16) {
    *world.call_totals.entry(call.endpoint).or_default() += 1;
    if world.calls.len() >= MAX_CALL_RECORDS {
        world.calls.drain(..MAX_CALL_RECORDS / 10);
    }
    let token_kind = req.token().and_then(|t| world.token_kind(t));
    let at = world.now();
    world.calls.push(CallRecord {
        endpoint: call.endpoint,
        method: req.method.clone(),
        path: req.path.clone(),
        account: call.account.clone(),
        token_kind,
        had_appsecret_proof: req.nonempty("appsecret_proof").is_some(),
        in_batch: req.in_batch,
        params: req.redacted_params(),
        status,
        at,
    });
}

fn handle(world: &mut World, req: &ApiRequest, target: &Target) -> Reply {
    let result = match &target.route {
        Route::Dialog => return dialog::show(world, req, target),
        Route::DialogConfirm => return dialog::confirm(world, req),
        Route::Avatar(id) => return graph::avatar(world, id),
        Route::Instagram(route) => return crate::instagram::handle(world, req, route),
        Route::AccessToken => oauth::access_token(world, req),
        Route::DebugToken => oauth::debug_token(world, req),
        Route::Permissions(node, scope) => oauth::permissions(world, req, node, scope.as_deref()),
        Route::Node(id) if world.media.get(id).is_some() => media_api::node::<Facebook>(world, req, id),
        Route::Insights(id) if world.media.get(id).is_some() => media_api::insights::<Facebook>(world, req, id),
        Route::MediaList(id) => media_api::list::<Facebook>(world, req, id, media_api::Edge::Media),
        Route::Stories(id) => media_api::list::<Facebook>(world, req, id, media_api::Edge::Stories),
        Route::Children(id) => media_api::children::<Facebook>(world, req, id),
        Route::Node(id) => graph::node(world, req, id),
        Route::Accounts(id) => graph::accounts(world, req, target, id),
        Route::Insights(id) => insights::insights(world, req, id),
        Route::Root => Err(GraphError::unsupported(&req.method, "")),
        Route::Unknown => Err(unknown_path(world, req)),
    };
    result.unwrap_or_else(|error| Reply::error(&error))
}

/// Meta's "Unsupported get request" for paths it does not serve, naming the
/// object the path starts with.
fn unknown_path(world: &World, req: &ApiRequest) -> GraphError {
    // Authentication errors win over routing errors, as on Meta.
    if req.token().is_some()
        && let Err(error) = auth::authenticate(world, req)
    {
        return error;
    }
    let object = req
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .find(|s| !s.starts_with('v') || !s.contains('.'))
        .unwrap_or("");
    GraphError::unsupported(&req.method, object)
}

/// `X-App-Usage` on every reply, `X-Business-Use-Case-Usage` on replies for
/// calls that touched an Instagram account or Page.
fn add_usage_headers(world: &World, reply: &mut Reply, account: Option<&str>) {
    let app = match reply.saturated {
        Some(Saturation::App) => usage_numbers(100, true),
        _ => usage_numbers(world.usage.app_pct, false),
    };
    reply.headers.push(("X-App-Usage".to_string(), app.to_string()));
    let Some(account) = account else {
        return;
    };
    let (pct, minutes, full) = match reply.saturated {
        Some(Saturation::Account { minutes }) => (100, minutes, true),
        _ => (world.usage.buc_pct, world.usage.regain_minutes, false),
    };
    let mut entry = usage_numbers(pct, full);
    entry["type"] = json!(if world.igs.contains_key(account) {
        "instagram"
    } else {
        "pages"
    });
    entry["estimated_time_to_regain_access"] = json!(minutes);
    let buc = json!({ account: [entry] });
    reply
        .headers
        .push(("X-Business-Use-Case-Usage".to_string(), buc.to_string()));
}

/// Meta reports three percentages; the call count usually leads.
fn usage_numbers(pct: u32, saturated: bool) -> Value {
    let other = if saturated { pct } else { pct / 2 };
    json!({ "call_count": pct, "total_cputime": other, "total_time": other })
}
