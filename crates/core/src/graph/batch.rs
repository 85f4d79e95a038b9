//! Meta's ordinary batch requests: `POST /` with `batch=[{"method","relative_url"}]`.
//! One round trip carries up to 50 calls; each still counts against the
//! limits on its own, and each answers on its own (an operation that timed
//! out comes back as `null`). Every operation's answer is read by the same
//! function as a top-level call's (`answer::read`): parsed, classified and
//! redacted alike.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

use super::answer::{Answer, Secrets, read};
use super::call::{Auth, Call};
use super::client::{GraphClient, Reply};
use super::error::GraphError;
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
        let secrets = Secrets::of(&call, self.app_secret());
        let mut answers = reply.data.into_iter();
        let items = operations
            .iter()
            .map(|op| match answers.next().flatten() {
                Some(answer) => operation_result(op, &secrets.and(op), answer).map_err(|e| e.on(self.login())),
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

/// One operation's answer, read like a whole response to `op`.
#[allow(clippy::result_large_err)]
fn operation_result(op: &Call<'_>, secrets: &Secrets<'_>, answer: OperationAnswer) -> Result<Reply<Value>, GraphError> {
    let headers: HeaderMap = answer
        .headers
        .iter()
        .filter_map(|h| {
            let name = HeaderName::from_bytes(h.name.to_ascii_lowercase().as_bytes()).ok()?;
            Some((name, HeaderValue::from_str(&h.value).ok()?))
        })
        .collect();
    let body = answer.body.unwrap_or_default();
    let answer = Answer {
        status: answer.code,
        headers: &headers,
        body: body.as_bytes(),
    };
    read(op, secrets, answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ErrorKind;
    use crate::graph::stub::{client, meta_answering};
    use crate::secret::AccessToken;

    #[test]
    fn operations_become_relative_urls() {
        let op = Call::get("1784/insights", Auth::None)
            .param("metric", "reach,views")
            .param("period", "day");
        assert_eq!(relative_url(&op), "1784/insights?metric=reach%2Cviews&period=day");
        assert_eq!(relative_url(&Call::get("/1784", Auth::None)), "1784");
    }

    /// The same answer, once to a call and once to that call inside a batch,
    /// must give the same error, field for field.
    async fn call_and_operation(status: u16, header: (&str, &str), body: String) -> (GraphError, GraphError) {
        let token = AccessToken::new("EAAB-page-token");
        let call = Call::get("1784/insights", Auth::Page(&token)).param("metric", "reach,impressions");
        let single = client(&meta_answering(status, header, body.replace("TOKEN", token.expose())).await)
            .send_once::<Value>(&call)
            .await
            .expect_err("an error");
        let answer = json!([{
            "code": status,
            "headers": [{"name": header.0, "value": header.1}],
            "body": body.replace("TOKEN", token.expose()),
        }]);
        let op = Call::get("1784/insights", Auth::None).param("metric", "reach,impressions");
        let batch = client(&meta_answering(200, ("x-app-usage", "{}"), answer.to_string()).await)
            .send_batch_once(Auth::Page(&token), &[op])
            .await
            .expect("the batch answers");
        let in_batch = batch.items.into_iter().next().expect("one item").expect_err("an error");
        assert!(!format!("{single:?}").contains(token.expose()), "{single:?}");
        assert_eq!(format!("{single:?}"), format!("{in_batch:?}"));
        (single, in_batch)
    }

    #[tokio::test]
    async fn an_operation_s_error_is_classified_and_redacted_exactly_like_a_call_s() {
        let usage = (
            "x-business-use-case-usage",
            r#"{"1784":[{"type":"instagram","call_count":100,"estimated_time_to_regain_access":30}]}"#,
        );
        let throttle =
            json!({"error": {"message": "(#80002) too many calls", "code": 80002, "type": "OAuthException"}});
        let (e, _) = call_and_operation(400, usage, throttle.to_string()).await;
        assert_eq!(e.kind, ErrorKind::Throttled);
        assert_eq!(e.usage.buc_pct, Some(100));
        assert_eq!(e.retry_after, Some(std::time::Duration::from_secs(1800)));

        let refused = json!({"error": {
            "message": "(#100) metric[1] must be one of the following values: reach, views (token TOKEN)",
            "code": 100, "error_subcode": 2108001, "type": "OAuthException", "fbtrace_id": "AbC"}});
        let (e, _) = call_and_operation(400, ("retry-after", "5"), refused.to_string()).await;
        assert_eq!(e.kind, ErrorKind::MetricRejected);
        assert_eq!(e.rejected_metric().map(|m| m.as_str()), Some("impressions"));
        assert_eq!(
            (e.code, e.subcode, e.retry_after),
            (Some(100), Some(2108001), Some(std::time::Duration::from_secs(5)))
        );
        assert!(e.message.ends_with("(token [redacted])"), "{}", e.message);

        let page = "<html><body>503 Service Unavailable for access_token=TOKEN</body></html>".to_string();
        let (e, _) = call_and_operation(503, ("x-app-usage", r#"{"call_count":40}"#), page).await;
        assert_eq!(e.kind, ErrorKind::Transient);
        assert_eq!(e.usage.app_pct, Some(40));
        assert!(
            e.message.contains("for access_token=[redacted]</body>"),
            "{}",
            e.message
        );
    }
}
