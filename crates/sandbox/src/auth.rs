//! Who is calling: the access token, its `appsecret_proof`, and whether the
//! user's data access is still open.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::control::TokenKind;
use crate::errors::GraphError;
use crate::request::ApiRequest;
use crate::world::World;

/// How far `appsecret_time` may be from now, in seconds.
const PROOF_WINDOW_SECS: u64 = 300;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Caller {
    App,
    User {
        token: String,
        user_id: String,
    },
    Page {
        token: String,
        user_id: String,
        page_id: String,
    },
}

impl Caller {
    /// The Facebook user behind a user or page token.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Caller::App => None,
            Caller::User { user_id, .. } | Caller::Page { user_id, .. } => Some(user_id),
        }
    }
}

/// Resolves the caller of a Graph call, answering Meta's errors for a
/// missing, unknown, dead or expired token, a missing or wrong proof, and
/// lapsed data access.
pub(crate) fn authenticate(world: &World, req: &ApiRequest) -> Result<Caller, GraphError> {
    let value = req.token().ok_or_else(GraphError::missing_token)?;
    if world.is_app_token(value) {
        return Ok(Caller::App);
    }
    let token = world.live_token(value)?;
    check_proof(world, value, req)?;
    let now = world.now();
    if world.data_access_expiry(&token.user_id).is_some_and(|at| at <= now) {
        return Err(GraphError::data_access_expired());
    }
    Ok(match (token.kind, &token.page_id) {
        (TokenKind::Page, Some(page_id)) => Caller::Page {
            token: value.to_string(),
            user_id: token.user_id.clone(),
            page_id: page_id.clone(),
        },
        _ => Caller::User {
            token: value.to_string(),
            user_id: token.user_id.clone(),
        },
    })
}

/// Accepts HMAC-SHA256(secret, token|appsecret_time) with a recent time, or
/// the legacy HMAC-SHA256(secret, token) when no time is sent. A proof that
/// is sent is checked even when proofs are not required.
fn check_proof(world: &World, token: &str, req: &ApiRequest) -> Result<(), GraphError> {
    let Some(proof) = req.nonempty("appsecret_proof") else {
        return if world.require_appsecret_proof {
            Err(GraphError::missing_proof())
        } else {
            Ok(())
        };
    };
    let signed = match req.nonempty("appsecret_time") {
        Some(time) => {
            let at: i64 = time.parse().map_err(|_| GraphError::invalid_proof())?;
            // The app signs with its own clock, which a test may or may not
            // move along with the sandbox's: either one is close enough.
            let near = |now: i64| now.abs_diff(at) <= PROOF_WINDOW_SECS;
            if !near(world.now().timestamp()) && !near(chrono::Utc::now().timestamp()) {
                return Err(GraphError::invalid_proof());
            }
            format!("{token}|{time}")
        }
        None => token.to_string(),
    };
    if proof_matches(&world.app_secret, &signed, proof) {
        Ok(())
    } else {
        Err(GraphError::invalid_proof())
    }
}

fn proof_matches(secret: &str, signed: &str, proof: &str) -> bool {
    let Ok(expected) = hex::decode(proof.to_ascii_lowercase()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(signed.as_bytes());
    mac.verify_slice(&expected).is_ok()
}

/// The proof a well-behaved client sends; used by the crate's own tests.
#[cfg(test)]
pub(crate) fn proof(secret: &str, signed: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(signed.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_proof_forms_verify() {
        let legacy = proof("s3cret", "EAAtoken");
        assert!(proof_matches("s3cret", "EAAtoken", &legacy));
        assert!(proof_matches("s3cret", "EAAtoken", &legacy.to_uppercase()));
        assert!(!proof_matches("other", "EAAtoken", &legacy));
        assert!(!proof_matches("s3cret", "EAAtoken", "not-hex"));
        let timed = proof("s3cret", "EAAtoken|1700000000");
        assert!(proof_matches("s3cret", "EAAtoken|1700000000", &timed));
        assert!(!proof_matches("s3cret", "EAAtoken|1700000001", &timed));
    }
}
