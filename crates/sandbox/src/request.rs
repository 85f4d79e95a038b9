//! Transport-free request and reply values: what handlers read and write.
//!
//! A real HTTP request and a batch operation both become an [`ApiRequest`],
//! so every endpoint behaves the same inside and outside a batch.

use serde_json::Value;

use crate::errors::GraphError;

#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub method: String,
    /// The path without its query, always starting with '/'.
    pub path: String,
    /// Query parameters first, then form parameters.
    pub params: Vec<(String, String)>,
    /// A token from `Authorization: Bearer|OAuth ...`.
    pub header_token: Option<String>,
    pub in_batch: bool,
}

impl ApiRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A parameter that is present and not empty.
    pub fn nonempty(&self, name: &str) -> Option<&str> {
        self.param(name).filter(|v| !v.is_empty())
    }

    /// The access token, from the parameters or else the header.
    pub fn token(&self) -> Option<&str> {
        self.nonempty("access_token").or(self.header_token.as_deref())
    }

    /// The parameters with secret values replaced, for the call log.
    pub fn redacted_params(&self) -> Vec<(String, String)> {
        self.params
            .iter()
            .map(|(k, v)| {
                let shown = match k.as_str() {
                    "access_token" | "client_secret" | "code" | "fb_exchange_token" | "appsecret_proof"
                    | "input_token" => "[redacted]".to_string(),
                    // Operations may carry tokens in their URLs; each is logged
                    // separately anyway.
                    "batch" => "[operations]".to_string(),
                    _ => v.clone(),
                };
                (k.clone(), shown)
            })
            .collect()
    }
}

/// Parses `a=1&b=2` into pairs.
pub(crate) fn parse_pairs(input: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(input.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A complete answer, before usage headers are added.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Usage headers should show the limit as reached.
    pub saturated: Option<Saturation>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Saturation {
    /// The app-wide limit (`X-App-Usage` at 100%).
    App,
    /// The touched account's limit, regained after this many minutes.
    Account { minutes: u64 },
}

impl Reply {
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            content_type: "application/json; charset=UTF-8".to_string(),
            headers: Vec::new(),
            body: value.to_string(),
            saturated: None,
        }
    }

    pub fn ok(value: Value) -> Reply {
        Reply::json(200, &value)
    }

    pub fn error(error: &GraphError) -> Reply {
        let mut reply = Reply::json(error.http_status, &error.body());
        reply.headers.push((
            "WWW-Authenticate".to_string(),
            format!("OAuth \"Facebook Platform\" \"{}\"", www_auth_kind(error)),
        ));
        reply
    }

    pub fn html(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: "text/html; charset=utf-8".to_string(),
            headers: Vec::new(),
            body,
            saturated: None,
        }
    }

    pub fn redirect(location: String) -> Reply {
        Reply {
            status: 302,
            content_type: "text/html; charset=utf-8".to_string(),
            headers: vec![("Location".to_string(), location)],
            body: String::new(),
            saturated: None,
        }
    }

    pub fn with_header(mut self, name: &str, value: String) -> Reply {
        self.headers.push((name.to_string(), value));
        self
    }
}

/// Meta tags error replies with a `WWW-Authenticate` header naming the kind.
fn www_auth_kind(error: &GraphError) -> &'static str {
    match error.code {
        190 | 102 => "invalid_token",
        10 | 200..=299 => "insufficient_scope",
        _ => "invalid_request",
    }
}

impl From<GraphError> for Reply {
    fn from(error: GraphError) -> Reply {
        Reply::error(&error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(params: &[(&str, &str)]) -> ApiRequest {
        ApiRequest {
            method: "GET".into(),
            path: "/v26.0/me".into(),
            params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            header_token: Some("HEADER".into()),
            in_batch: false,
        }
    }

    #[test]
    fn secrets_are_redacted_and_the_rest_kept() {
        let req = request(&[
            ("access_token", "EAAsecret"),
            ("appsecret_proof", "abc"),
            ("fields", "id,name"),
            ("code", "AQ"),
        ]);
        let params = req.redacted_params();
        assert!(params.iter().all(|(_, v)| !v.contains("EAAsecret")));
        assert!(params.contains(&("fields".into(), "id,name".into())));
        assert!(params.contains(&("code".into(), "[redacted]".into())));
    }

    #[test]
    fn parameter_token_wins_over_header_and_empty_is_absent() {
        assert_eq!(request(&[("access_token", "P")]).token(), Some("P"));
        assert_eq!(request(&[("access_token", "")]).token(), Some("HEADER"));
    }
}
