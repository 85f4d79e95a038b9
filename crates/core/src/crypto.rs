//! Cryptography in one place: tokens encrypted at rest (AES-256-GCM with key
//! ids for rotation), HMAC signatures for cookies, webhooks and Meta's
//! `appsecret_proof`, and constant-time comparison.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::secret::{CsrfState, Secret, SessionId};

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("TOKEN_ENCRYPTION_KEY is not valid: {0}")]
    BadKey(String),
    #[error("stored token was encrypted with key id `{0}`, which is not configured")]
    UnknownKey(String),
    #[error("stored token could not be decrypted (corrupt, or encrypted with another key)")]
    Decrypt,
}

/// The token-encryption keys: the first encrypts, all of them decrypt.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "Keyring(ids={ids:?}, [redacted])")
    }
}

const CIPHER_PREFIX: &str = "v1";

impl Keyring {
    /// Parses `TOKEN_ENCRYPTION_KEY`: comma-separated keys, each `id:base64` or
    /// bare base64 (its id is then derived from the key). The first one is the
    /// current key; the others remain for reading tokens written before a rotation.
    pub fn parse(spec: &Secret) -> Result<Self, CryptoError> {
        let mut keys = Vec::new();
        for part in spec.expose().split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, b64) = match part.split_once(':') {
                Some((id, b64)) => (Some(id.to_string()), b64),
                None => (None, part),
            };
            let raw = STANDARD
                .decode(b64)
                .or_else(|_| URL_SAFE_NO_PAD.decode(b64))
                .map_err(|_| CryptoError::BadKey("a key is not base64".into()))?;
            let key: [u8; 32] = raw
                .try_into()
                .map_err(|_| CryptoError::BadKey("a key must be 32 bytes".into()))?;
            let id = id.unwrap_or_else(|| hex::encode(&Sha256::digest(key)[..4]));
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(CryptoError::BadKey(
                    "a key id may only hold letters, digits, - and _".into(),
                ));
            }
            keys.push((id, key));
        }
        if keys.is_empty() {
            return Err(CryptoError::BadKey("no key given".into()));
        }
        Ok(Self { keys })
    }

    /// A fresh random key in the `TOKEN_ENCRYPTION_KEY` format.
    pub fn generate_spec() -> Secret {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let id = format!("k{}", chrono::Utc::now().format("%Y%m%d"));
        Secret::new(format!("{id}:{}", STANDARD.encode(key)))
    }

    pub fn current_key_id(&self) -> &str {
        &self.keys[0].0
    }

    /// `v1:<key id>:<base64(nonce || ciphertext)>`. `context` (for example
    /// `user_token`) is authenticated, so a value cannot be moved to another column.
    pub fn encrypt(&self, plaintext: &str, context: &str) -> String {
        let (id, key) = &self.keys[0];
        let cipher = Aes256Gcm::new(key.into());
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and a fresh nonce cannot fail.
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{CIPHER_PREFIX}:{id}:{}", STANDARD.encode(out))
    }

    pub fn decrypt(&self, stored: &str, context: &str) -> Result<String, CryptoError> {
        let mut parts = stored.splitn(3, ':');
        let (Some(CIPHER_PREFIX), Some(id), Some(b64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Decrypt);
        };
        let (_, key) = self
            .keys
            .iter()
            .find(|(kid, _)| kid == id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
        let raw = STANDARD.decode(b64).map_err(|_| CryptoError::Decrypt)?;
        if raw.len() < 12 + 16 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, sealed) = raw.split_at(12);
        let plain = Aes256Gcm::new(key.into())
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
    }

    /// The key id a stored value was written with (for rotation reports).
    pub fn key_id_of(stored: &str) -> Option<&str> {
        let (id, _) = stored.strip_prefix(CIPHER_PREFIX)?.strip_prefix(':')?.split_once(':')?;
        Some(id)
    }

    /// Every configured key id, the current one first.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }

    /// Whether a stored value is already sealed with the current key.
    pub fn is_current(&self, stored: &str) -> bool {
        Self::key_id_of(stored) == Some(self.current_key_id())
    }

    /// Seals a stored value again under the current key (after a rotation),
    /// so that the token inside never leaves this module.
    pub fn reencrypt(&self, stored: &str, context: &str) -> Result<String, CryptoError> {
        Ok(self.encrypt(&self.decrypt(stored, context)?, context))
    }
}

pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(message);
    mac.finalize().into_bytes().into()
}

pub fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    hex::encode(hmac_sha256(key, message))
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

impl CsrfState {
    /// 32 random bytes, URL-safe.
    pub fn random() -> Self {
        CsrfState::new(random_token(32))
    }
}

impl SessionId {
    /// 32 random bytes (256 bits), URL-safe.
    pub fn random() -> Self {
        SessionId::new(random_token(32))
    }
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    // Meta's signed_request sometimes carries padding; accept both.
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Signs `value` so that it can be handed to a browser and trusted back.
/// Format: `<value>.<hex hmac>`; the value must not contain `.` at its end.
pub fn sign(key: &Secret, purpose: &str, value: &str) -> String {
    let mac = hmac_hex(key.expose().as_bytes(), format!("{purpose}|{value}").as_bytes());
    format!("{value}.{mac}")
}

/// The value inside a string produced by [`sign`] with the same key and purpose.
pub fn verify_signed<'a>(key: &Secret, purpose: &str, signed: &'a str) -> Option<&'a str> {
    let (value, mac) = signed.rsplit_once('.')?;
    let expected = hmac_hex(key.expose().as_bytes(), format!("{purpose}|{value}").as_bytes());
    constant_time_eq(expected.as_bytes(), mac.as_bytes()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_bind_to_context() {
        let ring = Keyring::parse(&Keyring::generate_spec()).unwrap();
        let sealed = ring.encrypt("EAAGtoken", "user_token");
        assert!(!sealed.contains("EAAGtoken"));
        assert_eq!(ring.decrypt(&sealed, "user_token").unwrap(), "EAAGtoken");
        assert!(ring.decrypt(&sealed, "page_token").is_err());
        // Two encryptions of one token differ (fresh nonce).
        assert_ne!(sealed, ring.encrypt("EAAGtoken", "user_token"));
    }

    #[test]
    fn rotation_keeps_old_tokens_readable() {
        let old = Keyring::generate_spec();
        let new = Secret::new(format!("k2:{}", STANDARD.encode([7u8; 32])));
        let before = Keyring::parse(&old).unwrap().encrypt("tok", "page_token");
        let rotated = Keyring::parse(&Secret::new(format!("{},{}", new.expose(), old.expose()))).unwrap();
        assert_eq!(rotated.decrypt(&before, "page_token").unwrap(), "tok");
        let after = rotated.encrypt("tok", "page_token");
        assert_eq!(Keyring::key_id_of(&after), Some("k2"));
        assert!(rotated.is_current(&after) && !rotated.is_current(&before));
        let resealed = rotated.reencrypt(&before, "page_token").unwrap();
        assert_eq!(Keyring::key_id_of(&resealed), Some("k2"));
        assert_eq!(rotated.decrypt(&resealed, "page_token").unwrap(), "tok");
        assert!(
            rotated.reencrypt(&before, "user_token").is_err(),
            "the column stays bound"
        );
        assert_eq!(rotated.key_ids().collect::<Vec<_>>()[0], "k2");
        assert_eq!(Keyring::key_id_of("EAAplain"), None);
        let only_new = Keyring::parse(&new).unwrap();
        assert!(matches!(
            only_new.decrypt(&before, "page_token"),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn bad_keys_are_refused() {
        assert!(Keyring::parse(&Secret::new("not base64!")).is_err());
        assert!(Keyring::parse(&Secret::new(STANDARD.encode([1u8; 16]))).is_err());
        assert!(Keyring::parse(&Secret::new("")).is_err());
    }

    #[test]
    fn signatures_detect_tampering() {
        let key = Secret::new("k");
        let s = sign(&key, "session", "abc");
        assert_eq!(verify_signed(&key, "session", &s), Some("abc"));
        assert_eq!(verify_signed(&key, "state", &s), None);
        assert_eq!(verify_signed(&key, "session", &s.replace("abc", "abd")), None);
        assert_eq!(verify_signed(&Secret::new("other"), "session", &s), None);
    }
}
