//! Structured logs through `tracing`, to stderr. Secrets are types that print
//! `[redacted]`, so a log line can only leak one through `expose()`.

use std::sync::Once;

use tracing_subscriber::EnvFilter;

static INIT: Once = Once::new();

/// Installs the subscriber once per process; `LOG_LEVEL` is a level or a filter.
pub fn init(level: &str) {
    INIT.call_once(|| {
        let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
        let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v == "json") || std::env::var_os("VERCEL").is_some();
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false);
        // Another subscriber (a test harness) may already be set; that is fine.
        let _ = if json {
            builder.json().try_init()
        } else {
            builder.try_init()
        };
    });
}
