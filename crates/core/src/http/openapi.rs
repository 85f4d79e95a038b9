//! `GET /api/openapi.json`: the API described in OpenAPI 3.1. The document
//! is written by hand beside this file; a test keeps it in step with
//! [`Route::TABLE`](super::Route::TABLE).

use hyper::StatusCode;

use super::{ApiError, ApiResponse};

pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::text(StatusCode::OK, "application/json", DOCUMENT))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Route;

    /// `/api/insights/:userId` -> `/api/insights/{userId}`.
    fn openapi_path(pattern: &str) -> String {
        pattern
            .split('/')
            .map(|s| match s.strip_prefix(':') {
                Some(name) => format!("{{{name}}}"),
                None => s.to_string(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn the_document_describes_every_route_and_method_and_nothing_else() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).expect("the document is JSON");
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        for (route, pattern, methods) in Route::TABLE {
            let path = openapi_path(pattern);
            let item = paths
                .get(&path)
                .unwrap_or_else(|| panic!("{route:?}: {path} is missing from openapi.json"));
            for method in methods.iter() {
                let op = &item[method.as_str().to_ascii_lowercase()];
                assert!(
                    op.is_object(),
                    "{route:?}: {method} {path} is missing from openapi.json"
                );
                assert!(op["responses"].is_object(), "{method} {path} names its responses");
            }
            let documented: Vec<&String> = item
                .as_object()
                .map(|o| o.keys().filter(|k| *k != "parameters").collect())
                .unwrap_or_default();
            assert_eq!(documented.len(), methods.len(), "{path}: only the methods it serves");
        }
        for path in paths.keys() {
            assert!(
                Route::TABLE.iter().any(|(_, p, _)| openapi_path(p) == *path),
                "{path} is documented but not routed"
            );
        }
    }
}
