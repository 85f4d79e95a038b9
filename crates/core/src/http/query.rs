//! The query parameters the read routes share (`format`, `limit`, `from`
//! and `to`), the link to a next page, and CSV fields.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::{ApiError, ApiRequest};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Format {
    Json,
    Csv,
}

impl Format {
    /// `format=json|csv`, JSON when absent.
    pub(super) fn parse(req: &ApiRequest) -> Result<Format, ApiError> {
        match req.query("format").unwrap_or("json") {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            _ => Err(ApiError::BadRequest("format must be json or csv".into())),
        }
    }
}

/// `limit=1..=max` as sent (digits only), or none.
pub(super) fn parse_limit(req: &ApiRequest, max: usize) -> Result<Option<usize>, ApiError> {
    let Some(v) = req.query("limit") else {
        return Ok(None);
    };
    match v.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) && v.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
        _ => Err(ApiError::BadRequest(format!(
            "`limit` must be a whole number from 1 to {max}"
        ))),
    }
}

/// `from <= t < until`, either end open.
pub(super) type Range = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// `from` and `to` (each a [`parse_bound`]), `from` before `to`.
pub(super) fn parse_range(req: &ApiRequest) -> Result<Range, ApiError> {
    let from = req
        .query("from")
        .map(|v| parse_bound(v, "from", Bound::From))
        .transpose()?;
    let until = req.query("to").map(|v| parse_bound(v, "to", Bound::To)).transpose()?;
    if let (Some(f), Some(u)) = (from, until)
        && f >= u
    {
        return Err(ApiError::BadRequest("`from` must not be after `to`".into()));
    }
    Ok((from, until))
}

#[derive(Clone, Copy)]
enum Bound {
    From,
    To,
}

/// A date (`2026-11-28`: from its start, to its end) or a time (RFC 3339,
/// inclusive), in years 1 to 9999: the stored text form sorts like time there,
/// so the extremes chrono parses are a 400; the end of year 9999 is kept in it.
fn parse_bound(value: &str, name: &str, bound: Bound) -> Result<DateTime<Utc>, ApiError> {
    let (start, step) = if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        (date.and_time(chrono::NaiveTime::MIN).and_utc(), Duration::days(1))
    } else if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        (t.with_timezone(&Utc), Duration::seconds(1))
    } else {
        return Err(ApiError::BadRequest(format!(
            "`{name}` must be a date (2026-11-28) or a time (2026-11-28T08:00:00Z)"
        )));
    };
    if !(1..=9999).contains(&start.year()) {
        return Err(ApiError::BadRequest(format!(
            "`{name}` is out of range (years 1 to 9999)"
        )));
    }
    let last = NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|t| t.and_utc())
        .unwrap_or(start);
    Ok(match bound {
        Bound::From => start,
        Bound::To => start.checked_add_signed(step).map_or(last, |t| t.min(last)),
    })
}

/// This request's path and query, with `after` set to the next page's cursor.
pub(super) fn next_url(req: &ApiRequest, next: &str) -> String {
    let mut url = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in req.query.iter().filter(|(k, _)| k != "after") {
        url.append_pair(k, v);
    }
    url.append_pair("after", next);
    format!("{}?{}", req.path, url.finish())
}

/// Appends a field, quoted when it needs it; a leading formula character is defused for spreadsheets.
pub(super) fn csv_field(out: &mut String, s: &str) {
    let quoted = s.contains([',', '"', '\n', '\r']);
    if quoted {
        out.push('"');
    }
    // What a spreadsheet reads as a formula, or as a cell that starts one (TAB, CR).
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        out.push('\'');
    }
    if quoted {
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_safe() {
        let field = |s: &str| {
            let mut out = String::new();
            csv_field(&mut out, s);
            out
        };
        assert_eq!(field("reach"), "reach");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("=cmd()"), "'=cmd()");
        assert_eq!(field("=a,\"b\""), "\"'=a,\"\"b\"\"\"");
        for formula in ["+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1"] {
            assert!(field(formula).trim_start_matches('"').starts_with('\''), "{formula:?}");
        }
    }
}
