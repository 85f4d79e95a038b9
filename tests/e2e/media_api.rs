//! The content read API over HTTP: ranking, paging, CSV, one media's
//! snapshots, who may read them, and deletion taking them along.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use urlinsta_core::domain::{MediaId, MediaKind, MetricName, ProductType};
use urlinsta_core::store::{FinalMetric, FinalValue, MediaItem, MediaSnapshot, MediaWrite, MetricValue};

use crate::harness::*;

const IG: &str = "17841400000000001";

fn value(metric: &str, value: i64) -> MetricValue {
    MetricValue {
        metric: MetricName::parse(metric).unwrap(),
        value,
    }
}

fn item(n: u32, product: ProductType, posted: DateTime<Utc>) -> MediaItem {
    MediaItem {
        media_id: MediaId::parse(&format!("1810000000000{n:04}")).unwrap(),
        parent: None,
        kind: if product == ProductType::Reels {
            MediaKind::Video
        } else {
            MediaKind::Image
        },
        product,
        posted_at: posted,
        permalink: Some(format!("https://www.instagram.com/p/code{n}/")),
        caption: Some(format!("=post {n}, with a comma")),
        like_count: Some(i64::from(n)),
        comments_count: Some(1),
    }
}

async fn stored(t: &TestApp) -> i64 {
    assert_eq!(t.connect().await.status(), 302);
    seed_media(t).await
}

/// For the connected sandbox account: six posts and reels with reach 10, 60,
/// 20, 50, 30, 40 (the first without views), one story with final numbers,
/// and two snapshots of the second.
pub(crate) async fn seed_media(t: &TestApp) -> i64 {
    let account_id = account(t, IG).await.id;
    let now = Utc::now();
    let reach = [10, 60, 20, 50, 30, 40];
    let items: Vec<MediaItem> = (0..6)
        .map(|i| {
            let product = if i % 2 == 0 {
                ProductType::Feed
            } else {
                ProductType::Reels
            };
            item(i, product, now - Duration::hours(i64::from(i) + 2))
        })
        .chain([item(9, ProductType::Story, now - Duration::hours(30))])
        .collect();
    let snapshots = (0..6)
        .map(|i| MediaSnapshot {
            media_id: items[i].media_id.clone(),
            values: if i == 0 {
                vec![value("reach", reach[i])]
            } else {
                vec![value("reach", reach[i]), value("views", reach[i] * 2)]
            },
            refreshes: true,
        })
        .collect();
    let write = MediaWrite {
        account_id,
        items,
        snapshots,
        ..MediaWrite::default()
    };
    t.app.store.save_media(&write, now - Duration::hours(1)).await.unwrap();
    let later = MediaWrite {
        account_id,
        snapshots: vec![MediaSnapshot {
            media_id: MediaId::parse("18100000000000001").unwrap(),
            values: vec![value("reach", 65)],
            refreshes: true,
        }],
        ..MediaWrite::default()
    };
    t.app.store.save_media(&later, now).await.unwrap();
    let story = MediaId::parse("18100000000000009").unwrap();
    let finals = [
        FinalMetric {
            metric: MetricName::parse("reach").unwrap(),
            value: FinalValue::Count(44),
        },
        FinalMetric {
            metric: MetricName::parse("replies").unwrap(),
            value: FinalValue::FewerThanFive,
        },
    ];
    t.app
        .store
        .save_story_final(&instagram_id(IG), &story, &finals, now)
        .await
        .unwrap();
    account_id
}

async fn get(t: &TestApp, path: &str) -> (u16, String) {
    let r = t.browser.get(t.api(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn ids(body: &Value) -> Vec<String> {
    body["media"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["media_id"].as_str().unwrap().to_string())
        .collect()
}

on_both_databases! {
    async fn media_are_ranked_paged_and_exported(t: TestApp) {
        stored(&t).await;
        let base = format!("/api/insights/{IG}/media");
        let (status, text) = get(&t, &format!("{base}?type=reels&sort=reach&order=desc")).await;
        assert_eq!(status, 200, "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(ids(&body), ["18100000000000001", "18100000000000003", "18100000000000005"]);
        assert_eq!(body["media"][0]["metrics"]["reach"], 65, "the latest snapshot");

        // Pages by views, ascending: the post without views comes last.
        let mut seen = Vec::new();
        let mut next = Some(format!("{base}?sort=views&order=asc&limit=2"));
        while let Some(path) = next.take() {
            let (status, text) = get(&t, &path).await;
            assert_eq!(status, 200, "{text}");
            let page: Value = serde_json::from_str(&text).unwrap();
            seen.extend(ids(&page));
            next = page["next"].as_str().map(|c| format!("{base}?sort=views&order=asc&limit=2&after={c}"));
        }
        assert_eq!(seen.len(), 7, "every media once: {seen:?}");
        assert_eq!(seen[0], "18100000000000002");
        assert!(seen[5..].contains(&"18100000000000000".to_string()), "no views: last {seen:?}");

        let (_, text) = get(&t, &format!("{base}?type=story")).await;
        let stories: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(stories["media"][0]["completed_by_webhook"], true);
        assert_eq!(stories["media"][0]["final_metrics"]["replies"], "fewer_than_5");
        assert_eq!(stories["media"][0]["final_metrics"]["reach"], 44);

        let r = t.browser.get(t.api(&format!("{base}?format=csv&sort=reach"))).send().await.unwrap();
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
        let csv = r.text().await.unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(header[..3], ["media_id", "product_type", "media_type"]);
        assert!(header.contains(&"reach") && header.contains(&"views"));
        let first = lines.next().unwrap();
        assert!(first.starts_with("18100000000000001,REELS,VIDEO,"), "{first}");
        assert!(first.contains("\"'=post 1, with a comma\""), "quoted and defused: {first}");
        assert_eq!(csv.lines().count(), 8);

        for bad in ["type=ad", "sort=impressions", "order=up", "limit=0", "after=nope", "from=2026-12-05&to=2026-12-01"] {
            let (status, _) = get(&t, &format!("{base}?{bad}")).await;
            assert_eq!(status, 400, "{bad}");
        }
    }

    async fn one_media_has_its_snapshots_and_only_its_owner_sees_it(t: TestApp) {
        stored(&t).await;
        let (status, text) = get(&t, &format!("/api/insights/{IG}/media/18100000000000001")).await;
        assert_eq!(status, 200, "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        let reach: Vec<i64> = body["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["metric_name"] == "reach")
            .map(|s| s["metric_value"].as_i64().unwrap())
            .collect();
        assert_eq!(reach, [60, 65], "the curve, oldest first");
        assert_eq!(get(&t, &format!("/api/insights/{IG}/media/18199999999999999")).await.0, 404);
        assert_eq!(get(&t, &format!("/api/insights/{IG}/media/abc")).await.0, 400);
        let stranger = browser();
        let r = stranger.get(t.api(&format!("/api/insights/{IG}/media"))).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let (_, other) = connect_another(&t).await;
        let r = other.get(t.api(&format!("/api/insights/{IG}/media/18100000000000001"))).send().await.unwrap();
        assert_eq!(r.status(), 403);
    }

    async fn disconnect_leaves_no_media_rows(t: TestApp) {
        stored(&t).await;
        let r = t
            .post(&t.browser, "/api/auth/disconnect")
            .json(&serde_json::json!({ "instagram_user_id": IG }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        for table in ["media", "media_insights", "story_final_insights", "media_rejected_metrics"] {
            assert_eq!(row_count(&t, table).await, 0, "{table}");
        }
        assert_no_orphans(&t).await;
    }
}
