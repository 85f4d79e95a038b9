//! Load on the local server: 200 concurrent insight reads, and 20
//! overlapping cron calls of all three jobs. No errors, the same answer for
//! everyone, every account collected exactly once, no duplicate rows. And a
//! burst of reads beyond what a hosted database admits at once.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::Value;
use urlinsta_sandbox::{Endpoint, Fault};

use crate::harness::*;
use crate::link::Link;

const READS: usize = 200;
const CRON_CALLS: usize = 20;

async fn duplicates(t: &TestApp, table: &str, key: &str) -> i64 {
    let conn = t.app.store.conn().await.expect("connection");
    let mut rows = conn
        .query(
            &format!("SELECT COUNT(*) FROM (SELECT {key}, COUNT(*) AS n FROM {table} GROUP BY {key} HAVING n > 1)"),
            (),
        )
        .await
        .expect("query");
    rows.next().await.expect("row").expect("one").get(0).expect("n")
}

on_both_databases! {
    async fn twenty_overlapping_cron_calls_collect_each_account_once_and_two_hundred_reads_agree(t: TestApp) {
        let ids = connect_influencers(&t, 4).await;
        let client = reqwest::Client::new();

        // The first batch is held, so the runs surely overlap.
        t.control.inject(Endpoint::Batch, Fault::Delay(Duration::from_millis(300)), Some(1));
        t.control.reset_calls();
        let jobs = ["collect-insights", "collect-audience", "refresh-tokens"];
        let calls = (0..CRON_CALLS).map(|i| {
            let client = client.clone();
            let url = t.api(&format!("/api/cron/{}", jobs[i % jobs.len()]));
            async move {
                let r = client.get(url).bearer_auth(CRON_SECRET).send().await.expect("cron answers");
                let status = r.status().as_u16();
                (i % jobs.len(), status, r.text().await.expect("an answer"))
            }
        });
        let started = Instant::now();
        let reports = join_all(calls).await;
        let cron_time = started.elapsed();
        let mut collected = [0u64; 3];
        let mut busy = [0u64; 3];
        for (job, status, body) in &reports {
            assert_eq!(*status, 200, "{}: {body}", jobs[*job]);
            let (failed, was_busy) = if *job < 2 {
                let report: CollectReport = serde_json::from_str(body).expect("a collection report");
                collected[*job] += report.counts.collected as u64;
                (report.counts.failed, report.busy)
            } else {
                let report: RefreshReport = serde_json::from_str(body).expect("a refresh report");
                (report.counts.failed, report.busy)
            };
            assert_eq!(failed, 0, "{}: {body}", jobs[*job]);
            busy[*job] += u64::from(was_busy);
        }
        let n = ids.len() as u64;
        assert_eq!(collected, [n, n, 0], "each account collected exactly once per job");
        assert!(busy[0] + busy[1] > 0, "the runs overlapped and the leases held them off");
        // Meta was asked once per account and job: one insights batch, one audience batch.
        assert_eq!(t.control.count(Endpoint::Batch), 2 * ids.len(), "one batch per account and collection");
        for (table, key) in [
            ("insights", "user_id, metric_name, period, end_time"),
            ("audience_data", "user_id, metric, demographic_type, dimension_key, snapshot_date"),
            ("audience_snapshots", "user_id, metric, snapshot_date"),
            ("users", "instagram_user_id"),
        ] {
            assert_eq!(duplicates(&t, table, key).await, 0, "{table} has no duplicate rows");
        }

        // 200 reads at once, spread over the accounts: all answered, all alike.
        let served_before = t.requests_served();
        let reads = (0..READS).map(|i| {
            let client = client.clone();
            let url = t.api(&format!("/api/insights/{}", ids[i % ids.len()]));
            async move {
                let r = client.get(url).bearer_auth(ADMIN_KEY).send().await.expect("read answers");
                (r.status().as_u16(), r.json::<Value>().await.expect("json"))
            }
        });
        let started = Instant::now();
        let answers = join_all(reads).await;
        let read_time = started.elapsed();
        let mut first: Vec<Option<Value>> = vec![None; ids.len()];
        for (i, (status, body)) in answers.iter().enumerate() {
            assert_eq!(*status, 200, "{body}");
            let account = i % ids.len();
            assert!(body["count"].as_u64().unwrap_or(0) > 0, "{body}");
            let same = first[account].get_or_insert_with(|| body.clone());
            assert_eq!(same, body, "every reader of an account gets the same rows");
        }
        assert_eq!(t.requests_served() - served_before, READS as u64);
        println!(
            "load ({}): {CRON_CALLS} overlapping cron calls in {:?}, {READS} concurrent reads in {:?}",
            if t.sqld.is_some() { "sqld" } else { "embedded file" },
            cron_time,
            read_time
        );
        assert_no_orphans(&t).await;
    }
}

/// What a burst of reads met.
struct Burst {
    /// Reads that did not answer 200, and one of them.
    failed: usize,
    example: Option<(u16, String)>,
    /// Requests sqld turned away (HTTP 429, by its own log).
    turned_away: usize,
}

const BURST: usize = 160;

/// `BURST` reads at once through a link that adds `delay` each way, on `sqld`.
async fn burst_of_reads(sqld: &Sqld, delay: Duration) -> Burst {
    let link = Link::to(&sqld.url).await;
    let mut vars = fixed_keys();
    // Room for every read's turn on the slow link: waiting is what is tested, not speed.
    vars.push(("DB_TIMEOUT_MS", "60000".into()));
    let t = spawn_app_with(Options {
        vars,
        remote_db: Some(link.url.clone()),
        ..Options::default()
    })
    .await;
    let ids = connect_influencers(&t, 1).await;
    link.slow(delay);
    let client = reqwest::Client::new();
    let reads = (0..BURST).map(|i| {
        let client = client.clone();
        let url = t.api(&format!("/api/insights/{}", ids[i % ids.len()]));
        async move {
            let r = client
                .get(url)
                .bearer_auth(ADMIN_KEY)
                .send()
                .await
                .expect("read answers");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        }
    });
    let failed: Vec<_> = join_all(reads)
        .await
        .into_iter()
        .filter(|(status, _)| *status != 200)
        .collect();
    let log = std::fs::read_to_string(sqld.data_dir().join("sqld.log")).expect("sqld's log");
    Burst {
        failed: failed.len(),
        example: failed.into_iter().next(),
        turned_away: log.lines().filter(|l| l.contains("429 Too Many Requests")).count(),
    }
}

/// More reads at once than sqld has connections (128), each holding its
/// connection longer than sqld lets a request wait for one (a second): a
/// link adds 300 ms each way. sqld turns the excess away with HTTP 429;
/// the app must not pass that on as a 500, but keep to its share and wait.
#[tokio::test]
async fn a_burst_of_reads_beyond_the_hosted_database_s_connections_waits_its_turn() {
    let sqld = Sqld::start().await;
    let burst = burst_of_reads(&sqld, Duration::from_millis(300)).await;
    assert_eq!(burst.failed, 0, "e.g. {:?}", burst.example);
    assert_eq!(burst.turned_away, 0, "the app kept to its share of sqld's connections");
}

/// The same burst on a server that has fewer connections free than this
/// process's share (others use the rest; here sqld has only 8): the requests
/// it turns away (HTTP 429, nothing run) are made again until they get one.
#[tokio::test]
async fn reads_turned_away_by_a_busy_hosted_database_are_tried_again_until_they_get_a_connection() {
    let sqld = Sqld::start_with(&["--max-concurrent-connections", "8"]).await;
    let burst = burst_of_reads(&sqld, Duration::from_millis(100)).await;
    assert!(burst.turned_away > 0, "sqld had too few connections to go round");
    assert_eq!(burst.failed, 0, "e.g. {:?}", burst.example);
}
