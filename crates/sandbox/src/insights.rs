//! `GET /{ig-id}/insights`: account metrics and audience demographics with
//! Meta's November 2026 rules (see platform-facts).
//!
//! Values are deterministic: a hash of (account, metric, day) scaled by the
//! follower count, so fetching twice gives the same numbers unless a test
//! overrides one.
//!
//! Demographics are in `demographics.rs`. Over 400 lines because Meta's
//! table of its 19 account metrics is 140 of them and the tests 70.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::auth;
use crate::demographics::demographics;
use crate::errors::{GraphError, MIN_FOLLOWERS_FOR_DEMOGRAPHICS};
use crate::graph::authorize_ig;
use crate::request::{ApiRequest, Reply};
use crate::world::{IgAccount, World};

/// Meta's insights day ends at Pacific midnight: 08:00 UTC in standard
/// time, 07:00 UTC in daylight time. The latest offset, to start searches from.
const PST_HOURS: i64 = 8;
const MAX_RANGE_SECS: i64 = 30 * 24 * 3600;
const RETENTION_DAYS: i64 = 90;
/// How far back Meta takes a `since` at all (reported by its users, not documented).
const HISTORY_LIMIT_DAYS: i64 = 730;
/// `follower_count` (new followers a day) covers the last 30 days, not today.
const FOLLOWER_CHANGE_DAYS: i64 = 30;
const PERIODS: [&str; 6] = ["day", "week", "days_28", "month", "lifetime", "total_over_range"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// `time_series` or `total_value`, period `day`.
    Daily,
    /// `total_value` only, period `day`.
    TotalOnly,
    /// Hour-by-hour followers online, period `lifetime`, time series.
    OnlineFollowers,
    /// Breakdowns, period `lifetime`, `total_value`, with a timeframe.
    Demographic,
}

pub(crate) struct Metric {
    pub(crate) name: &'static str,
    kind: Kind,
    title: &'static str,
    description: &'static str,
    /// Daily value range, per mille of followers.
    range: (i64, i64),
}

/// Meta's account metrics, in the order its error message lists them.
const METRICS: [Metric; 19] = [
    m(
        "reach",
        Kind::Daily,
        "Reach",
        "The number of unique accounts that have seen your content, at least once, including in ads.",
        (20, 250),
    ),
    m(
        "follower_count",
        Kind::Daily,
        "Follower count",
        "The number of accounts that followed you each day.",
        (0, 4),
    ),
    m(
        "website_clicks",
        Kind::Daily,
        "Website clicks",
        "The number of taps on the website link in your profile.",
        (0, 2),
    ),
    m(
        "profile_views",
        Kind::Daily,
        "Profile views",
        "The number of times your profile was visited.",
        (2, 20),
    ),
    m(
        "online_followers",
        Kind::OnlineFollowers,
        "Online followers",
        "The number of your followers who were online during each hour.",
        (0, 0),
    ),
    m(
        "accounts_engaged",
        Kind::TotalOnly,
        "Accounts engaged",
        "The number of accounts that have interacted with your content, including in ads.",
        (5, 30),
    ),
    m(
        "total_interactions",
        Kind::TotalOnly,
        "Content interactions",
        "The number of likes, saves, comments, shares, reposts and replies on your posts, reels, videos and stories.",
        (0, 0),
    ),
    m(
        "likes",
        Kind::TotalOnly,
        "Likes",
        "The number of likes on your posts, reels and videos.",
        (8, 40),
    ),
    m(
        "comments",
        Kind::TotalOnly,
        "Comments",
        "The number of comments on your posts, reels, videos and live videos.",
        (1, 4),
    ),
    m(
        "shares",
        Kind::TotalOnly,
        "Shares",
        "The number of shares of your posts, stories, reels, videos and live videos.",
        (0, 3),
    ),
    m(
        "saves",
        Kind::TotalOnly,
        "Saves",
        "The number of saves of your posts, reels and videos.",
        (0, 4),
    ),
    m(
        "replies",
        Kind::TotalOnly,
        "Replies",
        "The number of replies you received from your story, including text replies and quick reaction replies.",
        (0, 2),
    ),
    m(
        "engaged_audience_demographics",
        Kind::Demographic,
        "Engaged audience demographics",
        "The demographic characteristics of the engaged audience, including countries, cities and gender distribution.",
        (0, 0),
    ),
    m(
        "reached_audience_demographics",
        Kind::Demographic,
        "Reached audience demographics",
        "The demographic characteristics of the reached audience, including countries, cities and gender distribution.",
        (0, 0),
    ),
    m(
        "follower_demographics",
        Kind::Demographic,
        "Follower demographics",
        "The demographic characteristics of followers, including countries, cities and gender distribution.",
        (0, 0),
    ),
    m(
        "follows_and_unfollows",
        Kind::TotalOnly,
        "Follows and unfollows",
        "The number of accounts that followed you and the number of accounts that unfollowed you or left Instagram in the selected time period.",
        (0, 3),
    ),
    m(
        "profile_links_taps",
        Kind::TotalOnly,
        "Profile links taps",
        "The number of taps on your business address, call button, email button and text button.",
        (0, 2),
    ),
    m(
        "views",
        Kind::TotalOnly,
        "Views",
        "The number of times your content was played or displayed.",
        (50, 600),
    ),
    m(
        "reposts",
        Kind::TotalOnly,
        "Reposts",
        "The number of times your content was reposted.",
        (0, 1),
    ),
];

const fn m(
    name: &'static str,
    kind: Kind,
    title: &'static str,
    description: &'static str,
    range: (i64, i64),
) -> Metric {
    Metric {
        name,
        kind,
        title,
        description,
        range,
    }
}

/// The parts of `total_interactions`, which Meta reports as their sum.
const INTERACTIONS: [&str; 6] = ["likes", "comments", "shares", "saves", "replies", "reposts"];

pub(crate) fn is_demographic(name: &str) -> bool {
    metric(name).is_some_and(|m| m.kind == Kind::Demographic)
}

fn metric(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

pub(crate) fn insights(world: &mut World, req: &ApiRequest, id: &str) -> Result<Reply, GraphError> {
    if req.method != "GET" {
        return Err(GraphError::unsupported(&req.method, id));
    }
    let caller = auth::authenticate(world, req)?;
    let ig = authorize_ig(world, &caller, id, id)?;
    if !caller
        .user_id()
        .is_some_and(|u| world.has_scope(u, "instagram_manage_insights"))
    {
        return Err(GraphError::no_permission());
    }
    answer(world, req, ig)
}

/// The insights of `ig` once the caller may read them; Instagram Login's
/// host (`instagram::graph`) answers through this too.
pub(crate) fn answer(world: &World, req: &ApiRequest, ig: &IgAccount) -> Result<Reply, GraphError> {
    let query = Query::parse(world, req)?;
    let data = if query.metrics.iter().all(|m| m.kind == Kind::Demographic) {
        demographics(ig, &query)?
    } else {
        account_metrics(world, ig, &query)?
    };
    Ok(Reply::ok(json!({ "data": data })))
}

/// A validated insights request.
pub(crate) struct Query {
    pub(crate) metrics: Vec<&'static Metric>,
    pub(crate) period: String,
    total_value: bool,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    pub(crate) timeframe: Option<String>,
    pub(crate) breakdown: Option<String>,
}

impl Query {
    /// Meta's checks, in its order: metric names (one bad name fails the
    /// whole request), period, metric_type, then the time range.
    fn parse(world: &World, req: &ApiRequest) -> Result<Query, GraphError> {
        let names: Vec<&str> = req
            .param("metric")
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .collect();
        if names.is_empty() {
            return Err(GraphError::param("The parameter metric is required"));
        }
        let mut metrics = Vec::with_capacity(names.len());
        for (index, name) in names.iter().enumerate() {
            match metric(name).filter(|_| !world.deprecated_metrics.contains(*name)) {
                Some(found) => metrics.push(found),
                None => return Err(unknown_metric(world, index, name)),
            }
        }
        let period = req
            .nonempty("period")
            .ok_or_else(|| GraphError::param("The parameter period is required"))?;
        if !PERIODS.contains(&period) {
            return Err(GraphError::param(format!(
                "period must be one of the following values: {}",
                PERIODS.join(", ")
            )));
        }
        for found in &metrics {
            let wanted = match found.kind {
                Kind::Daily | Kind::TotalOnly => "day",
                Kind::OnlineFollowers | Kind::Demographic => "lifetime",
            };
            if period != wanted {
                return Err(GraphError::param(format!(
                    "Incompatible period: metric {} supports period={wanted} only",
                    found.name
                )));
            }
        }
        let total_value = match req.nonempty("metric_type") {
            None | Some("time_series") => false,
            Some("total_value") => true,
            Some(_) => {
                return Err(GraphError::param(
                    "metric_type must be one of the following values: time_series, total_value",
                ));
            }
        };
        if !total_value {
            let need_total: Vec<&str> = metrics
                .iter()
                .filter(|m| matches!(m.kind, Kind::TotalOnly | Kind::Demographic))
                .map(|m| m.name)
                .collect();
            if !need_total.is_empty() {
                return Err(GraphError::param(format!(
                    "The following metrics ({}) should be specified with parameter metric_type=total_value",
                    need_total.join(", ")
                )));
            }
        } else if let Some(online) = metrics.iter().find(|m| m.kind == Kind::OnlineFollowers) {
            return Err(GraphError::param(format!(
                "The following metrics ({}) do not support metric_type=total_value",
                online.name
            )));
        }
        let since = parse_time(req.nonempty("since"), "since")?;
        let until = parse_time(req.nonempty("until"), "until")?;
        if let (Some(s), Some(u)) = (since, until) {
            if s > u {
                return Err(GraphError::param(
                    "The since parameter must be before the until parameter",
                ));
            }
            if (u - s).num_seconds() > MAX_RANGE_SECS {
                return Err(GraphError::param(format!(
                    "There cannot be more than 30 days ({MAX_RANGE_SECS} s) between since and until"
                )));
            }
        }
        Ok(Query {
            metrics,
            period: period.to_string(),
            total_value,
            since,
            until,
            timeframe: req.nonempty("timeframe").map(str::to_string),
            breakdown: req.nonempty("breakdown").map(str::to_string),
        })
    }

    /// The days whose Meta day (ending at the next Pacific midnight) ends in
    /// (since, until], capped at now and at Meta's 90-day retention.
    /// Without since/until: the last 24 hours.
    fn days(&self, now: DateTime<Utc>) -> Result<Vec<NaiveDate>, GraphError> {
        let until = self.until.unwrap_or(now);
        let since = self.since.unwrap_or(until - Duration::hours(24));
        if (until - since).num_seconds() > MAX_RANGE_SECS {
            return Err(GraphError::param(format!(
                "There cannot be more than 30 days ({MAX_RANGE_SECS} s) between since and until"
            )));
        }
        // Older data than 90 days is not served, and a `since` past two years is refused.
        if since < now - Duration::days(HISTORY_LIMIT_DAYS) {
            return Err(GraphError::param(
                "since param is not valid. Metrics data is available for the last 2 years",
            ));
        }
        let cap = until.min(now);
        let oldest = now - Duration::days(RETENTION_DAYS);
        let mut day = (since - Duration::hours(PST_HOURS)).date_naive();
        let mut days = Vec::new();
        while day_end(day) <= cap {
            if day_end(day) > since && day_end(day) > oldest {
                days.push(day);
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => break,
            }
        }
        Ok(days)
    }
}

fn unknown_metric(world: &World, index: usize, name: &str) -> GraphError {
    let valid: Vec<&str> = METRICS
        .iter()
        .map(|m| m.name)
        .filter(|n| !world.deprecated_metrics.contains(*n))
        .collect();
    let why = if world.deprecated_metrics.contains(name) {
        format!("The metric '{name}' is no longer supported")
    } else {
        format!("'{name}' is not a valid metric")
    };
    GraphError::param(format!(
        "metric[{index}] must be one of the following values: {}. {why}",
        valid.join(", ")
    ))
}

/// Unix seconds, or a `YYYY-MM-DD` date (midnight UTC) as Meta also accepts.
pub(crate) fn parse_time(value: Option<&str>, name: &str) -> Result<Option<DateTime<Utc>>, GraphError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let parsed = match value.parse::<i64>() {
        Ok(secs) => Utc.timestamp_opt(secs, 0).single(),
        Err(_) => NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(NaiveTime::MIN).and_utc()),
    };
    // Far-off years would overflow the day arithmetic; Meta has no data there.
    parsed
        .filter(|t| (1970..=9999).contains(&t.year()))
        .map(Some)
        .ok_or_else(|| GraphError::param(format!("The {name} parameter is not a valid date or unix timestamp")))
}

/// When Meta's insights day `day` ends: the following Pacific midnight, in
/// UTC. Tests use it to know which `end_time` a day's value carries.
pub fn day_end(day: NaiveDate) -> DateTime<Utc> {
    pacific_midnight(day.succ_opt().unwrap_or(day))
}

/// The Pacific date at `t`: the insights day a value measured then belongs to.
pub fn meta_day(t: DateTime<Utc>) -> NaiveDate {
    let guess = (t - Duration::hours(PST_HOURS)).date_naive();
    match guess.succ_opt() {
        Some(next) if pacific_midnight(next) <= t => next,
        _ => guess,
    }
}

/// US daylight time runs from the second Sunday of March to the first
/// Sunday of November, switching at 02:00 local time, so the midnight that
/// opens the switching day is still on the old offset.
fn pacific_midnight(date: NaiveDate) -> DateTime<Utc> {
    let sunday = |month, n| NaiveDate::from_weekday_of_month_opt(date.year(), month, chrono::Weekday::Sun, n);
    let daylight = match (sunday(3, 2), sunday(11, 1)) {
        (Some(start), Some(end)) => date > start && date <= end,
        _ => false,
    };
    date.and_time(NaiveTime::MIN).and_utc() + Duration::hours(if daylight { PST_HOURS - 1 } else { PST_HOURS })
}

fn end_time(day: NaiveDate) -> String {
    day_end(day).format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

fn account_metrics(world: &World, ig: &IgAccount, query: &Query) -> Result<Vec<Value>, GraphError> {
    let days = query.days(world.now())?;
    // Meta refuses the whole request when follower changes are asked further back than it keeps them.
    let oldest_change = meta_day(world.now()) - Duration::days(FOLLOWER_CHANGE_DAYS);
    if query.metrics.iter().any(|m| m.name == "follower_count") && days.iter().any(|d| *d < oldest_change) {
        return Err(GraphError::param(
            "(follower_count) metric only supports querying data for the last 30 days excluding the current day",
        ));
    }
    let mut data = Vec::with_capacity(query.metrics.len());
    for metric in &query.metrics {
        let mut entry = header(ig, metric, &query.period);
        // Meta keeps no new-follower series for small accounts: an empty set;
        // for the others, the 30 days before today.
        let follower_changes = metric.name == "follower_count";
        let no_data = follower_changes && ig.followers_count < MIN_FOLLOWERS_FOR_DEMOGRAPHICS;
        let today = meta_day(world.now());
        let served = |day: &NaiveDate| !follower_changes || *day < today;
        let daily: Vec<(NaiveDate, Value)> = if no_data {
            Vec::new()
        } else {
            days.iter()
                .filter(|day| served(day))
                .map(|day| (*day, day_value(world, ig, metric, *day)))
                .collect()
        };
        if query.total_value {
            let numbers: Vec<i64> = daily.iter().filter_map(|(_, v)| v.as_i64()).collect();
            entry.insert("total_value".into(), json!({ "value": total(metric.name, &numbers) }));
        } else {
            let values: Vec<Value> = daily
                .into_iter()
                .map(|(day, value)| json!({ "value": value, "end_time": end_time(day) }))
                .collect();
            entry.insert("values".into(), Value::Array(values));
        }
        data.push(Value::Object(entry));
    }
    Ok(data)
}

/// Unique-account metrics are not additive: the total over several days is
/// less than the sum of the days.
fn total(name: &str, daily: &[i64]) -> i64 {
    let sum: i128 = daily.iter().map(|v| i128::from(*v)).sum();
    let total = match name {
        "reach" | "accounts_engaged" => {
            let max = i128::from(daily.iter().copied().max().unwrap_or(0));
            max + (sum - max) * 35 / 100
        }
        _ => sum,
    };
    clamp(total)
}

/// `count * numerator / denominator` without overflow, for any follower
/// count a test may set.
pub(crate) fn scale(count: i64, numerator: i64, denominator: i64) -> i64 {
    let denominator = i128::from(denominator.max(1));
    clamp(i128::from(count.max(0)) * i128::from(numerator) / denominator)
}

fn clamp(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

fn day_value(world: &World, ig: &IgAccount, metric: &Metric, day: NaiveDate) -> Value {
    if metric.kind == Kind::OnlineFollowers {
        return online_followers(ig, day);
    }
    json!(daily_number(world, ig, metric.name, day))
}

fn daily_number(world: &World, ig: &IgAccount, name: &str, day: NaiveDate) -> i64 {
    let key = (ig.id.clone(), name.to_string(), day);
    if let Some(value) = world.metric_overrides.get(&key) {
        return *value;
    }
    if name == "total_interactions" {
        let parts = INTERACTIONS
            .iter()
            .map(|part| i128::from(daily_number(world, ig, part, day)));
        return clamp(parts.sum());
    }
    let (lo, hi) = metric(name).map_or((0, 0), |m| m.range);
    let jitter = (hash(&[&ig.id, name, &day.to_string()]) % 10_000) as i64;
    let per_ten_million = lo * 10_000 + jitter * (hi - lo);
    scale(ig.followers_count, per_ten_million, 10_000_000)
}

/// The follower count at the end of `day`: today's count less the follower
/// changes of the days after `day` up to yesterday (today's changes are
/// counted when today ends, so today's count is yesterday's closing one).
pub(crate) fn followers_at_end_of(world: &World, ig: &IgAccount, day: NaiveDate) -> i64 {
    let mut count = i128::from(ig.followers_count);
    let mut d = day;
    let today = meta_day(world.now());
    while let Some(next) = d.succ_opt().filter(|n| *n < today) {
        count -= i128::from(daily_number(world, ig, "follower_count", next));
        d = next;
    }
    clamp(count)
}

/// Followers online per hour of the day, peaking in the evening.
fn online_followers(ig: &IgAccount, day: NaiveDate) -> Value {
    let mut hours = Map::new();
    for hour in 0..24u32 {
        let evening = 1 + (12 - (hour as i64 - 19).abs().min(12));
        let jitter = (hash(&[&ig.id, "online_followers", &day.to_string(), &hour.to_string()]) % 20) as i64;
        let value = scale(ig.followers_count, evening * 2 + jitter, 200);
        hours.insert(hour.to_string(), json!(value));
    }
    Value::Object(hours)
}

pub(crate) fn header(ig: &IgAccount, metric: &Metric, period: &str) -> Map<String, Value> {
    let mut entry = Map::new();
    entry.insert("name".into(), json!(metric.name));
    entry.insert("period".into(), json!(period));
    entry.insert("title".into(), json!(metric.title));
    entry.insert("description".into(), json!(metric.description));
    entry.insert(
        "id".into(),
        json!(format!("{}/insights/{}/{}", ig.id, metric.name, period)),
    );
    entry
}

pub(crate) fn hash(parts: &[&str]) -> u64 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(b"|");
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    fn query(since: Option<&str>, until: Option<&str>) -> Query {
        Query {
            metrics: Vec::new(),
            period: "day".into(),
            total_value: false,
            since: since.map(at),
            until: until.map(at),
            timeframe: None,
            breakdown: None,
        }
    }

    #[test]
    fn days_end_at_pacific_midnight_in_summer_too() {
        let july = NaiveDate::from_ymd_opt(2026, 7, 10).unwrap_or_default();
        assert_eq!(day_end(july), at("2026-07-11T07:00:00Z"));
        assert_eq!(meta_day(at("2026-07-11T06:59:00Z")), july);
        assert_eq!(
            meta_day(at("2026-07-11T07:00:00Z")),
            july.succ_opt().unwrap_or_default()
        );
        // The day daylight time ends is 25 hours long.
        let nov1 = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default();
        assert_eq!(day_end(nov1), at("2026-11-02T08:00:00Z"));
        assert_eq!(meta_day(at("2026-11-02T07:30:00Z")), nov1);
    }

    #[test]
    fn default_window_is_the_last_complete_day() {
        let now = at("2026-11-05T09:00:00Z");
        let days = query(None, None).days(now).unwrap_or_default();
        assert_eq!(days, vec![NaiveDate::from_ymd_opt(2026, 11, 4).unwrap_or_default()]);
        assert_eq!(end_time(days[0]), "2026-11-05T08:00:00+0000");
        let early = at("2026-11-05T07:00:00Z");
        let days = query(None, None).days(early).unwrap_or_default();
        assert_eq!(days.len(), 1);
        assert_eq!(end_time(days[0]), "2026-11-04T08:00:00+0000");
    }

    #[test]
    fn ranges_give_one_value_per_day() {
        let now = at("2026-11-20T12:00:00Z");
        let q = query(Some("2026-11-01T00:00:00Z"), Some("2026-11-08T00:00:00Z"));
        let days = q.days(now).unwrap_or_default();
        assert_eq!(days.len(), 7);
        // October 31 closes at midnight daylight time, 07:00 UTC.
        assert_eq!(end_time(days[0]), "2026-11-01T07:00:00+0000");
        assert_eq!(end_time(days[1]), "2026-11-02T08:00:00+0000");
        // A range reaching into the future stops at now.
        let q = query(Some("2026-11-18T00:00:00Z"), Some("2026-11-25T00:00:00Z"));
        assert_eq!(q.days(now).unwrap_or_default().len(), 3);
    }

    #[test]
    fn reach_totals_are_not_sums() {
        assert_eq!(total("likes", &[10, 20]), 30);
        assert!(total("reach", &[100, 100]) < 200);
        assert_eq!(total("reach", &[]), 0);
    }
}
