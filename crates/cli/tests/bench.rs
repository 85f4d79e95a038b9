//! `urlinsta bench` must not rot: a small run (20 accounts, no latency, the
//! embedded file, the plan's loop without its pause, two days of history)
//! runs end to end and reports figures that add up. Counts only: the times
//! of a shared machine are for BENCHMARKS.md, not for assertions.

use std::process::Command;

use serde_json::Value;

#[test]
fn a_small_bench_runs_and_reports_figures_that_add_up() {
    let out = Command::new(env!("CARGO_BIN_EXE_urlinsta"))
        .args(["bench", "--accounts", "20", "--latency-ms", "0", "--db", "embedded"])
        .args([
            "--plan-accounts",
            "2",
            "--plan-pause-ms",
            "0",
            "--read-days",
            "2",
            "--read-samples",
            "3",
            "--media-accounts",
            "2",
            "--media-warmup-days",
            "1",
            "--media-hours",
            "3",
        ])
        .arg("--json")
        .output()
        .expect("urlinsta bench runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let figures: Value = serde_json::from_slice(&out.stdout).expect("JSON figures");

    let runs = figures["runs"].as_array().expect("runs");
    let jobs: Vec<&str> = runs.iter().filter_map(|r| r["job"].as_str()).collect();
    assert_eq!(jobs, ["collect-insights", "collect-audience", "refresh-tokens"]);
    // (job, Graph calls per account, HTTP requests per account); the hourly
    // run lists each account's media and stories after its metrics, in a
    // second batch (the bench's accounts have posted nothing).
    for (run, (calls, requests)) in runs.iter().zip([(6.0, 2.0), (8.0, 1.0), (2.0, 2.0)]) {
        assert_eq!(run["done"], 20, "every account is done: {run}");
        assert_eq!(run["graph_calls_per_account"], calls, "{run}");
        assert_eq!(run["http_requests_per_account"], requests, "{run}");
        assert!(run["wall_s"].as_f64().is_some_and(|s| s > 0.0), "{run}");
        assert!(run["peak_rss_mb"].as_f64().is_some_and(|mb| mb > 1.0), "{run}");
        assert!(run["db_writes_per_account"].as_f64().is_some_and(|w| w >= 1.0), "{run}");
    }
    // One write per account (its media rows in it), plus the run's lease
    // (taken and released) and one budget chunk, which takes the media
    // batch's calls with the account metrics'.
    assert_eq!(runs[0]["db_writes_per_account"], 23.0 / 20.0);

    let plan = &figures["plans"][0];
    assert_eq!(plan["accounts"], 2);
    assert_eq!(plan["graph_calls_per_account"], 2.0, "{plan}");

    let reads = figures["reads"].as_array().expect("reads");
    assert!(!reads.is_empty());
    for read in reads {
        assert!(read["bytes"].as_u64().is_some_and(|b| b > 0), "{read}");
        assert!(read["p99_ms"].as_f64() >= read["p50_ms"].as_f64(), "{read}");
    }
    assert!(reads[0]["rows"].as_u64().is_some_and(|n| n > 100), "{}", reads[0]);

    // A day of content insights: every account collected every hour, in the
    // account's batch and the media batch; the account metrics' 4 calls, the
    // two lists and what is due besides.
    let media = &figures["media_days"][0];
    assert_eq!(media["hours"], 3, "{media}");
    assert_eq!(media["collected_share"], 1.0, "{media}");
    assert_eq!(media["http_requests_per_run"], 2.0, "{media}");
    assert!(
        media["graph_calls_per_run"].as_f64().is_some_and(|c| c >= 6.0),
        "{media}"
    );
    assert!(
        media["media_per_account"].as_f64().is_some_and(|m| m > 500.0),
        "90 days catalogued: {media}"
    );
}

/// The media step costs the database nothing of its own on the hosted path:
/// what it plans from comes with the candidate query, its calls with the
/// chunk's budget write, its rows with the account's one write. Before, it
/// read the catalog, the refused metrics and the allowance, took its calls
/// and wrote its rows apart: about 13 round trips per account and run.
#[test]
fn a_day_of_content_insights_on_sqld_costs_about_one_round_trip_per_account() {
    let sqld = std::env::var("SQLD_BIN")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../.tools/sqld/sqld").to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_urlinsta"))
        .args([
            "bench",
            "--accounts",
            "0",
            "--latency-ms",
            "0",
            "--db",
            "sqld",
            "--sqld",
            &sqld,
        ])
        .args(["--plan-accounts", "0", "--media-accounts", "4"])
        .args(["--media-warmup-days", "1", "--media-hours", "2", "--json"])
        .output()
        .expect("urlinsta bench runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let figures: Value = serde_json::from_slice(&out.stdout).expect("JSON figures");
    let media = &figures["media_days"][0];
    assert_eq!(media["database"], "sqld", "{media}");
    assert_eq!(media["collected_share"], 1.0, "{media}");
    // Per account: its write, and a share of the run's lease, candidate
    // query and budget write (4 accounts share them here).
    let dearest = media["max_db_round_trips_per_run"].as_f64().expect("counted on sqld");
    assert!((1.0..4.0).contains(&dearest), "{media}");
}
