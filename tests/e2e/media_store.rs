//! The content-insights store on both databases: the catalog, dated
//! snapshots, deleted media keeping their history, stories' final numbers
//! written once, and refused metrics per product type.

use chrono::{DateTime, Duration, TimeZone, Utc};
use urlinsta_core::domain::{MediaId, MediaKind, MetricName, ProductType};
use urlinsta_core::store::{
    FinalMetric, FinalOutcome, FinalValue, MediaFilter, MediaItem, MediaMetricRefusal, MediaSnapshot, MediaWrite,
    MetricValue, Store,
};

use crate::harness::instagram_id;
use crate::storage::connection;

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, hour, minute, 0).unwrap()
}

fn id(raw: &str) -> MediaId {
    MediaId::parse(raw).unwrap()
}

fn item(raw: &str, product: ProductType, posted: DateTime<Utc>) -> MediaItem {
    MediaItem {
        media_id: id(raw),
        parent: None,
        kind: if product == ProductType::Reels {
            MediaKind::Video
        } else {
            MediaKind::Image
        },
        product,
        posted_at: posted,
        permalink: Some(format!("https://www.instagram.com/p/{raw}/")),
        caption: Some(format!("caption of {raw}, with 'quotes' and ümlauts")),
        like_count: Some(3),
        comments_count: Some(1),
    }
}

fn metric(name: &str) -> MetricName {
    MetricName::parse(name).unwrap()
}

fn refused(product: ProductType, name: &str, reason: &str) -> MediaMetricRefusal {
    MediaMetricRefusal {
        product,
        metric: metric(name),
        reason: reason.into(),
    }
}

fn snapshot(raw: &str, reach: i64) -> MediaSnapshot {
    MediaSnapshot {
        media_id: id(raw),
        values: vec![
            MetricValue {
                metric: metric("reach"),
                value: reach,
            },
            MetricValue {
                metric: metric("views"),
                value: reach * 2,
            },
        ],
        refreshes: true,
    }
}

async fn account(store: &Store, ig: &str) -> i64 {
    store
        .upsert_connection(&connection(ig, "fb-1"))
        .await
        .unwrap()
        .account_id
}

on_both_databases! {
    async fn the_catalog_and_its_snapshots_are_idempotent_and_keep_history(store: Store) {
        let account_id = account(&store, "1784100101").await;
        let mut carousel = item("18100000000000003", ProductType::Feed, at(6, 0));
        carousel.kind = MediaKind::CarouselAlbum;
        let mut child = item("18100000000000004", ProductType::Feed, at(6, 0));
        child.parent = Some(id("18100000000000003"));
        let write = MediaWrite {
            account_id,
            items: vec![
                item("18100000000000001", ProductType::Feed, at(8, 0)),
                item("18100000000000002", ProductType::Reels, at(7, 0)),
                carousel,
                child,
            ],
            snapshots: vec![snapshot("18100000000000001", 10), snapshot("18100000000000002", 20)],
            ..MediaWrite::default()
        };
        store.save_media(&write, at(9, 15)).await.unwrap();
        // The same run again, and a later one in the same hour: no new rows.
        store.save_media(&write, at(9, 15)).await.unwrap();
        let mut later = write.clone();
        later.snapshots = vec![snapshot("18100000000000001", 12)];
        store.save_media(&later, at(9, 50)).await.unwrap();
        let media = store.stored_media(account_id, &MediaFilter::default()).await.unwrap();
        let ids: Vec<&str> = media.iter().map(|m| m.media_id.as_str()).collect();
        assert_eq!(ids, ["18100000000000001", "18100000000000002", "18100000000000003"], "newest first, no children");
        assert_eq!(media[0].metrics["reach"], 12, "the hour's latest value");
        assert_eq!(media[0].caption.as_deref(), Some("caption of 18100000000000001, with 'quotes' and ümlauts"));
        assert_eq!(media[2].children, ["18100000000000004"]);

        // The next hour: a new snapshot, and the first post deleted on Instagram.
        let next = MediaWrite {
            account_id,
            snapshots: vec![snapshot("18100000000000001", 30)],
            gone: vec![id("18100000000000001"), id("18100000000000003")],
            ..MediaWrite::default()
        };
        store.save_media(&next, at(10, 15)).await.unwrap();
        let (post, snapshots) = store
            .stored_media_detail(account_id, &id("18100000000000001"))
            .await
            .unwrap()
            .expect("kept");
        assert!(post.deleted_at.is_some());
        let reach: Vec<(String, i64)> = snapshots
            .iter()
            .filter(|s| s.metric_name == "reach")
            .map(|s| (s.snapshot_at.to_string(), s.metric_value))
            .collect();
        assert_eq!(
            reach,
            [("2026-12-01T09:00:00Z".to_string(), 12), ("2026-12-01T10:00:00Z".to_string(), 30)],
            "history kept, one per hour"
        );
        let reels = MediaFilter { product: Some(ProductType::Reels), ..MediaFilter::default() };
        let only = store.stored_media(account_id, &reels).await.unwrap();
        assert_eq!(only.len(), 1);
        assert!(only[0].deleted_at.is_none());
        let window = MediaFilter { from: Some(at(7, 30)), until: Some(at(9, 0)), ..MediaFilter::default() };
        assert_eq!(store.stored_media(account_id, &window).await.unwrap().len(), 1);
    }

    async fn stories_statuses_and_refused_metrics_are_recorded(store: Store) {
        let account_id = account(&store, "1784100102").await;
        let story = item("18100000000000011", ProductType::Story, at(8, 0));
        let write = MediaWrite {
            account_id,
            items: vec![story],
            not_enough_viewers: vec![id("18100000000000011")],
            rejected: vec![refused(ProductType::Reels, "reposts", "(#100) not supported")],
            ..MediaWrite::default()
        };
        store.save_media(&write, at(9, 0)).await.unwrap();
        store.save_media(&write, at(9, 0)).await.unwrap();
        let media = store.stored_media(account_id, &MediaFilter::default()).await.unwrap();
        assert_eq!(media[0].insights_status, "not_enough_viewers");
        let rejected = store.rejected_media_metrics(account_id).await.unwrap();
        assert_eq!(rejected.len(), 1);
        assert_eq!((rejected[0].product_type, rejected[0].metric.as_str()), (ProductType::Reels, "reposts"));

        let final_metric = |name: &str, value| FinalMetric { metric: metric(name), value };
        let values = vec![final_metric("reach", FinalValue::from_meta(40)), final_metric("replies", FinalValue::from_meta(-1))];
        let story_id = id("18100000000000011");
        let first = store.save_story_final(&instagram_id("1784100102"), &story_id, &values, at(9, 5)).await.unwrap();
        assert_eq!(first, FinalOutcome::Stored);
        let other = vec![final_metric("reach", FinalValue::Count(99))];
        let again = store.save_story_final(&instagram_id("1784100102"), &story_id, &other, at(9, 6)).await.unwrap();
        assert_eq!(again, FinalOutcome::AlreadyFinal);
        let unknown = store.save_story_final(&instagram_id("1784199999"), &story_id, &values, at(9, 6)).await.unwrap();
        assert_eq!(unknown, FinalOutcome::UnknownAccount);
        let media = store.stored_media(account_id, &MediaFilter::default()).await.unwrap();
        let finals = media[0].final_metrics.clone().expect("final numbers");
        assert_eq!(finals["reach"], FinalValue::Count(40), "the first delivery wins");
        assert_eq!(finals["replies"], FinalValue::FewerThanFive);
    }

    async fn nothing_is_written_for_an_account_deleted_meanwhile(store: Store) {
        let account_id = account(&store, "1784100103").await;
        assert!(store.delete_account(&instagram_id("1784100103")).await.unwrap());
        let write = MediaWrite {
            account_id,
            items: vec![item("18100000000000021", ProductType::Feed, at(8, 0))],
            snapshots: vec![snapshot("18100000000000021", 5)],
            rejected: vec![refused(ProductType::Feed, "follows", "no")],
            ..MediaWrite::default()
        };
        store.save_media(&write, at(9, 0) + Duration::minutes(1)).await.unwrap();
        let conn = store.conn().await.unwrap();
        for table in ["media", "media_insights", "media_rejected_metrics"] {
            let mut rows = conn.query(&format!("SELECT COUNT(*) FROM {table}"), ()).await.unwrap();
            let n: i64 = rows.next().await.unwrap().unwrap().get(0).unwrap();
            assert_eq!(n, 0, "{table}");
        }
    }
}
