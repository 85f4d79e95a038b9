//! Every answer Meta gives, to a call or to one operation of a batch, is
//! read here: its usage headers, then its data, or its error parsed,
//! classified and stripped of every secret the request carried. A batch's
//! operation is read exactly as a call is, so one error means one thing
//! wherever it arrives.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use super::call::{Auth, Call};
use super::client::Reply;
use super::error::{GraphError, InstagramErrorBody, MetaError, MetaErrorBody};
use super::usage::Usage;
use crate::secret::AppSecret;

/// One answer: a whole HTTP response, or one operation's part of a batch's.
pub(super) struct Answer<'a> {
    pub status: u16,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Reads `answer` to `call`: `T` on success, else the one [`GraphError`] it means.
#[allow(clippy::result_large_err)]
pub(super) fn read<T: DeserializeOwned>(
    call: &Call<'_>,
    secrets: &Secrets<'_>,
    answer: Answer<'_>,
) -> Result<Reply<T>, GraphError> {
    let operation = call.operation();
    let Answer { status, headers, body } = answer;
    let usage = usage_of(headers);
    if (200..300).contains(&status) {
        return match serde_json::from_slice::<T>(body) {
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
    let retry_after = retry_after_of(headers);
    match meta_error(body) {
        Some(mut error) => {
            error.message = secrets.redact(&error.message);
            let requested = call.requested_metrics();
            Err(GraphError::from_meta(
                &operation,
                status,
                error,
                &requested,
                retry_after,
                usage,
            ))
        }
        None => Err(GraphError::transport(
            &operation,
            Some(status),
            format!(
                "HTTP {status} without a Graph error body: {}",
                snippet(&secrets.redact(&String::from_utf8_lossy(&body[..body.len().min(16 * 1024)])))
            ),
            retry_after,
            usage,
        )),
    }
}

/// Meta's error in a body: Graph's shape, or the older one of
/// `api.instagram.com` (Instagram Login's code exchange).
fn meta_error(body: &[u8]) -> Option<MetaError> {
    if let Ok(MetaErrorBody { error }) = serde_json::from_slice(body) {
        return Some(error);
    }
    serde_json::from_slice::<InstagramErrorBody>(body)
        .ok()
        .map(InstagramErrorBody::into_meta)
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

/// The secrets a request carries (its token, its secret parameters, the
/// app secret), to be cut out of anything Meta says back.
pub(super) struct Secrets<'a>(Vec<&'a str>);

impl<'a> Secrets<'a> {
    pub fn of(call: &'a Call<'a>, app_secret: &'a AppSecret) -> Self {
        Secrets(vec![app_secret.expose()]).and(call)
    }

    /// These and the secrets of `call` too: a batch's operation is answered
    /// under the batch's token and may carry parameters of its own.
    pub fn and(&self, call: &'a Call<'a>) -> Self {
        let token = match call.auth {
            Auth::User(t) | Auth::Page(t) | Auth::Instagram(t) => Some(t.expose()),
            Auth::App | Auth::None => None,
        };
        let params = call
            .params
            .iter()
            .filter(|(k, _)| SECRET_PARAMS.contains(&k.as_str()))
            .map(|(_, v)| v.as_str());
        let mut all = self.0.clone();
        all.extend(params.chain(token).filter(|s| !s.is_empty()));
        Secrets(all)
    }

    /// `text` without any of these secrets, raw or URL-encoded.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in self.0.iter().filter(|s| !s.is_empty()) {
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            out = out.replace(secret, "[redacted]").replace(&encoded, "[redacted]");
        }
        out
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

/// The start of a non-JSON body, on one line, for the log.
fn snippet(body: &str) -> String {
    let words = body.split_whitespace().collect::<Vec<_>>().join(" ");
    words.chars().take(160).collect()
}
