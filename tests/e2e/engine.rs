//! The job engine, through a fourth job that exists only here: what the
//! engine gives any job (lease, shards, budget, halting, progress, a typed
//! report) with nothing but the job's own module, and leases that outlive
//! their length while the run lasts and expire when it crashed. Time moves
//! on a manual clock: no test waits for a lease to run out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc};
use urlinsta_core::App;
use urlinsta_core::clock::{Clock, HandClock};
use urlinsta_core::engine::{self, Halt, Progress, Report, Run, RunOptions, Shard};
use urlinsta_core::store::StoreError;

use crate::harness::*;

/// The toy job: it greets every connected account. Accounts named in
/// `shunned` are screened out; with `halt_at_first`, the first greeting
/// halts the run; with a `gate`, each greeting waits for a permit.
#[derive(Default)]
struct Greet {
    greeted: Arc<Mutex<Vec<String>>>,
    shunned: Vec<String>,
    halt_at_first: bool,
    gate: Option<(Arc<Semaphore>, mpsc::UnboundedSender<String>)>,
}

struct Account(InstagramUserId);

impl engine::Candidate for Account {
    fn instagram_user_id(&self) -> &InstagramUserId {
        &self.0
    }
}

enum Greeting {
    Greeted,
    Shunned,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Greetings {
    greeted: usize,
    shunned: usize,
}

impl engine::Counts<Greeting> for Greetings {
    fn add(&mut self, greeting: &Greeting) {
        match greeting {
            Greeting::Greeted => self.greeted += 1,
            Greeting::Shunned => self.shunned += 1,
        }
    }

    fn failed(&self) -> usize {
        0
    }
}

impl engine::Job for Greet {
    type Candidate = Account;
    type Outcome = Greeting;
    type Counts = Greetings;

    fn name(&self) -> &'static str {
        "greet"
    }

    async fn candidates(&self, app: &App, _run: &Run) -> Result<Vec<Account>, StoreError> {
        let accounts = app.store.accounts().await?;
        Ok(accounts.into_iter().map(|a| Account(a.instagram_user_id)).collect())
    }

    fn screen(&self, _run: &Run, account: &Account) -> Option<Greeting> {
        self.shunned
            .contains(&account.0.to_string())
            .then_some(Greeting::Shunned)
    }

    async fn work(&self, _app: &App, run: &Run, account: Account) -> Greeting {
        if let Some((gate, started)) = &self.gate {
            let _ = started.send(account.0.to_string());
            let _permit = gate.acquire().await;
        }
        self.greeted.lock().unwrap().push(account.0.to_string());
        if self.halt_at_first {
            run.halt(Halt::SilentDatabase);
        }
        Greeting::Greeted
    }
}

async fn greet(app: &App, job: Greet, options: RunOptions) -> Report<Greetings> {
    engine::run(app, job, options).await.expect("the run")
}

/// The app with a configuration changed by `change`.
fn configured(app: &App, change: impl FnOnce(&mut urlinsta_core::Config)) -> App {
    let mut config = (*app.config).clone();
    change(&mut config);
    App {
        config: Arc::new(config),
        ..app.clone()
    }
}

on_both_databases! {
    async fn a_fourth_job_gets_lease_shards_budget_halting_progress_and_report_from_the_engine(t: TestApp) {
        let mut ids = connect_influencers(&t, 4).await;
        ids.sort();

        // Everyone but the shunned, with progress after each.
        let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
        let options = RunOptions {
            progress: Some(Arc::new({
                let seen = seen.clone();
                move |p| seen.lock().unwrap().push(p)
            })),
            ..RunOptions::default()
        };
        let job = Greet {
            shunned: vec![ids[0].clone()],
            ..Greet::default()
        };
        let greeted = job.greeted.clone();
        let report = greet(&t.app, job, options).await;
        assert_eq!(
            (report.counts.clone(), report.remaining, report.busy),
            (Greetings { greeted: 4, shunned: 1 }, 0, false),
            "{report:?}"
        );
        let mut names = greeted.lock().unwrap().clone();
        names.sort();
        assert_eq!(names, ids[1..]);
        let last = *seen.lock().unwrap().last().expect("progress");
        assert_eq!((seen.lock().unwrap().len(), last.done, last.total, last.failed), (4, 4, 4, 0));
        let answer = serde_json::to_value(&report).expect("json");
        assert_eq!(answer["greeted"], 4, "the cron answer: {answer}");
        assert_eq!(row_count(&t, "job_leases").await, 0, "the lease is given back");

        // Two shards: each account greeted once, by its shard, under the shard's own lease.
        let mut by_shard = Vec::new();
        for index in 0..2 {
            let job = Greet::default();
            let greeted = job.greeted.clone();
            let options = RunOptions::shard(Shard { index, count: 2 });
            greet(&t.app, job, options).await;
            by_shard.extend(greeted.lock().unwrap().clone());
        }
        by_shard.sort();
        assert_eq!(by_shard, ids);
        let sharded = Shard { index: 1, count: 2 };
        assert!(
            t.app
                .store
                .try_lease(&sharded.lease_name("greet"), "another-run", Utc::now(), Duration::from_secs(60))
                .await
                .expect("lease")
        );
        assert!(greet(&t.app, Greet::default(), RunOptions::shard(sharded)).await.busy);
        let other_shard = greet(&t.app, Greet::default(), RunOptions::shard(Shard { index: 0, count: 2 })).await;
        assert!(!other_shard.busy, "shards run side by side");

        // No time: nothing starts, everything remains for the next run.
        let no_time = configured(&t.app, |c| c.job_time_budget = Duration::ZERO);
        let report = greet(&no_time, Greet::default(), RunOptions::default()).await;
        assert_eq!((report.counts.greeted, report.remaining), (0, ids.len()), "{report:?}");

        // A halt stops the run after the account in flight.
        let one_at_a_time = configured(&t.app, |c| c.collect_concurrency = 1);
        let job = Greet {
            halt_at_first: true,
            ..Greet::default()
        };
        let report = greet(&one_at_a_time, job, RunOptions::default()).await;
        assert_eq!((report.counts.greeted, report.remaining), (1, ids.len() - 1), "{report:?}");
    }

    async fn a_run_longer_than_its_lease_keeps_it_and_a_crashed_one_loses_it(t: TestApp) {
        connect_influencers(&t, 0).await;
        let start = Utc::now().trunc_subsecs(0);
        let clock = Arc::new(HandClock::new(start));
        let app = App {
            clock: clock.clone(),
            ..t.app.clone()
        };
        let ttl = Duration::from_secs(60);
        let options = RunOptions {
            lease_ttl: ttl,
            ..RunOptions::default()
        };
        let at = |secs: i64| ts(start + chrono::Duration::seconds(secs));

        // A run whose one account takes longer than the lease.
        let (gate, mut started) = (Arc::new(Semaphore::new(0)), mpsc::unbounded_channel());
        let long = Greet {
            gate: Some((gate.clone(), started.0)),
            ..Greet::default()
        };
        let running = tokio::spawn({
            let (app, options) = (app.clone(), options.clone());
            async move { greet(&app, long, options).await }
        });
        started.1.recv().await.expect("the account started");
        assert_eq!(lease_end(&t).await, Some(at(60)));
        clock.advance(Duration::from_secs(30));
        until_lease_ends_at(&t, &at(90)).await;
        clock.advance(Duration::from_secs(40));
        until_lease_ends_at(&t, &at(130)).await;
        // 70 s after it was taken for 60, the lease is still the run's.
        assert!(greet(&app, Greet::default(), options.clone()).await.busy);
        gate.add_permits(1);
        let report = running.await.expect("the long run");
        assert_eq!((report.counts.greeted, report.busy), (1, false), "{report:?}");
        assert_eq!(lease_end(&t).await, None, "given back at the end");

        // A run that crashes (here: is dropped mid-work) renews nothing more.
        let (gate, mut started) = (Arc::new(Semaphore::new(0)), mpsc::unbounded_channel());
        let doomed = Greet {
            gate: Some((gate, started.0)),
            ..Greet::default()
        };
        let crashing = tokio::spawn({
            let (app, options) = (app.clone(), options.clone());
            async move { greet(&app, doomed, options).await }
        });
        started.1.recv().await.expect("the account started");
        crashing.abort();
        assert!(crashing.await.is_err(), "the run crashed");
        let taken = clock.utc_now();
        // Past the time of a renewal, and a while for one to land if anything still renewed.
        clock.advance(Duration::from_secs(30));
        assert!(greet(&app, Greet::default(), options.clone()).await.busy, "held until it expires");
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert_eq!(lease_end(&t).await, Some(ts(taken + ttl)), "never renewed");
        clock.advance(ttl - Duration::from_secs(30));
        let next = greet(&app, Greet::default(), options).await;
        assert_eq!((next.busy, next.counts.greeted), (false, 1), "{next:?}");
    }
}

fn ts(t: DateTime<Utc>) -> String {
    urlinsta_core::store::sql::ts(t)
}

/// When the toy job's lease ends, as stored.
async fn lease_end(t: &TestApp) -> Option<String> {
    let conn = t.app.store.conn().await.expect("connection");
    let mut rows = conn
        .query("SELECT expires_at FROM job_leases WHERE name = 'greet'", ())
        .await
        .expect("query");
    rows.next().await.expect("row").map(|r| r.get(0).expect("expires_at"))
}

/// Waits for the renewal that moves the lease's end to `end` (it runs in
/// its own task, woken by the clock).
async fn until_lease_ends_at(t: &TestApp, end: &str) {
    let renewed = async {
        while lease_end(t).await.as_deref() != Some(end) {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), renewed)
        .await
        .unwrap_or_else(|_| panic!("the lease was not renewed to {end}"));
}
