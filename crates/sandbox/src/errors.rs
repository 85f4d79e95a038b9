//! Meta's error body and the HTTP status each error code travels with.
//!
//! Every error the emulator answers goes through [`GraphError`], so the body
//! shape (`{"error":{message,type,code,error_subcode,is_transient,fbtrace_id}}`)
//! is defined once. Messages never contain a token or a code.

use chrono::{DateTime, FixedOffset, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

/// Meta requires at least this many followers before it reports follower
/// demographics. The exact error Meta answers below it is unverified, so the
/// threshold, code, subcode and message live here together.
pub(crate) const MIN_FOLLOWERS_FOR_DEMOGRAPHICS: i64 = 100;
const INSUFFICIENT_FOLLOWERS_SUBCODE: i64 = 2108006;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GraphError {
    pub http_status: u16,
    pub code: i64,
    pub subcode: Option<i64>,
    pub message: String,
    pub error_type: String,
    pub is_transient: bool,
}

impl GraphError {
    /// An error with the status, type and transience Meta uses for `code`.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        GraphError {
            http_status: status_for(code),
            code,
            subcode: None,
            message: message.into(),
            error_type: "OAuthException".to_string(),
            is_transient: matches!(code, 1 | 2 | 4 | 17 | 32 | 613 | 80001 | 80002),
        }
    }

    pub fn with_subcode(mut self, subcode: i64) -> Self {
        self.subcode = Some(subcode);
        self
    }

    pub fn with_status(mut self, http_status: u16) -> Self {
        self.http_status = http_status;
        self
    }

    pub fn with_type(mut self, error_type: &str) -> Self {
        self.error_type = error_type.to_string();
        self
    }

    pub fn body(&self) -> Value {
        let mut error = json!({
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
            "is_transient": self.is_transient,
            "fbtrace_id": fbtrace_id(),
        });
        if let Some(subcode) = self.subcode {
            error["error_subcode"] = json!(subcode);
        }
        json!({ "error": error })
    }

    /// A `(#100)` invalid-parameter error.
    pub fn param(message: impl AsRef<str>) -> Self {
        GraphError::new(100, format!("(#100) {}", message.as_ref()))
    }

    /// Meta's answer for a path or object it does not serve (or hides).
    pub fn unsupported(method: &str, object: &str) -> Self {
        GraphError::new(
            100,
            format!(
                "Unsupported {} request. Object with ID '{}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                method.to_ascii_lowercase(),
                object
            ),
        )
        .with_subcode(33)
        .with_type("GraphMethodException")
    }

    pub fn nonexisting_field(field: &str, node_type: &str) -> Self {
        GraphError::param(format!(
            "Tried accessing nonexisting field ({field}) on node type ({node_type})"
        ))
    }

    pub fn no_permission() -> Self {
        GraphError::new(10, "(#10) Application does not have permission for this action")
    }

    pub fn missing_token() -> Self {
        GraphError::new(104, "An access token is required to request this resource.")
    }

    /// A string that is not a token this world ever issued.
    pub fn unparsable_token() -> Self {
        GraphError::new(190, "Invalid OAuth access token - Cannot parse access token")
    }

    /// A known token that no longer works, for the given 190 subcode.
    pub fn dead_token(subcode: i64, app_id: &str) -> Self {
        GraphError::new(190, token_message(subcode, app_id)).with_subcode(subcode)
    }

    pub fn expired_token(expired_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        GraphError::new(
            190,
            format!(
                "Error validating access token: Session has expired on {}. The current time is {}.",
                pacific(expired_at),
                pacific(now)
            ),
        )
        .with_subcode(463)
    }

    /// Meta's exact answer once data access has lapsed is unverified; a 190
    /// makes every careful client ask the user to log in again, which is the
    /// documented remedy.
    pub fn data_access_expired() -> Self {
        GraphError::new(
            190,
            "Error validating access token: Data access for this user has expired. The user must grant permissions again.",
        )
    }

    pub fn missing_proof() -> Self {
        GraphError::new(100, "API calls from the server require an appsecret_proof argument")
            .with_type("GraphMethodException")
    }

    pub fn invalid_proof() -> Self {
        GraphError::new(100, "Invalid appsecret_proof provided in the API argument").with_type("GraphMethodException")
    }

    pub fn throttle(code: i64) -> Self {
        let message = match code {
            4 => "(#4) Application request limit reached".to_string(),
            17 => "(#17) User request limit reached".to_string(),
            32 => "(#32) Page request limit reached".to_string(),
            613 => "(#613) Calls to this api have exceeded the rate limit.".to_string(),
            80001 => format!("(#80001) There have been too many calls to this Page account. {WAIT}"),
            80002 => {
                format!("(#80002) There have been too many calls to this Instagram account. {WAIT}")
            }
            other => format!("(#{other}) Request limit reached"),
        };
        GraphError::new(code, message)
    }

    pub fn insufficient_followers() -> Self {
        GraphError::param(format!(
            "Insufficient followers: follower demographics are available only for accounts with at least {MIN_FOLLOWERS_FOR_DEMOGRAPHICS} followers"
        ))
        .with_subcode(INSUFFICIENT_FOLLOWERS_SUBCODE)
    }

    pub fn deprecated_version(version: u32) -> Self {
        GraphError::new(
            2635,
            format!(
                "(#2635) You are calling a deprecated version of the Graph API (v{version}.0). Please update to the latest version: v27.0."
            ),
        )
    }

    /// A realistic error for any code, for fault injection.
    pub fn for_code(code: i64, subcode: Option<i64>, app_id: &str) -> Self {
        let error = match code {
            1 => GraphError::new(1, "An unknown error occurred"),
            2 => GraphError::new(2, "An unexpected error has occurred. Please retry your request later."),
            4 | 17 | 32 | 613 | 80001 | 80002 => GraphError::throttle(code),
            10 => GraphError::no_permission(),
            100 => GraphError::param("Invalid parameter"),
            102 => GraphError::new(102, "Session key invalid or no longer valid"),
            190 => match subcode {
                Some(s) => GraphError::dead_token(s, app_id),
                None => GraphError::unparsable_token(),
            },
            200..=299 => GraphError::new(code, format!("(#{code}) Requires extended permission")),
            368 => GraphError::new(
                368,
                "The action attempted has been deemed abusive or is otherwise disallowed",
            ),
            other => GraphError::new(other, format!("(#{other}) An error occurred")),
        };
        match subcode {
            Some(s) => error.with_subcode(s),
            None => error,
        }
    }
}

const WAIT: &str = "Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.";

/// The HTTP status Meta sends each code with: auth and parameter errors 400,
/// permission errors 403, server errors 500, throttles 400 or 403.
pub(crate) fn status_for(code: i64) -> u16 {
    match code {
        1 | 2 => 500,
        10 | 200..=299 => 403,
        4 | 17 | 32 | 613 => 403,
        _ => 400,
    }
}

fn token_message(subcode: i64, app_id: &str) -> String {
    let detail = match subcode {
        458 => format!("The user has not authorized application {app_id}."),
        459 => "You cannot access the app till you log in to www.facebook.com and follow the instructions given.".to_string(),
        460 => "The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.".to_string(),
        463 => "Session has expired.".to_string(),
        464 => "Sessions for the user are not allowed because the user is not a confirmed user.".to_string(),
        467 => "The session is invalid because the user logged out.".to_string(),
        492 => "The user must be an administrator, editor, or moderator of the page in order to impersonate it.".to_string(),
        _ => "The session is invalid.".to_string(),
    };
    format!("Error validating access token: {detail}")
}

/// Meta words expiry times in Pacific time; a fixed offset is close enough.
fn pacific(t: DateTime<Utc>) -> String {
    const FORMAT: &str = "%A, %d-%b-%y %H:%M:%S PST";
    match FixedOffset::west_opt(8 * 3600) {
        Some(offset) => t.with_timezone(&offset).format(FORMAT).to_string(),
        None => t.format(FORMAT).to_string(),
    }
}

fn fbtrace_id() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(11)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_carries_subcode_only_when_present() {
        let plain = GraphError::no_permission().body();
        assert!(plain["error"].get("error_subcode").is_none());
        assert_eq!(plain["error"]["code"], 10);
        let with = GraphError::dead_token(460, "app").body();
        assert_eq!(with["error"]["error_subcode"], 460);
        assert_eq!(with["error"]["type"], "OAuthException");
        assert!(with["error"]["fbtrace_id"].as_str().is_some());
    }

    #[test]
    fn statuses_follow_meta() {
        assert_eq!(status_for(190), 400);
        assert_eq!(status_for(10), 403);
        assert_eq!(status_for(200), 403);
        assert_eq!(status_for(2), 500);
    }
}
