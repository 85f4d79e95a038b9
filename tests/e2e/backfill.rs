//! Day-one history against the sandbox, on both databases: one collection
//! run after connecting stores the last 90 days of daily metrics and a
//! follower curve that matches the sandbox's truth; a backfill cut short by
//! its per-run budget, a throttle or the run's time resumes without gaps or
//! duplicates; and it stays within the hourly ceiling without starving
//! another account.

use std::collections::BTreeSet;

use chrono::{NaiveDate, Utc};
use urlinsta_core::collect::days::pacific_date;
use urlinsta_core::domain::MetricName;
use urlinsta_core::store::{CollectKind, InsightsFilter, StoredInsight};
use urlinsta_sandbox::{Endpoint, Fault};

use crate::harness::*;

async fn app_with(sqld: bool, vars: &[(&'static str, &str)]) -> TestApp {
    let mut options = Options {
        vars: fixed_keys(),
        ..Options::default()
    };
    options.vars.push(("BACKFILL_DAYS", "90".into()));
    options.vars.extend(vars.iter().map(|(k, v)| (*k, v.to_string())));
    let server = if sqld { Some(Sqld::start().await) } else { None };
    options.remote_db = server.as_ref().map(|s| s.url.clone());
    let mut t = spawn_app_with(options).await;
    t.sqld = server;
    t
}

async fn collect(t: &TestApp) -> CollectReport {
    let r = t
        .browser
        .get(t.api("/api/cron/collect-insights"))
        .bearer_auth(CRON_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.expect("a collection report")
}

async fn stored(t: &TestApp, ig: &str, metric: &str) -> Vec<StoredInsight> {
    let id = t
        .app
        .store
        .account(&instagram_id(ig))
        .await
        .unwrap()
        .expect("connected")
        .id;
    let filter = InsightsFilter {
        metrics: vec![MetricName::parse(metric).expect("a metric")],
        ..InsightsFilter::default()
    };
    t.app.store.stored_insights(id, &filter).await.unwrap()
}

/// The Pacific days that have a daily `reach` value.
async fn reach_days(t: &TestApp, ig: &str) -> Vec<NaiveDate> {
    let rows = stored(t, ig, "reach").await;
    let days: Vec<NaiveDate> = rows
        .iter()
        .filter(|r| r.period == "day")
        .map(|r| pacific_date(r.end_time.to_datetime() - chrono::Duration::hours(1)))
        .collect();
    let unique: BTreeSet<NaiveDate> = days.iter().copied().collect();
    assert_eq!(unique.len(), days.len(), "no day twice");
    days
}

fn today() -> NaiveDate {
    pacific_date(Utc::now())
}

async fn one_run_brings_90_days_and_the_follower_curve(sqld: bool) {
    let t = app_with(sqld, &[]).await;
    t.connect().await;
    let report = collect(&t).await;
    assert_eq!(report.counts.backfilled, 1, "{report:?}");
    let days = reach_days(&t, DEFAULT_IG).await;
    let expected: Vec<NaiveDate> = (0..90).rev().map(|b| today() - chrono::Days::new(b)).collect();
    assert_eq!(days, expected, "every one of the last 90 days, today included");

    // The follower curve: reconstructed for the 30 days before today, and right.
    let followers = stored(&t, DEFAULT_IG, "followers_count").await;
    let curve: Vec<&StoredInsight> = followers.iter().filter(|r| r.reconstructed).collect();
    assert_eq!(curve.len(), 30, "{followers:?}");
    for r in curve {
        let day = pacific_date(r.end_time.to_datetime());
        assert_eq!(r.metric_value, t.control.followers_at_end_of(DEFAULT_IG, day), "{day}");
    }
    // Measured counts are not marked.
    assert!(followers.iter().any(|r| !r.reconstructed));
    // The CSV export says so too, in its last column.
    let csv = t
        .browser
        .get(t.api(&format!("/api/insights/{DEFAULT_IG}?format=csv&metric=followers_count")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("metric_name,metric_value,period,end_time,collected_at,reconstructed\n"));
    assert_eq!(csv.lines().filter(|l| l.ends_with(",true")).count(), 30, "{csv}");

    // Whole: the next run asks Meta for no history again.
    t.control.reset_calls();
    let again = collect(&t).await;
    assert_eq!(again.counts.backfilled, 0, "{again:?}");
    assert_eq!(t.control.graph_calls(), 0, "nothing due, nothing asked");
}

async fn a_short_budget_resumes_without_gaps_or_duplicates(sqld: bool) {
    let t = app_with(sqld, &[("BACKFILL_CALLS_PER_RUN", "25")]).await;
    t.connect().await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        collect(&t).await;
        seen.push(reach_days(&t, DEFAULT_IG).await.len());
    }
    // 3 days from the hourly run, then 24 a run (one call goes to the follower changes), then 25.
    assert_eq!(
        seen,
        vec![3 + 24, 3 + 24 + 25, 3 + 24 + 50, 90, 90],
        "days stored after each run"
    );
    let days = reach_days(&t, DEFAULT_IG).await;
    assert_eq!(days.first(), Some(&(today() - chrono::Days::new(89))));
    assert!(
        days.windows(2).all(|w| w[1] - w[0] == chrono::Duration::days(1)),
        "no gap"
    );
}

async fn the_hourly_ceiling_holds_and_the_other_account_is_collected(sqld: bool) {
    let t = app_with(sqld, &[("RATE_LIMIT_PER_HOUR", "40")]).await;
    t.connect().await;
    let (other, _) = connect_another(&t).await;
    for _ in 0..3 {
        collect(&t).await;
    }
    for ig in [DEFAULT_IG, other.as_str()] {
        let calls = t
            .control
            .calls()
            .iter()
            .filter(|c| c.in_batch && c.account.as_deref() == Some(ig))
            .count();
        assert!(calls <= 40, "{ig}: {calls} Graph calls this hour");
        // Each got its hourly collection (today's count), and as much history as fitted.
        let followers = stored(&t, ig, "followers_count").await;
        assert!(followers.iter().any(|r| !r.reconstructed), "{ig} collected");
        let days = reach_days(&t, ig).await.len();
        assert!((3..90).contains(&days), "{ig}: {days} days within the ceiling");
    }
}

/// Every day of the last 90 stored once, none missing.
async fn assert_whole(t: &TestApp) {
    let days = reach_days(t, DEFAULT_IG).await;
    let expected: Vec<NaiveDate> = (0..90).rev().map(|b| today() - chrono::Days::new(b)).collect();
    assert_eq!(days, expected, "no gap, no duplicate");
}

/// As if the park Meta asked for was over (only time would end it).
async fn end_the_park(t: &TestApp) {
    sql(
        t,
        "UPDATE account_state SET throttled_until = NULL, throttle_reason = NULL",
    )
    .await;
}

async fn a_throttle_stops_the_backfill_and_the_next_run_resumes(sqld: bool) {
    let t = app_with(sqld, &[("BACKFILL_CALLS_PER_RUN", "30")]).await;
    t.connect().await;
    collect(&t).await;
    let first = reach_days(&t, DEFAULT_IG).await.len();
    assert_eq!(first, 3 + 29, "the hourly run's days and a first share of the past");

    // Meta throttles the account on one call of the next share: the answers
    // already in are stored, and the account is parked.
    let throttle = Fault::Throttle {
        code: 80002,
        minutes_to_regain: 30,
    };
    t.control.inject(Endpoint::Insights, throttle, Some(1));
    collect(&t).await;
    t.control.clear_faults();
    let account = t
        .app
        .store
        .candidate(&instagram_id(DEFAULT_IG), CollectKind::Insights, None)
        .await
        .unwrap();
    assert!(account.and_then(|a| a.throttled_until).is_some(), "parked");
    let second = reach_days(&t, DEFAULT_IG).await.len();
    assert!(first < second && second < 90, "{first} then {second} days");
    // Parked: the next run asks Meta nothing for it.
    t.control.reset_calls();
    collect(&t).await;
    assert_eq!(t.control.graph_calls(), 0, "parked means no call");
    assert_eq!(reach_days(&t, DEFAULT_IG).await.len(), second);

    end_the_park(&t).await;
    for _ in 0..3 {
        collect(&t).await;
    }
    assert_whole(&t).await;
}

async fn out_of_time_the_backfill_starts_no_batch_and_the_next_run_resumes(sqld: bool) {
    let t = app_with(sqld, &[("JOB_TIME_BUDGET_SECS", "2")]).await;
    t.connect().await;
    // A time-budget test, so round trips take time: the hourly collection's
    // two (its account batch, its media lists) leave room for the
    // backfill's first batch (the follower changes and 49 days), not its second.
    t.control.set_latency(std::time::Duration::from_millis(750));
    collect(&t).await;
    t.control.set_latency(std::time::Duration::ZERO);
    let first = reach_days(&t, DEFAULT_IG).await.len();
    assert!(first < 90, "the run's time ended the backfill: {first} days");
    for _ in 0..2 {
        collect(&t).await;
    }
    assert_whole(&t).await;
}

async fn refresh_now_brings_the_past_with_the_hour(sqld: bool) {
    let t = app_with(sqld, &[]).await;
    t.connect().await;
    // The page's Refresh now, with the session that connected the account.
    let r = t
        .post(&t.browser, &format!("/api/insights/{DEFAULT_IG}/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    assert_whole(&t).await;
}

async fn a_gap_in_collection_reopens_the_backfill(sqld: bool) {
    let t = app_with(sqld, &[]).await;
    t.connect().await;
    collect(&t).await;
    assert_whole(&t).await;
    // Its collection stopped for five days (a long reauth_required, say):
    // those days were never stored, and the last collection is five days old.
    let since = urlinsta_core::store::sql::ts(Utc::now() - chrono::Duration::days(6));
    sql(
        &t,
        &format!("DELETE FROM insights WHERE period = 'day' AND end_time >= '{since}'"),
    )
    .await;
    let last = urlinsta_core::store::sql::ts(Utc::now() - chrono::Duration::days(5));
    sql(&t, &format!("UPDATE account_state SET last_insights_at = '{last}'")).await;
    let missing = reach_days(&t, DEFAULT_IG).await.len();
    assert!(missing <= 85, "{missing} days left");

    // The next hourly run collects its hour, sees the gap, and fetches the days it no longer reaches.
    let report = collect(&t).await;
    assert_eq!(report.counts.backfilled, 1, "{report:?}");
    assert_whole(&t).await;
}

#[tokio::test]
async fn refresh_now_brings_the_past_embedded_file() {
    refresh_now_brings_the_past_with_the_hour(false).await;
}

#[tokio::test]
async fn refresh_now_brings_the_past_sqld() {
    refresh_now_brings_the_past_with_the_hour(true).await;
}

#[tokio::test]
async fn a_gap_in_collection_reopens_the_backfill_embedded_file() {
    a_gap_in_collection_reopens_the_backfill(false).await;
}

#[tokio::test]
async fn a_gap_in_collection_reopens_the_backfill_sqld() {
    a_gap_in_collection_reopens_the_backfill(true).await;
}

#[tokio::test]
async fn a_throttled_backfill_resumes_without_gaps_or_duplicates_embedded_file() {
    a_throttle_stops_the_backfill_and_the_next_run_resumes(false).await;
}

#[tokio::test]
async fn a_throttled_backfill_resumes_without_gaps_or_duplicates_sqld() {
    a_throttle_stops_the_backfill_and_the_next_run_resumes(true).await;
}

#[tokio::test]
async fn a_backfill_out_of_time_resumes_without_gaps_or_duplicates_embedded_file() {
    out_of_time_the_backfill_starts_no_batch_and_the_next_run_resumes(false).await;
}

#[tokio::test]
async fn a_backfill_out_of_time_resumes_without_gaps_or_duplicates_sqld() {
    out_of_time_the_backfill_starts_no_batch_and_the_next_run_resumes(true).await;
}

#[tokio::test]
async fn one_run_after_connecting_brings_90_days_and_the_follower_curve_embedded_file() {
    one_run_brings_90_days_and_the_follower_curve(false).await;
}

#[tokio::test]
async fn one_run_after_connecting_brings_90_days_and_the_follower_curve_sqld() {
    one_run_brings_90_days_and_the_follower_curve(true).await;
}

#[tokio::test]
async fn a_backfill_cut_short_resumes_without_gaps_or_duplicates_embedded_file() {
    a_short_budget_resumes_without_gaps_or_duplicates(false).await;
}

#[tokio::test]
async fn a_backfill_cut_short_resumes_without_gaps_or_duplicates_sqld() {
    a_short_budget_resumes_without_gaps_or_duplicates(true).await;
}

#[tokio::test]
async fn the_backfill_keeps_the_hourly_ceiling_and_starves_no_account_embedded_file() {
    the_hourly_ceiling_holds_and_the_other_account_is_collected(false).await;
}

#[tokio::test]
async fn the_backfill_keeps_the_hourly_ceiling_and_starves_no_account_sqld() {
    the_hourly_ceiling_holds_and_the_other_account_is_collected(true).await;
}
