//! An account's history over the long run, on both databases: hourly counts
//! rolled up to the day's last value past the retention window, follower
//! counts reconstructed for days before connecting (never over a measured
//! one), and the trend summary adding up what is stored.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use urlinsta_core::collect::days::meta_day;
use urlinsta_core::store::{DayRange, Finish, InsightsFilter, MetricRow, Reconstructed, Store};

use crate::storage::connection;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn ts(t: DateTime<Utc>) -> String {
    urlinsta_core::store::sql::ts(t)
}

fn row(metric: &str, value: i64, period: &str, end: DateTime<Utc>) -> MetricRow {
    MetricRow {
        metric_name: metric.into(),
        metric_value: Some(value),
        period: period.into(),
        end_time: ts(end),
    }
}

/// Every hour of `day`, the follower count `base + hour`.
fn hourly(day: DayRange, base: i64) -> Vec<MetricRow> {
    let hours = (day.until - day.since).num_hours();
    (0..hours)
        .map(|h| row("followers_count", base + h, "lifetime", day.since + Duration::hours(h)))
        .collect()
}

async fn followers(store: &Store, id: i64) -> Vec<(String, Option<i64>, bool)> {
    let filter = InsightsFilter {
        metrics: vec!["followers_count".into()],
        ..InsightsFilter::default()
    };
    let rows = store.stored_insights(id, &filter).await.unwrap();
    rows.into_iter()
        .map(|r| (r.end_time, r.metric_value, r.reconstructed))
        .collect()
}

on_both_databases! {
    async fn old_hourly_counts_roll_up_to_the_days_last_value_idempotently(store: Store) {
        let id = store.upsert_connection(&connection("1784100001", "fb-1")).await.unwrap().account_id;
        // The day daylight time ends (25 hours), an ordinary day, and a day inside the window.
        let days = [meta_day(date("2026-11-01")), meta_day(date("2026-11-02")), meta_day(date("2026-11-03"))];
        let mut rows: Vec<MetricRow> = days.iter().flat_map(|d| hourly(*d, 1000)).collect();
        rows.push(row("reach", 7, "day", days[0].until));
        store.finish_collection(&Finish::insights(id, "fill", rows)).await.unwrap();
        assert_eq!(followers(&store, id).await.len(), 25 + 24 + 24);

        for _ in 0..2 {
            let mut finish = Finish::insights(id, "rollup", Vec::new());
            finish.rollup = days[..2].to_vec();
            store.finish_collection(&finish).await.unwrap();
            let kept = followers(&store, id).await;
            assert_eq!(kept.len(), 1 + 1 + 24, "one value for each rolled-up day, the third untouched");
            // The day's last hour: the 25-hour day ends at 08:00 UTC, its last hour starts at 07:00.
            assert_eq!(kept[0], (ts(days[0].until - Duration::hours(1)), Some(1024), false));
            assert_eq!(kept[1], (ts(days[1].until - Duration::hours(1)), Some(1023), false));
        }
        let reach = InsightsFilter { metrics: vec!["reach".into()], ..InsightsFilter::default() };
        assert_eq!(store.stored_insights(id, &reach).await.unwrap().len(), 1, "daily metrics are kept");
    }

    async fn reconstructed_counts_never_replace_measured_ones_and_measured_ones_replace_them(store: Store) {
        let id = store.upsert_connection(&connection("1784100002", "fb-2")).await.unwrap().account_id;
        let measured_day = meta_day(date("2026-12-01"));
        let measured = row("followers_count", 500, "lifetime", measured_day.since + Duration::hours(3));
        store.finish_collection(&Finish::insights(id, "hour", vec![measured])).await.unwrap();

        let guess = |day: DayRange, value| Reconstructed {
            row: row("followers_count", value, "lifetime", day.until - Duration::hours(1)),
            day,
        };
        let earlier = meta_day(date("2026-11-30"));
        let mut finish = Finish::insights(id, "backfill", Vec::new());
        finish.reconstructed = vec![guess(earlier, 480), guess(measured_day, 999)];
        store.finish_collection(&finish).await.unwrap();
        let stored = followers(&store, id).await;
        assert_eq!(
            stored,
            vec![
                (ts(earlier.until - Duration::hours(1)), Some(480), true),
                (ts(measured_day.since + Duration::hours(3)), Some(500), false),
            ],
            "a day with a measured count gets no reconstruction"
        );
        let json = store.stored_insights_json(id, &InsightsFilter::default()).await.unwrap().json;
        assert_eq!(json.matches("\"reconstructed\":true").count(), 1, "{json}");

        // The same hour measured later: the measured value wins, and is no longer marked.
        let now_measured = row("followers_count", 481, "lifetime", earlier.until - Duration::hours(1));
        store.finish_collection(&Finish::insights(id, "hour", vec![now_measured])).await.unwrap();
        assert_eq!(followers(&store, id).await[0], (ts(earlier.until - Duration::hours(1)), Some(481), false));
        // Reconstructing again changes nothing measured.
        store.finish_collection(&finish).await.unwrap();
        assert_eq!(followers(&store, id).await[0].1, Some(481));
    }
}
