//! Collecting insights and audience, and reading them back: the plan's
//! insights, cron and API tests, and what Meta's limits and changes add.

use std::time::Duration;

use chrono::{NaiveDate, Utc};
use serde_json::Value;
use urlinsta_core::domain::LeaseName;
use urlinsta_core::http::{AccountView, AccountsBody, CollectedNow};
use urlinsta_core::store::{StoredInsight, TokenStatus};
use urlinsta_sandbox::{CallRecord, Endpoint, Fault, TokenKind, UserSpec, day_end, meta_day};

use crate::harness::*;

const DEFAULT_IG: &str = "17841400000000001";

/// A new influencer (one Page, one IG account) connected from its own browser.
async fn connect_influencer(t: &TestApp, followers: i64) -> (String, reqwest::Client) {
    let mut spec = UserSpec::default_influencer();
    let ig = spec.pages[0].instagram.as_mut().expect("an IG account");
    ig.followers_count = followers;
    let ig_id = ig.id.clone();
    let user = t.control.add_user(spec);
    t.control.set_dialog_user(&user);
    let b = browser();
    let r = t.login_with(&b, "allow").await;
    assert_eq!(location(&r), "/?connected=true", "connect {ig_id}");
    (ig_id, b)
}

/// One run of a collection through its cron route, as Vercel Cron calls it.
async fn cron(t: &TestApp, job: &str) -> CollectReport {
    serde_json::from_value(cron_answer(t, job).await).expect("a collection report")
}

async fn cron_answer(t: &TestApp, job: &str) -> Value {
    let r = t
        .browser
        .get(t.api(&format!("/api/cron/{job}")))
        .bearer_auth(CRON_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "cron {job}");
    r.json().await.expect("json")
}

async fn admin_get(t: &TestApp, path: &str) -> (u16, Value) {
    let r = t.browser.get(t.api(path)).bearer_auth(ADMIN_KEY).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn insights(t: &TestApp, ig: &str, query: &str) -> Vec<StoredInsight> {
    let (status, body) = admin_get(t, &format!("/api/insights/{ig}{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body["insights"].clone()).expect("stored insights")
}

async fn refresh(t: &TestApp, ig: &str) -> (u16, Value) {
    let r = t
        .browser
        .post(t.api(&format!("/api/insights/{ig}/refresh")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn value_of(rows: &[StoredInsight], metric: &str, end_time: &str) -> Option<i64> {
    rows.iter()
        .find(|r| r.metric_name == metric && r.end_time.to_string() == end_time)
        .and_then(|r| r.metric_value)
}

/// Yesterday in Meta's Pacific calendar, and the `end_time` that closes it.
fn yesterday() -> (NaiveDate, String) {
    let day = meta_day(Utc::now()).pred_opt().unwrap();
    (day, day_end(day).format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn calls_for<'a>(calls: &'a [CallRecord], ig: &'a str) -> impl Iterator<Item = &'a CallRecord> + 'a {
    calls.iter().filter(move |c| c.account.as_deref() == Some(ig))
}

fn param<'a>(c: &'a CallRecord, name: &str) -> Option<&'a str> {
    c.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn admin_accounts(t: &TestApp) -> AccountsBody {
    let (status, body) = admin_get(t, "/api/admin/accounts").await;
    assert_eq!(status, 200);
    serde_json::from_value(body).expect("the operator view")
}

async fn admin_account(t: &TestApp, ig: &str) -> AccountView {
    (admin_accounts(t).await.accounts.into_iter())
        .find(|a| a.account.instagram_user_id == *ig)
        .expect("listed")
}

// On an embedded file and on sqld: collection writes the same rows on both.
on_both_databases! {
    async fn hourly_collection_fetches_current_metrics_with_the_page_token(t: TestApp) {
        t.connect().await;
        let (day, end_time) = yesterday();
        t.control.set_metric_value(DEFAULT_IG, "reach", day, 4242);
        t.control.reset_calls();

        let report = cron(&t, "collect-insights").await;
        assert_eq!((report.counts.collected, report.counts.failed), (1, 0), "{report:?}");
        assert!(report.remaining == 0 && report.counts.skipped == 0, "{report:?}");

        // One round trip for the account: a batch of the snapshot and three days, all with the
        // Page token and its proof; then one for its media (`collect_media.rs`).
        assert_eq!(t.control.http_requests(), 2);
        let calls = t.control.calls();
        let insight_calls: Vec<&CallRecord> = calls.iter().filter(|c| c.endpoint == Endpoint::Insights).collect();
        assert_eq!(insight_calls.len(), 3, "today and the two days before");
        for c in calls_for(&calls, DEFAULT_IG) {
            assert_eq!(c.token_kind, Some(TokenKind::Page), "{}", c.path);
            assert!(c.had_appsecret_proof && c.in_batch);
        }
        for c in &insight_calls {
            let metrics: Vec<&str> = param(c, "metric").unwrap().split(',').collect();
            for wanted in ["views", "reach", "accounts_engaged"] {
                assert!(metrics.contains(&wanted), "{metrics:?}");
            }
            assert_eq!(
                (param(c, "period"), param(c, "metric_type")),
                (Some("day"), Some("total_value"))
            );
        }
        assert!(
            !calls
                .iter()
                .any(|c| c.params.iter().any(|(_, v)| v.contains("impressions"))),
            "no impressions request is ever sent"
        );
        let node = calls.iter().find(|c| c.endpoint == Endpoint::IgUser).expect("snapshot");
        assert_eq!(param(node, "fields"), Some("followers_count,follows_count,media_count"));

        // Stored with the end_time that closes each Meta day; the snapshot at the hour.
        let rows = insights(&t, DEFAULT_IG, "").await;
        assert_eq!(value_of(&rows, "reach", &end_time), Some(4242));
        for metric in [
            "views",
            "accounts_engaged",
            "total_interactions",
            "likes",
            "follows_and_unfollows",
        ] {
            assert!(value_of(&rows, metric, &end_time).is_some(), "{metric}");
        }
        let hour = format!("{}", Utc::now().format("%Y-%m-%dT%H:00:00Z"));
        assert_eq!(value_of(&rows, "followers_count", &hour), Some(12_345));
        let snapshot = rows.iter().find(|r| r.metric_name == "followers_count").unwrap();
        assert_eq!(snapshot.period, "lifetime");
        assert!(snapshot.collected_at <= Utc::now().into());
        assert_eq!(rows.iter().filter(|r| r.metric_name == "views").count(), 3);
        assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
    }
}

// On an embedded file and on sqld: collection writes the same rows on both.
on_both_databases! {
    async fn the_same_hour_twice_leaves_the_same_rows_and_corrections_update_in_place(t: TestApp) {
        t.connect().await;
        cron(&t, "collect-insights").await;
        let first = insights(&t, DEFAULT_IG, "").await;
        assert!(
            first.len() >= 36,
            "11 metrics x 3 days + 3 snapshot fields, got {}",
            first.len()
        );

        // The cron again: the account was collected this hour, so nothing is due.
        let again = cron(&t, "collect-insights").await;
        assert_eq!(again.counts.collected, 0);
        // A manual refresh fetches everything again: still the very same rows.
        let (status, body) = refresh(&t, DEFAULT_IG).await;
        assert_eq!(status, 200, "{body}");
        let answer: CollectedNow = serde_json::from_value(body).expect("a manual collection's answer");
        assert_eq!(answer, CollectedNow { success: true, collected: first.len() });
        assert_eq!(insights(&t, DEFAULT_IG, "").await, first);

        // Meta corrects yesterday's views: updated in place, no new row.
        let (day, end_time) = yesterday();
        t.control.set_metric_value(DEFAULT_IG, "views", day, 987_654);
        refresh(&t, DEFAULT_IG).await;
        let corrected = insights(&t, DEFAULT_IG, "").await;
        assert_eq!(corrected.len(), first.len());
        assert_eq!(value_of(&corrected, "views", &end_time), Some(987_654));
    }
}

#[tokio::test]
async fn throttling_and_429_are_retried_with_backoff() {
    let t = spawn_app().await;
    t.connect().await;
    t.control.reset_calls();
    // The whole batch answers 429 once, then one day's operation is throttled once.
    t.control
        .inject(Endpoint::Batch, Fault::RetryAfter { secs: 0 }, Some(1));
    t.control.inject(
        Endpoint::Insights,
        Fault::Throttle {
            code: 17,
            minutes_to_regain: 0,
        },
        Some(1),
    );
    let report = cron(&t, "collect-insights").await;
    assert_eq!(report.counts.collected, 1, "{report:?}");
    assert_eq!(
        t.control.count(Endpoint::Batch),
        4,
        "the 429, the batch, the retry of the throttled day, then the media's batch"
    );
    let calls = t.control.calls();
    let statuses: Vec<u16> = calls
        .iter()
        .filter(|c| c.endpoint == Endpoint::Insights)
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "{statuses:?}");
    assert_eq!(insights(&t, DEFAULT_IG, "?metric=views").await.len(), 3);
    assert!(!admin_account(&t, DEFAULT_IG).await.throttled);
}

// On an embedded file and on sqld: collection writes the same rows on both.
on_both_databases! {
    async fn demographics_are_fetched_as_one_snapshot_a_day(t: TestApp) {
        t.connect().await;
        let (small, _) = connect_influencer(&t, 50).await;
        t.control.reset_calls();

        let report = cron(&t, "collect-audience").await;
        assert_eq!(
            (report.counts.collected, report.counts.skipped, report.counts.failed), (1, 1, 0),
            "{report:?}"
        );
        let calls = t.control.calls();
        let demo: Vec<&CallRecord> = calls.iter().filter(|c| c.endpoint == Endpoint::Demographics).collect();
        assert_eq!(demo.len(), 8, "two metrics by four breakdowns");
        for c in &demo {
            assert_eq!(
                c.account.as_deref(),
                Some(DEFAULT_IG),
                "the small account costs no call"
            );
            assert_eq!(c.token_kind, Some(TokenKind::Page));
            assert_eq!(
                (param(c, "period"), param(c, "metric_type"), param(c, "timeframe")),
                (Some("lifetime"), Some("total_value"), Some("this_month"))
            );
            assert!(["age", "city", "country", "gender"].contains(&param(c, "breakdown").unwrap()));
            assert!(["follower_demographics", "engaged_audience_demographics"].contains(&param(c, "metric").unwrap()));
        }

        let (status, body) = admin_get(&t, &format!("/api/insights/{DEFAULT_IG}/audience")).await;
        assert_eq!(status, 200);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["snapshot_date"], Utc::now().format("%Y-%m-%d").to_string());
        for breakdown in ["age", "city", "country", "gender"] {
            assert!(!body[breakdown].as_array().unwrap().is_empty(), "{breakdown}");
        }
        let countries = body["country"].as_array().unwrap();
        assert!(countries.len() <= 45 && countries[0]["value"].as_i64() >= countries[1]["value"].as_i64());
        assert_eq!(body["engaged_audience"]["status"], "ok");
        assert!(body["collected_at"].is_string());

        let (_, small_body) = admin_get(&t, &format!("/api/insights/{small}/audience")).await;
        assert_eq!(small_body["status"], "not_available", "{small_body}");
        assert!(small_body["country"].as_array().unwrap().is_empty());

        // The same day again adds nothing and calls nothing.
        t.control.reset_calls();
        let again = cron(&t, "collect-audience").await;
        assert_eq!((again.counts.collected, again.counts.failed), (0, 0), "{again:?}");
        assert_eq!(t.control.count(Endpoint::Demographics), 0);
        let (_, body_again) = admin_get(&t, &format!("/api/insights/{DEFAULT_IG}/audience")).await;
        assert_eq!(body_again, body);
    }
}

#[tokio::test]
async fn each_cron_route_needs_the_secret_and_triggers_its_job() {
    let t = spawn_app().await;
    t.connect().await;
    for job in ["refresh-tokens", "collect-insights", "collect-audience"] {
        let r = t.browser.get(t.api(&format!("/api/cron/{job}"))).send().await.unwrap();
        assert_eq!(r.status(), 401, "{job} without the secret");
        let r = t
            .browser
            .get(t.api(&format!("/api/cron/{job}")))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{job} with a wrong secret");
    }
    t.control.reset_calls();
    let insights = cron(&t, "collect-insights").await;
    assert_eq!(insights.counts.collected, 1);
    assert!(t.control.count(Endpoint::Insights) > 0);
    let audience = cron(&t, "collect-audience").await;
    assert_eq!(audience.counts.collected, 1);
    assert!(t.control.count(Endpoint::Demographics) > 0);
    let tokens: RefreshReport = serde_json::from_value(cron_answer(&t, "refresh-tokens").await).expect("a report");
    assert!(!tokens.busy, "{tokens:?}");
    // A run of the same job still in progress holds the lease: an overlapping one does nothing.
    assert!(
        t.app
            .store
            .try_lease(
                &LeaseName::of("collect-insights"),
                "another-run",
                chrono::Utc::now(),
                Duration::from_secs(60)
            )
            .await
            .unwrap()
    );
    let overlapping = cron(&t, "collect-insights").await;
    assert!(overlapping.busy, "{overlapping:?}");
    t.app
        .store
        .release_lease(&LeaseName::of("collect-insights"), "another-run")
        .await
        .unwrap();
    let sharded = t
        .browser
        .get(t.api("/api/cron/collect-insights?shard=0&shards=2"))
        .bearer_auth(CRON_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(sharded.status(), 200);
    let bad = t
        .browser
        .get(t.api("/api/cron/collect-insights?shard=2&shards=2"))
        .bearer_auth(CRON_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn a_deprecated_metric_does_not_stop_the_others() {
    let t = spawn_app_with(Options {
        vars: vec![(
            "INSIGHT_METRICS",
            "reach,impressions,views,likes,accounts_engaged".into(),
        )],
        ..Options::default()
    })
    .await;
    t.connect().await;
    let (other, _) = connect_influencer(&t, 5_000).await;
    // Meta retires `likes` today; `impressions` went in 2025.
    t.control.deprecate_metric("likes");

    let report = cron(&t, "collect-insights").await;
    assert_eq!((report.counts.collected, report.counts.failed), (2, 0), "{report:?}");
    for ig in [DEFAULT_IG, other.as_str()] {
        let rows = insights(&t, ig, "").await;
        for metric in ["reach", "views", "accounts_engaged"] {
            assert_eq!(
                rows.iter().filter(|r| r.metric_name == metric).count(),
                3,
                "{ig} {metric}"
            );
        }
        assert!(
            !rows
                .iter()
                .any(|r| r.metric_name == "likes" || r.metric_name == "impressions")
        );
        let account = admin_account(&t, ig).await.account;
        let rejected: Vec<&str> = account.rejected_metrics.iter().map(|r| r.metric.as_str()).collect();
        assert!(
            rejected.contains(&"likes") && rejected.contains(&"impressions"),
            "{account:?}"
        );
        assert!(account.last_success_at.is_some());
    }
    assert!(captured_logs().contains("Meta refused a metric"));
}

#[tokio::test]
async fn a_throttled_account_is_parked_while_the_others_are_collected() {
    let t = spawn_app().await;
    t.connect().await;
    let (other, _) = connect_influencer(&t, 3_000).await;
    t.control.throttle_account(DEFAULT_IG, 80002, 60);

    let report = cron(&t, "collect-insights").await;
    assert_eq!(
        (report.counts.collected, report.counts.skipped, report.counts.failed),
        (1, 1, 0),
        "{report:?}"
    );
    assert_eq!(insights(&t, &other, "?metric=views").await.len(), 3);
    let parked = admin_account(&t, DEFAULT_IG).await;
    assert!(parked.throttled, "{parked:?}");
    let until = parked.account.throttled_until.expect("parked until a time");
    let minutes = (until.to_datetime() - Utc::now()).num_minutes();
    assert!(
        (58..=67).contains(&minutes),
        "parked for Meta's estimate of 60 minutes, got {minutes}"
    );
    assert!(parked.account.throttle_reason.as_deref().unwrap().contains("80002"));

    // While parked the account costs no call, and a manual refresh says when to come back.
    t.control.reset_calls();
    cron(&t, "collect-insights").await;
    assert_eq!(calls_for(&t.control.calls(), DEFAULT_IG).count(), 0);
    let (status, body) = refresh(&t, DEFAULT_IG).await;
    assert_eq!(status, 429, "{body}");
}

#[tokio::test]
async fn the_hourly_ceiling_per_account_is_never_exceeded() {
    let t = spawn_app_with(Options {
        vars: vec![("RATE_LIMIT_PER_HOUR", "10".into())],
        ..Options::default()
    })
    .await;
    t.connect().await;
    t.control.reset_calls();
    cron(&t, "collect-insights").await;
    let mut refused = 0;
    for _ in 0..4 {
        let (status, _) = refresh(&t, DEFAULT_IG).await;
        if status == 429 {
            refused += 1;
        }
    }
    cron(&t, "collect-audience").await;
    let used = calls_for(&t.control.calls(), DEFAULT_IG).count();
    // The hourly run: four operations, then the media's two lists; a refresh's
    // four fit in what is left (its media do not); a third run does not fit.
    assert_eq!(used, 10, "4 + 2 media, then 4: the ceiling of ten");
    assert_eq!(refused, 3);
    let account = admin_account(&t, DEFAULT_IG).await;
    assert_eq!(account.account.rate_window_calls, 10);
}

#[tokio::test]
async fn a_time_budget_stops_a_run_and_the_next_finishes_the_rest() {
    let t = spawn_app_with(Options {
        vars: vec![
            ("JOB_TIME_BUDGET_SECS", "1".into()),
            ("COLLECT_CONCURRENCY", "2".into()),
        ],
        ..Options::default()
    })
    .await;
    let mut accounts = Vec::new();
    for _ in 0..4 {
        accounts.push(connect_influencer(&t, 1_000).await.0);
    }
    // Each account takes longer than the whole budget: two start, then time is up.
    t.control.set_latency(Duration::from_millis(1_100));
    let first = cron(&t, "collect-insights").await;
    assert_eq!((first.counts.collected, first.remaining), (2, 2), "{first:?}");
    let second = cron(&t, "collect-insights").await;
    assert_eq!((second.counts.collected, second.remaining), (2, 0), "{second:?}");
    t.control.set_latency(Duration::ZERO);
    for ig in &accounts {
        assert_eq!(insights(&t, ig, "?metric=reach").await.len(), 3, "{ig}");
    }
}

#[tokio::test]
async fn insights_are_only_for_their_own_session_or_the_admin() {
    let t = spawn_app().await;
    t.connect().await;
    let (other, other_browser) = connect_influencer(&t, 2_000).await;
    cron(&t, "collect-insights").await;

    for path in [
        format!("/api/insights/{other}"),
        format!("/api/insights/{other}/audience"),
    ] {
        let mine = other_browser.get(t.api(&path)).send().await.unwrap();
        assert_eq!(mine.status(), 200, "{path} with its own session");
        let theirs = t.browser.get(t.api(&path)).send().await.unwrap();
        assert_eq!(theirs.status(), 403, "{path} from another account's session");
        let body: Value = theirs.json().await.unwrap();
        assert_eq!(body["error"], "forbidden");
        let anonymous = reqwest::get(t.api(&path)).await.unwrap();
        assert_eq!(anonymous.status(), 401, "{path} without a session");
    }
    let r = t
        .post(&t.browser, &format!("/api/insights/{other}/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = t
        .post(&other_browser, &format!("/api/insights/{other}/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = t
        .browser
        .get(t.api("/api/insights/17841499999999999"))
        .bearer_auth("not-the-key")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(admin_get(&t, "/api/insights/17841499999999999").await.0, 404);
    assert_eq!(admin_get(&t, "/api/insights/not-an-id").await.0, 400);

    // The operator view is for the admin key only.
    assert_eq!(
        t.browser
            .get(t.api("/api/admin/accounts"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(reqwest::get(t.api("/api/admin/accounts")).await.unwrap().status(), 401);
    let (status, body) = admin_get(&t, "/api/admin/accounts").await;
    assert_eq!(status, 200);
    assert_eq!(admin_accounts(&t).await.count, 2);
    let account = admin_account(&t, DEFAULT_IG).await.account;
    assert_eq!(account.token_status, TokenStatus::Active);
    assert!(account.last_success_at.is_some() && account.last_error.is_none());
    assert_no_secrets(&t.control, body.to_string().as_bytes(), "the operator view");
}

#[tokio::test]
async fn csv_export_parses_and_from_to_filter_by_end_time() {
    let t = spawn_app().await;
    t.connect().await;
    cron(&t, "collect-insights").await;
    let all = insights(&t, DEFAULT_IG, "").await;

    let r = t
        .browser
        .get(t.api(&format!("/api/insights/{DEFAULT_IG}?format=csv")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = r.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("metric_name,metric_value,period,end_time,collected_at,reconstructed")
    );
    let parsed: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(parsed.len(), all.len());
    for (fields, row) in parsed.iter().zip(&all) {
        assert_eq!(fields.len(), 6);
        assert_eq!(fields[5], "false", "measured");
        assert_eq!(fields[0], row.metric_name.as_str());
        assert_eq!(fields[1].parse::<i64>().ok(), row.metric_value);
        assert!(chrono::DateTime::parse_from_rfc3339(fields[3]).is_ok());
    }

    let (_, end_time) = yesterday();
    let date = &end_time[..10];
    let one_day = insights(&t, DEFAULT_IG, &format!("?from={date}&to={date}")).await;
    assert!(!one_day.is_empty());
    assert!(one_day.iter().all(|r| r.end_time.to_string().starts_with(date)));
    assert_eq!(
        one_day.len(),
        all.iter().filter(|r| r.end_time.to_string().starts_with(date)).count()
    );
    let exact = insights(
        &t,
        DEFAULT_IG,
        &format!("?from={end_time}&to={end_time}&metric=reach,views"),
    )
    .await;
    assert_eq!(exact.len(), 2, "{exact:?}");
    let after = (day_end(yesterday().0) + chrono::Duration::seconds(1)).format("%Y-%m-%dT%H:%M:%SZ");
    let later = insights(&t, DEFAULT_IG, &format!("?from={after}")).await;
    assert!(later.iter().all(|r| r.end_time.to_string() > end_time));

    for bad in [
        "?from=yesterday",
        "?from=2026-11-05&to=2026-11-01",
        "?metric=reach;1",
        "?format=xml",
    ] {
        let (status, body) = admin_get(&t, &format!("/api/insights/{DEFAULT_IG}{bad}")).await;
        assert_eq!(status, 400, "{bad}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn pages_of_insights_add_up_to_the_whole_history_in_json_and_csv() {
    let t = spawn_app().await;
    t.connect().await;
    cron(&t, "collect-insights").await;
    let all = insights(&t, DEFAULT_IG, "").await;
    assert!(all.len() > 5, "a history of several pages: {all:?}");

    // JSON: follow `next` until a page comes back without it.
    let (mut paged, mut query, mut pages) = (Vec::new(), "?limit=5".to_string(), 0);
    loop {
        let (status, body) = admin_get(&t, &format!("/api/insights/{DEFAULT_IG}{query}")).await;
        assert_eq!(status, 200, "{body}");
        let rows: Vec<StoredInsight> = serde_json::from_value(body["insights"].clone()).expect("stored insights");
        assert!(rows.len() <= 5 && body["count"] == rows.len(), "{body}");
        paged.extend(rows);
        pages += 1;
        match body["next"].as_str() {
            Some(next) => query = format!("?limit=5&after={next}"),
            None => break,
        }
    }
    assert_eq!(paged, all, "the pages, in order, are the history");
    assert_eq!(pages, all.len() / 5 + 1);

    // CSV: follow the Link header; each page has its own header line.
    let (mut lines, mut url) = (
        Vec::new(),
        Some(format!("/api/insights/{DEFAULT_IG}?format=csv&limit=4")),
    );
    while let Some(next) = url {
        let r = t.browser.get(t.api(&next)).bearer_auth(ADMIN_KEY).send().await.unwrap();
        assert_eq!(r.status(), 200);
        url = r.headers().get("link").map(|link| {
            let link = link.to_str().unwrap();
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            link[1..link.find('>').unwrap()].to_string()
        });
        lines.extend(r.text().await.unwrap().lines().skip(1).map(String::from));
    }
    assert_eq!(lines.len(), all.len());
    for (line, row) in lines.iter().zip(&all) {
        assert!(line.starts_with(&format!("{},", row.metric_name)), "{line}");
    }

    for bad in ["?limit=0", "?limit=10001", "?limit=many", "?after=not-a-cursor"] {
        let (status, body) = admin_get(&t, &format!("/api/insights/{DEFAULT_IG}{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
}

#[tokio::test]
async fn usage_above_ninety_percent_stops_the_run() {
    let t = spawn_app_with(Options {
        vars: vec![("COLLECT_CONCURRENCY", "1".into())],
        ..Options::default()
    })
    .await;
    t.connect().await;
    connect_influencer(&t, 1_000).await;
    connect_influencer(&t, 1_000).await;
    t.control.set_usage(95, 10, 0);
    let report = cron(&t, "collect-insights").await;
    assert_eq!((report.counts.collected, report.remaining), (1, 2), "{report:?}");
    t.control.set_usage(10, 10, 0);
    let next = cron(&t, "collect-insights").await;
    assert_eq!((next.counts.collected, next.remaining), (2, 0), "{next:?}");
}

#[tokio::test]
async fn a_dead_token_marks_the_connection_invalid_and_later_runs_skip_it() {
    let t = spawn_app().await;
    t.connect().await;
    let (other, _) = connect_influencer(&t, 2_000).await;
    t.control.invalidate_user_tokens("100000000000001", 460);

    let report = cron(&t, "collect-insights").await;
    assert_eq!((report.counts.collected, report.counts.failed), (1, 1), "{report:?}");
    let dead = admin_account(&t, DEFAULT_IG).await.account;
    assert_eq!(dead.token_status, TokenStatus::Invalid, "{dead:?}");
    assert!(dead.last_error.as_deref().unwrap().contains("password"), "{dead:?}");
    assert_eq!(
        admin_account(&t, &other).await.account.token_status,
        TokenStatus::Active
    );

    // An invalid connection costs no call until the user connects again.
    t.control.reset_calls();
    let (status, _) = refresh(&t, DEFAULT_IG).await;
    assert_eq!(status, 409);
    let next = cron(&t, "collect-audience").await;
    assert_eq!(
        (next.counts.collected, next.counts.skipped, next.counts.failed),
        (1, 1, 0),
        "{next:?}"
    );
    assert_eq!(calls_for(&t.control.calls(), DEFAULT_IG).count(), 0);
}
