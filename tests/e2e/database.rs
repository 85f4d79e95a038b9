//! Database faults: a hosted database that goes away, comes back, goes away
//! in the middle of a run, or answers slowly; and one embedded file shared
//! by several processes at once. Jobs say what failed, no account is left
//! half-written, and no "database is locked" reaches anyone.

use std::time::Duration;

use serde_json::Value;
use urlinsta_core::engine::RunOptions;
use urlinsta_core::jobs::{JobKind, JobReport};

use crate::harness::*;
use crate::link::{Link, SILENT_ANSWERS_LOST, SILENT_BLACK_HOLE};

/// A database auth token that must never be seen anywhere (sqld without a
/// JWT key accepts any).
const DB_TOKEN: &str = "turso-token-must-never-appear-0123456789";

/// The app on sqld, through a link the test controls.
async fn app_over_a_link() -> (TestApp, Link, Sqld) {
    app_over_a_link_with(Vec::new()).await
}

async fn app_over_a_link_with(more: Vec<(&'static str, String)>) -> (TestApp, Link, Sqld) {
    let sqld = Sqld::start().await;
    // The schema first, with the usual deadline: a test's short DB_TIMEOUT_MS
    // is about its own calls, and creating every table on a loaded machine
    // can take longer (the app then only checks the migrations are applied).
    crate::storage::migrate_sqld(&sqld.url).await;
    let link = Link::to(&sqld.url).await;
    let mut vars = fixed_keys();
    vars.extend(more);
    vars.push(("TURSO_AUTH_TOKEN", DB_TOKEN.into()));
    vars.push(("RATE_LIMIT_PER_HOUR", "1000000".into()));
    // One account at a time, so a cut falls between or inside accounts, not across all.
    vars.push(("COLLECT_CONCURRENCY", "1".into()));
    let t = spawn_app_with(Options {
        vars,
        remote_db: Some(link.url.clone()),
        ..Options::default()
    })
    .await;
    (t, link, sqld)
}

async fn get(t: &TestApp, path: &str, bearer: Option<&str>) -> (u16, String) {
    let mut req = t.browser.get(t.api(path));
    if let Some(key) = bearer {
        req = req.bearer_auth(key);
    }
    let r = req.send().await.expect("the app answers");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

fn assert_discreet(text: &str, what: &str) {
    assert!(!text.contains(DB_TOKEN), "{what} shows the database token");
}

#[tokio::test]
async fn an_unreachable_hosted_database_fails_every_job_with_503_and_the_app_recovers() {
    let (t, link, _sqld) = app_over_a_link().await;
    connect_influencers(&t, 1).await;
    link.cut();

    assert_eq!(get(&t, "/api/health", None).await.0, 200, "the process is alive");
    let (status, body) = get(&t, "/api/health/db", None).await;
    assert_eq!(status, 503, "{body}");
    let health: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(health["status"], "error");
    assert_eq!(health["error"], "database_unreachable");
    // No store internals: not the cause, not where the database is.
    assert_eq!(health["message"], "the database cannot be reached", "{body}");
    assert!(!body.contains(link.url.trim_start_matches("http://")), "{body}");
    assert_discreet(&body, "health/db");
    for job in JobKind::ALL {
        let (status, body) = get(&t, &job.cron_path(), Some(CRON_SECRET)).await;
        assert_eq!(status, 503, "{}: {body}", job.name());
        let error: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(error["error"], "unavailable", "{body}");
        assert_discreet(&body, job.name());
        // The cause is in the log; the answer names neither it nor where the database is.
        assert_eq!(
            error["message"], "the job could not run: the database did not serve it; try again later",
            "{body}"
        );
        assert!(!body.contains(link.url.trim_start_matches("http://")), "{body}");
    }
    // Pages and reads fail cleanly: a JSON error, no panic, nothing half-done.
    for path in ["/api/auth/status", "/api/insights/17841400000000001"] {
        let (status, body) = get(&t, path, None).await;
        assert!(
            status >= 500 && serde_json::from_str::<Value>(&body).is_ok(),
            "{path}: {status} {body}"
        );
        assert_discreet(&body, path);
    }
    // Facebook answered; it is our storage that failed, and the reason says so.
    let callback = t.login_with(&browser(), "allow").await;
    assert_eq!(location(&callback), "/?error=server_error");

    link.restore();
    assert_eq!(
        get(&t, "/api/health/db", None).await.0,
        200,
        "back when the database is"
    );
    for job in [JobKind::CollectInsights, JobKind::CollectAudience] {
        let (status, body) = get(&t, &job.cron_path(), Some(CRON_SECRET)).await;
        assert_eq!(status, 200, "{body}");
        let report: CollectReport = serde_json::from_str(&body).expect("a collection report");
        assert_eq!(report.counts.collected, 2, "{report:?}");
    }
    assert_no_orphans(&t).await;
    assert_discreet(&captured_logs(), "the logs");
    assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
}

/// Long enough for the whole test on a busy machine; a regression (a call
/// without a deadline) fails here instead of hanging the suite.
const NO_HANG: Duration = Duration::from_secs(180);

/// Runs a test's body; a regression (a call without a deadline) fails it
/// instead of hanging the suite. Not a measure of speed.
async fn without_hanging(body: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(NO_HANG, body)
        .await
        .expect("a silent database hung the app: some call has no deadline");
}

/// The app on sqld with a short DB_TIMEOUT_MS.
async fn app_with_a_deadline() -> (TestApp, Link, Sqld) {
    app_over_a_link_with(vec![("DB_TIMEOUT_MS", "300".into())]).await
}

/// What every route answers while the database is silent: JSON errors, at
/// once, 503 where the database is the cause, nothing secret.
async fn every_route_fails_fast(t: &TestApp) {
    for job in JobKind::ALL {
        let (status, body) = get(t, &job.cron_path(), Some(CRON_SECRET)).await;
        assert_eq!(status, 503, "{}: {body}", job.name());
        let error: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(error["error"], "unavailable", "{body}");
        assert_discreet(&body, job.name());
    }
    let (status, body) = get(t, "/api/health/db", None).await;
    assert_eq!(status, 503, "{body}");
    assert_discreet(&body, "health/db");
    let path = format!("/api/insights/{DEFAULT_IG}");
    let (status, body) = get(t, &path, Some(ADMIN_KEY)).await;
    assert_eq!(status, 503, "{path}: {body}");
    let error: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(error["error"], "unavailable", "{body}");
    assert_discreet(&body, &path);
}

/// After the database answers again, the next run of each job works: no
/// lease left by a silent run locks it out.
async fn the_next_runs_work(t: &TestApp) {
    for job in JobKind::ALL {
        let (status, body) = get(t, &job.cron_path(), Some(CRON_SECRET)).await;
        assert_eq!(status, 200, "{}: {body}", job.name());
        if job == JobKind::RefreshTokens {
            let report: RefreshReport = serde_json::from_str(&body).expect("a refresh report");
            assert!(!report.busy, "{}: locked out by a lease: {report:?}", job.name());
        } else {
            let report: CollectReport = serde_json::from_str(&body).expect("a collection report");
            assert!(!report.busy, "{}: locked out by a lease: {report:?}", job.name());
            assert_eq!(report.counts.collected, 2, "{report:?}");
        }
    }
    // Each run took its lease and gave it back; a lease left by a silent run would still be here.
    assert_eq!(row_count(t, "job_leases").await, 0, "a lease outlived its run");
    assert_no_orphans(t).await;
    assert_discreet(&captured_logs(), "the logs");
    assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
}

#[tokio::test]
async fn a_hosted_database_that_never_answers_fails_every_call_in_time_and_the_app_recovers() {
    without_hanging(async {
        let (t, link, _sqld) = app_with_a_deadline().await;
        connect_influencers(&t, 1).await;
        link.hang(SILENT_BLACK_HOLE);
        every_route_fails_fast(&t).await;
        link.restore();
        the_next_runs_work(&t).await;
    })
    .await;
}

#[tokio::test]
async fn a_lease_taken_by_a_run_whose_answer_was_lost_does_not_lock_out_the_next_run() {
    without_hanging(async {
        let (t, link, _sqld) = app_with_a_deadline().await;
        connect_influencers(&t, 1).await;
        // The database carries out each run's lease write; the run never hears so.
        link.hang(SILENT_ANSWERS_LOST);
        every_route_fails_fast(&t).await;
        link.restore();
        let conn = t.app.store.conn().await.expect("connection");
        let mut rows = conn
            .query("SELECT name, acquired_at, expires_at FROM job_leases ORDER BY name", ())
            .await
            .expect("leases");
        let mut held = 0;
        while let Some(row) = rows.next().await.expect("row") {
            held += 1;
            let (name, from, to): (String, String, String) = (
                row.get(0).expect("name"),
                row.get(1).expect("from"),
                row.get(2).expect("to"),
            );
            println!("left by a run that timed out: lease {name} from {from} to {to}");
        }
        assert_eq!(held, JobKind::ALL.len(), "each job's lease write landed unanswered");
        the_next_runs_work(&t).await;
    })
    .await;
}

#[tokio::test]
async fn a_database_that_goes_silent_during_a_run_ends_the_run_with_what_it_has() {
    without_hanging(async {
        let (t, link, _sqld) = app_with_a_deadline().await;
        let ids = connect_influencers(&t, 5).await;
        // The lease, the candidates and the chunk's budgets answer; the first
        // account's results do not (one account at a time: COLLECT_CONCURRENCY=1).
        link.hang_after(3);
        let (status, body) = get(&t, &JobKind::CollectInsights.cron_path(), Some(CRON_SECRET)).await;
        assert_eq!(status, 200, "{body}");
        let report: CollectReport = serde_json::from_str(&body).expect("a collection report");
        assert_eq!(
            report.counts.failed, 1,
            "no account after the first silence: {report:?}"
        );
        assert_eq!(report.counts.collected, 0, "{report:?}");
        assert_eq!(report.remaining, ids.len() - 1, "{report:?}");
        assert_discreet(&body, "the report");
        link.restore();
        // The account whose write went unanswered is whole or untouched, and
        // the next run collects every account (the same hour: idempotent).
        let (status, body) = get(&t, &JobKind::CollectInsights.cron_path(), Some(CRON_SECRET)).await;
        assert_eq!(status, 200, "{body}");
        let report: CollectReport = serde_json::from_str(&body).expect("a collection report");
        assert_eq!(report.counts.collected, ids.len(), "{report:?}");
        assert_eq!(row_count(&t, "job_leases").await, 0, "a lease outlived its run");
        for ig in &ids {
            assert_eq!(rows_of(&t, ig).await.1, 1, "{ig}: one log row for its data");
        }
        assert_no_orphans(&t).await;
        assert_discreet(&captured_logs(), "the logs");
    })
    .await;
}

#[tokio::test]
async fn a_database_that_goes_silent_once_the_account_is_deleted_does_not_make_disconnect_say_nothing_was_deleted() {
    without_hanging(async {
        // Long enough for every call before the silence on a loaded machine.
        let (t, link, _sqld) = app_over_a_link_with(vec![("DB_TIMEOUT_MS", "2000".into())]).await;
        // This browser's session holds one account, the Facebook user's only one.
        assert_eq!(location(&t.connect().await), "/?connected=true");
        // The deletion commits and is answered; what comes after meets
        // silence: checking for the user's other accounts, ending the session.
        link.hang_after_commit();
        let r = t
            .post(&t.browser, "/api/auth/disconnect")
            .json(&serde_json::json!({ "instagram_user_id": DEFAULT_IG }))
            .send()
            .await
            .expect("disconnect answers");
        assert_eq!(r.status(), 200, "the account is deleted, and the answer says so");
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("urlinsta_session="))
            .map(str::to_string);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["success"], true, "{body}");
        assert_eq!(
            body["revoked"], false,
            "whether other accounts use the grant is unknown: it stays"
        );
        assert_eq!(t.control.count(urlinsta_sandbox::Endpoint::Revoke), 0);
        assert!(
            cookie.is_some_and(|c| c.contains("Max-Age=0")),
            "the session, which can see nothing now, is cleared in the browser"
        );
        let logs = captured_logs();
        assert!(logs.contains("could not check for the Facebook user's other accounts"));
        assert!(logs.contains("account deleted, but its session could not be ended"));

        link.restore();
        assert!(
            t.app
                .store
                .account(&instagram_id(DEFAULT_IG))
                .await
                .expect("read")
                .is_none()
        );
        assert_no_orphans(&t).await;
        assert_discreet(&captured_logs(), "the logs");
    })
    .await;
}

/// The rows a complete collection of one account writes, per job.
async fn rows_of(t: &TestApp, ig: &str) -> (i64, i64) {
    let id = account(t, ig).await.id;
    let conn = t.app.store.conn().await.expect("connection");
    let mut counts = Vec::new();
    for table in ["insights", "collection_log"] {
        let mut rows = conn
            .query(&format!("SELECT COUNT(*) FROM {table} WHERE user_id = ?1"), [id])
            .await
            .expect("count");
        counts.push(rows.next().await.expect("row").expect("one").get::<i64>(0).expect("n"));
    }
    (counts[0], counts[1])
}

#[tokio::test]
async fn a_database_that_goes_away_during_a_run_leaves_each_account_whole_or_untouched() {
    let (t, link, _sqld) = app_over_a_link().await;
    let ids = connect_influencers(&t, 5).await;
    for cut_after in [3, 7, 12, 20] {
        sql_on(&t, "DELETE FROM insights").await;
        sql_on(&t, "DELETE FROM collection_log").await;
        sql_on(
            &t,
            "UPDATE account_state SET last_insights_at = NULL, rate_window_calls = 0, rate_window_start = NULL",
        )
        .await;
        sql_on(&t, "DELETE FROM job_leases").await;
        link.cut_after(cut_after);
        let report = urlinsta_core::jobs::run(&t.app, JobKind::CollectInsights, RunOptions::default()).await;
        link.restore();
        // The run either could not start (503 from cron) or reports each account.
        if let Ok(JobReport::Collect(report)) = &report {
            let accounted = report.counts.collected + report.counts.failed + report.counts.skipped + report.remaining;
            assert_eq!(
                accounted,
                ids.len(),
                "cut after {cut_after}: every account accounted for: {report:?}"
            );
        }
        let mut whole = None;
        let mut written = 0;
        for ig in &ids {
            let (insights, logged) = rows_of(&t, ig).await;
            if insights > 0 {
                written += 1;
                // Written: all of it, with its log row, the same for every account written.
                assert_eq!(logged, 1, "cut after {cut_after}: {ig} has its log row with its data");
                assert_eq!(
                    *whole.get_or_insert(insights),
                    insights,
                    "cut after {cut_after}: {ig} written whole"
                );
            }
        }
        assert_no_orphans(&t).await;
        let answer = report
            .as_ref()
            .map(|r| format!("{r:?}"))
            .unwrap_or_else(|e| format!("could not run: {e}"));
        println!(
            "cut after {cut_after} requests: {written} of {} accounts written whole; the job: {answer}",
            ids.len()
        );
    }
    assert_discreet(&captured_logs(), "the logs");
}

/// Raw SQL through the app's own store (the database is hosted here).
async fn sql_on(t: &TestApp, statement: &str) {
    let conn = t.app.store.conn().await.expect("connection");
    conn.execute(statement, ()).await.expect("sql");
}

#[tokio::test]
async fn a_slow_hosted_database_makes_a_run_slower_not_wrong() {
    let (t, link, _sqld) = app_over_a_link().await;
    let ids = connect_influencers(&t, 2).await;
    link.slow(Duration::from_millis(20));
    let report = run_collect(&t.app, JobKind::CollectInsights).await;
    assert_eq!(report.counts.collected, ids.len(), "{report:?}");
    let (status, body) = get(&t, &format!("/api/insights/{}", ids[0]), Some(ADMIN_KEY)).await;
    assert_eq!(status, 200, "{body}");
    link.slow(Duration::ZERO);
    // The same hour again adds nothing.
    let again = run_collect(&t.app, JobKind::CollectInsights).await;
    assert_eq!(again.counts.collected, 0, "{again:?}");
    assert_no_orphans(&t).await;
}

// ---- one embedded file, several processes ----

#[tokio::test]
async fn one_embedded_file_shared_by_three_processes_never_says_locked() {
    let t = spawn_app_with(Options {
        vars: fixed_keys()
            .into_iter()
            .chain([("RATE_LIMIT_PER_HOUR", "1000000".to_string())])
            .collect(),
        ..Options::default()
    })
    .await;
    let ids = connect_influencers(&t, 3).await;
    // Two more processes, the real function binaries, on the same file and the same Meta.
    let env: Vec<(&str, String)> = fixed_keys()
        .into_iter()
        .chain([
            ("DATABASE_PATH", t.db_path().display().to_string()),
            ("FB_GRAPH_BASE_URL", t.sandbox.base_url()),
            ("CRON_SECRET", CRON_SECRET.to_string()),
            ("ADMIN_API_KEY", ADMIN_KEY.to_string()),
            ("RATE_LIMIT_PER_HOUR", "1000000".to_string()),
            ("GRAPH_RETRY_BASE_MS", "1".to_string()),
        ])
        .collect();
    let (_insights_fn, insights_url) = start_function(env!("CARGO_BIN_EXE_cron-collect-insights"), &env).await;
    let (_audience_fn, audience_url) = start_function(env!("CARGO_BIN_EXE_cron-collect-audience"), &env).await;
    let client = reqwest::Client::new();
    let cron = |base: String, path: &'static str| {
        let client = client.clone();
        async move {
            let r = client
                .get(format!("{base}{path}"))
                .bearer_auth(CRON_SECRET)
                .send()
                .await
                .expect("answer");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    };
    // Everything at once, several times: both jobs in both processes, the
    // in-process app's cron route, reads and writes from the API.
    let mut answers = Vec::new();
    for _ in 0..3 {
        let (a, b, c, d, e) = tokio::join!(
            cron(insights_url.clone(), "/api/cron/collect-insights"),
            cron(audience_url.clone(), "/api/cron/collect-audience"),
            cron(t.url.clone(), "/api/cron/collect-insights"),
            cron(t.url.clone(), "/api/cron/refresh-tokens"),
            async {
                let mut out = Vec::new();
                for ig in &ids {
                    out.push(get(&t, &format!("/api/insights/{ig}"), Some(ADMIN_KEY)).await);
                    let r = t
                        .browser
                        .post(t.api(&format!("/api/insights/{ig}/refresh")))
                        .bearer_auth(ADMIN_KEY)
                        .send()
                        .await
                        .expect("refresh");
                    out.push((r.status().as_u16(), r.text().await.unwrap_or_default()));
                }
                out
            }
        );
        answers.extend([a, b, c, d]);
        answers.extend(e);
    }
    for (status, body) in &answers {
        assert!(!body.to_lowercase().contains("locked"), "{status}: {body}");
        assert!(*status < 500, "{status}: {body}");
    }
    // No duplicate rows: the unique keys held across processes.
    let conn = t.app.store.conn().await.expect("connection");
    let mut rows = conn
        .query(
            "SELECT COUNT(*) FROM (SELECT user_id, metric_name, period, end_time, COUNT(*) AS n FROM insights
             GROUP BY 1, 2, 3, 4 HAVING n > 1)",
            (),
        )
        .await
        .expect("query");
    let duplicates: i64 = rows.next().await.expect("row").expect("one").get(0).expect("n");
    assert_eq!(duplicates, 0);
    assert!(row_count(&t, "insights").await > 0);
    assert!(
        !captured_logs().contains("database is locked"),
        "a lock timed out somewhere"
    );
}

#[tokio::test]
async fn function_processes_whose_database_is_unreachable_from_the_start_answer_503_but_liveness_and_recover() {
    // The database is there, the way to it is not (a closed port, in effect).
    let sqld = Sqld::start().await;
    let link = Link::to(&sqld.url).await;
    link.cut();
    let mut env = fixed_keys();
    env.extend([
        ("TURSO_DATABASE_URL", link.url.clone()),
        ("TURSO_AUTH_TOKEN", DB_TOKEN.to_string()),
        ("CRON_SECRET", CRON_SECRET.to_string()),
    ]);
    let (_health, health) = start_function(env!("CARGO_BIN_EXE_health-db"), &env).await;
    let (_cron, cron) = start_function(env!("CARGO_BIN_EXE_cron-refresh-tokens"), &env).await;
    let (_live, live) = start_function(env!("CARGO_BIN_EXE_health"), &env).await;
    let client = reqwest::Client::new();
    let get = |url: String| {
        let client = client.clone();
        async move {
            let r = client
                .get(url)
                .bearer_auth(CRON_SECRET)
                .send()
                .await
                .expect("the function answers");
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
    };
    for url in [
        format!("{health}/api/health/db"),
        format!("{cron}/api/cron/refresh-tokens"),
    ] {
        for _ in 0..2 {
            let (status, body) = get(url.clone()).await;
            assert_eq!(status, 503, "{url}: {body}");
            let error: Value = serde_json::from_str(&body).expect("a JSON error");
            assert!(
                error["message"].as_str().is_some_and(|m| m.contains("database")),
                "{body}"
            );
            assert_discreet(&body, &url);
        }
    }
    // Liveness is the process, not the database: it answers all the same.
    let (status, body) = get(format!("{live}/api/health")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).expect("json")["status"], "ok");
    // The start is retried on the next request: the database back, the functions work.
    link.restore();
    let (status, body) = get(format!("{health}/api/health/db")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(format!("{cron}/api/cron/refresh-tokens")).await;
    assert_eq!(status, 200, "{body}");
}
