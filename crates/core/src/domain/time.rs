//! Moments in time, as urlinsta keeps them.

use std::fmt;
use std::ops::{Add, Sub};

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A moment in UTC, to the second: what every stored time is. Compared as
/// a time, never as text; written in one canonical form,
/// `2026-11-28T08:00:00Z`, whose text order is also its time order (so the
/// database may compare stored values and use its indexes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// An RFC 3339 time with any offset (sub-seconds dropped).
    pub fn parse(raw: &str) -> Option<Timestamp> {
        DateTime::parse_from_rfc3339(raw)
            .ok()
            .map(|t| Timestamp::from(t.with_timezone(&Utc)))
    }

    /// Unix seconds.
    pub fn from_unix(secs: i64) -> Option<Timestamp> {
        DateTime::from_timestamp(secs, 0).map(Timestamp)
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        self.0
    }
}

/// The moment an `expires_in` (seconds after `now`, as Meta's token answers
/// give it) names; None when it is absent, not positive, or past the last
/// date there is: such an answer says nothing usable about the expiry.
pub fn expiry_after(now: DateTime<Utc>, expires_in: Option<i64>) -> Option<DateTime<Utc>> {
    let secs = expires_in.filter(|s| *s > 0)?;
    now.checked_add_signed(chrono::Duration::try_seconds(secs)?)
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Self {
        Timestamp(t.trunc_subsecs(0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

impl Add<chrono::Duration> for Timestamp {
    type Output = Timestamp;

    fn add(self, span: chrono::Duration) -> Timestamp {
        Timestamp::from(self.0 + span)
    }
}

impl Sub<chrono::Duration> for Timestamp {
    type Output = Timestamp;

    fn sub(self, span: chrono::Duration) -> Timestamp {
        Timestamp::from(self.0 - span)
    }
}

impl Sub for Timestamp {
    type Output = chrono::Duration;

    fn sub(self, earlier: Timestamp) -> chrono::Duration {
        self.0 - earlier.0
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Timestamp::parse(&raw).ok_or_else(|| serde::de::Error::custom(format!("`{raw}` is not an RFC 3339 time")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expires_in_past_the_last_date_there_is_names_no_expiry() {
        let now = Timestamp::parse("2026-12-05T00:00:00Z").expect("a time").to_datetime();
        assert_eq!(
            expiry_after(now, Some(5_184_000))
                .map(|t| Timestamp::from(t).to_string())
                .as_deref(),
            Some("2027-02-03T00:00:00Z"),
            "60 days"
        );
        // i64::MAX seconds is past what a duration holds; 10^15 past what a date does.
        for odd in [
            None,
            Some(0),
            Some(-1),
            Some(i64::MIN),
            Some(i64::MAX),
            Some(1_000_000_000_000_000),
        ] {
            assert_eq!(expiry_after(now, odd), None, "{odd:?}");
        }
    }

    #[test]
    fn times_are_seconds_in_utc_compared_as_times() {
        let t = Timestamp::parse("2026-11-05T09:00:00.750+02:00").expect("a time");
        assert_eq!(t.to_string(), "2026-11-05T07:00:00Z");
        assert_eq!(Timestamp::parse("2026-11-05T07:00:00Z"), Some(t));
        // As text, "+02:00" sorts after "Z"; as times, the earlier is earlier.
        let later = Timestamp::parse("2026-11-05T07:30:00Z").expect("a time");
        assert!(Timestamp::parse("2026-11-05T09:00:00+02:00") < Some(later));
        assert_eq!(later - t, chrono::Duration::minutes(30));
        assert_eq!(
            t + chrono::Duration::hours(1),
            Timestamp::parse("2026-11-05T08:00:00Z").expect("a time")
        );
        assert_eq!(serde_json::to_string(&t).expect("json"), "\"2026-11-05T07:00:00Z\"");
        assert_eq!(
            serde_json::from_str::<Timestamp>("\"2026-11-05T07:00:00Z\"").ok(),
            Some(t)
        );
        for bad in ["", "2026-11-05", "yesterday", "2026-13-01T00:00:00Z"] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Timestamp::from_unix(0).map(|t| t.to_string()).as_deref(),
            Some("1970-01-01T00:00:00Z")
        );
    }
}
