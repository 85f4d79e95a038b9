//! Small helpers for SQL text: timestamps, and literals for batches that must
//! travel to a hosted database in one round trip (a transactional batch takes
//! no parameters, so values are quoted here, in one audited place).

use chrono::{DateTime, SecondsFormat, Utc};

/// The canonical stored form of a time: `2026-11-28T08:00:00Z`.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn now() -> String {
    ts(Utc::now())
}

pub fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// A SQL string literal. NUL cannot live in SQLite text through the batch API, so it is dropped.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\0' => {}
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

pub fn opt_text(s: Option<&str>) -> String {
    s.map(text).unwrap_or_else(|| "NULL".into())
}

/// A time as the SQL literal of its canonical text, or NULL.
pub fn opt_time(t: Option<crate::domain::Timestamp>) -> String {
    t.map(|t| text(&t.to_string())).unwrap_or_else(|| "NULL".into())
}

pub fn opt_int(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "NULL".into())
}

/// SQL that is true while the account exists: guards writes that may race
/// its deletion, so nothing of a deleted account is ever written back.
pub fn account_exists(account_id: i64) -> String {
    format!("EXISTS (SELECT 1 FROM users WHERE id = {account_id})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_quoted() {
        assert_eq!(text("it's"), "'it''s'");
        assert_eq!(text("a\0b"), "'ab'");
        assert_eq!(opt_text(None), "NULL");
        assert_eq!(opt_int(Some(-3)), "-3");
        let t = parse_ts("2026-11-05T07:00:00+00:00").unwrap();
        assert_eq!(ts(t), "2026-11-05T07:00:00Z");
    }
}
