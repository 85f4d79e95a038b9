//! The metric rules of November 2026 (platform-facts): how each request is
//! shaped and how answers become rows. (Which errors refuse a metric, or
//! mean too few followers, the Graph classifier decides.)

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::days::MetaDay;
use crate::domain::{InstagramUserId, MetricName, Timestamp};
use crate::graph::{Auth, Call};
use crate::store::{DemographicValue, MetricRow};

/// Fields of the Instagram user node kept as an hourly snapshot.
pub const SNAPSHOT_FIELDS: [&str; 3] = ["followers_count", "follows_count", "media_count"];
/// Demographics, collected daily; the second only where the account qualifies.
pub const DEMOGRAPHIC_METRICS: [&str; 2] = ["follower_demographics", "engaged_audience_demographics"];
pub const BREAKDOWNS: [&str; 4] = ["age", "city", "country", "gender"];
/// One of the two timeframes Meta serves reliably.
pub const TIMEFRAME: &str = "this_month";
/// Below this Meta reports no follower demographics.
pub const MIN_FOLLOWERS_FOR_DEMOGRAPHICS: i64 = 100;

/// One day of account metrics. Every current account metric accepts
/// `metric_type=total_value` (most accept nothing else), so one request
/// asks for them all, and the day's total is the day's value.
pub fn day_call(ig_id: &InstagramUserId, metrics: &[MetricName], day: &MetaDay) -> Call<'static> {
    let names: Vec<&str> = metrics.iter().map(MetricName::as_str).collect();
    Call::get(format!("{ig_id}/insights"), Auth::None)
        .param("metric", names.join(","))
        .param("period", "day")
        .param("metric_type", "total_value")
        .param("since", day.since.timestamp().to_string())
        .param("until", day.until.timestamp().to_string())
}

pub fn snapshot_call(ig_id: &InstagramUserId) -> Call<'static> {
    Call::get(ig_id.to_string(), Auth::None).param("fields", SNAPSHOT_FIELDS.join(","))
}

pub fn demographics_call(ig_id: &InstagramUserId, metric: &str, breakdown: &str) -> Call<'static> {
    Call::get(format!("{ig_id}/insights"), Auth::None)
        .param("metric", metric)
        .param("period", "lifetime")
        .param("metric_type", "total_value")
        .param("timeframe", TIMEFRAME)
        .param("breakdown", breakdown)
}

/// The rows of a day's answer. A total carries no `end_time`: it is the
/// day's closing midnight. A time series (should Meta send one) names its
/// own. An entry whose name is no metric name is no row.
pub fn day_rows(body: &Value, day: &MetaDay) -> Vec<MetricRow> {
    let mut rows = Vec::new();
    for entry in data(body) {
        let Some(name) = entry.get("name").and_then(Value::as_str).and_then(MetricName::parse) else {
            continue;
        };
        let period = entry.get("period").and_then(Value::as_str).unwrap_or("day").to_string();
        if let Some(total) = entry.get("total_value") {
            rows.push(MetricRow {
                metric_name: name,
                metric_value: total.get("value").and_then(Value::as_i64),
                period,
                end_time: Timestamp::from(day.until),
            });
        } else if let Some(values) = entry.get("values").and_then(Value::as_array) {
            for v in values {
                if let Some(end) = v.get("end_time").and_then(Value::as_str).and_then(parse_meta_time) {
                    rows.push(MetricRow {
                        metric_name: name.clone(),
                        metric_value: v.get("value").and_then(Value::as_i64),
                        period: period.clone(),
                        end_time: Timestamp::from(end),
                    });
                }
            }
        }
    }
    rows
}

/// The hourly snapshot rows (period `lifetime`, `end_time` the hour) and the follower count.
pub fn snapshot_rows(body: &Value, hour: DateTime<Utc>) -> (Vec<MetricRow>, Option<i64>) {
    let rows: Vec<MetricRow> = SNAPSHOT_FIELDS
        .iter()
        .filter_map(|field| {
            body.get(*field).and_then(Value::as_i64).map(|v| MetricRow {
                metric_name: MetricName::known(field),
                metric_value: Some(v),
                period: "lifetime".into(),
                end_time: Timestamp::from(hour),
            })
        })
        .collect();
    (rows, body.get("followers_count").and_then(Value::as_i64))
}

/// The values of a demographics answer, each with its breakdown and key.
pub fn breakdown_values(body: &Value) -> Vec<DemographicValue> {
    let mut out = Vec::new();
    for entry in data(body) {
        let breakdowns = entry.pointer("/total_value/breakdowns").and_then(Value::as_array);
        for b in breakdowns.into_iter().flatten() {
            let keys: Vec<&str> = b
                .get("dimension_keys")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            for r in b.get("results").and_then(Value::as_array).into_iter().flatten() {
                let values: Vec<&str> = r
                    .get("dimension_values")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                if let Some(value) = r.get("value").and_then(Value::as_i64) {
                    out.push(DemographicValue {
                        breakdown: keys.join(","),
                        key: values.join(","),
                        value,
                    });
                }
            }
        }
    }
    out
}

pub(super) fn data(body: &Value) -> impl Iterator<Item = &Value> {
    body.get("data").and_then(Value::as_array).into_iter().flatten()
}

/// `2026-11-05T08:00:00+0000`, Meta's time format.
pub(super) fn parse_meta_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_names_the_code_spells_are_metric_names() {
        let spelled = SNAPSHOT_FIELDS
            .iter()
            .chain(&DEMOGRAPHIC_METRICS)
            .chain(&crate::trends::SUMMED);
        for name in spelled {
            assert_eq!(MetricName::parse(name).as_ref().map(MetricName::as_str), Some(*name));
        }
    }

    #[test]
    fn answers_become_rows() {
        let day = MetaDay {
            since: DateTime::parse_from_rfc3339("2026-11-27T08:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
            until: DateTime::parse_from_rfc3339("2026-11-28T08:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        let body = json!({"data": [
            {"name": "views", "period": "day", "total_value": {"value": 224}},
            {"name": "reach", "period": "day", "values": [{"value": 36, "end_time": "2026-11-05T08:00:00+0000"}]}
        ]});
        let rows = day_rows(&body, &day);
        assert_eq!(rows[0].end_time.to_string(), "2026-11-28T08:00:00Z");
        assert_eq!(rows[0].metric_value, Some(224));
        assert_eq!(rows[1].end_time.to_string(), "2026-11-05T08:00:00Z");
        let body = json!({"data": [{"name": "follower_demographics", "total_value": {"breakdowns": [
            {"dimension_keys": ["country"], "results": [{"dimension_values": ["US"], "value": 7}]}]}}]});
        assert_eq!(
            breakdown_values(&body),
            vec![DemographicValue {
                breakdown: "country".into(),
                key: "US".into(),
                value: 7,
            }]
        );
    }
}
