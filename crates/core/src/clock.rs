//! The wall clock, as a value: the system's in production, a manual one in
//! tests, which then move time forward by hand instead of sleeping. What
//! reads it through here (the leases of job runs) can be tested at any
//! length of time in no time.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// Stands still until [`Clock::advance`] moves it.
    Manual(Arc<watch::Sender<DateTime<Utc>>>),
}

impl Clock {
    /// A clock that shows `at` until moved.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock::Manual(Arc::new(watch::Sender::new(at)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Manual(time) => *time.borrow(),
        }
    }

    /// Waits until the clock has moved on by `span`.
    pub async fn sleep(&self, span: Duration) {
        match self {
            Clock::System => tokio::time::sleep(span).await,
            Clock::Manual(time) => {
                let until = *time.borrow() + span;
                let mut moved = time.subscribe();
                // The sender lives as long as `self`: wait_for cannot fail.
                let _ = moved.wait_for(|now| *now >= until).await;
            }
        }
    }

    /// Moves a manual clock forward (and wakes who sleeps on it); the
    /// system clock cannot be moved, so nothing happens to it.
    pub fn advance(&self, span: Duration) {
        if let Clock::Manual(time) = self {
            time.send_modify(|now| *now += span);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Polls `sleep` once: whether it is over.
    async fn over(sleep: &mut std::pin::Pin<Box<impl Future<Output = ()>>>) -> bool {
        tokio::time::timeout(Duration::ZERO, sleep.as_mut()).await.is_ok()
    }

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_only_when_moved_far_enough() {
        let start = Utc::now();
        let clock = Clock::manual(start);
        let mut sleep = Box::pin(clock.sleep(Duration::from_secs(60)));
        assert!(!over(&mut sleep).await);
        clock.advance(Duration::from_secs(59));
        assert!(!over(&mut sleep).await, "59 s of 60 have passed");
        clock.advance(Duration::from_secs(1));
        assert!(over(&mut sleep).await);
        assert_eq!(clock.now(), start + Duration::from_secs(60));
    }
}
