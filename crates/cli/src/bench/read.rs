//! The read path: `GET /api/insights/:userId` over the local server with the
//! admin key, for an account holding a year of history (written through the
//! store, the way collection writes it: the daily metrics once a day, the
//! follower/follow/media counts every hour, rolled up to one a day past
//! `HOURLY_RETENTION_DAYS`).

use std::time::{Duration, Instant};

use chrono::{DurationRound, Utc};
use serde::Serialize;
use urlinsta_core::App;
use urlinsta_core::collect::days::rollup_days;
use urlinsta_core::collect::metrics::SNAPSHOT_FIELDS;
use urlinsta_core::domain::{MetricName, Timestamp};
use urlinsta_core::store::{CollectionRecord, MetricRow};

/// The figures of one query.
#[derive(Debug, Clone, Serialize)]
pub struct ReadFigures {
    pub db: String,
    pub query: String,
    pub what: String,
    pub kind: ReadKind,
    pub samples: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub bytes: usize,
    pub rows: Option<u64>,
    pub load: String,
}

/// Stores `days` of history for an account; returns the number of rows.
pub async fn fill(app: &App, account_id: i64, days: i64) -> anyhow::Result<usize> {
    let now = Utc::now().duration_trunc(chrono::Duration::hours(1))?;
    let start = now - chrono::Duration::days(days);
    let mut rows = Vec::new();
    for day in 0..days {
        let day_start = start + chrono::Duration::days(day);
        for metric in &app.config.insight_metrics {
            rows.push(row(metric.clone(), day, "day", day_start + chrono::Duration::days(1)));
        }
        for hour in 0..24 {
            for field in SNAPSHOT_FIELDS {
                rows.push(row(
                    MetricName::known(field),
                    hour,
                    "lifetime",
                    day_start + chrono::Duration::hours(hour),
                ));
            }
        }
    }
    let total = rows.len();
    for chunk in rows.chunks(2_000) {
        let finish = CollectionRecord::insights(account_id, "bench-history", chunk.to_vec());
        app.store.finish_collection(&finish).await?;
    }
    // What the hourly runs of that year would have left: old counts rolled up.
    let mut rollup = CollectionRecord::insights(account_id, "bench-history", Vec::new());
    rollup.rollup = rollup_days(start, Utc::now(), app.config.hourly_retention_days);
    app.store.finish_collection(&rollup).await?;
    Ok(total)
}

fn row(metric: MetricName, value: i64, period: &str, end: chrono::DateTime<Utc>) -> MetricRow {
    MetricRow {
        metric_name: metric,
        metric_value: Some(value),
        period: period.to_string(),
        end_time: Timestamp::from(end),
    }
}

/// The queries measured: the whole history as JSON and CSV, one page of the
/// paged read (`limit`; the next pages cost the same), every read the page
/// makes (one request per chart and range, twice the range when comparing
/// with the previous period, the CSV download, the trend summary).
pub const PAGE_QUERY: &str = "?limit=5000";

/// What a query is: the whole year in one answer, or a read the page makes
/// (their targets differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadKind {
    WholeYear,
    Paged,
    Page,
    Summary,
}

pub fn queries() -> Vec<(String, String, ReadKind)> {
    let day = |back: i64| {
        (Utc::now() - chrono::Duration::days(back))
            .format("%Y-%m-%d")
            .to_string()
    };
    let to = day(0);
    let mut list = vec![
        ("".into(), "everything, JSON".into(), ReadKind::WholeYear),
        ("?format=csv".into(), "everything, CSV".into(), ReadKind::WholeYear),
        (
            PAGE_QUERY.into(),
            "the year in pages: the first 5,000 rows, JSON".into(),
            ReadKind::Paged,
        ),
    ];
    // The page's ranges, and twice each when the previous period is drawn too.
    for (days, how) in [(30, ""), (90, ""), (60, ", compared"), (180, ", compared")] {
        let from = day(days - 1);
        for metric in ["reach", "views", "accounts_engaged", "followers_count"] {
            list.push((
                format!("?from={from}&to={to}&metric={metric}&format=json"),
                format!("page chart: {metric}, {days} days{how}"),
                ReadKind::Page,
            ));
        }
    }
    for days in [30, 90] {
        list.push((
            format!("?from={}&to={to}&format=csv", day(days - 1)),
            format!("page CSV download, {days} days"),
            ReadKind::Page,
        ));
    }
    for days in [7, 28, 90] {
        list.push((
            format!("/summary?days={days}"),
            format!("page trend tiles: summary of {days} days"),
            ReadKind::Summary,
        ));
    }
    list
}

/// Where the read requests go.
pub struct Target<'a> {
    pub client: &'a reqwest::Client,
    pub base: String,
    pub admin_key: &'a str,
    pub ig_id: &'a str,
}

/// Times `samples` sequential requests of `query` (after a few to warm up).
pub async fn measure(
    target: &Target<'_>,
    (query, what, kind): &(String, String, ReadKind),
    samples: usize,
) -> anyhow::Result<Option<ReadFigures>> {
    let url = format!("{}/api/insights/{}{query}", target.base, target.ig_id);
    let mut times = Vec::with_capacity(samples);
    let mut bytes = 0;
    let mut rows = None;
    for i in 0..samples + 3 {
        let started = Instant::now();
        let response = target.client.get(&url).bearer_auth(target.admin_key).send().await?;
        let status = response.status();
        let body = response.bytes().await?;
        let elapsed = started.elapsed();
        if status == 404 && query.starts_with('/') {
            // A route this build does not have (the summary, before it existed).
            return Ok(None);
        }
        anyhow::ensure!(status == 200, "GET {url}: {status}");
        if i >= 3 {
            times.push(elapsed);
        }
        bytes = body.len();
        if rows.is_none() {
            rows = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["count"].as_u64())
                .or_else(|| Some(body.iter().filter(|b| **b == b'\n').count().saturating_sub(1) as u64));
        }
    }
    times.sort();
    Ok(Some(ReadFigures {
        db: String::new(),
        query: query.clone(),
        what: what.clone(),
        kind: *kind,
        samples,
        p50_ms: ms(percentile(&times, 50.0)),
        p99_ms: ms(percentile(&times, 99.0)),
        max_ms: ms(times.last().copied().unwrap_or_default()),
        bytes,
        rows,
        load: super::probe::load_average(),
    }))
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
