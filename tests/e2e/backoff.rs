//! Waits between Graph attempts, on a fixed clock and seed: a collection
//! and a connect against the sandbox wait exactly what the one retry loop
//! decides (Meta's Retry-After, else the seeded full jitter), and nothing else.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use urlinsta_core::App;
use urlinsta_core::clock::ManualClock;
use urlinsta_core::jobs::JobKind;
use urlinsta_core::retry::{Backoff, Retry};
use urlinsta_sandbox::{Endpoint, Fault};

use crate::faults::code_from_dialog;
use crate::harness::*;

/// The app of `t` with its Graph retries on a clock that only moves when
/// slept on, and dice of seed 7 (draws 0.1578, 0.1680, ...).
fn on_a_fixed_clock(t: &TestApp) -> (App, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let backoff = Backoff {
        max_attempts: 3,
        base: Duration::from_millis(100),
        cap: Duration::from_secs(3),
    };
    let app = App {
        graph: t.app.graph.with_retry(Retry::fixed(backoff, clock.clone(), 7)),
        ..t.app.clone()
    };
    (app, clock)
}

#[tokio::test]
async fn a_collection_waits_exactly_what_meta_and_the_seeded_jitter_say() {
    let t = spawn_app().await;
    t.connect().await;
    let (app, clock) = on_a_fixed_clock(&t);
    // The whole batch answers 429 with Retry-After: 2 once, then one day's operation fails for a moment.
    t.control
        .inject(Endpoint::Batch, Fault::RetryAfter { secs: 2 }, Some(1));
    t.control.inject(Endpoint::Insights, Fault::graph(2, None), Some(1));
    let report = run_collect(&app, JobKind::CollectInsights).await;
    assert_eq!(report.counts.collected, 1, "{report:?}");
    assert_eq!(
        t.control.count(Endpoint::Batch),
        3,
        "the 429, the batch, the retried day"
    );
    // Meta's 2 s (above the first jitter, 15.8 ms), then the second draw
    // under the second ceiling: 0.16798937 x 200 ms, to the nanosecond.
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(2), Duration::from_nanos(33_597_873)]
    );
}

#[tokio::test]
async fn a_connect_call_that_fails_for_a_moment_waits_the_seeded_jitter() {
    let t = spawn_app().await;
    let (app, clock) = on_a_fixed_clock(&t);
    t.control.inject(Endpoint::MeAccounts, Fault::graph(2, None), Some(2));
    let code = code_from_dialog(&t).await;
    urlinsta_core::oauth::connect(&app, &code)
        .await
        .expect("the third try connects");
    // Seed 7's first two draws under ceilings of 100 and 200 ms.
    assert_eq!(clock.sleeps(), [15_779_610, 33_597_873].map(Duration::from_nanos));
}
