//! Meta's ordinary batch requests: `POST /` with `batch=[{"method","relative_url"}]`.
//! One round trip carries up to 50 calls; each still counts against the
//! limits on its own, and each answers on its own (an operation that timed
//! out comes back as `null`). Every operation's error goes through the same
//! classification as a top-level call's.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

use super::client::{Auth, Call, GraphClient, Reply, retry_after_of, usage_of};
use super::error::{GraphError, MetaErrorBody};
use super::usage::Usage;

/// Meta's ceiling of operations in one batch.
pub const MAX_BATCH_OPERATIONS: usize = 50;

/// The answers of a batch, one per operation, in order.
#[derive(Debug)]
pub struct BatchReply {
    pub items: Vec<Result<Reply<Value>, GraphError>>,
    /// The usage Meta reported on the batch request itself.
    pub usage: Usage,
}

#[derive(Deserialize)]
struct OperationAnswer {
    code: u16,
    #[serde(default)]
    headers: Vec<HeaderPair>,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Deserialize)]
struct HeaderPair {
    name: String,
    value: String,
}

impl GraphClient {
    /// Sends `operations` in one batch, once (no retry: the caller counts
    /// every attempt against its budget and decides). The batch carries
    /// `auth` and its proof; operations carry no credential of their own.
    /// `Err` is a failure of the batch as a whole.
    // GraphError is the one error value of every Graph call; each operation has its own.
    #[allow(clippy::result_large_err)]
    pub async fn send_batch_once(&self, auth: Auth<'_>, operations: &[Call<'_>]) -> Result<BatchReply, GraphError> {
        if operations.is_empty() || operations.len() > MAX_BATCH_OPERATIONS {
            return Err(GraphError::transport(
                "batch",
                None,
                format!(
                    "a batch holds 1 to {MAX_BATCH_OPERATIONS} operations, not {}",
                    operations.len()
                ),
                None,
                Usage::default(),
            ));
        }
        let batch: Vec<Value> = operations
            .iter()
            .map(|op| json!({ "method": op.method.as_str(), "relative_url": relative_url(op) }))
            .collect();
        let call = Call::post("", auth).param("batch", Value::Array(batch).to_string());
        let reply: Reply<Vec<Option<OperationAnswer>>> = self.send_once(&call).await?;
        let mut answers = reply.data.into_iter();
        let items = operations
            .iter()
            .map(|op| match answers.next().flatten() {
                Some(answer) => operation_result(&op.operation(), answer),
                None => Err(GraphError::transport(
                    &op.operation(),
                    None,
                    "the batch operation timed out (null answer)".into(),
                    None,
                    Usage::default(),
                )),
            })
            .collect();
        Ok(BatchReply {
            items,
            usage: reply.usage,
        })
    }
}

/// `path?query`, relative to the batch's version.
fn relative_url(op: &Call<'_>) -> String {
    let path = op.path.trim_start_matches('/');
    if op.params.is_empty() {
        return path.to_string();
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&op.params)
        .finish();
    format!("{path}?{query}")
}

#[allow(clippy::result_large_err)]
fn operation_result(operation: &str, answer: OperationAnswer) -> Result<Reply<Value>, GraphError> {
    let headers: HeaderMap = answer
        .headers
        .iter()
        .filter_map(|h| {
            let name = HeaderName::from_bytes(h.name.to_ascii_lowercase().as_bytes()).ok()?;
            Some((name, HeaderValue::from_str(&h.value).ok()?))
        })
        .collect();
    let usage = usage_of(&headers);
    let body = answer.body.unwrap_or_default();
    if (200..300).contains(&answer.code) {
        return serde_json::from_str(&body)
            .map(|data| Reply {
                data,
                usage: usage.clone(),
            })
            .map_err(|e| {
                GraphError::transport(
                    operation,
                    Some(answer.code),
                    format!("unreadable operation body ({e})"),
                    None,
                    usage,
                )
            });
    }
    let retry_after = retry_after_of(&headers);
    match serde_json::from_str::<MetaErrorBody>(&body) {
        Ok(b) => Err(GraphError::from_meta(
            operation,
            answer.code,
            b.error,
            retry_after,
            usage,
        )),
        Err(_) => Err(GraphError::transport(
            operation,
            Some(answer.code),
            format!("HTTP {} without a Graph error body", answer.code),
            retry_after,
            usage,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_become_relative_urls() {
        let op = Call::get("1784/insights", Auth::None)
            .param("metric", "reach,views")
            .param("period", "day");
        assert_eq!(relative_url(&op), "1784/insights?metric=reach%2Cviews&period=day");
        assert_eq!(relative_url(&Call::get("/1784", Auth::None)), "1784");
    }

    #[test]
    fn operation_errors_are_classified_like_calls() {
        let answer = OperationAnswer {
            code: 400,
            headers: vec![HeaderPair {
                name: "X-Business-Use-Case-Usage".into(),
                value: r#"{"1784":[{"type":"instagram","call_count":100,"estimated_time_to_regain_access":30}]}"#
                    .into(),
            }],
            body: Some(
                r#"{"error":{"message":"(#80002) too many calls","code":80002,"type":"OAuthException"}}"#.into(),
            ),
        };
        let err = operation_result("1784/insights", answer).unwrap_err();
        assert_eq!(err.kind, crate::graph::ErrorKind::Throttled);
        assert_eq!(err.usage.buc_pct, Some(100));
        assert_eq!(err.retry_after, Some(std::time::Duration::from_secs(1800)));
    }
}
