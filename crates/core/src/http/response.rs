//! Responses, and the one mapping from errors to them: 4xx say what to fix;
//! 5xx bodies are generic and their cause is logged once.

use bytes::Bytes;
use hyper::{HeaderMap, Method, StatusCode, header::HeaderValue};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiResponse {
    pub fn json(status: StatusCode, value: &impl Serialize) -> Self {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        let mut r = ApiResponse {
            status,
            headers: HeaderMap::new(),
            body: Bytes::from(body),
        };
        r.set_header("content-type", "application/json");
        r
    }

    pub fn ok(value: &impl Serialize) -> Self {
        Self::json(StatusCode::OK, value)
    }

    pub fn redirect(location: &str) -> Self {
        let mut r = ApiResponse {
            status: StatusCode::FOUND,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        };
        r.set_header("location", location);
        r
    }

    pub fn text(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Self {
        let mut r = ApiResponse {
            status,
            headers: HeaderMap::new(),
            body: body.into(),
        };
        r.set_header("content-type", content_type);
        r
    }

    pub fn set_header(&mut self, name: &'static str, value: &str) {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
    }

    pub fn add_cookie(&mut self, cookie: &str) {
        if let Ok(v) = HeaderValue::from_str(cookie) {
            self.headers.append(hyper::header::SET_COOKIE, v);
        }
    }

    pub fn with_cookie(mut self, cookie: &str) -> Self {
        self.add_cookie(cookie);
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed(&'static [Method]),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body is not of the one media type the route takes.
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Conflict(String),
    /// Over a limit (ours or Meta's); the seconds to wait when known.
    #[error("{0}")]
    TooManyRequests(String, Option<u64>),
    /// Meta failed us; the message says how (it never carries a secret).
    #[error("{0}")]
    BadGateway(String),
    #[error("{0}")]
    Unavailable(String),
    /// Anything unexpected: answered generically; the cause, with every
    /// error beneath it, is logged once.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

impl ApiError {
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(cause))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests(..) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooManyRequests(..) => "too_many_requests",
            ApiError::BadGateway(_) => "bad_gateway",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn into_response(self) -> ApiResponse {
        let message = match &self {
            ApiError::Internal(cause) => {
                tracing::error!(cause = %chain(cause.as_ref()), "request failed");
                "something went wrong on our side; it has been logged".to_string()
            }
            other => other.to_string(),
        };
        let mut r = ApiResponse::json(
            self.status(),
            &ErrorBody {
                error: self.code(),
                message,
            },
        );
        if let ApiError::TooManyRequests(_, Some(secs)) = &self {
            r.set_header("retry-after", &secs.to_string());
        }
        if let ApiError::MethodNotAllowed(methods) = &self {
            let mut allow: Vec<&str> = methods.iter().map(Method::as_str).collect();
            // Every GET route answers HEAD too (see `handle`).
            if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
                allow.push(Method::HEAD.as_str());
            }
            r.set_header("allow", &allow.join(", "));
        }
        r
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            // Not a bug of ours: the database is not answering; the client may try again.
            crate::store::StoreError::TimedOut(_) => {
                tracing::error!(error = %e, "database call timed out");
                ApiError::Unavailable("the database is not answering; try again in a minute".into())
            }
            // Nor is a database kept busy by others all along.
            e if e.is_busy() => {
                tracing::error!(error = %e, "the database stayed busy for the whole deadline");
                ApiError::Unavailable("the database is busy; try again in a minute".into())
            }
            other => ApiError::internal(other),
        }
    }
}

/// An error and every error beneath it, outermost first, each said once
/// (a message that already quotes its source is not followed by it again).
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut said = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !said.contains(&text) {
            said.push_str(": ");
            said.push_str(&text);
        }
        source = e.source();
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the page failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn an_internal_error_keeps_its_chain_for_the_log_and_says_nothing_of_it() {
        let error = ApiError::internal(Outer(std::io::Error::other("disk on fire")));
        let logged = match &error {
            ApiError::Internal(cause) => chain(cause.as_ref()),
            other => panic!("{other:?}"),
        };
        assert_eq!(logged, "reading the page failed: disk on fire");
        let answer = error.into_response();
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
        let body = String::from_utf8_lossy(&answer.body);
        assert!(!body.contains("fire") && !body.contains("page"), "{body}");
    }
}
