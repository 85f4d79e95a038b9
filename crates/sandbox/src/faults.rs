//! Which endpoint a call hit, the faults a test can arm on it, the queue
//! that hands armed faults out one call at a time, and what each answers.

use std::time::Duration;

use crate::errors::GraphError;
use crate::request::{ApiRequest, Reply, Saturation};

/// The Graph API surface the emulator serves, one value per kind of call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The login dialog page and its confirm step.
    Dialog,
    /// `oauth/access_token` with a `code`.
    CodeExchange,
    /// `oauth/access_token` with `grant_type=fb_exchange_token`.
    LongLivedExchange,
    /// `me/accounts` (or `{user-id}/accounts`).
    MeAccounts,
    /// A Page node, usually asked for `instagram_business_account`.
    PageInstagram,
    /// An Instagram user node.
    IgUser,
    /// `{ig-id}/insights` for account metrics.
    Insights,
    /// `{ig-id}/insights` for follower or engaged-audience demographics.
    Demographics,
    DebugToken,
    /// `DELETE {user}/permissions`.
    Revoke,
    /// A batch request as a whole; its operations are recorded on their own.
    Batch,
    /// `oauth/access_token` with `grant_type=client_credentials`.
    AppToken,
    /// The user node (`/me` with a user token, or `/{user-id}`).
    Me,
    /// `GET {user}/permissions`.
    Permissions,
    /// `{ig-id}/media`: posts and reels, newest first.
    MediaList,
    /// `{ig-id}/stories`: live stories.
    Stories,
    /// A media node or its `children` edge.
    MediaNode,
    /// `{media-id}/insights`.
    MediaInsights,
    /// Anything the emulator does not serve.
    Other,
    /// Instagram Login's hosts (`instagram.rs`).
    Instagram(crate::IgEndpoint),
}

/// Something going wrong on Meta's side, armed with `Control::inject`.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// A Graph error body with exactly these fields.
    GraphError {
        http_status: u16,
        code: i64,
        subcode: Option<i64>,
        message: String,
        error_type: String,
        is_transient: bool,
    },
    /// Any HTTP answer, e.g. a 503 with an HTML body from a proxy. Every
    /// `{request_url}` in `body` becomes the request's path and query, as a
    /// forward proxy's error page (Squid's, for one) prints it.
    Http {
        status: u16,
        content_type: String,
        body: String,
    },
    /// A 200 whose JSON body is cut in half (the call itself took effect).
    Truncated,
    /// Wait, then answer normally. Inside a batch, longer than the batch
    /// timeout means the operation comes back as `null`.
    Delay(Duration),
    /// Drop the connection without answering.
    Close,
    /// HTTP 429 with a `Retry-After` header.
    RetryAfter { secs: u64 },
    /// Meta's throttling error (code 4, 17, 32, 613, 80001 or 80002) with
    /// usage headers at 100%.
    Throttle { code: i64, minutes_to_regain: u64 },
}

impl Fault {
    /// The error Meta answers for `code` (and `subcode`), with a realistic
    /// message, status, type and transience. `subcode` takes `460`,
    /// `Some(460)` or `None`.
    pub fn graph(code: i64, subcode: impl Into<Option<i64>>) -> Fault {
        let error = GraphError::for_code(code, subcode.into(), "sandbox-app");
        Fault::GraphError {
            http_status: error.http_status,
            code: error.code,
            subcode: error.subcode,
            message: error.message,
            error_type: error.error_type,
            is_transient: error.is_transient,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    armed: Vec<Armed>,
}

#[derive(Debug)]
struct Armed {
    endpoint: Endpoint,
    fault: Fault,
    /// `None` fires until cleared.
    remaining: Option<u32>,
}

impl FaultQueue {
    pub fn arm(&mut self, endpoint: Endpoint, fault: Fault, times: Option<u32>) {
        if times == Some(0) {
            return;
        }
        self.armed.push(Armed {
            endpoint,
            fault,
            remaining: times,
        });
    }

    /// The oldest fault armed for `endpoint`, used up by one call.
    pub fn take(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let index = self.armed.iter().position(|a| a.endpoint == endpoint)?;
        let armed = &mut self.armed[index];
        let fault = armed.fault.clone();
        if let Some(remaining) = armed.remaining.as_mut() {
            *remaining -= 1;
            if *remaining == 0 {
                self.armed.remove(index);
            }
        }
        Some(fault)
    }

    pub fn clear(&mut self) {
        self.armed.clear();
    }
}

/// The answer of a fault that answers in place of the endpoint.
pub(crate) fn fault_reply(fault: Fault, req: &ApiRequest) -> Option<Reply> {
    Some(match fault {
        Fault::GraphError {
            http_status,
            code,
            subcode,
            message,
            error_type,
            is_transient,
        } => Reply::error(&GraphError {
            http_status,
            code,
            subcode,
            message,
            error_type,
            is_transient,
        }),
        Fault::Http {
            status,
            content_type,
            body,
        } => Reply {
            status,
            content_type,
            headers: Vec::new(),
            body: body.replace("{request_url}", &request_url(req)),
            saturated: None,
        },
        // Meta itself throttles with codes, not 429; a proxy in front may not.
        Fault::RetryAfter { secs } => {
            Reply::error(&GraphError::throttle(4).with_status(429)).with_header("Retry-After", secs.to_string())
        }
        Fault::Throttle {
            code,
            minutes_to_regain,
        } => throttle_reply(code, minutes_to_regain),
        Fault::Truncated | Fault::Delay(_) | Fault::Close => return None,
    })
}

/// The path and query as the client sent them (form parameters included).
fn request_url(req: &ApiRequest) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&req.params)
        .finish();
    format!("{}?{query}", req.path)
}

pub(crate) fn throttle_reply(code: i64, minutes: u64) -> Reply {
    let mut reply = Reply::error(&GraphError::throttle(code));
    reply.saturated = Some(match code {
        4 => Saturation::App,
        _ => Saturation::Account { minutes },
    });
    reply
}

/// A 200 whose JSON stops half way, as when a proxy cuts the stream.
pub(crate) fn truncated(mut reply: Reply) -> Reply {
    let mut cut = reply.body.len() / 2;
    while cut > 0 && !reply.body.is_char_boundary(cut) {
        cut -= 1;
    }
    reply.body.truncate(cut);
    if reply.body.is_empty() {
        reply.body = "{\"data\":[".to_string();
    }
    reply.status = 200;
    reply.content_type = "application/json; charset=UTF-8".to_string();
    reply.headers.retain(|(name, _)| name != "WWW-Authenticate");
    reply
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_run_out_in_order() {
        let mut queue = FaultQueue::default();
        queue.arm(Endpoint::Insights, Fault::Close, Some(1));
        queue.arm(Endpoint::Insights, Fault::Truncated, Some(2));
        queue.arm(Endpoint::IgUser, Fault::Close, Some(0));
        assert_eq!(queue.take(Endpoint::Insights), Some(Fault::Close));
        assert_eq!(queue.take(Endpoint::Insights), Some(Fault::Truncated));
        assert_eq!(queue.take(Endpoint::Insights), Some(Fault::Truncated));
        assert_eq!(queue.take(Endpoint::Insights), None);
        assert_eq!(queue.take(Endpoint::IgUser), None);
    }

    #[test]
    fn unlimited_faults_last_until_cleared() {
        let mut queue = FaultQueue::default();
        queue.arm(Endpoint::Batch, Fault::Close, None);
        for _ in 0..5 {
            assert_eq!(queue.take(Endpoint::Batch), Some(Fault::Close));
        }
        queue.clear();
        assert_eq!(queue.take(Endpoint::Batch), None);
    }

    #[test]
    fn graph_helper_is_realistic() {
        match Fault::graph(190, 460) {
            Fault::GraphError {
                http_status,
                subcode,
                message,
                ..
            } => {
                assert_eq!(http_status, 400);
                assert_eq!(subcode, Some(460));
                assert!(message.contains("password"));
            }
            other => panic!("unexpected {other:?}"),
        }
        match Fault::graph(2, None) {
            Fault::GraphError { is_transient, .. } => assert!(is_transient),
            other => panic!("unexpected {other:?}"),
        }
    }
}
