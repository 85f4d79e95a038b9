//! The request as handlers see it: already read, size-limited, transport-free.

use bytes::Bytes;
use hyper::{HeaderMap, Method};
use serde::de::DeserializeOwned;

use super::response::ApiError;

/// Larger bodies are refused before they are read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Path parameters (`:userId`), or the same names from the query on Vercel's dynamic routes.
    pub params: Vec<(String, String)>,
    /// Served over https (directly or behind a proxy that says so): cookies get `Secure`.
    pub secure: bool,
}

impl ApiRequest {
    /// A request built from parts (tests, adapters).
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        ApiRequest {
            method,
            path: path.to_string(),
            query: url::form_urlencoded::parse(query.as_bytes()).into_owned().collect(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            params: Vec::new(),
            secure: false,
        }
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .or_else(|| self.query(name))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(hyper::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// The bearer credential, if an `Authorization: Bearer` header is present.
    pub fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, cred) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| cred.trim())
    }

    /// The body as JSON, or a form when it is form-encoded; 400 with a reason otherwise.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let content_type = self.header("content-type").unwrap_or("");
        if content_type.starts_with("application/x-www-form-urlencoded") {
            let map: serde_json::Map<String, serde_json::Value> = url::form_urlencoded::parse(&self.body)
                .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
                .collect();
            return serde_json::from_value(serde_json::Value::Object(map))
                .map_err(|e| ApiError::BadRequest(format!("invalid form body: {e}")));
        }
        if self.body.is_empty() {
            return Err(ApiError::BadRequest("a JSON body is required".into()));
        }
        serde_json::from_slice(&self.body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
    }

    /// 415 unless the body is declared JSON: a plain HTML form (which any
    /// site can make a browser send) cannot be.
    pub fn require_json(&self) -> Result<(), ApiError> {
        let media_type = self
            .header("content-type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("");
        match media_type.trim().eq_ignore_ascii_case("application/json") {
            true => Ok(()),
            false => Err(ApiError::UnsupportedMediaType(
                "send the body as JSON (Content-Type: application/json)".into(),
            )),
        }
    }

    /// Form fields of an `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

/// Reads a hyper request into an [`ApiRequest`], refusing bodies over the limit.
pub async fn from_hyper<B>(req: hyper::Request<B>) -> Result<ApiRequest, ApiError>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let declared = parts
        .headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
        return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
    }
    let body = match http_body_util::Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(ApiError::PayloadTooLarge(MAX_BODY_BYTES));
        }
        Err(e) => {
            return Err(ApiError::BadRequest(format!("the request body could not be read: {e}")));
        }
    };
    let secure = parts.uri.scheme_str() == Some("https")
        || parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    Ok(ApiRequest {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: url::form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
        headers: parts.headers,
        body,
        params: Vec::new(),
        secure,
    })
}

/// The response as hyper sends it.
pub fn to_hyper<B: From<Bytes>>(r: super::ApiResponse) -> hyper::Response<B> {
    let mut response = hyper::Response::new(B::from(r.body));
    *response.status_mut() = r.status;
    *response.headers_mut() = r.headers;
    response
}
