//! Meta's calendar: an insights day runs from midnight to midnight Pacific
//! time, and its `end_time` is the closing midnight, in UTC (07:00 or 08:00).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Timelike, Utc, Weekday};

/// One Meta day: `since` (its opening midnight) to `until` (its closing one, the `end_time`).
pub use crate::store::DayRange as MetaDay;

/// How many days each hourly run fetches: today and the two before it,
/// since Meta's numbers arrive up to 48 hours late.
pub const DAYS_FETCHED: usize = 3;

/// Today (still filling up) and the two days before it, newest first.
pub fn recent_days(now: DateTime<Utc>) -> [MetaDay; DAYS_FETCHED] {
    let today = pacific_date(now);
    let day = |back: u64| meta_day(today - chrono::Days::new(back));
    [day(0), day(1), day(2)]
}

/// The Meta day of a Pacific calendar date.
pub fn meta_day(date: NaiveDate) -> MetaDay {
    MetaDay {
        since: pacific_midnight(date),
        until: pacific_midnight(date + chrono::Days::new(1)),
    }
}

/// The days whose hourly counts are due to be rolled up: every Meta day that
/// ended at least `retention_days` before `now` and after `from` (how far
/// the account is rolled up, or when it was connected), oldest first, at
/// most [`MAX_ROLLUP_DAYS`](crate::store::MAX_ROLLUP_DAYS).
pub fn rollup_days(from: DateTime<Utc>, now: DateTime<Utc>, retention_days: u32) -> Vec<MetaDay> {
    let cutoff = now - Duration::days(i64::from(retention_days));
    let mut date = pacific_date(from);
    let mut days = Vec::new();
    while days.len() < crate::store::MAX_ROLLUP_DAYS {
        let day = meta_day(date);
        if day.until > cutoff {
            break;
        }
        if day.until > from {
            days.push(day);
        }
        date = date + chrono::Days::new(1);
    }
    days
}

/// The start of the hour, which names an hourly snapshot.
pub fn hour_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now)
}

/// The start of the UTC day, which names a daily audience snapshot.
pub fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_time(NaiveTime::MIN).and_utc()
}

/// The Pacific calendar date at `t`: the Meta day `t` belongs to.
pub fn pacific_date(t: DateTime<Utc>) -> NaiveDate {
    let guess = (t - Duration::hours(8)).date_naive();
    if pacific_midnight(guess + chrono::Days::new(1)) <= t {
        guess + chrono::Days::new(1)
    } else {
        guess
    }
}

/// Midnight at the start of `date` in Pacific time, as UTC. US daylight
/// time runs from the second Sunday of March to the first Sunday of
/// November (switching at 02:00 local, so midnight of the first day is
/// still on the old time).
fn pacific_midnight(date: NaiveDate) -> DateTime<Utc> {
    let year = date.year();
    let dst = date > nth_sunday(year, 3, 2) && date <= nth_sunday(year, 11, 1);
    let offset = if dst { 7 } else { 8 };
    date.and_time(NaiveTime::MIN).and_utc() + Duration::hours(offset)
}

fn nth_sunday(year: i32, month: u32, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn days_close_at_pacific_midnight() {
        let days = recent_days(at("2026-11-28T08:49:00Z"));
        assert_eq!(days[0].since, at("2026-11-28T08:00:00Z"));
        assert_eq!(days[0].until, at("2026-11-29T08:00:00Z"));
        assert_eq!(days[2].until, at("2026-11-27T08:00:00Z"));
        // 07:59 UTC is still the previous Pacific day.
        assert_eq!(
            recent_days(at("2026-11-28T07:59:00Z"))[0].until,
            at("2026-11-28T08:00:00Z")
        );
        // Summer: daylight time, days close at 07:00 UTC.
        assert_eq!(
            recent_days(at("2026-07-10T12:00:00Z"))[0].until,
            at("2026-07-11T07:00:00Z")
        );
        // The day daylight time ends (2026-11-01) opened on daylight time and is 25 hours long.
        let d = recent_days(at("2026-11-01T20:00:00Z"))[0];
        assert_eq!(
            (d.since, d.until),
            (at("2026-11-01T07:00:00Z"), at("2026-11-02T08:00:00Z"))
        );
        // The day it begins (2026-03-08) is 23 hours long.
        let d = recent_days(at("2026-03-08T20:00:00Z"))[0];
        assert_eq!(
            (d.since, d.until),
            (at("2026-03-08T08:00:00Z"), at("2026-03-09T07:00:00Z"))
        );
    }

    #[test]
    fn periods_are_named_by_their_start() {
        assert_eq!(hour_start(at("2026-11-28T08:49:13Z")), at("2026-11-28T08:00:00Z"));
        assert_eq!(day_start(at("2026-11-28T08:49:13Z")), at("2026-11-28T00:00:00Z"));
    }
}
