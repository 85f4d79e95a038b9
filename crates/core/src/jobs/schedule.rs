//! The local scheduler's clock: the five-field cron expressions of
//! `vercel.json` (minute hour day-of-month month day-of-week, UTC).

use chrono::{DateTime, Datelike, Timelike, Utc};

use super::JobKind;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    fields: [Vec<u32>; 5],
    source: String,
}

const RANGES: [(u32, u32); 5] = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];

impl CronExpr {
    pub fn parse(expr: &str) -> Result<CronExpr, String> {
        let parts: Vec<&str> = expr.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!("`{expr}` does not have five fields"));
        }
        let mut fields: [Vec<u32>; 5] = Default::default();
        for (i, part) in parts.iter().enumerate() {
            fields[i] =
                parse_field(part, RANGES[i]).ok_or_else(|| format!("`{part}` in `{expr}` is not a cron field"))?;
        }
        Ok(CronExpr {
            fields,
            source: expr.to_string(),
        })
    }

    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        let values = [
            t.minute(),
            t.hour(),
            t.day(),
            t.month(),
            t.weekday().num_days_from_sunday(),
        ];
        self.fields.iter().zip(values).all(|(allowed, v)| allowed.contains(&v))
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }
}

fn parse_field(part: &str, (lo, hi): (u32, u32)) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for item in part.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)?),
            None => (item, 1),
        };
        let (start, end) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (a.parse().ok()?, b.parse().ok()?)
        } else {
            let v: u32 = range.parse().ok()?;
            (v, if step > 1 { hi } else { v })
        };
        if start < lo || end > hi || start > end {
            return None;
        }
        out.extend((start..=end).step_by(step as usize));
    }
    Some(out)
}

/// The jobs and schedules named in a `vercel.json` text.
pub fn from_vercel_json(text: &str) -> Result<Vec<(JobKind, CronExpr)>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("vercel.json: {e}"))?;
    let mut out = Vec::new();
    for cron in v.get("crons").and_then(|c| c.as_array()).into_iter().flatten() {
        let path = cron.get("path").and_then(|p| p.as_str()).unwrap_or("");
        let schedule = cron.get("schedule").and_then(|s| s.as_str()).unwrap_or("");
        let path = path.split('?').next().unwrap_or("");
        let job = path
            .strip_prefix("/api/cron/")
            .and_then(JobKind::parse)
            .ok_or_else(|| format!("vercel.json: cron path `{path}` names no job"))?;
        out.push((job, CronExpr::parse(schedule)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn plan_schedules_match_when_they_should() {
        let hourly = CronExpr::parse("15 * * * *").unwrap();
        let six = CronExpr::parse("0 */6 * * *").unwrap();
        let daily = CronExpr::parse("0 3 * * *").unwrap();
        let t = |h, m| Utc.with_ymd_and_hms(2026, 11, 28, h, m, 0).unwrap();
        assert!(hourly.matches(t(7, 15)) && !hourly.matches(t(7, 16)));
        assert!(six.matches(t(0, 0)) && six.matches(t(18, 0)) && !six.matches(t(3, 0)));
        assert!(daily.matches(t(3, 0)) && !daily.matches(t(4, 0)));
        assert!(CronExpr::parse("61 * * * *").is_err());
        assert!(CronExpr::parse("* * *").is_err());
    }
}
