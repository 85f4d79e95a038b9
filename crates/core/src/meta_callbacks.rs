//! Meta's Deauthorize and Data Deletion Request callbacks.
//!
//! Meta POSTs a `signed_request` naming the app-scoped id of a Facebook user
//! who removed the app or asked for their data to be deleted. We check that
//! Meta signed it, delete every account that user connected, and keep a
//! receipt (a confirmation code and a status URL) the user can look up later.

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::app::App;
use crate::crypto::{b64url_decode, constant_time_eq, hmac_sha256, random_token};
use crate::secret::AppSecret;
use crate::store::{DeletionRequest, StoreError};

/// A request older than this is refused (Meta sends callbacks right away; an
/// old one is a replay).
pub const MAX_AGE: Duration = Duration::days(1);
/// Clock difference between Meta and us that is tolerated.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Why a `signed_request` was refused. The texts name no part of the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignedRequestError {
    #[error("signed_request is not two base64url parts joined by a dot")]
    Malformed,
    #[error("signed_request is not signed with this app's secret")]
    BadSignature,
    #[error("signed_request payload is not the JSON Meta sends")]
    BadPayload,
    #[error("signed_request uses the algorithm `{0}`; only HMAC-SHA256 is accepted")]
    Algorithm(String),
    #[error("signed_request was issued more than a day ago")]
    Stale,
    #[error("signed_request was issued in the future")]
    FromTheFuture,
}

/// A verified callback: who it is about, and when Meta issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    /// The app-scoped Facebook user id (stored as `users.facebook_user_id`).
    pub user_id: String,
    pub issued_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Payload {
    algorithm: String,
    issued_at: i64,
    user_id: UserId,
}

/// Meta sends the id as a string; tolerate a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum UserId {
    Text(String),
    Number(u64),
}

/// Verifies `base64url(signature).base64url(payload)`: the signature is
/// HMAC-SHA256 of the payload segment as sent, keyed by the app secret,
/// compared in constant time before anything in the payload is believed.
pub fn parse_signed_request(
    secret: &AppSecret,
    raw: &str,
    now: DateTime<Utc>,
) -> Result<SignedRequest, SignedRequestError> {
    let (signature, payload) = raw.trim().split_once('.').ok_or(SignedRequestError::Malformed)?;
    let signature = b64url_decode(signature).ok_or(SignedRequestError::Malformed)?;
    let json = b64url_decode(payload).ok_or(SignedRequestError::Malformed)?;
    let expected = hmac_sha256(secret.expose().as_bytes(), payload.as_bytes());
    if !constant_time_eq(&expected, &signature) {
        return Err(SignedRequestError::BadSignature);
    }
    let payload: Payload = serde_json::from_slice(&json).map_err(|_| SignedRequestError::BadPayload)?;
    if !payload.algorithm.eq_ignore_ascii_case("HMAC-SHA256") {
        // Cut on a character boundary: the name is the sender's, any UTF-8.
        let shown = payload.algorithm.chars().take(32).collect();
        return Err(SignedRequestError::Algorithm(shown));
    }
    let issued_at = DateTime::from_timestamp(payload.issued_at, 0).ok_or(SignedRequestError::BadPayload)?;
    if issued_at < now - MAX_AGE {
        return Err(SignedRequestError::Stale);
    }
    if issued_at > now + CLOCK_SKEW {
        return Err(SignedRequestError::FromTheFuture);
    }
    let user_id = match payload.user_id {
        UserId::Text(s) => s.trim().to_string(),
        UserId::Number(n) => n.to_string(),
    };
    if user_id.is_empty() || user_id.len() > 64 {
        return Err(SignedRequestError::BadPayload);
    }
    Ok(SignedRequest { user_id, issued_at })
}

/// Which callback Meta called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// The user removed the app from their Facebook settings.
    Deauthorize,
    /// The user asked for their data to be deleted.
    DataDeletion,
}

impl Callback {
    pub fn as_str(self) -> &'static str {
        match self {
            Callback::Deauthorize => "deauthorize",
            Callback::DataDeletion => "data_deletion",
        }
    }
}

/// What Meta gets back, and what the user can look up.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub confirmation_code: String,
    pub status_url: String,
    pub accounts_deleted: usize,
}

/// Deletes every account the Facebook user connected, with everything
/// collected for them, and records the request, in one transaction.
pub async fn delete_user_data(app: &App, request: &SignedRequest, callback: Callback) -> Result<Receipt, StoreError> {
    let confirmation_code = random_token(12);
    let accounts_deleted = app
        .store
        .delete_facebook_user(&request.user_id, &confirmation_code, callback.as_str())
        .await?;
    tracing::info!(
        callback = callback.as_str(),
        confirmation_code = %confirmation_code,
        accounts_deleted,
        "Meta callback: the user's data is deleted"
    );
    Ok(Receipt {
        status_url: status_url(app, &confirmation_code),
        confirmation_code,
        accounts_deleted,
    })
}

/// The same for Instagram Login's callbacks, which name the Instagram-scoped
/// user id: every account connected with it is deleted.
pub async fn delete_instagram_user_data(
    app: &App,
    request: &SignedRequest,
    callback: Callback,
) -> Result<Receipt, StoreError> {
    let confirmation_code = random_token(12);
    let source = format!("instagram_{}", callback.as_str());
    let accounts_deleted = app
        .store
        .delete_instagram_user(&request.user_id, &confirmation_code, &source)
        .await?;
    tracing::info!(
        callback = %source,
        confirmation_code = %confirmation_code,
        accounts_deleted,
        "Meta callback (Instagram Login): the user's data is deleted"
    );
    Ok(Receipt {
        status_url: status_url(app, &confirmation_code),
        confirmation_code,
        accounts_deleted,
    })
}

/// The stored request behind a confirmation code.
pub async fn status(app: &App, confirmation_code: &str) -> Result<Option<DeletionRequest>, StoreError> {
    if !is_confirmation_code(confirmation_code) {
        return Ok(None);
    }
    app.store.deletion_request(confirmation_code).await
}

/// The status page on this deployment's public origin (the one Meta redirects to).
fn status_url(app: &App, confirmation_code: &str) -> String {
    let origin = app.config.oauth_redirect_uri.origin().ascii_serialization();
    format!("{origin}/api/auth/deletion-status/{confirmation_code}")
}

/// Codes are 16 base64url characters; anything else is not worth a query.
fn is_confirmation_code(s: &str) -> bool {
    (8..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::b64url;

    const SECRET: &str = "app-secret-for-tests";

    fn signed(secret: &str, payload: &serde_json::Value) -> String {
        let payload = b64url(payload.to_string().as_bytes());
        let signature = hmac_sha256(secret.as_bytes(), payload.as_bytes());
        format!("{}.{payload}", b64url(&signature))
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000, 0).unwrap()
    }

    fn payload(algorithm: &str, issued_at: i64) -> serde_json::Value {
        serde_json::json!({ "algorithm": algorithm, "issued_at": issued_at, "user_id": "100000000000001" })
    }

    fn parse(raw: &str) -> Result<SignedRequest, SignedRequestError> {
        parse_signed_request(&AppSecret::new(SECRET), raw, now())
    }

    #[test]
    fn a_request_meta_signed_is_accepted() {
        let ts = now().timestamp() - 30;
        let r = parse(&signed(SECRET, &payload("HMAC-SHA256", ts))).unwrap();
        assert_eq!(r.user_id, "100000000000001");
        assert_eq!(r.issued_at.timestamp(), ts);
        // Meta's examples sometimes carry base64 padding.
        let padded = signed(SECRET, &payload("HMAC-SHA256", ts)).replacen('.', "=.", 1);
        assert!(parse(&padded).is_ok());
        // A numeric user id is read as its digits.
        let numeric = serde_json::json!({ "algorithm": "HMAC-SHA256", "issued_at": ts, "user_id": 42 });
        assert_eq!(parse(&signed(SECRET, &numeric)).unwrap().user_id, "42");
    }

    #[test]
    fn a_wrong_signature_is_refused() {
        let ts = now().timestamp();
        assert_eq!(
            parse(&signed("another-secret", &payload("HMAC-SHA256", ts))),
            Err(SignedRequestError::BadSignature)
        );
        // The payload changed after signing.
        let good = signed(SECRET, &payload("HMAC-SHA256", ts));
        let (sig, _) = good.split_once('.').unwrap();
        let other = b64url(payload("HMAC-SHA256", ts + 1).to_string().as_bytes());
        assert_eq!(parse(&format!("{sig}.{other}")), Err(SignedRequestError::BadSignature));
        // A truncated signature.
        assert_eq!(parse(&good[4..]), Err(SignedRequestError::BadSignature));
    }

    #[test]
    fn another_algorithm_is_refused_even_when_signed() {
        let ts = now().timestamp();
        assert_eq!(
            parse(&signed(SECRET, &payload("HMAC-SHA1", ts))),
            Err(SignedRequestError::Algorithm("HMAC-SHA1".into()))
        );
        assert_eq!(
            parse(&signed(SECRET, &payload("none", ts))),
            Err(SignedRequestError::Algorithm("none".into()))
        );
    }

    #[test]
    fn garbled_requests_are_refused() {
        assert_eq!(parse(""), Err(SignedRequestError::Malformed));
        assert_eq!(parse("no-dot-here"), Err(SignedRequestError::Malformed));
        assert_eq!(parse("!!!.???"), Err(SignedRequestError::Malformed));
        // Correctly signed, but the payload is not JSON, or lacks a field.
        let not_json = b64url(b"not json");
        let sig = b64url(&hmac_sha256(SECRET.as_bytes(), not_json.as_bytes()));
        assert_eq!(parse(&format!("{sig}.{not_json}")), Err(SignedRequestError::BadPayload));
        let no_user = serde_json::json!({ "algorithm": "HMAC-SHA256", "issued_at": now().timestamp() });
        assert_eq!(parse(&signed(SECRET, &no_user)), Err(SignedRequestError::BadPayload));
        let empty_user =
            serde_json::json!({ "algorithm": "HMAC-SHA256", "issued_at": now().timestamp(), "user_id": " " });
        assert_eq!(parse(&signed(SECRET, &empty_user)), Err(SignedRequestError::BadPayload));
    }

    #[test]
    fn stale_and_future_requests_are_refused() {
        let day = MAX_AGE.num_seconds();
        let t = now().timestamp();
        assert_eq!(
            parse(&signed(SECRET, &payload("HMAC-SHA256", t - day - 1))),
            Err(SignedRequestError::Stale)
        );
        assert!(parse(&signed(SECRET, &payload("HMAC-SHA256", t - day + 60))).is_ok());
        assert!(
            parse(&signed(SECRET, &payload("HMAC-SHA256", t + 60))).is_ok(),
            "small clock skew is fine"
        );
        assert_eq!(
            parse(&signed(SECRET, &payload("HMAC-SHA256", t + 3600))),
            Err(SignedRequestError::FromTheFuture)
        );
    }

    #[test]
    fn errors_name_nothing_of_the_request() {
        let raw = signed("another-secret", &payload("HMAC-SHA256", now().timestamp()));
        let text = parse(&raw).unwrap_err().to_string();
        assert!(
            !text.contains("100000000000001") && !text.contains(&raw[..10]),
            "{text}"
        );
    }

    #[test]
    fn confirmation_codes_are_checked_before_any_query() {
        assert!(is_confirmation_code(&random_token(12)));
        assert!(!is_confirmation_code("short"));
        assert!(!is_confirmation_code("abc'; DROP TABLE users; --"));
    }
}
