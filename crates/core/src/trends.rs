//! Trends at a glance: a window of whole Meta days against the window just
//! before it, from the stored daily values. Today's day is unfinished (its
//! numbers still grow for up to 48 hours), so it is in no total: a window of
//! 7 days is the 7 days that ended at today's Pacific midnight.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::collect::days::{meta_day, pacific_date};
use crate::domain::{MetricName, Timestamp};
use crate::store::{Result, Store, SummaryRow};

/// The windows a summary may cover, in days.
pub const WINDOWS: [u32; 3] = [7, 28, 90];
/// The daily metrics added up over a window. Daily reach counts an account
/// once a day: its total is the sum of the days, not unique accounts.
pub const SUMMED: [&str; 4] = ["reach", "views", "accounts_engaged", "total_interactions"];

/// A window and the one before it, compared.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub days: u32,
    /// Today's (Pacific) date: unfinished, in neither window.
    pub today: NaiveDate,
    pub current: Period,
    pub previous: Period,
    /// The totals of [`SUMMED`], by metric name.
    pub metrics: BTreeMap<MetricName, Total>,
    /// Total interactions per 100 accounts reached (the window's totals).
    pub engagement_rate: Ratio,
    pub follower_growth: Growth,
}

/// The days a window covers, and how complete its data is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Period {
    pub first_day: NaiveDate,
    pub last_day: NaiveDate,
    /// `since < end_time <= until` of the daily values summed.
    pub since: Timestamp,
    pub until: Timestamp,
    /// Days on which a summed metric has no value.
    pub missing_days: u32,
    /// A follower count used is reconstructed, not measured.
    pub reconstructed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Total {
    /// The sum of the days with a value; none when no day has one.
    pub current: Option<i64>,
    pub previous: Option<i64>,
    pub change: Option<i64>,
    /// Change in percent of the previous total.
    pub change_pct: Option<f64>,
    pub days_with_data: u32,
    pub previous_days_with_data: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    pub current: Option<f64>,
    pub previous: Option<f64>,
    /// In percentage points.
    pub change: Option<f64>,
    pub change_pct: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Growth {
    /// Followers at the end of the window minus at its start.
    pub current: Option<i64>,
    /// That in percent of the followers at its start.
    pub current_pct: Option<f64>,
    pub previous: Option<i64>,
    pub previous_pct: Option<f64>,
    pub change: Option<i64>,
    pub followers_at_start: Option<i64>,
    pub followers_at_end: Option<i64>,
}

/// The summary of the `days` whole days before `now`'s Meta day, and the `days` before those.
pub async fn summary(store: &Store, account_id: i64, days: u32, now: DateTime<Utc>) -> Result<Summary> {
    let today = pacific_date(now);
    let day = |back: u32| today - chrono::Days::new(u64::from(back));
    // Boundaries: the previous window's start, the current one's start, its end.
    let bounds = [
        meta_day(day(2 * days)).since,
        meta_day(day(days)).since,
        meta_day(today).since,
    ];
    let rows = store
        .summary_rows(
            account_id,
            &SUMMED.map(MetricName::known),
            bounds[0],
            bounds[2],
            &bounds,
        )
        .await?;
    Ok(Figures::new(days, today, &bounds, &rows).summary())
}

/// The stored rows sorted into the two windows.
struct Figures {
    days: u32,
    today: NaiveDate,
    /// Day-end `end_time` -> (date, in the current window).
    day_of: HashMap<Timestamp, (NaiveDate, bool)>,
    /// (metric, current window) -> values by day.
    values: HashMap<(MetricName, bool), BTreeMap<NaiveDate, i64>>,
    /// Followers at each boundary, and whether reconstructed.
    followers: [Option<(i64, bool)>; 3],
    bounds: [DateTime<Utc>; 3],
}

impl Figures {
    fn new(days: u32, today: NaiveDate, bounds: &[DateTime<Utc>; 3], rows: &[SummaryRow]) -> Self {
        let mut day_of = HashMap::new();
        for back in 1..=2 * days {
            let date = today - chrono::Days::new(u64::from(back));
            day_of.insert(Timestamp::from(meta_day(date).until), (date, back <= days));
        }
        let mut values: HashMap<(MetricName, bool), BTreeMap<NaiveDate, i64>> = HashMap::new();
        let mut followers = [None; 3];
        for r in rows {
            if r.metric_name == "followers_count" {
                // The last count of the day before a boundary.
                let at = bounds.iter().position(|b| {
                    let end = Timestamp::from(*b);
                    r.end_time < end && r.end_time >= end - chrono::Duration::days(1)
                });
                if let (Some(i), Some(v)) = (at, r.value) {
                    followers[i] = Some((v, r.reconstructed));
                }
            } else if let (Some((date, current)), Some(v)) = (day_of.get(&r.end_time), r.value) {
                values
                    .entry((r.metric_name.clone(), *current))
                    .or_default()
                    .insert(*date, v);
            }
        }
        Figures {
            days,
            today,
            day_of,
            values,
            followers,
            bounds: *bounds,
        }
    }

    fn summary(&self) -> Summary {
        let metrics: BTreeMap<MetricName, Total> = SUMMED
            .map(|m| (MetricName::known(m), self.total(m)))
            .into_iter()
            .collect();
        let rate = |current: bool| {
            let pick = |t: &Total| if current { t.current } else { t.previous };
            match (pick(&metrics["total_interactions"]), pick(&metrics["reach"])) {
                (Some(i), Some(r)) if r > 0 => Some(i as f64 * 100.0 / r as f64),
                _ => None,
            }
        };
        let (now_rate, then_rate) = (rate(true), rate(false));
        let engagement_rate = Ratio {
            current: now_rate,
            previous: then_rate,
            change: now_rate.zip(then_rate).map(|(a, b)| a - b),
            change_pct: now_rate.zip(then_rate).and_then(|(a, b)| pct(a - b, b)),
        };
        let count = |i: usize| self.followers[i].map(|(v, _)| v);
        let grew = |from: usize, to: usize| count(to).zip(count(from)).map(|(b, a)| b - a);
        let (now_growth, then_growth) = (grew(1, 2), grew(0, 1));
        let follower_growth = Growth {
            current: now_growth,
            current_pct: now_growth.zip(count(1)).and_then(|(g, s)| pct(g as f64, s as f64)),
            previous: then_growth,
            previous_pct: then_growth.zip(count(0)).and_then(|(g, s)| pct(g as f64, s as f64)),
            change: now_growth.zip(then_growth).map(|(a, b)| a - b),
            followers_at_start: count(1),
            followers_at_end: count(2),
        };
        Summary {
            days: self.days,
            today: self.today,
            current: self.period(true),
            previous: self.period(false),
            metrics,
            engagement_rate,
            follower_growth,
        }
    }

    fn total(&self, metric: &'static str) -> Total {
        let metric = MetricName::known(metric);
        let of = |current: bool| self.values.get(&(metric.clone(), current));
        let sum = |current: bool| of(current).map(|days| days.values().sum::<i64>());
        let n = |current: bool| of(current).map_or(0, |days| days.len() as u32);
        let (current, previous) = (sum(true), sum(false));
        let change = current.zip(previous).map(|(a, b)| a - b);
        Total {
            current,
            previous,
            change,
            change_pct: change.zip(previous).and_then(|(c, p)| pct(c as f64, p as f64)),
            days_with_data: n(true),
            previous_days_with_data: n(false),
        }
    }

    fn period(&self, current: bool) -> Period {
        let mut dates: Vec<NaiveDate> = self
            .day_of
            .values()
            .filter(|(_, c)| *c == current)
            .map(|(d, _)| *d)
            .collect();
        dates.sort();
        let missing = dates
            .iter()
            .filter(|d| {
                SUMMED.iter().any(|m| {
                    !self
                        .values
                        .get(&(MetricName::known(m), current))
                        .is_some_and(|days| days.contains_key(d))
                })
            })
            .count() as u32;
        let (start, end) = if current { (1, 2) } else { (0, 1) };
        let reconstructed = [start, end].iter().any(|i| self.followers[*i].is_some_and(|(_, r)| r));
        Period {
            first_day: dates.first().copied().unwrap_or(self.today),
            last_day: dates.last().copied().unwrap_or(self.today),
            since: Timestamp::from(self.bounds[start]),
            until: Timestamp::from(self.bounds[end]),
            missing_days: missing,
            reconstructed,
        }
    }
}

/// `part` in percent of `whole`, when `whole` is not zero.
fn pct(part: f64, whole: f64) -> Option<f64> {
    (whole != 0.0).then(|| part * 100.0 / whole)
}
