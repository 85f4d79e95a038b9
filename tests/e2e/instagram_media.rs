//! Content insights of an Instagram-login connection: its posts, reels and
//! stories collected from `graph.instagram.com` one request per call (no
//! batch there), with the same catalogue, metric sets, hourly budget and
//! idempotent writes as Facebook Login's batches, counted per path.

use chrono::{Duration, Utc};
use urlinsta_core::jobs::JobKind;
use urlinsta_core::store::MediaFilter;
use urlinsta_sandbox::{Endpoint, IgEndpoint, MediaSpec, ProductType, Via};

use crate::collect_media::next_run;
use crate::harness::*;
use crate::instagram::{SOLO, connect_solo};

async fn media_of(t: &TestApp) -> Vec<urlinsta_core::store::StoredMedia> {
    let id = account(t, SOLO).await.id;
    t.app.store.stored_media(id, &MediaFilter::default()).await.unwrap()
}

async fn snapshots_of(t: &TestApp, media_id: &str, metric: &str) -> i64 {
    let conn = t.app.store.conn().await.unwrap();
    let mut rows = conn
        .query(
            "SELECT COUNT(*) FROM media_insights WHERE media_id = ?1 AND metric_name = ?2",
            libsql::params![media_id, metric],
        )
        .await
        .unwrap();
    rows.next().await.unwrap().unwrap().get(0).unwrap()
}

on_both_databases! {
    async fn an_instagram_login_accounts_media_are_collected_from_graph_instagram_com(t: TestApp) {
        connect_solo(&t).await;
        let started = Utc::now();
        let now = t.control.now();
        let post = t.control.add_media(SOLO, MediaSpec::post().caption("a post").posted_at(now - Duration::hours(3)));
        let reel = t.control.add_media(SOLO, MediaSpec::reel().posted_at(now - Duration::hours(2)));
        let carousel = t.control.add_media(SOLO, MediaSpec::carousel(2).posted_at(now - Duration::hours(1)));
        let story = t.control.add_media(SOLO, MediaSpec::story().reaching(200).posted_at(now - Duration::minutes(150)));
        let limit = t.app.config.rate_limit_per_hour;
        let id = account(&t, SOLO).await.id;

        let mut measures = 0;
        for run in 0..3 {
            t.control.reset_calls();
            let report = match run {
                0 => run_collect(&t.app, JobKind::CollectInsights).await,
                _ => next_run(&t).await,
            };
            assert_eq!(report.counts.collected, 1, "run {run}: {report:?}");
            // One request per call, all on Instagram Login's host.
            let calls = t.control.graph_calls();
            assert_eq!(t.control.http_requests(), calls, "run {run}: no batch");
            assert_eq!(t.control.instagram_calls(), calls, "run {run}: nothing asked of graph.facebook.com");
            assert_eq!(t.control.count(Endpoint::Instagram(IgEndpoint::MediaList)), 1, "run {run}");
            assert_eq!(t.control.count(Endpoint::Instagram(IgEndpoint::Stories)), 1, "run {run}");
            measures += t.control.count(Endpoint::Instagram(IgEndpoint::MediaInsights));
            // Every call came out of the account's hourly budget, none more.
            assert_eq!(t.app.store.calls_left(id, limit, t.app.clock.utc_now().into()).await.unwrap(), limit - calls as u32, "run {run}");
        }

        let media = media_of(&t).await;
        let ids: Vec<&str> = media.iter().map(|m| m.media_id.as_str()).collect();
        assert_eq!(ids, [carousel.as_str(), reel.as_str(), story.as_str(), post.as_str()], "catalogued once, newest first");
        assert_eq!(media[0].children.len(), 2);
        assert_eq!(media[3].caption.as_deref(), Some("a post"));
        // Each product type measured with its own set, never an incompatible one.
        assert_eq!(t.control.incompatible_media_requests(), 0);
        let reel_now = media.iter().find(|m| m.media_id == reel).unwrap();
        assert_eq!(reel_now.insights_status, "ok");
        assert_eq!(
            reel_now.metrics.get("ig_reels_avg_watch_time").copied(),
            t.control.media_value(&reel, "ig_reels_avg_watch_time")
        );
        let story_now = media.iter().find(|m| m.media_id == story).unwrap();
        assert_eq!(story_now.metrics.get("reach").copied(), t.control.media_value(&story, "reach"));
        let by_edge = |product| {
            t.control
                .media_metric_sets()
                .into_iter()
                .any(|s| s.product == product && s.via == Via::Edge)
        };
        assert!(by_edge(ProductType::Reels) && by_edge(ProductType::Feed) && by_edge(ProductType::Story));
        assert_eq!(measures, 4, "each media measured once by its own set (a carousel's children are not)");
        // Three runs wrote one snapshot per hour they ran in, not one per run.
        let hours = 1 + (Utc::now().timestamp() / 3600 - started.timestamp() / 3600);
        assert!(snapshots_of(&t, &reel, "reach").await <= hours);
        assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
    }
}

/// `total_likes` counts ads too and is served on Facebook Login's host only:
/// asked of an Instagram-login account's posts, it is refused and dropped
/// for that account's posts, and the rest of the set is still measured.
#[tokio::test]
async fn a_metric_instagram_login_does_not_serve_costs_that_metric_only() {
    let t = spawn_app_with(Options {
        vars: vec![("MEDIA_METRICS_FEED", "reach,likes,total_likes".into())],
        ..Options::default()
    })
    .await;
    connect_solo(&t).await;
    let now = t.control.now();
    let post = t
        .control
        .add_media(SOLO, MediaSpec::post().posted_at(now - Duration::hours(3)));
    run_collect(&t.app, JobKind::CollectInsights).await;
    let report = next_run(&t).await;
    assert_eq!(report.counts.collected, 1, "{report:?}");
    let id = account(&t, SOLO).await.id;
    let rejected = t.app.store.rejected_media_metrics(id).await.unwrap();
    let names: Vec<(&str, &str)> = rejected
        .iter()
        .map(|r| (r.product_type.as_str(), r.metric.as_str()))
        .collect();
    assert_eq!(names, [("FEED", "total_likes")]);
    let media = media_of(&t).await;
    let measured = media.iter().find(|m| m.media_id == post).unwrap();
    assert_eq!(measured.insights_status, "ok");
    assert_eq!(
        measured.metrics.get("likes").copied(),
        t.control.media_value(&post, "likes")
    );
    assert!(!measured.metrics.contains_key("total_likes"), "{:?}", measured.metrics);
}
