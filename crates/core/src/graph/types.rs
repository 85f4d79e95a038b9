//! The shapes of the Graph responses urlinsta reads.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::InstagramUserId;

#[derive(Debug, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
pub struct Paging {
    #[serde(default)]
    pub cursors: Option<Cursors>,
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Cursors {
    #[serde(default)]
    pub after: Option<String>,
}

/// `oauth/access_token`.
#[derive(Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// One entry of `/me/accounts`.
#[derive(Deserialize)]
pub struct FacebookPage {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub access_token: Option<String>,
}

/// `/{page-id}?fields=instagram_business_account`.
#[derive(Debug, Deserialize)]
pub struct PageInstagram {
    #[serde(default)]
    pub instagram_business_account: Option<LinkedInstagram>,
}

#[derive(Debug, Deserialize)]
pub struct LinkedInstagram {
    pub id: InstagramUserId,
}

/// `/{ig-user-id}?fields=...`.
#[derive(Debug, Clone, Deserialize)]
pub struct InstagramUser {
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub followers_count: Option<i64>,
    #[serde(default)]
    pub follows_count: Option<i64>,
    #[serde(default)]
    pub media_count: Option<i64>,
}

/// `/me?fields=id,name`.
#[derive(Debug, Deserialize)]
pub struct Me {
    pub id: String,
}

/// `debug_token`.
#[derive(Debug, Deserialize)]
pub struct DebugTokenEnvelope {
    pub data: DebugToken,
}

#[derive(Debug, Deserialize)]
pub struct DebugToken {
    #[serde(default)]
    pub is_valid: bool,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub data_access_expires_at: Option<i64>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default, rename = "type")]
    pub token_type: Option<String>,
    #[serde(default)]
    pub error: Option<DebugTokenError>,
}

impl DebugToken {
    /// When the token stops working; `None` when it never does (`expires_at: 0`).
    pub fn expires(&self) -> Option<DateTime<Utc>> {
        from_unix(self.expires_at)
    }

    /// When the user's data access lapses; `None` when Meta names no date.
    pub fn data_access_expires(&self) -> Option<DateTime<Utc>> {
        from_unix(self.data_access_expires_at)
    }
}

/// Meta's unix seconds, where 0 means "never".
fn from_unix(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.filter(|s| *s > 0).and_then(|s| DateTime::from_timestamp(s, 0))
}

#[derive(Debug, Default, Deserialize)]
pub struct DebugTokenError {
    #[serde(default)]
    pub code: Option<i64>,
    #[serde(default)]
    pub subcode: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Success {
    #[serde(default)]
    pub success: bool,
}
