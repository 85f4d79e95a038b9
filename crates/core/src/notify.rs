//! Delivering account events (a connection needs a reconnect, died, came
//! back) to `NOTIFY_WEBHOOK_URL`. Each status transition queued one row in
//! the `notifications` outbox in the same transaction as the change; this
//! module POSTs the due rows, signed, and retries failures on later runs with
//! a growing delay. Delivery never fails or blocks the caller beyond its
//! budget.
//!
//! Signature: `X-Urlinsta-Signature: t=<unix seconds>,v1=<hex>` where hex is
//! HMAC-SHA256 over `<t>.<raw body>` keyed by `NOTIFY_WEBHOOK_SECRET`.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

use crate::app::App;
use crate::config::NotifyConfig;
use crate::crypto::hmac_hex;
use crate::domain::{LeaseName, Timestamp};
use crate::engine::Lease;
use crate::store::PendingNotification;

/// One delivery attempt may take this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Events delivered per call at most; the rest wait for the next one.
const BATCH: i64 = 100;
/// After this many failed attempts an event is given up (about five days of retries).
const MAX_ATTEMPTS: i64 = 25;
/// The longest wait between two attempts.
const MAX_BACKOFF_MINUTES: i64 = 6 * 60;
/// One deliverer at a time, so no event goes out twice.
const LEASE: &str = "notify";

pub const SIGNATURE_HEADER: &str = "X-Urlinsta-Signature";

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct DeliveryReport {
    pub delivered: usize,
    pub failed: usize,
}

/// Delivers the due events, spending at most `budget`. Without a configured
/// webhook the events stay in the outbox.
pub async fn deliver_pending(app: &App, budget: Duration) -> DeliveryReport {
    let mut report = DeliveryReport::default();
    let Some(target) = &app.config.notify else {
        return report;
    };
    let lease = match Lease::take(app, &LeaseName::of(LEASE), budget + Duration::from_secs(30)).await {
        Ok(Some(lease)) => lease,
        Ok(None) => return report, // another run is delivering
        Err(e) => {
            tracing::warn!(error = %e, "could not take the notify lease; events stay queued");
            return report;
        }
    };
    let deadline = Instant::now() + budget;
    match app.store.due_notifications(BATCH).await {
        Ok(due) => {
            for event in due {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                if deliver(app, target, &event, left.min(REQUEST_TIMEOUT)).await {
                    report.delivered += 1;
                } else {
                    // The receiver is likely down: the rest waits for the next run.
                    report.failed += 1;
                    break;
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read the notifications outbox"),
    }
    lease.release().await;
    if report.delivered + report.failed > 0 {
        tracing::info!(delivered = report.delivered, failed = report.failed, "webhook events");
    }
    report
}

/// One attempt; records its result. True when the receiver took the event.
async fn deliver(app: &App, target: &NotifyConfig, event: &PendingNotification, timeout: Duration) -> bool {
    let timestamp = chrono::Utc::now().timestamp();
    let result = client()
        .post(target.url.clone())
        .timeout(timeout)
        .header("content-type", "application/json")
        .header(
            SIGNATURE_HEADER,
            signature(target.secret.expose().as_bytes(), timestamp, &event.payload),
        )
        .header("X-Urlinsta-Event", event.event.as_str())
        .body(event.payload.clone())
        .send()
        .await;
    let failure = match result {
        Ok(response) if response.status().is_success() => None,
        Ok(response) => Some(format!("the receiver answered HTTP {}", response.status().as_u16())),
        // without_url(): the webhook URL may carry a secret of its own.
        Err(e) => Some(format!("the request failed: {}", e.without_url())),
    };
    let stored = match &failure {
        None => app.store.mark_notification_delivered(event.id).await,
        Some(error) => {
            let attempts = event.attempts + 1;
            let next = (attempts < MAX_ATTEMPTS).then(|| Timestamp::from(app.clock.utc_now() + backoff(attempts)));
            if next.is_none() {
                tracing::warn!(id = event.id, event = %event.event, attempts, "giving up on a webhook event");
            } else {
                tracing::warn!(id = event.id, event = %event.event, attempts, error = %error, "webhook delivery failed; will retry");
            }
            app.store.mark_notification_failed(event.id, next, error).await
        }
    };
    if let Err(e) = stored {
        tracing::warn!(id = event.id, error = %e, "could not record a webhook delivery");
    }
    failure.is_none()
}

/// `t=<unix>,v1=<hex hmac-sha256 of "<t>.<body>">`.
pub fn signature(secret: &[u8], timestamp: i64, body: &str) -> String {
    format!(
        "t={timestamp},v1={}",
        hmac_hex(secret, format!("{timestamp}.{body}").as_bytes())
    )
}

/// 1, 2, 4 ... minutes after the attempts so far, at most six hours.
fn backoff(attempts: i64) -> chrono::Duration {
    let exponent = attempts.clamp(1, 20) - 1;
    chrono::Duration::minutes((1i64 << exponent).min(MAX_BACKOFF_MINUTES))
}

/// The process's webhook client: short timeouts, redirects not followed.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("urlinsta-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_time_and_body() {
        let s = signature(b"k", 1_700_000_000, r#"{"a":1}"#);
        assert_eq!(
            s,
            format!("t=1700000000,v1={}", hmac_hex(b"k", br#"1700000000.{"a":1}"#))
        );
        assert_ne!(s, signature(b"k", 1_700_000_001, r#"{"a":1}"#));
    }

    #[test]
    fn backoff_grows_to_a_cap() {
        assert_eq!(backoff(1), chrono::Duration::minutes(1));
        assert_eq!(backoff(3), chrono::Duration::minutes(4));
        assert_eq!(backoff(24), chrono::Duration::minutes(MAX_BACKOFF_MINUTES));
    }
}
