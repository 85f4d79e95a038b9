//! An account's history over the long run, on both databases: hourly counts
//! rolled up to the day's last value past the retention window, follower
//! counts reconstructed for days before connecting (never over a measured
//! one), and the trend summary adding up what is stored.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use urlinsta_core::collect::days::{meta_day, pacific_date};
use urlinsta_core::domain::MetricName;
use urlinsta_core::store::{CollectionRecord, DayRange, InsightsFilter, MetricRow, Reconstructed, Store};

use urlinsta_core::trends::{self, SUMMED, WINDOWS};

use crate::storage::connection;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn ts(t: DateTime<Utc>) -> String {
    urlinsta_core::store::sql::ts(t)
}

fn row(metric: &str, value: i64, period: &str, end: DateTime<Utc>) -> MetricRow {
    MetricRow {
        metric_name: MetricName::parse(metric).expect("a metric"),
        metric_value: Some(value),
        period: period.into(),
        end_time: end.into(),
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
        metrics: vec![MetricName::parse("followers_count").expect("a metric")],
        ..InsightsFilter::default()
    };
    let rows = store.stored_insights(id, &filter).await.unwrap();
    rows.into_iter()
        .map(|r| (r.end_time.to_string(), r.metric_value, r.reconstructed))
        .collect()
}

on_both_databases! {
    async fn old_hourly_counts_roll_up_to_the_days_last_value_idempotently(store: Store) {
        let id = store.upsert_connection(&connection("1784100001", "fb-1")).await.unwrap().account_id;
        // The day daylight time ends (25 hours), an ordinary day, and a day inside the window.
        let days = [meta_day(date("2026-11-01")), meta_day(date("2026-11-02")), meta_day(date("2026-11-03"))];
        let mut rows: Vec<MetricRow> = days.iter().flat_map(|d| hourly(*d, 1000)).collect();
        rows.push(row("reach", 7, "day", days[0].until));
        store.finish_collection(&CollectionRecord::insights(id, "fill", rows)).await.unwrap();
        assert_eq!(followers(&store, id).await.len(), 25 + 24 + 24);

        for _ in 0..2 {
            let mut finish = CollectionRecord::insights(id, "rollup", Vec::new());
            finish.rollup = days[..2].to_vec();
            store.finish_collection(&finish).await.unwrap();
            let kept = followers(&store, id).await;
            assert_eq!(kept.len(), 1 + 1 + 24, "one value for each rolled-up day, the third untouched");
            // The day's last hour: the 25-hour day ends at 08:00 UTC, its last hour starts at 07:00.
            assert_eq!(kept[0], (ts(days[0].until - Duration::hours(1)), Some(1024), false));
            assert_eq!(kept[1], (ts(days[1].until - Duration::hours(1)), Some(1023), false));
        }
        let reach = InsightsFilter { metrics: vec![MetricName::parse("reach").expect("a metric")], ..InsightsFilter::default() };
        assert_eq!(store.stored_insights(id, &reach).await.unwrap().len(), 1, "daily metrics are kept");
    }

    async fn reconstructed_counts_never_replace_measured_ones_and_measured_ones_replace_them(store: Store) {
        let id = store.upsert_connection(&connection("1784100002", "fb-2")).await.unwrap().account_id;
        let measured_day = meta_day(date("2026-12-01"));
        let measured = row("followers_count", 500, "lifetime", measured_day.since + Duration::hours(3));
        store.finish_collection(&CollectionRecord::insights(id, "hour", vec![measured])).await.unwrap();

        let guess = |day: DayRange, value| Reconstructed {
            row: row("followers_count", value, "lifetime", day.until - Duration::hours(1)),
            day,
        };
        let earlier = meta_day(date("2026-11-30"));
        let mut finish = CollectionRecord::insights(id, "backfill", Vec::new());
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
        store.finish_collection(&CollectionRecord::insights(id, "hour", vec![now_measured])).await.unwrap();
        assert_eq!(followers(&store, id).await[0], (ts(earlier.until - Duration::hours(1)), Some(481), false));
        // Reconstructing again changes nothing measured.
        store.finish_collection(&finish).await.unwrap();
        assert_eq!(followers(&store, id).await[0].1, Some(481));
    }
}

/// A value for every summed metric and day, some days missing, and the last
/// follower count of each day (one of them reconstructed).
async fn fill_days(store: &Store, id: i64, today: NaiveDate, days: u32, missing: &[NaiveDate]) {
    let mut rows = Vec::new();
    let mut reconstructed = Vec::new();
    for back in 1..=days {
        let d = today - chrono::Days::new(u64::from(back));
        let end = urlinsta_sandbox::day_end(d);
        if !missing.contains(&d) {
            for (i, metric) in SUMMED.iter().enumerate() {
                rows.push(row(metric, value(d, i), "day", end));
            }
        }
        let count = row("followers_count", followers_on(d), "lifetime", end - Duration::hours(1));
        if back == 40 {
            let day = DayRange {
                since: end - Duration::days(1),
                until: end,
            };
            reconstructed.push(Reconstructed { row: count, day });
        } else {
            rows.push(count);
        }
    }
    let mut finish = CollectionRecord::insights(id, "fill", rows);
    finish.reconstructed = reconstructed;
    store.finish_collection(&finish).await.unwrap();
}

fn value(d: NaiveDate, metric: usize) -> i64 {
    i64::from(d.ordinal()) * (metric as i64 + 1) + 3
}

fn followers_on(d: NaiveDate) -> i64 {
    10_000 + i64::from(d.ordinal()) * 7
}

/// The summary's figures, computed here from the same days by another route.
fn expected(today: NaiveDate, days: u32, missing: &[NaiveDate], current: bool) -> ([Option<i64>; 4], u32) {
    let range = if current { 1..=days } else { days + 1..=2 * days };
    let dates: Vec<NaiveDate> = range.map(|b| today - chrono::Days::new(u64::from(b))).collect();
    let present: Vec<&NaiveDate> = dates.iter().filter(|d| !missing.contains(d)).collect();
    let totals = [0, 1, 2, 3].map(|i| (!present.is_empty()).then(|| present.iter().map(|d| value(**d, i)).sum()));
    (totals, (dates.len() - present.len()) as u32)
}

on_both_databases! {
    async fn the_summary_adds_up_whole_pacific_days_across_dst_and_long_months(store: Store) {
        let id = store.upsert_connection(&connection("1784100003", "fb-3")).await.unwrap().account_id;
        // 13:00 UTC on 2026-12-01 is 05:00 in Los Angeles: today is December 1,
        // the 7 days before end in a 31-day month and the 90 reach back across
        // the end of daylight time (November 1).
        let now = DateTime::parse_from_rfc3339("2026-12-01T13:00:00Z").unwrap().with_timezone(&Utc);
        let today = date("2026-12-01");
        let missing = [date("2026-11-28"), date("2026-10-02")];
        fill_days(&store, id, today, 200, &missing).await;
        // Today's unfinished values are in no total.
        let today_row = row("reach", 1_000_000, "day", urlinsta_sandbox::day_end(today));
        store.finish_collection(&CollectionRecord::insights(id, "today", vec![today_row])).await.unwrap();

        for days in WINDOWS {
            let s = trends::summary(&store, id, days, now).await.unwrap();
            assert_eq!(s.today, today);
            assert_eq!(s.current.last_day, date("2026-11-30"), "{days}");
            assert_eq!(s.current.first_day, today - chrono::Days::new(u64::from(days)));
            assert_eq!(s.previous.last_day, today - chrono::Days::new(u64::from(days) + 1));
            for current in [true, false] {
                let (totals, missing_days) = expected(today, days, &missing, current);
                let period = if current { &s.current } else { &s.previous };
                assert_eq!(period.missing_days, missing_days, "{days} days, current {current}");
                for (metric, total) in SUMMED.iter().zip(totals) {
                    let t = &s.metrics[*metric];
                    assert_eq!(if current { t.current } else { t.previous }, total, "{metric}, {days} days, current {current}");
                }
            }
            let reach = &s.metrics["reach"];
            assert_eq!(reach.change, reach.current.zip(reach.previous).map(|(a, b)| a - b));
            let (i, r) = (s.metrics["total_interactions"].current.unwrap(), reach.current.unwrap());
            assert!((s.engagement_rate.current.unwrap() - i as f64 * 100.0 / r as f64).abs() < 1e-9);
            // Followers: the last count of the day before each boundary.
            let at = |back: u32| followers_on(today - chrono::Days::new(u64::from(back)));
            let g = &s.follower_growth;
            assert_eq!(g.followers_at_end, Some(at(1)));
            assert_eq!(g.followers_at_start, Some(at(days + 1)));
            assert_eq!(g.current, Some(at(1) - at(days + 1)), "{days}");
            assert_eq!(g.previous, Some(at(days + 1) - at(2 * days + 1)), "{days}");
            // The count of 40 days back is reconstructed: a window says so when it uses it.
            let uses_40 = [days + 1, 2 * days + 1].contains(&40);
            assert_eq!(s.previous.reconstructed, uses_40, "{days}");
        }
    }
}

on_both_databases! {
    async fn the_summary_route_answers_like_the_other_reads(t: TestApp) {
        let r = t.connect().await;
        assert_eq!(crate::harness::location(&r), "/?connected=true");
        let ig = crate::harness::DEFAULT_IG;
        let get = |path: String, admin: bool| {
            let mut req = reqwest::Client::new().get(t.api(&path));
            if admin {
                req = req.bearer_auth(crate::harness::ADMIN_KEY);
            }
            req.send()
        };
        let ok = get(format!("/api/insights/{ig}/summary?days=7"), true).await.unwrap();
        assert_eq!(ok.status(), 200);
        let body: serde_json::Value = ok.json().await.unwrap();
        assert_eq!(body["instagram_user_id"], ig);
        assert_eq!(body["days"], 7);
        assert!(body["metrics"]["reach"].is_object(), "{body}");
        // The session that connected the account may read it too.
        let own = t.browser.get(t.api(&format!("/api/insights/{ig}/summary"))).send().await.unwrap();
        assert_eq!(own.status(), 200);
        assert_eq!(own.json::<serde_json::Value>().await.unwrap()["days"], 28);
        for bad in ["5", "07", "x", ""] {
            let r = get(format!("/api/insights/{ig}/summary?days={bad}"), true).await.unwrap();
            assert_eq!(r.status(), 400, "days={bad}");
        }
        assert_eq!(get(format!("/api/insights/{ig}/summary"), false).await.unwrap().status(), 401);
        assert_eq!(get("/api/insights/1234/summary".into(), true).await.unwrap().status(), 404);
    }
}

/// Every three hours of `day`, each count of the Instagram user node, `base + hour`.
fn counts_every_three_hours(day: DayRange, base: i64) -> Vec<MetricRow> {
    let hours = (day.until - day.since).num_hours();
    let mut rows = Vec::new();
    for h in (0..hours).step_by(3) {
        for (i, metric) in ["followers_count", "follows_count", "media_count"].iter().enumerate() {
            rows.push(row(
                metric,
                base * (i as i64 + 1) + h,
                "lifetime",
                day.since + Duration::hours(h),
            ));
        }
    }
    rows
}

/// The last of `counts_every_three_hours`: its hour and value.
fn last_of_day(day: DayRange, base: i64) -> (DateTime<Utc>, i64) {
    let last = ((day.until - day.since).num_hours() - 1) / 3 * 3;
    (day.since + Duration::hours(last), base + last)
}

on_both_databases! {
    async fn a_year_of_counts_rolls_up_in_the_collection_and_its_csv_has_every_day(t: TestApp) {
        t.connect().await;
        let ig = crate::harness::DEFAULT_IG;
        let id = t.app.store.account(&crate::harness::instagram_id(ig)).await.unwrap().unwrap().id;
        let now = Utc::now();
        let today = pacific_date(now);
        // Connected a year ago, collected every three hours since (a test writes
        // what a year of runs would have), never rolled up yet.
        let year: Vec<NaiveDate> = (1..=365).rev().map(|b| today - chrono::Days::new(b)).collect();
        let base = |d: NaiveDate| 10_000 + i64::from(d.ordinal()) * 10;
        let mut rows = Vec::new();
        for d in &year {
            rows.extend(counts_every_three_hours(meta_day(*d), base(*d)));
            rows.push(row("reach", base(*d), "day", meta_day(*d).until));
        }
        // Not complete: the hourly collection is still due this hour.
        let mut fill = CollectionRecord::insights(id, "a year", rows);
        fill.complete = false;
        t.app.store.finish_collection(&fill).await.unwrap();
        let connected = ts(meta_day(year[0]).since);
        crate::harness::sql(&t, &format!("UPDATE users SET created_at = '{connected}'")).await;

        // One hourly run: its write rolls every day older than 14 days up to the day's last count.
        let r = t.browser.get(t.api("/api/cron/collect-insights")).bearer_auth(crate::harness::CRON_SECRET).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let cutoff = now - Duration::days(14);
        let stored = followers(&t.app.store, id).await;
        for d in &year {
            let day = meta_day(*d);
            let kept: Vec<&(String, Option<i64>, bool)> = stored
                .iter()
                .filter(|(end, _, _)| {
                    let t = urlinsta_core::store::sql::parse_ts(end).unwrap();
                    day.since <= t && t < day.until
                })
                .collect();
            if day.until <= cutoff {
                let (hour, value) = last_of_day(day, base(*d));
                assert_eq!(kept, vec![&(ts(hour), Some(value), false)], "{d}: the day's last count");
            } else {
                assert_eq!(kept.len() as i64, ((day.until - day.since).num_hours() + 2) / 3, "{d}: every count kept");
            }
        }

        // The year as CSV: it parses, and every metric has every day.
        let r = t.browser.get(t.api(&format!("/api/insights/{ig}?format=csv"))).bearer_auth(crate::harness::ADMIN_KEY).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let csv = r.text().await.unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let column = |name: &str| header.iter().position(|h| *h == name).expect(name);
        let (name, value, end) = (column("metric_name"), column("metric_value"), column("end_time"));
        let mut days: std::collections::BTreeMap<String, std::collections::BTreeSet<NaiveDate>> = Default::default();
        for line in lines {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(fields.len(), header.len(), "{line}");
            assert!(fields[value].is_empty() || fields[value].parse::<i64>().is_ok(), "{line}");
            let at = DateTime::parse_from_rfc3339(fields[end]).unwrap().with_timezone(&Utc);
            // A daily value is named by its day's end; a count by its hour.
            let day = if fields[name] == "reach" { pacific_date(at - Duration::seconds(1)) } else { pacific_date(at) };
            days.entry(fields[name].to_string()).or_default().insert(day);
        }
        for metric in ["followers_count", "follows_count", "media_count", "reach"] {
            let got = &days[metric];
            let wanted: std::collections::BTreeSet<NaiveDate> = year.iter().copied().collect();
            assert!(wanted.is_subset(got), "{metric}: days missing: {:?}", wanted.difference(got).collect::<Vec<_>>());
        }
    }
}
