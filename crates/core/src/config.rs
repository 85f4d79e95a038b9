//! Configuration, read once per process from the environment (names fixed by
//! design.md). Startup decides; nothing below reads environment variables.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::crypto::{Keyring, random_token};
use crate::domain::{ProductType, RefreshSchedule};
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
    pub insight_metrics: Vec<String>,
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
    pub media_metrics: BTreeMap<ProductType, Vec<String>>,
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
            insight_metrics: get("INSIGHT_METRICS")
                .unwrap_or_else(|| DEFAULT_METRICS.into())
                .split(',')
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect(),
            instagram,
            webhook_verify_token: get("META_WEBHOOK_VERIFY_TOKEN").map(Secret::new),
            media_metrics: DEFAULT_MEDIA_METRICS
                .iter()
                .map(|(product, name, default)| {
                    let list = get(name).unwrap_or_else(|| default.to_string());
                    (
                        *product,
                        list.split(',')
                            .map(|m| m.trim().to_string())
                            .filter(|m| !m.is_empty())
                            .collect(),
                    )
                })
                .collect(),
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

/// The Instagram Login path: on with IG_APP_ID (which then needs
/// IG_APP_SECRET), on with the sandbox's Instagram app in sandbox mode, off
/// otherwise. Its redirect URI defaults to OAUTH_REDIRECT_URI: one callback
/// serves both logins.
fn instagram_login(
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

/// DB_TIMEOUT_MS, default 10 s: a hosted statement answers in milliseconds
/// and Turso wakes from idle in a second or two, while a request that meets a
/// silent database still answers 503 well inside Vercel's 30 s for API
/// functions, and a cron run ends and frees its lease long before 300 s.
fn db_timeout(vars: &HashMap<String, String>) -> Result<Duration, ConfigError> {
    match number(vars, "DB_TIMEOUT_MS", 10_000)? {
        0 => Err(ConfigError::Invalid {
            name: "DB_TIMEOUT_MS",
            reason: "must be at least 1 (milliseconds)".into(),
        }),
        ms => Ok(Duration::from_millis(ms)),
    }
}

/// The most days a backfill may reach back: Meta refuses a `since` more than
/// two years back ("Metrics data is available for the last 2 years"), and a
/// backfill that asked would fail in every run.
pub const MAX_BACKFILL_DAYS: u32 = 729;

/// BACKFILL_DAYS, default 90: what Meta's documentation says it keeps of account metrics.
fn backfill_days(vars: &HashMap<String, String>) -> Result<u32, ConfigError> {
    match number(vars, "BACKFILL_DAYS", 90)? {
        days @ 0..=MAX_BACKFILL_DAYS => Ok(days),
        _ => Err(ConfigError::Invalid {
            name: "BACKFILL_DAYS",
            reason: format!("must be at most {MAX_BACKFILL_DAYS}: Meta serves no account metrics older than two years"),
        }),
    }
}

fn number<T: std::str::FromStr>(
    vars: &HashMap<String, String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
            name,
            reason: format!("`{v}` is not a whole number"),
        }),
    }
}

fn parse_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    Url::parse(value).map_err(|e| ConfigError::Invalid {
        name,
        reason: e.to_string(),
    })
}

fn is_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty() && major.chars().all(|c| c.is_ascii_digit()) && minor.chars().all(|c| c.is_ascii_digit())
        })
}

/// `libsql://` is Turso's name for HTTPS; the client speaks Hrana over HTTP(S).
fn remote_url(url: &str) -> Result<String, ConfigError> {
    let parsed = parse_url("TURSO_DATABASE_URL", url)?;
    match parsed.scheme() {
        "libsql" | "https" | "http" | "wss" | "ws" => Ok(url.to_string()),
        other => Err(ConfigError::Invalid {
            name: "TURSO_DATABASE_URL",
            reason: format!("scheme `{other}` is not libsql://, https:// or http://"),
        }),
    }
}

/// The public origin of this deployment, for the default redirect URI.
fn public_base_url(vars: &HashMap<String, String>) -> String {
    let get = |name: &str| vars.get(name).filter(|v| !v.is_empty());
    if let Some(host) = get("VERCEL_PROJECT_PRODUCTION_URL").or_else(|| get("VERCEL_URL")) {
        return format!("https://{host}");
    }
    let port = get("PORT").map(String::as_str).unwrap_or("3000");
    format!("http://localhost:{port}")
}

fn local_keys_path(db: &DatabaseConfig) -> PathBuf {
    match db {
        DatabaseConfig::Local { path } => path.with_extension("keys"),
        DatabaseConfig::Remote { .. } => PathBuf::from("./data/urlinsta.keys"),
    }
}

/// Keys generated on first local start and kept (mode 0600) beside the database.
struct LocalKeys {
    session_secret: String,
    token_key: String,
}

impl LocalKeys {
    fn load_or_create(path: &Path) -> Result<Self, ConfigError> {
        let err = |source| ConfigError::LocalKeys {
            path: path.display().to_string(),
            source,
        };
        if let Ok(text) = std::fs::read_to_string(path) {
            let mut session_secret = None;
            let mut token_key = None;
            for line in text.lines() {
                match line.split_once('=') {
                    Some(("SESSION_SECRET", v)) => session_secret = Some(v.to_string()),
                    Some(("TOKEN_ENCRYPTION_KEY", v)) => token_key = Some(v.to_string()),
                    _ => {}
                }
            }
            if let (Some(session_secret), Some(token_key)) = (session_secret, token_key) {
                return Ok(Self {
                    session_secret,
                    token_key,
                });
            }
        }
        let keys = Self {
            session_secret: random_token(32),
            token_key: Keyring::generate_spec().expose().to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let text = format!(
            "# Generated by urlinsta for local use. Losing this file makes stored tokens unreadable.\nSESSION_SECRET={}\nTOKEN_ENCRYPTION_KEY={}\n",
            keys.session_secret, keys.token_key
        );
        write_private(path, &text).map_err(err)?;
        Ok(keys)
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut f) => f.write_all(text.as_bytes()),
        // Another process created it first: theirs wins, and is read next start.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn production_names_the_missing_secret() {
        let err = Config::from_vars(&vars(&[("VERCEL_ENV", "production"), ("FB_APP_ID", "1")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "FB_APP_SECRET is required on Vercel and with URLINSTA_ENV=production, but is not set"
        );
        let err = Config::from_vars(&vars(&[
            ("VERCEL_ENV", "production"),
            ("FB_APP_ID", "1"),
            ("FB_APP_SECRET", "s"),
            ("SESSION_SECRET", "x"),
            (
                "TOKEN_ENCRYPTION_KEY",
                "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
        ]))
        .unwrap_err();
        assert!(err.to_string().starts_with("CRON_SECRET"), "{err}");
    }

    /// Every secret, as a strict deployment must have them.
    const ALL_SECRETS: [(&str, &str); 5] = [
        ("FB_APP_ID", "1"),
        ("FB_APP_SECRET", "s"),
        ("SESSION_SECRET", "x"),
        (
            "TOKEN_ENCRYPTION_KEY",
            "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
        ("CRON_SECRET", "c"),
    ];

    #[test]
    fn every_reachable_environment_is_strict_and_names_each_missing_secret() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("u.db");
        let environments: [&[(&str, &str)]; 6] = [
            &[("VERCEL", "1"), ("VERCEL_ENV", "preview")],
            &[("VERCEL", "1"), ("VERCEL_ENV", "development")],
            &[("VERCEL", "1")],
            &[("VERCEL_ENV", "preview")],
            &[("VERCEL_ENV", "production")],
            &[("URLINSTA_ENV", "production")],
        ];
        for env in environments {
            for (missing, _) in ALL_SECRETS {
                let mut v = vars(env);
                v.insert("DATABASE_PATH".into(), db.to_str().unwrap().into());
                for (k, val) in ALL_SECRETS.iter().filter(|(k, _)| *k != missing) {
                    v.insert(k.to_string(), val.to_string());
                }
                let err = Config::from_vars(&v).expect_err(&format!("{env:?} without {missing}"));
                assert!(err.to_string().starts_with(missing), "{env:?}: {err}");
            }
            let mut v = vars(env);
            v.extend(vars(&ALL_SECRETS));
            let config = Config::from_vars(&v).expect("every secret given");
            assert!(config.strict && !config.sandbox, "{env:?}");
        }
        // Nothing was generated: strict mode never falls back to local keys.
        assert!(!dir.path().join("u.keys").exists());
    }

    #[test]
    fn local_development_alone_runs_the_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("u.db");
        for env in [&[][..], &[("URLINSTA_ENV", "development")][..]] {
            let mut v = vars(env);
            v.insert("DATABASE_PATH".into(), db.to_str().unwrap().into());
            let config = Config::from_vars(&v).expect("local config");
            assert!(!config.strict && config.sandbox, "{env:?}");
        }
    }

    #[test]
    fn local_mode_generates_keys_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("u.db");
        let v = vars(&[("DATABASE_PATH", db.to_str().unwrap())]);
        let a = Config::from_vars(&v).unwrap();
        let b = Config::from_vars(&v).unwrap();
        assert!(a.sandbox);
        assert_eq!(a.session_secret, b.session_secret);
        assert_eq!(a.token_keys.current_key_id(), b.token_keys.current_key_id());
        assert_eq!(a.graph_version, "v26.0");
        assert_eq!(a.oauth_redirect_uri.as_str(), "http://localhost:3000/api/auth/callback");
        assert_eq!(a.error_redirect("no_pages"), "/?error=no_pages");
        let ig = a.instagram.expect("the sandbox offers Instagram Login too");
        assert_eq!(ig.app_id, SANDBOX_IG_APP_ID);
        assert_eq!(ig.redirect_uri, a.oauth_redirect_uri);
        assert_eq!(ig.graph_base_url.as_str(), "https://graph.instagram.com/");
    }

    #[test]
    fn instagram_login_is_off_without_its_app_and_named_when_half_set() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("u.db");
        let db = db.to_str().unwrap();
        let with_meta_app = [("DATABASE_PATH", db), ("FB_APP_ID", "1"), ("FB_APP_SECRET", "s")];
        assert!(Config::from_vars(&vars(&with_meta_app)).unwrap().instagram.is_none());

        let mut half = with_meta_app.to_vec();
        half.push(("IG_APP_ID", "9"));
        let err = Config::from_vars(&vars(&half)).unwrap_err();
        assert!(err.to_string().starts_with("IG_APP_SECRET"), "{err}");
        let err = Config::from_vars(&vars(&[("DATABASE_PATH", db), ("IG_APP_SECRET", "x")])).unwrap_err();
        assert!(err.to_string().starts_with("IG_APP_ID"), "{err}");

        let production = [
            ("VERCEL_ENV", "production"),
            ("FB_APP_ID", "1"),
            ("FB_APP_SECRET", "s"),
            ("SESSION_SECRET", "x"),
            (
                "TOKEN_ENCRYPTION_KEY",
                "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
            ("CRON_SECRET", "c"),
            ("IG_APP_ID", "9"),
        ];
        let err = Config::from_vars(&vars(&production)).unwrap_err();
        assert!(err.to_string().starts_with("IG_APP_SECRET is required"), "{err}");

        let mut full = production.to_vec();
        full.extend([
            ("IG_APP_SECRET", "ig-secret-value"),
            ("IG_OAUTH_REDIRECT_URI", "https://example.com/api/auth/callback"),
            ("IG_GRAPH_BASE_URL", "http://127.0.0.1:9/ig/graph"),
        ]);
        let ig = Config::from_vars(&vars(&full)).unwrap().instagram.expect("on");
        assert_eq!(ig.app_id, "9");
        assert_eq!(ig.redirect_uri.as_str(), "https://example.com/api/auth/callback");
        assert_eq!(ig.graph_base_url.path(), "/ig/graph");
        assert_eq!(ig.api_base_url.as_str(), "https://api.instagram.com/");
        assert!(!format!("{ig:?}").contains("ig-secret-value"));
        assert_eq!(ig.renew_before_days, 30);
        full.push(("IG_RENEW_BEFORE_DAYS", "60"));
        let err = Config::from_vars(&vars(&full)).unwrap_err();
        assert!(err.to_string().starts_with("IG_RENEW_BEFORE_DAYS"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("u.db");
        let err = Config::from_vars(&vars(&[
            ("DATABASE_PATH", db.to_str().unwrap()),
            ("RATE_LIMIT_PER_HOUR", "lots"),
        ]))
        .unwrap_err();
        assert!(err.to_string().starts_with("RATE_LIMIT_PER_HOUR"));
        let err = Config::from_vars(&vars(&[
            ("DATABASE_PATH", db.to_str().unwrap()),
            ("FB_GRAPH_VERSION", "latest"),
        ]))
        .unwrap_err();
        assert!(err.to_string().starts_with("FB_GRAPH_VERSION"));
        let err = Config::from_vars(&vars(&[
            ("DATABASE_PATH", db.to_str().unwrap()),
            ("BACKFILL_DAYS", "730"),
        ]))
        .unwrap_err();
        assert!(err.to_string().starts_with("BACKFILL_DAYS"), "{err}");
    }
}
