//! Reading one setting's value: numbers, URLs, lists of metric names, each
//! refused with its name when it is not what it must be.

use std::collections::HashMap;
use std::time::Duration;

use url::Url;

use super::{ConfigError, MAX_BACKFILL_DAYS};
use crate::domain::MetricName;

/// DB_TIMEOUT_MS, default 10 s: a hosted statement answers in milliseconds
/// and Turso wakes from idle in a second or two, while a request that meets a
/// silent database still answers 503 well inside Vercel's 30 s for API
/// functions, and a cron run ends and frees its lease long before 300 s.
pub(super) fn db_timeout(vars: &HashMap<String, String>) -> Result<Duration, ConfigError> {
    match number(vars, "DB_TIMEOUT_MS", 10_000)? {
        0 => Err(ConfigError::Invalid {
            name: "DB_TIMEOUT_MS",
            reason: "must be at least 1 (milliseconds)".into(),
        }),
        ms => Ok(Duration::from_millis(ms)),
    }
}

/// BACKFILL_DAYS, default 90: what Meta's documentation says it keeps of account metrics.
pub(super) fn backfill_days(vars: &HashMap<String, String>) -> Result<u32, ConfigError> {
    match number(vars, "BACKFILL_DAYS", 90)? {
        days @ 0..=MAX_BACKFILL_DAYS => Ok(days),
        _ => Err(ConfigError::Invalid {
            name: "BACKFILL_DAYS",
            reason: format!("must be at most {MAX_BACKFILL_DAYS}: Meta serves no account metrics older than two years"),
        }),
    }
}

/// A comma-separated list of metric names (INSIGHT_METRICS,
/// MEDIA_METRICS_FEED, ...): each as Graph spells it, or the setting is
/// refused; blanks and empty items are ignored.
pub(super) fn metric_list(name: &'static str, list: &str) -> Result<Vec<MetricName>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| {
            MetricName::parse(m).ok_or_else(|| ConfigError::Invalid {
                name,
                reason: format!(
                    "`{}` is not a metric name (lowercase letters, digits and underscores)",
                    m.chars().take(80).collect::<String>()
                ),
            })
        })
        .collect()
}

pub(super) fn number<T: std::str::FromStr>(
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

pub(super) fn parse_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    Url::parse(value).map_err(|e| ConfigError::Invalid {
        name,
        reason: e.to_string(),
    })
}

pub(super) fn is_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty() && major.chars().all(|c| c.is_ascii_digit()) && minor.chars().all(|c| c.is_ascii_digit())
        })
}

/// `libsql://` is Turso's name for HTTPS; the client speaks Hrana over HTTP(S).
pub(super) fn remote_url(url: &str) -> Result<String, ConfigError> {
    let parsed = parse_url("TURSO_DATABASE_URL", url)?;
    match parsed.scheme() {
        "libsql" | "https" | "http" | "wss" | "ws" => Ok(url.to_string()),
        other => Err(ConfigError::Invalid {
            name: "TURSO_DATABASE_URL",
            reason: format!("scheme `{other}` is not libsql://, https:// or http://"),
        }),
    }
}
