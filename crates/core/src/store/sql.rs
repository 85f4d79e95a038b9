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

/// `script` in consecutive pieces of whole statements, each piece ending
/// with a statement's `;` once it holds `at_least` bytes (the last piece
/// takes the rest). A `;` counts only outside SQLite's string literals,
/// quoted names and comments. A piece split wrongly could only fail to
/// parse, never run something else: each piece runs whole.
pub fn pieces(script: &str, at_least: usize) -> Vec<&str> {
    let bytes = script.as_bytes();
    // The index just past the first `end` at or after `from`, or the end.
    let past = |from: usize, end: &[u8]| {
        bytes
            .get(from..)
            .and_then(|rest| rest.windows(end.len()).position(|w| w == end))
            .map_or(bytes.len(), |i| from + i + end.len())
    };
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while let Some(&b) = bytes.get(i) {
        let next = bytes.get(i + 1).copied();
        i = match (b, next) {
            // A doubled quote inside closes and reopens: the same piece of text.
            (b'\'' | b'"' | b'`', _) => past(i + 1, &[b]),
            (b'[', _) => past(i + 1, b"]"),
            (b'-', Some(b'-')) => past(i + 2, b"\n"),
            (b'/', Some(b'*')) => past(i + 2, b"*/"),
            (b';', _) => {
                if i + 1 - start >= at_least {
                    out.push(&script[start..=i]);
                    start = i + 1;
                }
                i + 1
            }
            _ => i + 1,
        };
    }
    if !script[start..].trim().is_empty() {
        out.push(&script[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_end_at_statements_only() {
        let script = "INSERT INTO t VALUES ('a;b''; c');\nUPDATE \"x;y\" SET [a;b] = 1; -- not; here\n/* nor; here */ SELECT 1;\n";
        let one_each = pieces(script, 1);
        assert_eq!(
            one_each,
            [
                "INSERT INTO t VALUES ('a;b''; c');",
                "\nUPDATE \"x;y\" SET [a;b] = 1;",
                " -- not; here\n/* nor; here */ SELECT 1;",
            ]
        );
        let (two, rest) = script.split_at(one_each[0].len() + one_each[1].len());
        assert_eq!(pieces(script, 40), [two, rest]);
        assert_eq!(pieces(script, 10_000), [script]);
        assert_eq!(pieces(script, 1).concat(), script.trim_end());
        assert!(pieces(" \n", 1).is_empty());
        // An unterminated literal keeps the rest together.
        assert_eq!(pieces("SELECT 'a; b", 1), ["SELECT 'a; b"]);
    }

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
