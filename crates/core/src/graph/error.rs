//! Every way a Graph call can fail, classified in exactly one place.
//!
//! The kind decides what every caller does: auth -> mark the token invalid,
//! permission -> ask the user to reconnect, throttled -> park the account,
//! transient -> retry inside the deadline, invalid parameter -> e.g. drop a
//! metric Meta no longer accepts.

use std::time::Duration;

use serde::Deserialize;

use super::usage::Usage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The token is dead: expired, revoked, password changed, app removed (190, 102).
    Auth,
    /// A permission is missing or was declined (10, 200-299).
    Permission,
    /// Meta or we are over a rate limit (4, 17, 32, 613, 80001-80014, HTTP 429).
    Throttled,
    /// Worth retrying: 1, 2, `is_transient`, 5xx, timeouts, broken connections, garbled bodies.
    Transient,
    /// The request itself is wrong (100 and friends): retrying will not help.
    InvalidParameter,
    Other,
}

/// Meta's error body: `{"error":{"message","type","code","error_subcode","is_transient","fbtrace_id"}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct MetaError {
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub error_type: Option<String>,
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub is_transient: Option<bool>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MetaErrorBody {
    pub error: MetaError,
}

/// `api.instagram.com`'s error body: `{"error_type","code","error_message"}`,
/// where `code` repeats the HTTP status and is no Graph error code.
#[derive(Debug, Deserialize)]
pub(crate) struct InstagramErrorBody {
    error_type: String,
    error_message: String,
}

impl InstagramErrorBody {
    pub fn into_meta(self) -> MetaError {
        MetaError {
            message: self.error_message,
            error_type: Some(self.error_type),
            code: None,
            error_subcode: None,
            is_transient: None,
            fbtrace_id: None,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.describe())]
pub struct GraphError {
    pub kind: ErrorKind,
    /// Which call failed, e.g. `me/accounts` (never a URL with parameters).
    pub operation: String,
    pub http_status: Option<u16>,
    pub code: Option<i64>,
    pub subcode: Option<i64>,
    pub error_type: Option<String>,
    pub message: String,
    pub is_transient: bool,
    pub fbtrace_id: Option<String>,
    /// From `Retry-After` or `estimated_time_to_regain_access`.
    pub retry_after: Option<Duration>,
    pub usage: Usage,
}

impl GraphError {
    pub fn from_meta(
        operation: &str,
        http_status: u16,
        e: MetaError,
        retry_after: Option<Duration>,
        usage: Usage,
    ) -> Self {
        let is_transient = e.is_transient.unwrap_or(false);
        let kind = classify(Some(http_status), e.code, e.error_subcode, is_transient);
        GraphError {
            kind,
            operation: operation.to_string(),
            http_status: Some(http_status),
            code: e.code,
            subcode: e.error_subcode,
            error_type: e.error_type,
            message: e.message,
            is_transient,
            fbtrace_id: e.fbtrace_id,
            retry_after: retry_after.or_else(|| usage.regain_after()),
            usage,
        }
    }

    /// A failure with no Meta error body: transport problems, HTML pages, garbled JSON.
    pub fn transport(
        operation: &str,
        http_status: Option<u16>,
        message: String,
        retry_after: Option<Duration>,
        usage: Usage,
    ) -> Self {
        let kind = match http_status {
            Some(429) => ErrorKind::Throttled,
            Some(s) if (400..500).contains(&s) && s != 408 => ErrorKind::Other,
            _ => ErrorKind::Transient,
        };
        GraphError {
            kind,
            operation: operation.to_string(),
            http_status,
            code: None,
            subcode: None,
            error_type: None,
            message,
            is_transient: kind == ErrorKind::Transient,
            fbtrace_id: None,
            retry_after,
            usage,
        }
    }

    pub fn retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Transient | ErrorKind::Throttled)
    }

    /// A sentence a person can act on (stored as the connection's reason).
    pub fn reason(&self) -> String {
        match (self.code, self.subcode) {
            (Some(190), Some(458)) => "the app was removed from the Facebook account".into(),
            (Some(190), Some(459)) => "the Facebook account is checkpointed: log in on facebook.com".into(),
            (Some(190), Some(460)) => "the Facebook password was changed".into(),
            (Some(190), Some(463)) => "the access token expired".into(),
            (Some(190), Some(464)) => "the Facebook account is not confirmed".into(),
            (Some(190), Some(467)) => "the access token is no longer valid (logged out or revoked)".into(),
            (Some(190), Some(492)) => "the Facebook user no longer has a role on the Page".into(),
            (Some(190), _) => "the access token is invalid".into(),
            (Some(102), _) => "the Facebook session is no longer valid".into(),
            _ if self.kind == ErrorKind::Permission => match missing_permission(&self.message) {
                Some(p) => format!("the permission `{p}` is missing"),
                None => "a permission is missing or was declined".into(),
            },
            _ => self.describe(),
        }
    }

    fn describe(&self) -> String {
        let mut s = format!("Graph {} failed", self.operation);
        if let Some(status) = self.http_status {
            s.push_str(&format!(" (HTTP {status}"));
            if let Some(code) = self.code {
                s.push_str(&format!(", code {code}"));
            }
            if let Some(sub) = self.subcode {
                s.push_str(&format!(", subcode {sub}"));
            }
            s.push(')');
        }
        s.push_str(&format!(": {:?}: {}", self.kind, self.message));
        if let Some(trace) = &self.fbtrace_id {
            s.push_str(&format!(" [fbtrace_id {trace}]"));
        }
        s
    }
}

/// The one classification of Meta errors.
pub fn classify(http_status: Option<u16>, code: Option<i64>, subcode: Option<i64>, is_transient: bool) -> ErrorKind {
    let _ = subcode;
    match code {
        Some(190 | 102) => ErrorKind::Auth,
        Some(4 | 17 | 32 | 613) | Some(80001..=80014) => ErrorKind::Throttled,
        Some(10) | Some(200..=299) => ErrorKind::Permission,
        Some(1 | 2) => ErrorKind::Transient,
        _ if is_transient => ErrorKind::Transient,
        _ if http_status == Some(429) => ErrorKind::Throttled,
        _ if http_status.is_some_and(|s| s >= 500) => ErrorKind::Transient,
        Some(100) | Some(803) | Some(2500) => ErrorKind::InvalidParameter,
        Some(_) => ErrorKind::Other,
        None => ErrorKind::Other,
    }
}

/// The permission a permission error names, when it names one we ask for.
fn missing_permission(message: &str) -> Option<&'static str> {
    crate::oauth::SCOPES.iter().copied().find(|p| message.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_kinds() {
        assert_eq!(classify(Some(400), Some(190), Some(460), false), ErrorKind::Auth);
        assert_eq!(classify(Some(400), Some(102), None, false), ErrorKind::Auth);
        for code in [4, 17, 32, 613, 80001, 80002] {
            assert_eq!(
                classify(Some(400), Some(code), None, false),
                ErrorKind::Throttled,
                "{code}"
            );
        }
        assert_eq!(classify(Some(429), None, None, false), ErrorKind::Throttled);
        assert_eq!(classify(Some(403), Some(10), None, false), ErrorKind::Permission);
        assert_eq!(classify(Some(403), Some(200), None, false), ErrorKind::Permission);
        assert_eq!(classify(Some(403), Some(299), None, false), ErrorKind::Permission);
        assert_eq!(classify(Some(500), Some(1), None, false), ErrorKind::Transient);
        assert_eq!(classify(Some(500), Some(2), None, true), ErrorKind::Transient);
        assert_eq!(classify(Some(400), Some(100), None, false), ErrorKind::InvalidParameter);
        assert_eq!(classify(Some(400), Some(100), None, true), ErrorKind::Transient);
        assert_eq!(classify(Some(503), None, None, false), ErrorKind::Transient);
    }

    #[test]
    fn reasons_are_readable() {
        let e = GraphError::from_meta(
            "me/accounts",
            400,
            MetaError {
                message: "Error validating access token: The session has been invalidated because the user changed their password".into(),
                error_type: Some("OAuthException".into()),
                code: Some(190),
                error_subcode: Some(460),
                is_transient: Some(false),
                fbtrace_id: Some("Abc".into()),
            },
            None,
            Usage::default(),
        );
        assert_eq!(e.kind, ErrorKind::Auth);
        assert_eq!(e.reason(), "the Facebook password was changed");
        assert!(e.to_string().contains("code 190, subcode 460"));
    }
}
