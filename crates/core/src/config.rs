//! Configuration, read once per process from the environment (names fixed by
//! design.md). Startup decides; nothing below reads environment variables.

mod instagram;
mod local_keys;
mod values;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

pub use instagram::InstagramLogin;
use instagram::instagram_login;
use local_keys::{LocalKeys, local_keys_path};
use values::{backfill_days, db_timeout, is_version, metric_list, number, parse_url, remote_url};

use crate::crypto::Keyring;
use crate::domain::{MetricName, ProductType, RefreshSchedule};
use crate::secret::{AppSecret, Secret};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is required on Vercel and with URLINSTA_ENV=production, but is not set")]
    Missing(&'static str),
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error("could not keep the local keys at {path}: {source}")]
    LocalKeys { path: String, source: std::io::Error },
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum DatabaseConfig {
    /// An embedded libSQL file (development, small setups).
    Local { path: PathBuf },
    /// Hosted libSQL (Turso) or a `sqld` server. `timeout` bounds each call
    /// (DB_TIMEOUT_MS), so that a database that stops answering fails fast.
    Remote {
        url: String,
        auth_token: Secret,
        timeout: Duration,
    },
}

#[derive(Debug, Clone)]
pub struct NotifyConfig {
    pub url: Url,
    pub secret: Secret,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Reachable by others (see [`is_strict`]): every secret is required,
    /// the sandbox never runs, cron routes are never open.
    pub strict: bool,
    /// Local development without `FB_APP_ID`: the Graph API is the sandbox emulator.
    pub sandbox: bool,
    pub app_id: String,
    pub app_secret: AppSecret,
    /// A Facebook Login for Business configuration (`config_id`): the token
    /// type and permissions the dialog asks for, as set up in the Meta app.
    pub login_config_id: Option<String>,
    pub oauth_redirect_uri: Url,
    pub frontend_success_url: String,
    pub frontend_error_url: String,
    pub graph_version: String,
    pub graph_base_url: Url,
    pub dialog_base_url: Url,
    pub database: DatabaseConfig,
    pub session_secret: Secret,
    pub token_keys: Keyring,
    pub admin_api_key: Option<Secret>,
    pub cron_secret: Option<Secret>,
    pub notify: Option<NotifyConfig>,
    pub rate_limit_per_hour: u32,
    pub collect_concurrency: usize,
    pub job_time_budget: Duration,
    pub log_level: String,
    /// Base delay of Graph retries (1 s in production; tests shrink it).
    pub retry_base: Duration,
    /// Timeout of one Graph request.
    pub graph_timeout: Duration,
    /// Account metrics collected hourly; configuration, not code.
    pub insight_metrics: Vec<MetricName>,
    /// How many days back a new account's daily metrics are fetched (Meta keeps 90).
    pub backfill_days: u32,
    /// Graph calls one collection run may spend on an account's backfill.
    pub backfill_calls_per_run: u32,
    /// Hourly counts older than this many days are rolled up to one a day.
    pub hourly_retention_days: u32,
    /// `None`: the Instagram Login path is off (no IG_APP_ID), the page offers Facebook only.
    pub instagram: Option<InstagramLogin>,
    /// What Meta must echo to verify the Instagram webhook subscription.
    pub webhook_verify_token: Option<Secret>,
    /// Media metrics asked per product type (MEDIA_METRICS_FEED, _REELS, _STORY).
    pub media_metrics: BTreeMap<ProductType, Vec<MetricName>>,
    /// When a media's numbers are asked again, by its age (MEDIA_REFRESH_SCHEDULE).
    pub media_schedule: RefreshSchedule,
}

pub const DEFAULT_GRAPH_VERSION: &str = "v26.0";
pub const SANDBOX_APP_ID: &str = "sandbox-app";
pub const SANDBOX_APP_SECRET: &str = "sandbox-secret";
pub const SANDBOX_IG_APP_ID: &str = "sandbox-ig-app";
pub const SANDBOX_IG_APP_SECRET: &str = "sandbox-ig-secret";
/// Meta's media metrics per product type (platform-facts, December 2026);
/// `crossposted_views` and `facebook_views` exist only for reels shared to
/// Facebook, so they are not asked by default.
pub const DEFAULT_MEDIA_METRICS: [(ProductType, &str, &str); 3] = [
    (
        ProductType::Feed,
        "MEDIA_METRICS_FEED",
        "reach,views,likes,comments,saved,shares,reposts,total_interactions,follows,profile_visits,profile_activity",
    ),
    (
        ProductType::Reels,
        "MEDIA_METRICS_REELS",
        "reach,views,likes,comments,saved,shares,reposts,total_interactions,ig_reels_avg_watch_time,ig_reels_video_view_total_time,reels_skip_rate",
    ),
    (
        ProductType::Story,
        "MEDIA_METRICS_STORY",
        "reach,views,replies,shares,reposts,total_interactions,follows,profile_visits,navigation",
    ),
];
pub const DEFAULT_METRICS: &str = "reach,views,accounts_engaged,total_interactions,likes,comments,shares,saves,replies,profile_links_taps,follows_and_unfollows";

impl Config {
    /// Reads the process environment, loading `.env` first outside production.
    pub fn from_env() -> Result<Self, ConfigError> {
        let on_vercel = std::env::var_os("VERCEL").is_some();
        if !on_vercel {
            // A missing .env is normal; a broken one is worth a warning.
            if let Err(e) = dotenvy::dotenv()
                && !e.not_found()
            {
                eprintln!("warning: .env could not be read: {e}");
            }
        }
        Self::from_vars(&std::env::vars().collect())
    }

    /// Builds the configuration from a map of variables (tests pass their own).
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |name: &str| vars.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let strict = is_strict(vars);
        let require = |name: &'static str| -> Result<Option<String>, ConfigError> {
            match get(name) {
                None if strict => Err(ConfigError::Missing(name)),
                v => Ok(v),
            }
        };

        let app_id = require("FB_APP_ID")?;
        let app_secret = require("FB_APP_SECRET")?;
        // Strict mode required FB_APP_ID above: the sandbox is for local development only.
        let sandbox = app_id.is_none();
        if app_id.is_some() && app_secret.is_none() {
            return Err(ConfigError::Invalid {
                name: "FB_APP_SECRET",
                reason: "FB_APP_ID is set, so FB_APP_SECRET must be too".into(),
            });
        }
        let session_secret = require("SESSION_SECRET")?;
        let token_key = require("TOKEN_ENCRYPTION_KEY")?;
        let cron_secret = require("CRON_SECRET")?;

        let database = match get("TURSO_DATABASE_URL") {
            Some(url) => DatabaseConfig::Remote {
                url: remote_url(&url)?,
                auth_token: Secret::new(get("TURSO_AUTH_TOKEN").unwrap_or_default()),
                timeout: db_timeout(vars)?,
            },
            None => DatabaseConfig::Local {
                path: PathBuf::from(get("DATABASE_PATH").unwrap_or_else(|| "./data/urlinsta.db".into())),
            },
        };

        // Outside production, missing keys are generated once and kept beside the database.
        let (session_secret, token_key) = match (session_secret, token_key) {
            (Some(s), Some(t)) => (Secret::new(s), Secret::new(t)),
            (s, t) => {
                let kept = LocalKeys::load_or_create(&local_keys_path(&database))?;
                (
                    Secret::new(s.unwrap_or(kept.session_secret)),
                    Secret::new(t.unwrap_or(kept.token_key)),
                )
            }
        };
        let token_keys = Keyring::parse(&token_key).map_err(|e| ConfigError::Invalid {
            name: "TOKEN_ENCRYPTION_KEY",
            reason: e.to_string(),
        })?;

        let base = public_base_url(vars);
        let oauth_redirect_uri = parse_url(
            "OAUTH_REDIRECT_URI",
            &get("OAUTH_REDIRECT_URI").unwrap_or_else(|| format!("{base}/api/auth/callback")),
        )?;
        let graph_version = get("FB_GRAPH_VERSION").unwrap_or_else(|| DEFAULT_GRAPH_VERSION.into());
        if !is_version(&graph_version) {
            return Err(ConfigError::Invalid {
                name: "FB_GRAPH_VERSION",
                reason: format!("`{graph_version}` is not of the form v26.0"),
            });
        }

        let notify = match (get("NOTIFY_WEBHOOK_URL"), get("NOTIFY_WEBHOOK_SECRET")) {
            (Some(url), Some(secret)) => Some(NotifyConfig {
                url: parse_url("NOTIFY_WEBHOOK_URL", &url)?,
                secret: Secret::new(secret),
            }),
            (Some(_), None) => {
                return Err(ConfigError::Invalid {
                    name: "NOTIFY_WEBHOOK_SECRET",
                    reason: "NOTIFY_WEBHOOK_URL is set; its events must be signed".into(),
                });
            }
            _ => None,
        };

        let instagram = instagram_login(vars, strict, sandbox, &oauth_redirect_uri)?;

        Ok(Config {
            strict,
            sandbox,
            app_id: app_id.unwrap_or_else(|| SANDBOX_APP_ID.into()),
            app_secret: AppSecret::new(app_secret.unwrap_or_else(|| SANDBOX_APP_SECRET.into())),
            login_config_id: get("FB_LOGIN_CONFIG_ID"),
            oauth_redirect_uri,
            frontend_success_url: get("FRONTEND_SUCCESS_URL").unwrap_or_else(|| "/?connected=true".into()),
            frontend_error_url: get("FRONTEND_ERROR_URL").unwrap_or_else(|| "/?error=<reason>".into()),
            graph_version,
            graph_base_url: parse_url(
                "FB_GRAPH_BASE_URL",
                &get("FB_GRAPH_BASE_URL").unwrap_or_else(|| "https://graph.facebook.com".into()),
            )?,
            dialog_base_url: parse_url(
                "FB_DIALOG_BASE_URL",
                &get("FB_DIALOG_BASE_URL").unwrap_or_else(|| "https://www.facebook.com".into()),
            )?,
            database,
            session_secret,
            token_keys,
            admin_api_key: get("ADMIN_API_KEY").map(Secret::new),
            cron_secret: cron_secret.map(Secret::new),
            notify,
            rate_limit_per_hour: number(vars, "RATE_LIMIT_PER_HOUR", 180)?,
            backfill_days: backfill_days(vars)?,
            backfill_calls_per_run: number(vars, "BACKFILL_CALLS_PER_RUN", 100)?,
            hourly_retention_days: number(vars, "HOURLY_RETENTION_DAYS", 14)?.max(1),
            collect_concurrency: number(vars, "COLLECT_CONCURRENCY", 16)?.max(1),
            job_time_budget: Duration::from_secs(number(vars, "JOB_TIME_BUDGET_SECS", 240)?),
            log_level: get("LOG_LEVEL").unwrap_or_else(|| "info".into()),
            retry_base: Duration::from_millis(number(vars, "GRAPH_RETRY_BASE_MS", 1000)?),
            graph_timeout: Duration::from_millis(number(vars, "GRAPH_TIMEOUT_MS", 10_000)?),
            insight_metrics: metric_list(
                "INSIGHT_METRICS",
                &get("INSIGHT_METRICS").unwrap_or_else(|| DEFAULT_METRICS.into()),
            )?,
            instagram,
            webhook_verify_token: get("META_WEBHOOK_VERIFY_TOKEN").map(Secret::new),
            media_metrics: DEFAULT_MEDIA_METRICS
                .iter()
                .map(|(product, name, default)| {
                    let list = get(name).unwrap_or_else(|| default.to_string());
                    Ok((*product, metric_list(name, &list)?))
                })
                .collect::<Result<_, ConfigError>>()?,
            media_schedule: match get("MEDIA_REFRESH_SCHEDULE") {
                None => RefreshSchedule::default(),
                Some(spec) => RefreshSchedule::parse(&spec).map_err(|e| ConfigError::Invalid {
                    name: "MEDIA_REFRESH_SCHEDULE",
                    reason: e.to_string(),
                })?,
            },
        })
    }

    /// Where the browser goes after a failed connect, with the reason code filled in.
    pub fn error_redirect(&self, reason: &str) -> String {
        if self.frontend_error_url.contains("<reason>") {
            self.frontend_error_url.replace("<reason>", reason)
        } else {
            let sep = if self.frontend_error_url.contains('?') {
                '&'
            } else {
                '?'
            };
            format!("{}{sep}reason={reason}", self.frontend_error_url)
        }
    }
}

/// Strict wherever urlinsta may be reachable by others: on Vercel (`VERCEL`
/// is set in every Vercel environment: production, preview and development,
/// and any `VERCEL_ENV` counts too), or self-hosted with
/// `URLINSTA_ENV=production`. A preview deployment is on the internet like
/// production, so it gets no known secret and no open route either.
fn is_strict(vars: &HashMap<String, String>) -> bool {
    let set = |name: &str| vars.get(name).is_some_and(|v| !v.trim().is_empty());
    set("VERCEL")
        || set("VERCEL_ENV")
        || vars
            .get("URLINSTA_ENV")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("production"))
}

/// The most days a backfill may reach back: Meta refuses a `since` more than
/// two years back ("Metrics data is available for the last 2 years"), and a
/// backfill that asked would fail in every run.
pub const MAX_BACKFILL_DAYS: u32 = 729;

/// The public origin of this deployment, for the default redirect URI.
fn public_base_url(vars: &HashMap<String, String>) -> String {
    let get = |name: &str| vars.get(name).filter(|v| !v.is_empty());
    if let Some(host) = get("VERCEL_PROJECT_PRODUCTION_URL").or_else(|| get("VERCEL_URL")) {
        return format!("https://{host}");
    }
    let port = get("PORT").map(String::as_str).unwrap_or("3000");
    format!("http://localhost:{port}")
}

#[cfg(test)]
mod tests;
