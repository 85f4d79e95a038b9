//! Load on the local server: 200 concurrent insight reads, and 20
//! overlapping cron calls of all three jobs. No errors, the same answer for
//! everyone, every account collected exactly once, no duplicate rows.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::Value;
use urlinsta_sandbox::{Endpoint, Fault};

use crate::harness::*;

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
        // Meta was asked once per account and job: one insights batch and one
        // for the media (collect-insights), one audience batch.
        assert_eq!(t.control.count(Endpoint::Batch), 3 * ids.len(), "one batch per account and collection, and the media's");
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
