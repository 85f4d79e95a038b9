//! Batch requests: `POST /` with `batch=[{"method","relative_url"}, ...]`.
//!
//! Each operation runs through the very same path as a top-level call
//! (faults, throttles, handlers, the call log with `in_batch`), so it counts
//! against limits on its own, as on Meta.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use crate::auth;
use crate::errors::GraphError;
use crate::request::{ApiRequest, Reply, parse_pairs};
use crate::route::{self, Target};
use crate::server::{self, CallInfo, Outcome, lock};
use crate::world::World;

pub(crate) const MAX_OPERATIONS: usize = 50;
/// An operation slower than this comes back as `null`.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) async fn run(world: &Mutex<World>, req: ApiRequest, target: Target) -> Outcome {
    let call = match server::before(world, &req, &target).await {
        Ok(call) => call,
        Err(outcome) => return outcome,
    };
    // Bound first: the guard must be gone before `finish` locks again.
    let prepared = prepare(&lock(world), &req, &target);
    let operations = match prepared {
        Ok(operations) => operations,
        Err(error) => return finish(world, &req, &call, Reply::error(&error)),
    };
    let mut answers = Vec::with_capacity(operations.len());
    for operation in operations {
        let answer = match operation {
            Ok(op) => {
                let op_target = route::parse(&op.path);
                match server::serve_call(world, op, op_target).await {
                    Outcome::Reply(reply) => answer(reply),
                    Outcome::Drop => Value::Null,
                }
            }
            Err(error) => answer(Reply::error(&error)),
        };
        answers.push(answer);
    }
    let reply = Reply::ok(Value::Array(answers));
    if call.truncate {
        // Truncation applies to the batch as a whole, like a cut stream.
        let mut w = lock(world);
        let mut cut = reply;
        let half = cut.body.len() / 2;
        cut.body.truncate(half);
        return server::finish(&mut w, &req, &call, cut);
    }
    finish(world, &req, &call, reply)
}

fn finish(world: &Mutex<World>, req: &ApiRequest, call: &CallInfo, reply: Reply) -> Outcome {
    server::finish(&mut lock(world), req, call, reply)
}

/// Checks the batch as a whole and turns each operation into a request.
/// An operation that cannot be read fails alone, as on Meta.
fn prepare(
    world: &World,
    req: &ApiRequest,
    target: &Target,
) -> Result<Vec<Result<ApiRequest, GraphError>>, GraphError> {
    // The batch's own token (and proof) stands for operations without one.
    if req.token().is_some() {
        auth::authenticate(world, req)?;
    }
    let raw = req
        .nonempty("batch")
        .ok_or_else(|| GraphError::param("The parameter batch is required"))?;
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(raw) else {
        return Err(GraphError::param("batch parameter must be a JSON array"));
    };
    if items.is_empty() {
        return Err(GraphError::param("batch parameter must be a non-empty JSON array"));
    }
    if items.len() > MAX_OPERATIONS {
        return Err(GraphError::new(
            1,
            format!("Too many requests in batch message. Maximum batch size is {MAX_OPERATIONS}"),
        ));
    }
    Ok(items.iter().map(|item| operation(item, req, target)).collect())
}

fn operation(item: &Value, batch: &ApiRequest, target: &Target) -> Result<ApiRequest, GraphError> {
    let method = item
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let relative = item
        .get("relative_url")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| GraphError::param("Missing relative_url parameter in batch operation"))?;
    let (path, query) = relative.split_once('?').unwrap_or((relative, ""));
    let path = path.trim_start_matches('/');
    // An operation without a version runs on the batch's version.
    let path = match route::parse(&format!("/{path}")).version {
        Some(_) => format!("/{path}"),
        None => format!("{}/{path}", target.version_prefix()),
    };
    let mut params = parse_pairs(query);
    if let Some(body) = item.get("body").and_then(Value::as_str) {
        params.extend(parse_pairs(body));
    }
    let own_token = params.iter().any(|(k, v)| k == "access_token" && !v.is_empty());
    if !own_token {
        for name in ["access_token", "appsecret_proof", "appsecret_time"] {
            if let Some(value) = batch.nonempty(name) {
                params.push((name.to_string(), value.to_string()));
            }
        }
    }
    Ok(ApiRequest {
        method,
        path,
        params,
        header_token: if own_token { None } else { batch.header_token.clone() },
        in_batch: true,
    })
}

/// One operation's answer in Meta's batch shape; the body stays a string.
fn answer(reply: Reply) -> Value {
    let headers: Vec<Value> = std::iter::once(("Content-Type".to_string(), reply.content_type))
        .chain(reply.headers)
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    json!({ "code": reply.status, "headers": headers, "body": reply.body })
}
