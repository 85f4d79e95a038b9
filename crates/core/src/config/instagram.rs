//! The Instagram Login path's configuration: its own app and Meta's three
//! hosts for it (IG_APP_ID, IG_APP_SECRET, IG_*_BASE_URL, IG_RENEW_BEFORE_DAYS).

use std::collections::HashMap;

use url::Url;

use super::values::{number, parse_url};
use super::{ConfigError, SANDBOX_IG_APP_ID, SANDBOX_IG_APP_SECRET};
use crate::secret::AppSecret;

/// Instagram API with Instagram Login: the Instagram product's own app and
/// Meta's three hosts for it (dialog, code exchange, graph).
#[derive(Debug, Clone)]
pub struct InstagramLogin {
    pub app_id: String,
    pub app_secret: AppSecret,
    pub redirect_uri: Url,
    pub dialog_base_url: Url,
    pub api_base_url: Url,
    pub graph_base_url: Url,
    /// Tokens are renewed once fewer days than this remain (IG_RENEW_BEFORE_DAYS).
    pub renew_before_days: i64,
}

/// The Instagram Login path: on with IG_APP_ID (which then needs
/// IG_APP_SECRET), on with the sandbox's Instagram app in sandbox mode, off
/// otherwise. Its redirect URI defaults to OAUTH_REDIRECT_URI: one callback
/// serves both logins.
pub(super) fn instagram_login(
    vars: &HashMap<String, String>,
    strict: bool,
    sandbox: bool,
    oauth_redirect_uri: &Url,
) -> Result<Option<InstagramLogin>, ConfigError> {
    let get = |name: &str| vars.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let (app_id, app_secret) = match (get("IG_APP_ID"), get("IG_APP_SECRET")) {
        (Some(id), Some(secret)) => (id, secret),
        (Some(_), None) if strict => return Err(ConfigError::Missing("IG_APP_SECRET")),
        (Some(_), None) => {
            return Err(ConfigError::Invalid {
                name: "IG_APP_SECRET",
                reason: "IG_APP_ID is set, so IG_APP_SECRET must be too".into(),
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Invalid {
                name: "IG_APP_ID",
                reason: "IG_APP_SECRET is set without the Instagram app id it belongs to".into(),
            });
        }
        (None, None) if sandbox && !strict => (SANDBOX_IG_APP_ID.into(), SANDBOX_IG_APP_SECRET.into()),
        (None, None) => return Ok(None),
    };
    let url = |name: &'static str, default: &str| parse_url(name, &get(name).unwrap_or_else(|| default.into()));
    Ok(Some(InstagramLogin {
        app_id,
        app_secret: AppSecret::new(app_secret),
        redirect_uri: url("IG_OAUTH_REDIRECT_URI", oauth_redirect_uri.as_str())?,
        dialog_base_url: url("IG_DIALOG_BASE_URL", "https://www.instagram.com")?,
        api_base_url: url("IG_API_BASE_URL", "https://api.instagram.com")?,
        graph_base_url: url("IG_GRAPH_BASE_URL", "https://graph.instagram.com")?,
        renew_before_days: match number(vars, "IG_RENEW_BEFORE_DAYS", 30)? {
            // Meta renews for 60 days from now, and only day-old tokens.
            days @ 2..=58 => days,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "IG_RENEW_BEFORE_DAYS",
                    reason: "must be between 2 and 58 (days before the 60-day token ends)".into(),
                });
            }
        },
    }))
}
