//! When a media's numbers are asked again, by its age: often while young
//! (Meta's numbers settle within about 48 hours), then less often, then
//! never. `MEDIA_REFRESH_SCHEDULE` is a list of `until:every` bands, e.g. the
//! default `48h:12h,30d:1d,90d:7d`: to 48 hours every 12 hours, to day 30
//! daily, to day 90 weekly, then never.

use std::fmt;

use chrono::{DateTime, Duration, Utc};

/// The default schedule (see the module documentation).
pub const DEFAULT_SCHEDULE: &str = "48h:12h,30d:1d,90d:7d";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshSchedule {
    /// `(until age, every)`, ages increasing.
    bands: Vec<(Duration, Duration)>,
    /// The bands as given (`48h` stays `48h`), for messages and the status.
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a refresh schedule: give `until:every` bands with ages in h or d and growing ages, e.g. 48h:12h,30d:1d,90d:7d"
)]
pub struct ScheduleError(String);

impl RefreshSchedule {
    pub fn parse(spec: &str) -> Result<RefreshSchedule, ScheduleError> {
        let bad = || ScheduleError(spec.chars().take(80).collect());
        let mut bands = Vec::new();
        let mut text = Vec::new();
        for band in spec.split(',') {
            text.push(band.trim());
            let (until, every) = band.trim().split_once(':').ok_or_else(bad)?;
            let (until, every) = (age(until).ok_or_else(bad)?, age(every).ok_or_else(bad)?);
            if every <= Duration::zero() || bands.last().is_some_and(|(last, _)| *last >= until) {
                return Err(bad());
            }
            bands.push((until, every));
        }
        if bands.is_empty() {
            return Err(bad());
        }
        Ok(RefreshSchedule {
            bands,
            text: text.join(","),
        })
    }

    /// How long a media of this `age` waits between two refreshes; `None`
    /// past the last band: never again.
    pub fn interval(&self, age: Duration) -> Option<Duration> {
        self.bands
            .iter()
            .find(|(until, _)| age < *until)
            .map(|(_, every)| *every)
    }

    /// The age up to which a media counts as young: the first band.
    pub fn young(&self) -> Duration {
        self.bands[0].0
    }

    /// The oldest age refreshed at all: the last band.
    pub fn horizon(&self) -> Duration {
        self.bands[self.bands.len() - 1].0
    }

    /// Whether a media posted at `posted_at` and last refreshed at `last` is
    /// due at `now`. A run starts a few minutes after the hour, so "due" is
    /// granted five minutes early: an interval of one day is met every day.
    pub fn is_due(&self, posted_at: DateTime<Utc>, last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
        let Some(every) = self.interval(now - posted_at) else {
            return false;
        };
        last.is_none_or(|last| now - last >= every - Duration::minutes(5))
    }
}

impl Default for RefreshSchedule {
    fn default() -> Self {
        RefreshSchedule::parse(DEFAULT_SCHEDULE).unwrap_or(RefreshSchedule {
            bands: vec![(Duration::hours(48), Duration::hours(12))],
            text: "48h:12h".into(),
        })
    }
}

impl fmt::Display for RefreshSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `12h`, `30d`.
fn age(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = number.parse().ok().filter(|n| *n > 0 && *n <= 3650)?;
    match unit {
        "h" => Some(Duration::hours(n)),
        "d" => Some(Duration::days(n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::hours(hours)
    }

    #[test]
    fn the_default_refreshes_often_then_less_then_never() {
        let s = RefreshSchedule::default();
        assert_eq!(s.to_string(), DEFAULT_SCHEDULE);
        assert_eq!(s.interval(Duration::hours(3)), Some(Duration::hours(12)));
        assert_eq!(s.interval(Duration::days(10)), Some(Duration::days(1)));
        assert_eq!(s.interval(Duration::days(60)), Some(Duration::days(7)));
        assert_eq!(s.interval(Duration::days(90)), None);
        assert_eq!((s.young(), s.horizon()), (Duration::hours(48), Duration::days(90)));
        assert!(s.is_due(at(0), None, at(1)), "never asked: due");
        assert!(!s.is_due(at(0), Some(at(1)), at(5)));
        assert!(s.is_due(at(0), Some(at(1)), at(13)));
        // A daily refresh at 03:15 is due again at the next day's 03:14.
        let posted = at(0) - Duration::days(5);
        assert!(s.is_due(posted, Some(at(3)), at(27) - Duration::minutes(1)));
        assert!(!s.is_due(at(0) - Duration::days(91), None, at(0)));
    }

    #[test]
    fn schedules_parse_strictly() {
        assert!(RefreshSchedule::parse("6h:1h,48h:6h").is_ok());
        for bad in ["", "48h", "48h:0h", "30d:1d,48h:12h", "48x:1h", "h:1h", "48h:1h,"] {
            assert!(RefreshSchedule::parse(bad).is_err(), "{bad}");
        }
    }
}
