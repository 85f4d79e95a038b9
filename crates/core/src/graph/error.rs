//! Every way a Graph call can fail, as one error value whose kind the
//! classifier (`classify.rs`) decides.
//!
//! The kind decides what every caller does: auth -> mark the token invalid,
//! permission -> ask the user to reconnect, throttled -> park the account
//! (or the whole run), transient -> retry inside the deadline, metric
//! rejected -> drop that metric and ask again, not enough audience -> record
//! "not available yet", invalid parameter -> give up on the call.

use std::time::Duration;

use serde::Deserialize;

use super::classify::classify;
use super::scopes::{INSTAGRAM_SCOPES, SCOPES};
use super::usage::Usage;
use crate::domain::{Login, MetricName};

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
    /// Meta refused a metric that was asked for (removed, renamed, or not
    /// served this way): the whole request failed. [`GraphError::rejected_metric`]
    /// names it; asking again without it works.
    MetricRejected,
    /// The audience is too small for Meta to report anything: not enough
    /// followers for demographics (under 100), not enough viewers for a
    /// story's insights (under 5). Nothing is wrong; there is no data yet.
    NotEnoughAudience,
    Other,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::Permission => "permission",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Transient => "transient",
            ErrorKind::InvalidParameter => "invalid_parameter",
            ErrorKind::MetricRejected => "metric_rejected",
            ErrorKind::NotEnoughAudience => "not_enough_audience",
            ErrorKind::Other => "other",
        }
    }
}

/// Meta's error body: `{"error":{"message","type","code","error_subcode","is_transient","fbtrace_id"}}`.
#[derive(Debug, Clone, Default, Deserialize)]
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
    /// Meta's words (or what the transport said), with every secret of the call cut out.
    pub message: String,
    pub is_transient: bool,
    pub fbtrace_id: Option<String>,
    /// From `Retry-After` or `estimated_time_to_regain_access`.
    pub retry_after: Option<Duration>,
    pub usage: Usage,
    /// The metric Meta refused, for [`ErrorKind::MetricRejected`].
    rejected_metric: Option<MetricName>,
    /// Whose host answered: the same code means another account's trouble
    /// on Instagram Login's hosts (its password, its app settings).
    pub login: Login,
}

impl GraphError {
    /// Meta's own error about a call that asked for the metrics `requested`
    /// (empty for calls that ask for none). `e.message` must already be redacted.
    pub fn from_meta(
        operation: &str,
        http_status: u16,
        e: MetaError,
        requested: &[&str],
        retry_after: Option<Duration>,
        usage: Usage,
    ) -> Self {
        let (kind, rejected_metric) = classify(Some(http_status), Some(&e), requested);
        GraphError {
            kind,
            operation: operation.to_string(),
            http_status: Some(http_status),
            code: e.code,
            subcode: e.error_subcode,
            error_type: e.error_type,
            message: e.message,
            is_transient: e.is_transient.unwrap_or(false),
            fbtrace_id: e.fbtrace_id,
            retry_after: retry_after.or_else(|| usage.regain_after()),
            usage,
            rejected_metric,
            login: Login::Facebook,
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
        let (kind, _) = classify(http_status, None, &[]);
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
            rejected_metric: None,
            login: Login::Facebook,
        }
    }

    /// The same error, as answered by the hosts of `login`.
    pub fn on(mut self, login: Login) -> Self {
        self.login = login;
        self
    }

    pub fn retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Transient | ErrorKind::Throttled)
    }

    /// A throttle of the whole app (code 4), not only of the account or
    /// Page called: every other account would meet it too.
    pub fn throttles_the_app(&self) -> bool {
        self.kind == ErrorKind::Throttled && self.code == Some(4)
    }

    /// The metric Meta refused, when the kind is [`ErrorKind::MetricRejected`].
    pub fn rejected_metric(&self) -> Option<&MetricName> {
        self.rejected_metric.as_ref()
    }

    /// A sentence a person can act on (stored as the connection's reason,
    /// sent in webhook events, shown on the page): it names the product
    /// whose login the token came from.
    pub fn reason(&self) -> String {
        let (product, site) = match self.login {
            Login::Facebook => ("Facebook", "facebook.com"),
            Login::Instagram => ("Instagram", "instagram.com"),
        };
        match (self.code, self.subcode) {
            (Some(190), Some(458)) => format!("the app was removed from the {product} account"),
            (Some(190), Some(459)) => format!("the {product} account is checkpointed: log in on {site}"),
            (Some(190), Some(460)) => format!("the {product} password was changed"),
            (Some(190), Some(463)) => "the access token expired".into(),
            (Some(190), Some(464)) => format!("the {product} account is not confirmed"),
            (Some(190), Some(467)) => "the access token is no longer valid (logged out or revoked)".into(),
            (Some(190), Some(492)) if self.login == Login::Facebook => {
                "the Facebook user no longer has a role on the Page".into()
            }
            (Some(190), _) => "the access token is invalid".into(),
            (Some(102), _) => format!("the {product} session is no longer valid"),
            _ if self.kind == ErrorKind::Permission => match missing_permission(self.login, &self.message) {
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

/// The permission a permission error names, when it names one that login asks for.
fn missing_permission(login: Login, message: &str) -> Option<&'static str> {
    let asked = match login {
        Login::Facebook => SCOPES,
        Login::Instagram => INSTAGRAM_SCOPES,
    };
    asked.iter().copied().find(|p| message.contains(p))
}

#[cfg(test)]
mod tests {
    use super::super::classify::tests::meta;
    use super::*;

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
            &[],
            None,
            Usage::default(),
        );
        assert_eq!(e.kind, ErrorKind::Auth);
        assert_eq!(e.reason(), "the Facebook password was changed");
        assert!(e.to_string().contains("code 190, subcode 460"));
        let e = GraphError::from_meta(
            "1784/insights",
            403,
            meta(10, None, false, "(#10) Requires instagram_manage_insights permission"),
            &[],
            None,
            Usage::default(),
        );
        assert_eq!(e.reason(), "the permission `instagram_manage_insights` is missing");
    }

    #[test]
    fn reasons_name_the_login_whose_host_answered() {
        let said = |code, subcode, message: &str, login| {
            GraphError::from_meta(
                "me",
                400,
                meta(code, subcode, false, message),
                &[],
                None,
                Usage::default(),
            )
            .on(login)
            .reason()
        };
        assert_eq!(
            said(190, Some(460), "", Login::Instagram),
            "the Instagram password was changed"
        );
        assert_eq!(
            said(190, Some(459), "", Login::Instagram),
            "the Instagram account is checkpointed: log in on instagram.com"
        );
        assert_eq!(
            said(102, None, "", Login::Instagram),
            "the Instagram session is no longer valid"
        );
        assert_eq!(
            said(190, Some(492), "", Login::Instagram),
            "the access token is invalid",
            "no Page there"
        );
        assert_eq!(
            said(190, Some(492), "", Login::Facebook),
            "the Facebook user no longer has a role on the Page"
        );
        for subcode in [458, 459, 460, 464, 467] {
            let reason = said(190, Some(subcode), "", Login::Instagram);
            assert!(!reason.contains("Facebook") && !reason.contains("facebook"), "{reason}");
        }
        assert_eq!(
            said(
                10,
                None,
                "(#10) Requires instagram_business_manage_insights",
                Login::Instagram
            ),
            "the permission `instagram_business_manage_insights` is missing"
        );
    }
}
