//! The read path: `GET /api/insights/:userId` over the local server with the
//! admin key, for an account holding a year of hourly data (written through
//! the store, the way collection writes it: the daily metrics once a day,
//! the follower/follow/media counts every hour).

use std::time::{Duration, Instant};

use chrono::{DurationRound, Utc};
use serde::Serialize;
use urlinsta_core::App;
use urlinsta_core::collect::metrics::SNAPSHOT_FIELDS;
use urlinsta_core::store::{CollectionRecord, MetricRow};

/// The figures of one query.
#[derive(Debug, Clone, Serialize)]
pub struct ReadFigures {
    pub db: String,
    pub query: String,
    pub what: String,
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
            rows.push(row(metric, day, "day", day_start + chrono::Duration::days(1)));
        }
        for hour in 0..24 {
            for field in SNAPSHOT_FIELDS {
                rows.push(row(field, hour, "lifetime", day_start + chrono::Duration::hours(hour)));
            }
        }
    }
    let total = rows.len();
    for chunk in rows.chunks(2_000) {
        let finish = CollectionRecord::insights(account_id, "bench-history", chunk.to_vec());
        app.store.finish_collection(&finish).await?;
    }
    Ok(total)
}

fn row(metric: &str, value: i64, period: &str, end: chrono::DateTime<Utc>) -> MetricRow {
    MetricRow {
        metric_name: metric.to_string(),
        metric_value: Some(value),
        period: period.to_string(),
        end_time: urlinsta_core::store::sql::ts(end),
    }
}

/// The queries measured: the whole history as JSON and CSV, and what the
/// page asks for (one request per chart and range, and the CSV download).
/// One page of the paged read (`limit`; the next pages cost the same).
pub const PAGE_QUERY: &str = "?limit=5000";

pub fn queries() -> Vec<(String, String)> {
    let day = |back: i64| {
        (Utc::now() - chrono::Duration::days(back))
            .format("%Y-%m-%d")
            .to_string()
    };
    let (d30, d90) = (day(29), day(89));
    let to = day(0);
    vec![
        ("".into(), "everything, JSON".into()),
        ("?format=csv".into(), "everything, CSV".into()),
        (
            PAGE_QUERY.into(),
            "the year in pages: the first 5,000 rows, JSON".into(),
        ),
        (
            format!("?from={d30}&to={to}&metric=followers_count&format=json"),
            "dashboard chart: followers, 30 days (hourly)".into(),
        ),
        (
            format!("?from={d90}&to={to}&metric=followers_count&format=json"),
            "dashboard chart: followers, 90 days (hourly)".into(),
        ),
        (
            format!("?from={d90}&to={to}&metric=reach&format=json"),
            "dashboard chart: reach, 90 days".into(),
        ),
        (
            format!("?from={d90}&to={to}&format=csv"),
            "dashboard CSV download, 90 days".into(),
        ),
    ]
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
    (query, what): &(String, String),
    samples: usize,
) -> anyhow::Result<ReadFigures> {
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
    Ok(ReadFigures {
        db: String::new(),
        query: query.clone(),
        what: what.clone(),
        samples,
        p50_ms: ms(percentile(&times, 50.0)),
        p99_ms: ms(percentile(&times, 99.0)),
        max_ms: ms(times.last().copied().unwrap_or_default()),
        bytes,
        rows,
        load: super::probe::load_average(),
    })
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
