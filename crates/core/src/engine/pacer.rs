//! Meta's usage of the whole app, read off every answer and shared by every
//! account of a run: above [`SLOW_DOWN_PCT`] the run waits longer before
//! each new account, above [`STOP_PCT`] it starts none.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::graph::Usage;

/// Above this share of a limit, slow down.
pub const SLOW_DOWN_PCT: u32 = 75;
/// Above this share of a limit, stop: the app's limit stops the run, an
/// account's limit parks the account.
pub const STOP_PCT: u32 = 90;

#[derive(Debug)]
pub struct Pacer {
    app_pct: AtomicU32,
    /// The unit of pauses: GRAPH_RETRY_BASE_MS.
    base: Duration,
}

impl Pacer {
    pub fn new(base: Duration) -> Self {
        Pacer {
            app_pct: AtomicU32::new(0),
            base,
        }
    }

    /// Reads one answer's usage; true when the app's share is above [`STOP_PCT`].
    pub fn observe(&self, usage: &Usage) -> bool {
        let Some(pct) = usage.app_pct else {
            return false;
        };
        self.app_pct.store(pct, Ordering::Relaxed);
        pct > STOP_PCT
    }

    /// The pause before starting another account: none up to 75%, then
    /// longer the closer the app gets to its limit.
    pub fn pause(&self) -> Duration {
        pause_for(self.app_pct.load(Ordering::Relaxed), self.base)
    }
}

/// The pause at `pct` of a limit, in units of `base`: 0 up to 75%, 30 at 90% and above.
pub fn pause_for(pct: u32, base: Duration) -> Duration {
    base.saturating_mul(pct.saturating_sub(SLOW_DOWN_PCT).min(STOP_PCT - SLOW_DOWN_PCT) * 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_above_the_slow_down_mark() {
        let base = Duration::from_millis(100);
        assert_eq!(pause_for(50, base), Duration::ZERO);
        assert_eq!(pause_for(75, base), Duration::ZERO);
        assert_eq!(pause_for(80, base), Duration::from_secs(1));
        assert_eq!(pause_for(100, base), Duration::from_secs(3));
    }

    #[test]
    fn the_pacer_says_stop_above_ninety() {
        let pacer = Pacer::new(Duration::from_millis(1));
        let at = |pct| Usage {
            app_pct: Some(pct),
            ..Usage::default()
        };
        assert!(!pacer.observe(&at(80)));
        assert!(pacer.pause() > Duration::ZERO);
        assert!(pacer.observe(&at(91)));
    }
}
