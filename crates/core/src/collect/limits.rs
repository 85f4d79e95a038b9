//! Staying inside the limits, in one mechanism that both collections use:
//! every round trip first takes its calls from the account's hourly budget
//! (kept in the database: serverless processes share no memory), Meta's
//! usage headers are read on every answer (slow down above 75%, stop above
//! 90%), throttles either back off briefly or park the account, transient
//! failures are retried inside the run's time, and dead tokens go to
//! `tokens::note_graph_error`.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::Value;
use tokio::time::Instant;

use super::Run;
use crate::app::App;
use crate::graph::{Auth, Call, ErrorKind, GraphError, Usage};
use crate::instagram::round::send_round;
use crate::store::Candidate;

/// Round trips one account may take in one run: the first batch, and
/// retries of what failed or of what a rejected metric spoiled.
pub const MAX_ROUNDS: u32 = 4;
/// Above this share of a limit, slow down.
pub const SLOW_DOWN_PCT: u32 = 75;
/// Above this share of a limit, stop: the app's limit stops the run, an
/// account's limit parks the account.
pub const STOP_PCT: u32 = 90;
/// How long an account is parked when Meta throttles it without saying for how long.
pub const DEFAULT_PARK: Duration = Duration::from_secs(15 * 60);

/// What Meta's usage headers say, shared by every account of a run.
#[derive(Debug)]
pub struct Pacer {
    app_pct: AtomicU32,
    halted: AtomicBool,
    /// The unit of pauses: GRAPH_RETRY_BASE_MS.
    base: Duration,
}

impl Pacer {
    pub fn new(base: Duration) -> Self {
        Pacer {
            app_pct: AtomicU32::new(0),
            halted: AtomicBool::new(false),
            base,
        }
    }

    /// Reads one answer's usage. The app's share above 90% stops the run.
    pub fn observe(&self, usage: &Usage) {
        if let Some(pct) = usage.app_pct {
            self.app_pct.store(pct, Ordering::Relaxed);
            if pct > STOP_PCT && !self.halted.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    app_usage_pct = pct,
                    "Meta's app usage is above {STOP_PCT}%: no new account this run"
                );
            }
        }
    }

    /// Stops the run: no new account is started.
    pub fn halt(&self) {
        self.halted.store(true, Ordering::Relaxed);
    }

    pub fn halted(&self) -> bool {
        self.halted.load(Ordering::Relaxed)
    }

    /// The pause before starting another account: none below 75%, then
    /// longer the closer the app gets to its limit.
    pub fn pause(&self) -> Duration {
        pause_for(self.app_pct.load(Ordering::Relaxed), self.base)
    }
}

fn pause_for(pct: u32, base: Duration) -> Duration {
    base.saturating_mul(pct.saturating_sub(SLOW_DOWN_PCT).min(STOP_PCT - SLOW_DOWN_PCT) * 2)
}

/// When a parked account may be called again: Meta's estimate (or our
/// default), plus up to 10% jitter so parked accounts do not return together.
pub fn park_until(wait: Option<Duration>) -> DateTime<Utc> {
    let wait = wait.filter(|w| !w.is_zero()).unwrap_or(DEFAULT_PARK);
    let jitter = wait.mul_f64(rand::rng().random_range(0.0..0.1));
    Utc::now() + chrono::Duration::from_std(wait + jitter).unwrap_or(chrono::Duration::minutes(15))
}

/// One account's plan of Graph operations: what to ask, and what each answer means.
pub trait Plan {
    type Op: Copy;
    /// The call for an operation as things stand now; None when nothing is left to ask.
    fn call(&self, op: Self::Op) -> Option<Call<'static>>;
    /// An answer to `sent`, or an error that is not about limits, tokens or transience.
    fn answer(&mut self, op: Self::Op, sent: &Call<'_>, answer: Result<&Value, &GraphError>) -> Answer;
}

/// What a plan makes of an answer.
pub enum Answer {
    Done,
    /// Ask again (e.g. without a metric Meta refused).
    Again,
    Fail,
}

/// How an account's exchange with Meta ended.
#[derive(Debug)]
pub enum Ended {
    Complete,
    /// Our hourly ceiling for the account had no room left.
    OverBudget,
    /// Meta asked us to leave the account alone.
    Parked {
        until: DateTime<Utc>,
        reason: String,
    },
    Failed(String, Option<GraphError>),
}

/// What to do about an error, the same for every call.
enum Triage {
    /// The token is dead or lacks a permission.
    Token,
    Retry(Option<Duration>),
    Park(Option<Duration>),
    /// For the plan to judge.
    Plan,
}

fn triage(e: &GraphError, cap: Duration, last_round: bool) -> Triage {
    match e.kind {
        ErrorKind::Auth | ErrorKind::Permission => Triage::Token,
        ErrorKind::Throttled if last_round || e.retry_after.is_some_and(|ra| ra > cap) => Triage::Park(e.retry_after),
        ErrorKind::Throttled | ErrorKind::Transient => Triage::Retry(e.retry_after),
        ErrorKind::InvalidParameter | ErrorKind::Other => Triage::Plan,
    }
}

/// Runs `ops` for one account in batches until each is answered, within the
/// account's budget, `MAX_ROUNDS` round trips and the run's hard deadline.
/// `prepaid` calls were already taken from the budget for the first round.
#[allow(clippy::result_large_err)]
pub async fn exchange<P: Plan>(
    app: &App,
    run: &Run,
    account: &Candidate,
    auth: Auth<'_>,
    plan: &mut P,
    ops: Vec<P::Op>,
    mut prepaid: u32,
) -> Ended {
    let (pacer, deadline) = (&run.pacer, run.hard_deadline);
    let policy = app.graph.retry_policy();
    let mut pending = ops;
    let mut last_error: Option<GraphError> = None;
    for round in 0..MAX_ROUNDS {
        let (ops, calls): (Vec<P::Op>, Vec<Call<'static>>) =
            pending.iter().filter_map(|op| plan.call(*op).map(|c| (*op, c))).unzip();
        if calls.is_empty() {
            return Ended::Complete;
        }
        let unpaid = (calls.len() as u32).saturating_sub(std::mem::take(&mut prepaid));
        if unpaid > 0 {
            match app
                .store
                .reserve_calls(account.id, unpaid, app.config.rate_limit_per_hour)
                .await
            {
                Ok(true) => {}
                Ok(false) => return Ended::OverBudget,
                Err(e) => return Ended::Failed(format!("could not take calls from the budget: {e}"), None),
            }
        }
        let last_round = round + 1 == MAX_ROUNDS;
        let mut next = Vec::new();
        let mut backoff: Option<Option<Duration>> = None;
        let mut account_usage = Usage::default();
        let answers: Vec<Result<Value, GraphError>> = match send_round(app, account.login, auth, &calls).await {
            Ok(batch) => {
                pacer.observe(&batch.usage);
                batch
                    .items
                    .into_iter()
                    .map(|item| {
                        let usage = match &item {
                            Ok(reply) => &reply.usage,
                            Err(e) => &e.usage,
                        };
                        pacer.observe(usage);
                        account_usage = higher(&account_usage, usage);
                        item.map(|reply| reply.data)
                    })
                    .collect()
            }
            Err(e) => {
                pacer.observe(&e.usage);
                account_usage = higher(&account_usage, &e.usage);
                calls.iter().map(|_| Err(e.clone())).collect()
            }
        };
        // Every answer is heard before anything stops the account, so no data already fetched is lost.
        let mut stop: Option<Ended> = None;
        for ((op, sent), answer) in ops.into_iter().zip(&calls).zip(answers) {
            let verdict = match &answer {
                Ok(data) => plan.answer(op, sent, Ok(data)),
                Err(e) => match triage(e, policy.cap, last_round) {
                    Triage::Token => {
                        if stop.is_none() {
                            crate::tokens::note_graph_error(app, account.id, account.token_generation, e).await;
                            stop = Some(Ended::Failed(e.reason(), Some(e.clone())));
                        }
                        continue;
                    }
                    Triage::Park(wait) => {
                        if e.code == Some(4) {
                            // The whole app is throttled, not only this account.
                            pacer.halt();
                        }
                        stop.get_or_insert_with(|| Ended::Parked {
                            until: park_until(wait),
                            reason: e.to_string(),
                        });
                        continue;
                    }
                    Triage::Retry(after) => {
                        backoff = Some(backoff.flatten().max(after));
                        last_error = Some(e.clone());
                        Answer::Again
                    }
                    Triage::Plan => plan.answer(op, sent, Err(e)),
                },
            };
            match verdict {
                Answer::Done => {}
                Answer::Again => next.push(op),
                Answer::Fail => {
                    let e = answer.err();
                    let reason = e
                        .as_ref()
                        .map(GraphError::to_string)
                        .unwrap_or_else(|| "unusable answer".into());
                    stop.get_or_insert(Ended::Failed(reason, e));
                }
            }
        }
        if let Some(stop) = stop {
            return stop;
        }
        // Near the account's limit with a wait announced: honour it. Without one, back off below.
        if let (Some(pct), Some(wait)) = (account_usage.buc_pct, account_usage.regain_after())
            && pct > STOP_PCT
        {
            let reason = format!("Meta reports {pct}% of this account's limit in use");
            return Ended::Parked {
                until: park_until(Some(wait)),
                reason,
            };
        }
        if next.is_empty() {
            return Ended::Complete;
        }
        pending = next;
        let mut wait = pause_for(account_usage.buc_pct.unwrap_or(0), policy.base);
        if let Some(after) = backoff {
            wait = wait.max(policy.delay(round, after));
        }
        if last_round || Instant::now() + wait >= deadline {
            break;
        }
        tokio::time::sleep(wait).await;
    }
    let reason = last_error
        .as_ref()
        .map(GraphError::to_string)
        .unwrap_or_else(|| format!("still unanswered after {MAX_ROUNDS} round trips"));
    Ended::Failed(reason, last_error)
}

fn higher(a: &Usage, b: &Usage) -> Usage {
    Usage {
        app_pct: a.app_pct.max(b.app_pct),
        buc_pct: a.buc_pct.max(b.buc_pct),
        regain_minutes: a.regain_minutes.max(b.regain_minutes),
    }
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
    fn parking_honours_meta_and_adds_jitter() {
        let until = park_until(Some(Duration::from_secs(3600)));
        let wait = until - Utc::now();
        assert!(
            wait >= chrono::Duration::minutes(59) && wait <= chrono::Duration::minutes(67),
            "{wait}"
        );
        assert!(park_until(None) - Utc::now() >= chrono::Duration::minutes(14));
    }

    #[test]
    fn pacer_stops_above_ninety() {
        let pacer = Pacer::new(Duration::from_millis(1));
        pacer.observe(&Usage {
            app_pct: Some(80),
            ..Usage::default()
        });
        assert!(!pacer.halted());
        assert!(pacer.pause() > Duration::ZERO);
        pacer.observe(&Usage {
            app_pct: Some(91),
            ..Usage::default()
        });
        assert!(pacer.halted());
    }
}
