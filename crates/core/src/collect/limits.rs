//! Staying inside the limits, in one mechanism that both collections use:
//! every round trip first takes its calls from the account's hourly allowance
//! (kept in the database: serverless processes share no memory), Meta's
//! usage headers are read on every answer (the run slows down above 75% of
//! the app's limit and stops above 90%; an account above 90% is parked),
//! throttles either back off briefly or park the account, transient
//! failures are retried inside the run's time, and dead tokens go to
//! `tokens::note_graph_error`.

use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use serde_json::Value;

use crate::app::App;
use crate::engine::{Halt, Run, STOP_PCT, pause_for};
use crate::graph::{Auth, Call, ErrorKind, GraphError, Usage};
use crate::instagram::round::send_round;
use crate::retry::{Attempt, Backoff, Retry};
use crate::store::Candidate;

/// Round trips one account may take in one run: the first batch, and
/// retries of what failed or of what a rejected metric spoiled.
pub const MAX_ROUNDS: u32 = 4;
/// How long an account is parked when Meta throttles it without saying for how long.
pub const DEFAULT_PARK: Duration = Duration::from_secs(15 * 60);
const DEFAULT_PARK_DELTA: chrono::Duration = chrono::Duration::minutes(15);

/// When a parked account may be called again: Meta's estimate (or our
/// default), plus up to 10% jitter so parked accounts do not return together,
/// rounded up to the second it is stored with (never a moment before Meta said).
pub fn park_until(retry: &Retry, wait: Option<Duration>) -> DateTime<Utc> {
    let wait = wait.filter(|w| !w.is_zero()).unwrap_or(DEFAULT_PARK);
    let jitter = wait.mul_f64(retry.draw() / 10.0);
    let until = retry.clock().utc_now() + chrono::Duration::from_std(wait + jitter).unwrap_or(DEFAULT_PARK_DELTA);
    until.duration_round_up(chrono::Duration::seconds(1)).unwrap_or(until)
}

/// One account's plan of Graph operations: what to ask, and what each answer means.
pub trait Plan {
    type Op: Copy;
    /// The call for an operation as things stand now; None when nothing is left to ask.
    fn call(&self, op: Self::Op) -> Option<Call<'static>>;
    /// An answer, or an error that is not about limits, tokens or transience.
    fn answer(&mut self, op: Self::Op, answer: Result<&Value, &GraphError>) -> Next;
}

/// What comes next for an operation, as the plan reads its answer.
pub enum Next {
    /// Answered: nothing more to ask.
    Done,
    /// Ask again (e.g. without a metric Meta refused).
    Again,
    /// The account's collection fails.
    Fail,
}

/// How an account's exchange with Meta ended.
#[derive(Debug)]
pub enum ExchangeEnd {
    Complete,
    /// The account's hourly allowance of calls (our ceiling) had no room left.
    OverAllowance,
    /// Meta asked us to leave the account alone.
    Parked {
        until: DateTime<Utc>,
        reason: String,
    },
    Failed(String, Option<GraphError>),
}

/// What the exchange does about an error, decided by its kind alone, the
/// same for every call.
enum Action {
    /// The token is dead or lacks a permission.
    Token,
    Retry(Option<Duration>),
    Park(Option<Duration>),
    /// For the plan to judge.
    Plan,
}

fn action_for(e: &GraphError, cap: Duration, last_round: bool) -> Action {
    match e.kind {
        ErrorKind::Auth | ErrorKind::Permission => Action::Token,
        ErrorKind::Throttled if last_round || e.retry_after.is_some_and(|ra| ra > cap) => Action::Park(e.retry_after),
        ErrorKind::Throttled | ErrorKind::Transient => Action::Retry(e.retry_after),
        ErrorKind::MetricRejected | ErrorKind::NotEnoughAudience | ErrorKind::InvalidParameter | ErrorKind::Other => {
            Action::Plan
        }
    }
}

/// Runs `ops` for one account in batches until each is answered, within the
/// account's allowance, `MAX_ROUNDS` round trips and the run's hard deadline,
/// waiting between round trips as the one retry loop decides (Meta's
/// Retry-After, our backoff, and a pause when the account nears its limit).
/// `prepaid` calls were already taken from the allowance for this account's
/// hour: each round trip spends them first and takes only the rest, and what
/// it leaves is the next exchange's (the account metrics' retries may spend
/// what was taken for the media, never the other way round).
pub async fn exchange<P: Plan>(
    app: &App,
    run: &Run,
    account: &Candidate,
    auth: Auth<'_>,
    plan: &mut P,
    ops: Vec<P::Op>,
    prepaid: &mut u32,
) -> ExchangeEnd {
    let graph = app.graph.retry();
    let retry = graph.with_backoff(Backoff {
        max_attempts: MAX_ROUNDS,
        ..graph.backoff()
    });
    let exchange = Exchange {
        app,
        run,
        account,
        auth,
        plan,
        pending: ops,
        prepaid,
        last_error: None,
    };
    retry
        .run_with(exchange, Some(run.hard_deadline), |round, mut exchange| async move {
            let outcome = exchange.round_trip(round + 1 == MAX_ROUNDS).await;
            (exchange, outcome)
        })
        .await
}

/// One account's exchange, carried from one round trip to the next.
struct Exchange<'a, 'p, P: Plan> {
    app: &'a App,
    run: &'a Run,
    account: &'a Candidate,
    auth: Auth<'a>,
    plan: &'p mut P,
    /// The operations still unanswered.
    pending: Vec<P::Op>,
    /// Calls already taken from the allowance for this account's hour.
    prepaid: &'p mut u32,
    /// The last transient or throttled failure: the reason, if no round trip is left.
    last_error: Option<GraphError>,
}

impl<P: Plan> Exchange<'_, '_, P> {
    /// One batch of what is pending, and what its answers leave to do.
    async fn round_trip(&mut self, last_round: bool) -> Attempt<ExchangeEnd> {
        let (app, run, account) = (self.app, self.run, self.account);
        let backoff = app.graph.retry().backoff();
        let (ops, calls): (Vec<P::Op>, Vec<Call<'static>>) = (self.pending.iter())
            .filter_map(|op| self.plan.call(*op).map(|c| (*op, c)))
            .unzip();
        if calls.is_empty() {
            return Attempt::Done(ExchangeEnd::Complete);
        }
        let paid = (calls.len() as u32).min(*self.prepaid);
        *self.prepaid -= paid;
        let unpaid = calls.len() as u32 - paid;
        if unpaid > 0 {
            match app
                .store
                .reserve_calls(account.id, unpaid, app.config.rate_limit_per_hour, run.utc_now().into())
                .await
            {
                Ok(true) => {}
                Ok(false) => return Attempt::Done(ExchangeEnd::OverAllowance),
                Err(e) => {
                    let reason = format!("could not take calls from the account's allowance: {e}");
                    return Attempt::Done(ExchangeEnd::Failed(reason, None));
                }
            }
        }
        let mut next = Vec::new();
        let mut retry_after: Option<Option<Duration>> = None;
        let (answers, account_usage) = self.send(&calls).await;
        // Every answer is heard before anything stops the account, so no data already fetched is lost.
        let mut stop: Option<ExchangeEnd> = None;
        for (op, answer) in ops.into_iter().zip(answers) {
            let verdict = match &answer {
                Ok(data) => self.plan.answer(op, Ok(data)),
                Err(e) => match action_for(e, backoff.cap, last_round) {
                    Action::Token => {
                        if stop.is_none() {
                            crate::tokens::note_graph_error(app, account.id, account.token_generation, e).await;
                            stop = Some(ExchangeEnd::Failed(e.reason(), Some(e.clone())));
                        }
                        continue;
                    }
                    Action::Park(wait) => {
                        if e.throttles_the_app() {
                            run.halt(Halt::AppThrottled);
                        }
                        stop.get_or_insert_with(|| ExchangeEnd::Parked {
                            until: park_until(app.graph.retry(), wait),
                            reason: e.to_string(),
                        });
                        continue;
                    }
                    Action::Retry(after) => {
                        retry_after = Some(retry_after.flatten().max(after));
                        self.last_error = Some(e.clone());
                        Next::Again
                    }
                    Action::Plan => self.plan.answer(op, Err(e)),
                },
            };
            match verdict {
                Next::Done => {}
                Next::Again => next.push(op),
                Next::Fail => {
                    let e = answer.err();
                    let reason = e
                        .as_ref()
                        .map(GraphError::to_string)
                        .unwrap_or_else(|| "unusable answer".into());
                    stop.get_or_insert(ExchangeEnd::Failed(reason, e));
                }
            }
        }
        if let Some(stop) = stop {
            return Attempt::Done(stop);
        }
        // Near the account's limit with a wait announced: honour it. Without one, pause below.
        if let (Some(pct), Some(wait)) = (account_usage.buc_pct, account_usage.regain_after())
            && pct > STOP_PCT
        {
            let reason = format!("Meta reports {pct}% of this account's limit in use");
            return Attempt::Done(ExchangeEnd::Parked {
                until: park_until(app.graph.retry(), Some(wait)),
                reason,
            });
        }
        if next.is_empty() {
            return Attempt::Done(ExchangeEnd::Complete);
        }
        self.pending = next;
        let otherwise = self.unanswered();
        let at_least = pause_for(account_usage.buc_pct.unwrap_or(0), backoff.base);
        match retry_after {
            Some(retry_after) => Attempt::Retry {
                otherwise,
                retry_after,
                at_least,
            },
            // Only the plan asks again (e.g. without a refused metric): no failure to back off from.
            None => Attempt::Again { otherwise, at_least },
        }
    }

    /// Sends one round (a batch, or one call after another on Instagram
    /// Login's host); every answer's usage goes to the run (Meta's usage of
    /// the app can halt it), and the
    /// highest of the account's comes back with the answers.
    #[allow(clippy::result_large_err)]
    async fn send(&self, calls: &[Call<'static>]) -> (Vec<Result<Value, GraphError>>, Usage) {
        let run = self.run;
        let mut account_usage = Usage::default();
        let answers = match send_round(self.app, self.account.login, self.auth, calls).await {
            Ok(batch) => {
                run.observe(&batch.usage);
                batch
                    .items
                    .into_iter()
                    .map(|item| {
                        let usage = match &item {
                            Ok(reply) => &reply.usage,
                            Err(e) => &e.usage,
                        };
                        run.observe(usage);
                        account_usage = higher(&account_usage, usage);
                        item.map(|reply| reply.data)
                    })
                    .collect()
            }
            Err(e) => {
                run.observe(&e.usage);
                account_usage = higher(&account_usage, &e.usage);
                calls.iter().map(|_| Err(e.clone())).collect()
            }
        };
        (answers, account_usage)
    }

    /// How the exchange ends when no round trip is left.
    fn unanswered(&self) -> ExchangeEnd {
        let reason = (self.last_error.as_ref())
            .map(GraphError::to_string)
            .unwrap_or_else(|| format!("still unanswered after {MAX_ROUNDS} round trips"));
        ExchangeEnd::Failed(reason, self.last_error.clone())
    }
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
    fn parking_honours_meta_and_adds_jitter() {
        use chrono::TimeZone;
        let start = Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).single().expect("a time");
        let clock = std::sync::Arc::new(crate::clock::ManualClock::new(start));
        let backoff = Backoff {
            max_attempts: 1,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
        };
        let retry = Retry::fixed(backoff, clock, 7);
        // An hour, or our 15 minutes, plus a tenth of seed 7's first two draws
        // (0.1578, 0.1680): 3656.8 s and 915.1 s, rounded up to the second.
        let until = park_until(&retry, Some(Duration::from_secs(3600)));
        assert_eq!(until - start, chrono::Duration::seconds(3657));
        assert_eq!(park_until(&retry, None) - start, chrono::Duration::seconds(916));
    }
}
