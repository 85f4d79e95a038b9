//! How far back an account's owner wants its media catalogued.

use chrono::{DateTime, Days, NaiveDate, Utc};

/// Instagram went public on this day: nothing was posted before it.
pub const INSTAGRAM_LAUNCH: NaiveDate = match NaiveDate::from_ymd_opt(2010, 10, 6) {
    Some(day) => day,
    None => panic!("a valid date"),
};
/// The most days back one may ask for: a little more than Instagram's age
/// today (Meta lists the 10,000 newest media of an account at most anyway).
pub const MAX_DAYS_BACK: u32 = 6_000;

/// The day (UTC) an account's media catalog is asked to reach back to:
/// media posted from its first second on are catalogued. Never before
/// Instagram existed, never after today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CatalogReach(NaiveDate);

/// Why a requested reach is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReachError {
    #[error("`since` must be a date, YYYY-MM-DD")]
    NotADate,
    #[error("`since` must be a day from {INSTAGRAM_LAUNCH} (Instagram's launch) to today")]
    OutOfRange,
    #[error("`days` must be a whole number from 1 to {MAX_DAYS_BACK}")]
    BadDays,
}

impl CatalogReach {
    /// `YYYY-MM-DD`, from Instagram's launch to `today`.
    pub fn on(raw: &str, today: NaiveDate) -> Result<CatalogReach, ReachError> {
        let day = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| ReachError::NotADate)?;
        match (INSTAGRAM_LAUNCH..=today).contains(&day) {
            true => Ok(CatalogReach(day)),
            false => Err(ReachError::OutOfRange),
        }
    }

    /// `days` before `today` (1 to [`MAX_DAYS_BACK`]), no earlier than Instagram's launch.
    pub fn days_back(days: i64, today: NaiveDate) -> Result<CatalogReach, ReachError> {
        let days = u32::try_from(days)
            .ok()
            .filter(|d| (1..=MAX_DAYS_BACK).contains(d))
            .ok_or(ReachError::BadDays)?;
        let day = today
            .checked_sub_days(Days::new(days.into()))
            .ok_or(ReachError::BadDays)?;
        Ok(CatalogReach(day.max(INSTAGRAM_LAUNCH)))
    }

    /// The reach a stored start names (its day).
    pub fn from_start(start: DateTime<Utc>) -> CatalogReach {
        CatalogReach(start.date_naive())
    }

    pub fn day(self) -> NaiveDate {
        self.0
    }

    /// Its first second, UTC.
    pub fn start(self) -> DateTime<Utc> {
        self.0.and_time(chrono::NaiveTime::MIN).and_utc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(raw: &str) -> NaiveDate {
        NaiveDate::parse_from_str(raw, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_reach_is_a_day_from_instagrams_launch_to_today() {
        let today = day("2026-12-06");
        assert_eq!(
            CatalogReach::on("2024-01-31", today).map(CatalogReach::day),
            Ok(day("2024-01-31"))
        );
        assert_eq!(CatalogReach::on("2026-12-06", today).map(CatalogReach::day), Ok(today));
        assert_eq!(
            CatalogReach::on("2010-10-06", today).map(CatalogReach::day),
            Ok(INSTAGRAM_LAUNCH)
        );
        for (raw, error) in [
            ("2026-12-07", ReachError::OutOfRange),
            ("2010-10-05", ReachError::OutOfRange),
            ("2024-02-30", ReachError::NotADate),
            ("2024-01-31T00:00:00Z", ReachError::NotADate),
            ("", ReachError::NotADate),
            ("yesterday", ReachError::NotADate),
        ] {
            assert_eq!(CatalogReach::on(raw, today), Err(error), "{raw}");
        }
        let start = CatalogReach::on("2024-01-31", today).unwrap().start();
        assert_eq!(start.to_rfc3339(), "2024-01-31T00:00:00+00:00");
        assert_eq!(
            CatalogReach::from_start(start + chrono::Duration::hours(5)).start(),
            start
        );
    }

    #[test]
    fn days_back_count_whole_days_and_stop_at_the_launch() {
        let today = day("2026-12-06");
        assert_eq!(
            CatalogReach::days_back(365, today).map(CatalogReach::day),
            Ok(day("2025-12-06"))
        );
        assert_eq!(
            CatalogReach::days_back(1, today).map(CatalogReach::day),
            Ok(day("2026-12-05"))
        );
        assert_eq!(
            CatalogReach::days_back(i64::from(MAX_DAYS_BACK), today).map(CatalogReach::day),
            Ok(INSTAGRAM_LAUNCH)
        );
        for bad in [0, -1, i64::from(MAX_DAYS_BACK) + 1, i64::MAX] {
            assert_eq!(CatalogReach::days_back(bad, today), Err(ReachError::BadDays), "{bad}");
        }
    }
}
