//! Time, as a value: the system's in production; in tests a clock that
//! moves only when asked, so that tests assert exact delays and go through
//! minutes in no time. Two test clocks, for two kinds of waiting:
//! [`ManualClock`] jumps ahead on every sleep (a retry loop's backoff: each
//! wait is recorded and over at once); [`HandClock`] moves only when the
//! test moves it, and sleepers wait until it has (a lease renewed in the
//! background while a run lasts).

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::time::Instant;

/// Time, as everything that waits or dates sees it.
pub trait Clock: std::fmt::Debug + Send + Sync + 'static {
    /// For deadlines.
    fn now(&self) -> Instant;
    /// For dates that are stored (e.g. when a parked account may be called again).
    fn utc_now(&self) -> DateTime<Utc>;
    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn utc_now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(wait))
    }
}

/// Dates from elsewhere (a sandbox's virtual clock, which a bench or a test
/// moves through days), waiting and deadlines on real time.
pub struct DatesFrom(Box<dyn Fn() -> DateTime<Utc> + Send + Sync>);

impl DatesFrom {
    pub fn new(utc_now: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        DatesFrom(Box::new(utc_now))
    }
}

impl std::fmt::Debug for DatesFrom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatesFrom")
    }
}

impl Clock for DatesFrom {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn utc_now(&self) -> DateTime<Utc> {
        (self.0)()
    }

    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock for tests: it stands still until slept on, and every sleep
/// returns at once, moving it forward and noting how long it was.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    start_utc: DateTime<Utc>,
    slept: Mutex<Vec<Duration>>,
}

impl ManualClock {
    pub fn new(start_utc: DateTime<Utc>) -> Self {
        ManualClock {
            start: Instant::now(),
            start_utc,
            slept: Mutex::default(),
        }
    }

    /// Every sleep so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.slept.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn elapsed(&self) -> Duration {
        self.sleeps().iter().sum()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }

    fn utc_now(&self) -> DateTime<Utc> {
        self.start_utc + chrono::Duration::from_std(self.elapsed()).unwrap_or(chrono::Duration::MAX)
    }

    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.slept.lock().unwrap_or_else(|e| e.into_inner()).push(wait);
        Box::pin(std::future::ready(()))
    }
}

/// A clock for tests that moves only by [`HandClock::advance`]; a sleep
/// ends when the clock has been moved far enough.
#[derive(Debug)]
pub struct HandClock {
    start: Instant,
    start_utc: DateTime<Utc>,
    /// How far the clock has been moved.
    moved: watch::Sender<Duration>,
}

impl HandClock {
    pub fn new(start_utc: DateTime<Utc>) -> Self {
        HandClock {
            start: Instant::now(),
            start_utc,
            moved: watch::Sender::new(Duration::ZERO),
        }
    }

    /// Moves the clock forward, waking whoever slept long enough.
    pub fn advance(&self, span: Duration) {
        self.moved.send_modify(|moved| *moved += span);
    }

    fn moved(&self) -> Duration {
        *self.moved.borrow()
    }
}

impl Clock for HandClock {
    fn now(&self) -> Instant {
        self.start + self.moved()
    }

    fn utc_now(&self) -> DateTime<Utc> {
        self.start_utc + chrono::Duration::from_std(self.moved()).unwrap_or(chrono::Duration::MAX)
    }

    fn sleep(&self, wait: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let until = self.moved() + wait;
        let mut moved = self.moved.subscribe();
        Box::pin(async move {
            // Err only once the clock is gone: then nobody waits for this sleep either.
            let _ = moved.wait_for(|moved| *moved >= until).await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `sleep` once: whether it is over.
    async fn over(sleep: &mut Pin<Box<dyn Future<Output = ()> + Send>>) -> bool {
        tokio::time::timeout(Duration::ZERO, sleep.as_mut()).await.is_ok()
    }

    #[tokio::test]
    async fn a_hand_clock_wakes_sleepers_only_when_moved_far_enough() {
        let start = Utc::now();
        let clock = HandClock::new(start);
        let mut sleep = clock.sleep(Duration::from_secs(60));
        assert!(!over(&mut sleep).await);
        clock.advance(Duration::from_secs(59));
        assert!(!over(&mut sleep).await, "59 s of 60 have passed");
        clock.advance(Duration::from_secs(1));
        assert!(over(&mut sleep).await);
        assert_eq!(clock.utc_now(), start + Duration::from_secs(60));
    }
}
