//! The one retry loop: whatever may fail for a moment (a Graph call, a
//! round of batched Graph calls, a write that met another process's lock)
//! is attempted again after an exponential backoff with full jitter, capped,
//! honouring a server's Retry-After, and never past a deadline.
//!
//! Its clock (`crate::clock`) and its dice are injected: production uses
//! tokio's clock and a generator seeded from the OS; tests fix both (a
//! `ManualClock`, a seed) and assert the exact delays.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use crate::clock::{Clock, SystemClock};

/// How a kind of work is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Attempt n (from 0) waits a random time in `[0, min(cap, base * 2^n)]`.
    pub base: Duration,
    pub cap: Duration,
}

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt<T> {
    /// Finished, well or for good: the loop returns it.
    Done(T),
    /// Failed for a moment: wait the backoff (at least `retry_after` when
    /// the server named one, and at least `at_least`) and try again.
    /// `otherwise` is returned when no attempt is left or the wait would
    /// end past the deadline.
    Retry {
        otherwise: T,
        retry_after: Option<Duration>,
        at_least: Duration,
    },
    /// Not failed, but not finished either (e.g. asked again without a
    /// metric Meta refused): try again after `at_least`, no backoff.
    Again { otherwise: T, at_least: Duration },
}

impl<T> Attempt<T> {
    /// A failure worth another attempt, as soon as the backoff allows.
    pub fn retry(otherwise: T, retry_after: Option<Duration>) -> Self {
        Attempt::Retry {
            otherwise,
            retry_after,
            at_least: Duration::ZERO,
        }
    }
}

/// A [`Backoff`] with its clock and dice.
#[derive(Clone)]
pub struct Retry {
    backoff: Backoff,
    clock: Arc<dyn Clock>,
    dice: Arc<Mutex<ChaCha8Rng>>,
}

impl std::fmt::Debug for Retry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retry")
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

impl Retry {
    /// The real clock and dice seeded from the operating system.
    pub fn new(backoff: Backoff) -> Self {
        Retry::with(backoff, Arc::new(SystemClock), ChaCha8Rng::from_os_rng())
    }

    /// A fixed clock and seed: the same delays every run.
    pub fn fixed(backoff: Backoff, clock: Arc<dyn Clock>, seed: u64) -> Self {
        Retry::with(backoff, clock, ChaCha8Rng::seed_from_u64(seed))
    }

    fn with(backoff: Backoff, clock: Arc<dyn Clock>, dice: ChaCha8Rng) -> Self {
        Retry {
            backoff,
            clock,
            dice: Arc::new(Mutex::new(dice)),
        }
    }

    /// The same clock and dice, another backoff.
    pub fn with_backoff(&self, backoff: Backoff) -> Self {
        Retry {
            backoff,
            ..self.clone()
        }
    }

    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// A uniform draw from `[0, 1)`.
    pub fn draw(&self) -> f64 {
        self.dice
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .random_range(0.0..1.0)
    }

    /// The wait after attempt `attempt` (from 0): full jitter under the
    /// exponential ceiling, or the server's `retry_after` when that is longer.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self
            .backoff
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.backoff.cap);
        let jitter = ceiling.mul_f64(self.draw());
        retry_after.map_or(jitter, |after| after.max(jitter))
    }

    /// Runs `attempt` (given its number, from 0) until it is done, no
    /// attempt is left, or the next wait would end at or past `deadline`.
    pub async fn run<T, Fut>(&self, deadline: Option<Instant>, mut attempt: impl FnMut(u32) -> Fut) -> T
    where
        Fut: Future<Output = Attempt<T>>,
    {
        let stateless = |n, ()| {
            let next = attempt(n);
            async move { ((), next.await) }
        };
        self.run_with((), deadline, stateless).await
    }

    /// [`Retry::run`] for work that carries `state` from one attempt to the
    /// next: each attempt takes it and hands it back with its outcome.
    pub async fn run_with<S, T, Fut>(
        &self,
        mut state: S,
        deadline: Option<Instant>,
        mut attempt: impl FnMut(u32, S) -> Fut,
    ) -> T
    where
        Fut: Future<Output = (S, Attempt<T>)>,
    {
        let mut n = 0;
        loop {
            let (next_state, outcome) = attempt(n, state).await;
            state = next_state;
            let (otherwise, wait) = match outcome {
                Attempt::Done(value) => return value,
                Attempt::Retry {
                    otherwise,
                    retry_after,
                    at_least,
                } => (otherwise, self.delay(n, retry_after).max(at_least)),
                Attempt::Again { otherwise, at_least } => (otherwise, at_least),
            };
            n += 1;
            let past_deadline = deadline.is_some_and(|d| self.clock.now() + wait >= d);
            if n >= self.backoff.max_attempts || past_deadline {
                return otherwise;
            }
            tracing::debug!(attempt = n, wait_ms = wait.as_millis() as u64, "trying again");
            self.clock.sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    use crate::clock::ManualClock;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn retry(max_attempts: u32, seed: u64) -> (Retry, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let backoff = Backoff {
            max_attempts,
            base: ms(100),
            cap: ms(1000),
        };
        (Retry::fixed(backoff, clock.clone(), seed), clock)
    }

    #[tokio::test]
    async fn a_fixed_clock_and_seed_give_exact_delays() {
        let (r, clock) = retry(6, 7);
        let tried = r.run(None, |n| async move { Attempt::retry(n, None) }).await;
        assert_eq!(tried, 5, "six attempts, the last one's failure returned");
        // ChaCha8 is reproducible by design: these are seed 7's draws under
        // ceilings of 100, 200, 400, 800 and 1000 (the cap) ms, to the nanosecond.
        let slept = clock.sleeps();
        assert_eq!(
            slept,
            [15_779_610, 33_597_873, 281_710_451, 581_393_037, 601_259_015].map(Duration::from_nanos)
        );
        for (wait, ceiling) in slept.iter().zip([100, 200, 400, 800, 1000]) {
            assert!(*wait <= ms(ceiling), "{wait:?} under {ceiling} ms");
        }
        let (again, clock_again) = retry(6, 7);
        again.run(None, |n| async move { Attempt::retry(n, None) }).await;
        assert_eq!(
            clock_again.sleeps(),
            slept,
            "the same seed, the same delays to the nanosecond"
        );
    }

    #[tokio::test]
    async fn retry_after_and_pauses_are_floors_and_the_deadline_a_ceiling() {
        let (r, clock) = retry(10, 1);
        let deadline = clock.now() + Duration::from_secs(10);
        let tried = r
            .run(Some(deadline), |n| async move {
                match n {
                    0 => Attempt::retry(0, Some(Duration::from_secs(3))),
                    1 => Attempt::Again {
                        otherwise: 1,
                        at_least: Duration::from_secs(2),
                    },
                    2 => Attempt::Retry {
                        otherwise: 2,
                        retry_after: None,
                        at_least: Duration::from_secs(4),
                    },
                    n => Attempt::retry(n, Some(Duration::from_secs(5))),
                }
            })
            .await;
        // 3 + 2 + 4 s slept; another 5 s would end past the deadline.
        assert_eq!(
            clock.sleeps(),
            vec![Duration::from_secs(3), Duration::from_secs(2), Duration::from_secs(4)]
        );
        assert_eq!(tried, 3);
        assert_eq!(r.run(Some(deadline), |_| async { Attempt::Done("ok") }).await, "ok");
    }
}
