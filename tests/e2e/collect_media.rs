//! The hourly collection of posts, reels and stories against the sandbox,
//! on both databases: new media catalogued once, each product type asked
//! its own metric set and never an incompatible one, a metric Meta refuses
//! for reels costing reels only, refreshes by age, stories measured while
//! they live, deleted media keeping their history, and the hourly ceiling.

use chrono::{Duration, Utc};
use urlinsta_core::jobs::JobKind;
use urlinsta_core::store::MediaFilter;
use urlinsta_sandbox::{Endpoint, MediaSpec, ProductType, Via};

use crate::harness::*;

const IG: &str = "17841400000000001";

/// The next hour's run: the account is due again, with a fresh budget.
pub(crate) async fn next_run(t: &TestApp) -> CollectReport {
    t.app
        .store
        .conn()
        .await
        .unwrap()
        .execute(
            "UPDATE account_state SET last_insights_at = NULL, rate_window_calls = 0, rate_window_start = NULL",
            (),
        )
        .await
        .unwrap();
    run_collect(&t.app, JobKind::CollectInsights).await
}

/// As if every media was last measured `hours` ago.
async fn measured_hours_ago(t: &TestApp, hours: i64) {
    let at = ts(Utc::now() - Duration::hours(hours));
    let conn = t.app.store.conn().await.unwrap();
    conn.execute(
        &format!("UPDATE media SET last_insights_at = '{at}' WHERE last_insights_at IS NOT NULL"),
        (),
    )
    .await
    .unwrap();
}

async fn media_of(t: &TestApp) -> Vec<urlinsta_core::store::StoredMedia> {
    let id = account(t, IG).await.id;
    t.app.store.stored_media(id, &MediaFilter::default()).await.unwrap()
}

/// Each metric set asked of `product` media one by one, with how often.
fn full_sets(t: &TestApp, product: ProductType) -> Vec<(Vec<String>, u64)> {
    t.control
        .media_metric_sets()
        .into_iter()
        .filter(|s| s.product == product && s.via == Via::Edge)
        .map(|s| (s.metrics, s.count))
        .collect()
}

on_both_databases! {
    async fn new_media_are_catalogued_once_and_measured_by_their_type(t: TestApp) {
        assert_eq!(t.connect().await.status(), 302);
        let now = t.control.now();
        let post = t.control.add_media(IG, MediaSpec::post().caption("a post").posted_at(now - Duration::hours(3)));
        let reel = t.control.add_media(IG, MediaSpec::reel().posted_at(now - Duration::hours(2)));
        let carousel = t.control.add_media(IG, MediaSpec::carousel(2).posted_at(now - Duration::hours(1)));
        let story = t.control.add_media(IG, MediaSpec::story().reaching(200).posted_at(now - Duration::minutes(150)));
        t.control.reset_calls();

        let report = run_collect(&t.app, JobKind::CollectInsights).await;
        assert_eq!(report.counts.collected, 1, "{report:?}");
        assert_eq!(t.control.http_requests(), 2, "account metrics, then one media batch");
        let media = media_of(&t).await;
        let ids: Vec<&str> = media.iter().map(|m| m.media_id.as_str()).collect();
        assert_eq!(ids, [carousel.as_str(), reel.as_str(), story.as_str(), post.as_str()], "newest first");
        assert_eq!(media[0].children.len(), 2);
        assert_eq!(media[3].caption.as_deref(), Some("a post"));
        // The list measured posts and reels in place with what both take.
        assert_eq!(media[1].metrics.get("reach").copied(), t.control.media_value(&reel, "reach"));
        assert!(!media[1].metrics.contains_key("ig_reels_avg_watch_time"), "not shared with posts");

        // The next run: each one measured with its type's own set, once.
        next_run(&t).await;
        next_run(&t).await;
        assert_eq!(media_of(&t).await.len(), 4, "catalogued once");
        assert_eq!(t.control.incompatible_media_requests(), 0, "no request mixed incompatible metrics");
        let reels = full_sets(&t, ProductType::Reels);
        assert_eq!(reels.len(), 1, "{reels:?}");
        assert_eq!(reels[0].1, 1, "measured once in two runs");
        assert!(reels[0].0.contains(&"ig_reels_avg_watch_time".to_string()));
        assert!(full_sets(&t, ProductType::Feed)[0].0.contains(&"profile_visits".to_string()));
        let story_set = &full_sets(&t, ProductType::Story)[0].0;
        assert!(story_set.contains(&"navigation".to_string()) && !story_set.contains(&"saved".to_string()));
        let reel_now = media_of(&t).await.into_iter().find(|m| m.media_id == reel).unwrap();
        assert_eq!(reel_now.metrics.get("ig_reels_avg_watch_time").copied(), t.control.media_value(&reel, "ig_reels_avg_watch_time"));
        assert_eq!(t.control.count(Endpoint::MediaList), 3, "one list call per run");
    }

    async fn a_metric_meta_refuses_for_reels_costs_reels_only(t: TestApp) {
        assert_eq!(t.connect().await.status(), 302);
        let now = t.control.now();
        t.control.add_media(IG, MediaSpec::post().posted_at(now - Duration::hours(5)));
        t.control.add_media(IG, MediaSpec::reel().posted_at(now - Duration::hours(4)));
        t.control.reject_media_metric(ProductType::Reels, "reposts");
        run_collect(&t.app, JobKind::CollectInsights).await;
        next_run(&t).await;
        let id = account(&t, IG).await.id;
        let rejected = t.app.store.rejected_media_metrics(id).await.unwrap();
        let names: Vec<(&str, &str)> = rejected.iter().map(|r| (r.product_type.as_str(), r.metric.as_str())).collect();
        assert_eq!(names, [("REELS", "reposts")]);
        let media = media_of(&t).await;
        let post = media.iter().find(|m| m.product_type == urlinsta_core::domain::ProductType::Feed).unwrap();
        let reel = media.iter().find(|m| m.product_type == urlinsta_core::domain::ProductType::Reels).unwrap();
        assert!(post.metrics.contains_key("reposts"), "posts keep it: {:?}", post.metrics);
        assert!(!reel.metrics.contains_key("reposts") && reel.metrics.contains_key("reach"));
        // Later runs never ask reels for it again.
        t.control.reset_media_counts();
        measured_hours_ago(&t, 13).await;
        next_run(&t).await;
        assert_eq!(t.control.incompatible_media_requests(), 0);
        let reels = full_sets(&t, ProductType::Reels);
        assert!(!reels.is_empty() && reels.iter().all(|(s, _)| !s.contains(&"reposts".to_string())), "{reels:?}");
    }

    async fn refreshes_follow_the_age_and_stop_past_the_horizon(t: TestApp) {
        assert_eq!(t.connect().await.status(), 302);
        let now = t.control.now();
        let week = t.control.add_media(IG, MediaSpec::post().posted_at(now - Duration::days(7)));
        let ancient = t.control.add_media(IG, MediaSpec::post().posted_at(now - Duration::days(100)));
        let young = t.control.add_media(IG, MediaSpec::reel().posted_at(now - Duration::hours(30)));
        run_collect(&t.app, JobKind::CollectInsights).await;
        let lists = |t: &TestApp| t.control.count(Endpoint::MediaList);
        let full = |t: &TestApp, p| full_sets(t, p).iter().map(|(_, n)| n).sum::<u64>();
        // Measured by the first listing: the young reel with its own set next, nothing else.
        t.control.reset_calls();
        t.control.reset_media_counts();
        next_run(&t).await;
        assert_eq!((lists(&t), full(&t, ProductType::Reels), full(&t, ProductType::Feed)), (1, 1, 0));
        // Daily at a week old: not again two hours later; a day later in a
        // window of the list (its shared metrics), never one call per post.
        t.control.reset_calls();
        measured_hours_ago(&t, 2).await;
        next_run(&t).await;
        assert_eq!(lists(&t), 1, "nothing older is due");
        t.control.reset_calls();
        t.control.reset_media_counts();
        measured_hours_ago(&t, 24).await;
        next_run(&t).await;
        assert_eq!(lists(&t), 2, "the newest page and one refresh window");
        assert_eq!(full(&t, ProductType::Feed), 0, "no call per older post");
        assert_eq!(full(&t, ProductType::Reels), 1, "the 30-hour-old reel, 12-hourly while young");
        let media = media_of(&t).await;
        let of = |id: &str| media.iter().find(|m| m.media_id == id).unwrap();
        assert_eq!(of(&week).metrics.get("reach").copied(), t.control.media_value(&week, "reach"));
        assert!(of(&week).last_insights_at.is_some());
        assert!(of(&young).metrics.contains_key("ig_reels_avg_watch_time"));
        // Past 90 days: catalogued by the newest page, never measured.
        assert_eq!(of(&ancient).insights_status, "pending");
        assert!(of(&ancient).metrics.is_empty(), "{:?}", of(&ancient).metrics);
    }

    async fn the_catalog_reaches_back_to_the_horizon_a_wide_page_a_run(t: TestApp) {
        assert_eq!(t.connect().await.status(), 302);
        let now = t.control.now();
        // 250 posts over the 83 days before connecting, and one from before the horizon.
        for i in 0..250 {
            t.control.add_media(IG, MediaSpec::post().posted_at(now - Duration::hours(8 * i + 2)));
        }
        t.control.add_media(IG, MediaSpec::post().posted_at(now - Duration::days(95)));
        let mut seen = Vec::new();
        for run in 0..5 {
            t.control.reset_calls();
            if run == 0 {
                run_collect(&t.app, JobKind::CollectInsights).await;
            } else {
                next_run(&t).await;
            }
            assert_eq!(t.control.http_requests(), 2, "run {run}: the account's batch and the media batch");
            seen.push(media_of(&t).await.len());
        }
        // The newest page, then a wide page of 100 a run back to the horizon;
        // each wide page begins with the oldest one already catalogued
        // (`until` is widened by a second, so that none can fall between two pages).
        assert_eq!(seen, [25, 124, 223, 250, 250]);
        let media = media_of(&t).await;
        let age = |m: &urlinsta_core::store::StoredMedia| {
            now - m.posted_at.to_datetime()
        };
        assert!(media.iter().all(|m| age(m) <= Duration::days(90)), "nothing from before the horizon");
        assert!(media.iter().all(|m| m.deleted_at.is_none()), "none taken for deleted on Instagram");
        assert!(
            media.iter().filter(|m| age(m) > Duration::hours(48)).all(|m| m.metrics.contains_key("reach")),
            "each measured as it was catalogued"
        );
    }

    async fn stories_are_measured_while_live_and_few_viewers_are_no_failure(t: TestApp) {
        assert_eq!(t.connect().await.status(), 302);
        let now = t.control.now();
        let seen = t.control.add_media(IG, MediaSpec::story().reaching(300).posted_at(now - Duration::hours(5)));
        let few = t.control.add_media(IG, MediaSpec::story().reaching(3).posted_at(now - Duration::hours(5)));
        run_collect(&t.app, JobKind::CollectInsights).await;
        let report = next_run(&t).await;
        assert_eq!(report.counts.failed, 0, "{report:?}");
        let media = media_of(&t).await;
        let status = |id: &str| media.iter().find(|m| m.media_id == id).map(|m| m.insights_status.clone());
        assert_eq!(status(&seen).as_deref(), Some("ok"));
        assert_eq!(status(&few).as_deref(), Some("not_enough_viewers"));
        assert_eq!(
            account(&t, IG).await.token.status,
            urlinsta_core::store::TokenStatus::Active,
            "Meta's code 10 for few viewers says nothing about the token"
        );
        let reach = media.iter().find(|m| m.media_id == seen).and_then(|m| m.metrics.get("reach").copied());
        assert_eq!(reach, t.control.media_value(&seen, "reach"));
    }

    async fn deleted_media_keep_their_history(t: TestApp) {
        assert_eq!(t.connect().await.status(), 302);
        let now = t.control.now();
        t.control.add_media(IG, MediaSpec::post().posted_at(now - Duration::hours(9)));
        let gone = t.control.add_media(IG, MediaSpec::post().posted_at(now - Duration::hours(8)));
        t.control.add_media(IG, MediaSpec::post().posted_at(now - Duration::hours(7)));
        run_collect(&t.app, JobKind::CollectInsights).await;
        next_run(&t).await;
        t.control.delete_media(&gone);
        next_run(&t).await;
        let media = media_of(&t).await;
        let deleted = media.iter().find(|m| m.media_id == gone).expect("kept");
        assert!(deleted.deleted_at.is_some());
        assert!(deleted.metrics.contains_key("reach"), "its numbers stay");
        assert_eq!(media.iter().filter(|m| m.deleted_at.is_none()).count(), 2);
    }

    async fn media_between_the_newest_page_and_a_refresh_window_are_not_taken_for_gone(t: TestApp) {
        assert_eq!(t.connect().await.status(), 302);
        let now = t.control.now();
        for day in 1..=40 {
            t.control.add_media(IG, MediaSpec::post().posted_at(now - Duration::days(day)));
        }
        run_collect(&t.app, JobKind::CollectInsights).await;
        next_run(&t).await;
        assert_eq!(media_of(&t).await.len(), 40, "the newest page, then the backlog");
        // Only the six oldest are due (weekly past day 30): one window of
        // days 35 to 40, far from the newest page's days 1 to 25.
        let measured = |ago: Duration| ts(Utc::now() - ago);
        let conn = t.app.store.conn().await.unwrap();
        let (recent, week) = (measured(Duration::hours(1)), measured(Duration::days(8)));
        let oldest = ts(now - Duration::days(34) - Duration::hours(12));
        conn.execute(
            &format!(
                "UPDATE media SET last_insights_at = CASE WHEN posted_at < '{oldest}' THEN '{week}' ELSE '{recent}' END"
            ),
            (),
        )
        .await
        .unwrap();
        t.control.reset_calls();
        next_run(&t).await;
        assert_eq!(t.control.count(Endpoint::MediaList), 2, "the newest page and one window");
        let media = media_of(&t).await;
        let gone: Vec<urlinsta_core::domain::Timestamp> = media.iter().filter(|m| m.deleted_at.is_some()).map(|m| m.posted_at).collect();
        assert!(gone.is_empty(), "Meta still has every one: {gone:?}");
    }
}

#[tokio::test]
async fn media_take_what_the_account_metrics_leave_of_the_hourly_ceiling() {
    let t = spawn_app_with(Options {
        vars: vec![("RATE_LIMIT_PER_HOUR", "12".into())],
        ..Options::default()
    })
    .await;
    assert_eq!(t.connect().await.status(), 302);
    let now = t.control.now();
    for i in 0..30 {
        t.control
            .add_media(IG, MediaSpec::post().posted_at(now - Duration::days(i + 3)));
    }
    let id = account(&t, IG).await.id;
    for run in 0..3 {
        t.control.reset_calls();
        let report = if run == 0 {
            run_collect(&t.app, JobKind::CollectInsights).await
        } else {
            next_run(&t).await
        };
        assert_eq!(
            report.counts.collected, 1,
            "account metrics first, every run: {report:?}"
        );
        assert!(
            t.control.graph_calls() <= 12,
            "run {run}: {} calls",
            t.control.graph_calls()
        );
        assert_eq!(
            t.app
                .store
                .calls_left(id, 12, t.app.clock.utc_now().into())
                .await
                .unwrap(),
            12 - t.control.graph_calls() as u32
        );
    }
    assert_eq!(media_of(&t).await.len(), 30, "catalogued over pages");
}
