//! The shapes Instagram Login's hosts answer with.

use serde::{Deserialize, Deserializer};

use crate::domain::InstagramUserId;
use crate::secret::AccessToken;

/// `POST api.instagram.com/oauth/access_token`: documented as
/// `{"data":[{access_token, user_id, permissions}]}`, older answers flat.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum ShortLived {
    Wrapped { data: Vec<Grant> },
    Flat(Grant),
}

#[derive(Deserialize)]
pub(super) struct Grant {
    pub access_token: AccessTokenText,
    /// The Instagram-scoped user id: Meta sends a number, sometimes a string.
    #[serde(deserialize_with = "id_text")]
    pub user_id: String,
    /// A comma-separated string, or a list.
    #[serde(default, deserialize_with = "scopes")]
    pub permissions: Vec<String>,
}

/// The token as read, redacted in Debug.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct AccessTokenText(String);

impl AccessTokenText {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl ShortLived {
    /// The one grant of the answer (an empty `data` reads as no permissions).
    pub fn into_grant(self) -> Grant {
        match self {
            ShortLived::Flat(grant) => grant,
            ShortLived::Wrapped { data } => data.into_iter().next().unwrap_or(Grant {
                access_token: AccessTokenText(String::new()),
                user_id: String::new(),
                permissions: Vec::new(),
            }),
        }
    }
}

/// `graph.instagram.com/access_token` and `/refresh_access_token`.
#[derive(Deserialize)]
pub struct LongLived {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<i64>,
}

impl LongLived {
    pub fn token(&self) -> AccessToken {
        AccessToken::new(self.access_token.clone())
    }
}

/// `graph.instagram.com/me`: `user_id` is the professional account id (the
/// one Facebook Login's path knows), `id` the Instagram-scoped id.
#[derive(Debug, Clone, Deserialize)]
pub struct Profile {
    #[serde(deserialize_with = "instagram_user_id")]
    pub user_id: InstagramUserId,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub account_type: Option<String>,
    #[serde(default)]
    pub followers_count: Option<i64>,
}

impl Profile {
    /// A personal (not professional) account: no insights, nothing to collect.
    /// Meta's spelling of the type is unverified; any casing is accepted.
    pub fn is_personal(&self) -> bool {
        self.account_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("personal"))
    }
}

/// An id as [`id_text`] reads it, that must be an Instagram user id.
fn instagram_user_id<'de, D: Deserializer<'de>>(d: D) -> Result<InstagramUserId, D::Error> {
    let raw = id_text(d)?;
    InstagramUserId::parse(&raw).ok_or_else(|| serde::de::Error::custom(format!("`{raw}` is not an Instagram user id")))
}

fn id_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(match Id::deserialize(d)? {
        Id::Text(s) => s,
        Id::Number(n) => n.to_string(),
    })
}

fn scopes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scopes {
        Text(String),
        List(Vec<String>),
    }
    let list = match Scopes::deserialize(d)? {
        Scopes::Text(s) => s.split(',').map(str::to_string).collect(),
        Scopes::List(l) => l,
    };
    Ok(list
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_code_exchange_shapes_and_id_forms_are_read() {
        let wrapped: ShortLived = serde_json::from_str(
            r#"{"data":[{"access_token":"IGAAx","user_id":26000000000000001,"permissions":"instagram_business_basic,instagram_business_manage_insights"}]}"#,
        )
        .unwrap();
        let g = wrapped.into_grant();
        assert_eq!(g.user_id, "26000000000000001", "no f64 rounding");
        assert_eq!(g.permissions.len(), 2);
        let flat: ShortLived = serde_json::from_str(
            r#"{"access_token":"IGAAx","user_id":"42","permissions":["instagram_business_basic"]}"#,
        )
        .unwrap();
        let g = flat.into_grant();
        assert_eq!((g.user_id.as_str(), g.permissions.len()), ("42", 1));
    }

    #[test]
    fn personal_accounts_are_told_apart_in_any_casing() {
        let p: Profile = serde_json::from_str(r#"{"user_id":"1","account_type":"Personal"}"#).unwrap();
        assert!(p.is_personal());
        let p: Profile = serde_json::from_str(r#"{"user_id":1,"account_type":"MEDIA_CREATOR"}"#).unwrap();
        assert!(!p.is_personal());
    }
}
