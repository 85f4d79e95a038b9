//! Meta's own view of how close we are to its limits, read from every response.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Percentages (0-100) from `X-App-Usage` and `X-Business-Use-Case-Usage`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Highest of call_count / total_cputime / total_time of the app.
    pub app_pct: Option<u32>,
    /// Highest of the business-use-case entries (per Page or IG account).
    pub buc_pct: Option<u32>,
    /// `estimated_time_to_regain_access`, minutes.
    pub regain_minutes: Option<u64>,
}

#[derive(Deserialize)]
struct Counters {
    #[serde(default)]
    call_count: Option<f64>,
    #[serde(default)]
    total_cputime: Option<f64>,
    #[serde(default)]
    total_time: Option<f64>,
    #[serde(default)]
    estimated_time_to_regain_access: Option<f64>,
}

impl Counters {
    fn peak(&self) -> u32 {
        [self.call_count, self.total_cputime, self.total_time]
            .into_iter()
            .flatten()
            .fold(0.0f64, f64::max)
            .clamp(0.0, 1000.0) as u32
    }
}

impl Usage {
    pub fn from_headers(app: Option<&str>, buc: Option<&str>) -> Self {
        let app_pct = app
            .and_then(|h| serde_json::from_str::<Counters>(h).ok())
            .map(|c| c.peak());
        let mut buc_pct = None;
        let mut regain = None;
        if let Some(map) =
            buc.and_then(|h| serde_json::from_str::<std::collections::HashMap<String, Vec<Counters>>>(h).ok())
        {
            for c in map.values().flatten() {
                buc_pct = Some(buc_pct.unwrap_or(0).max(c.peak()));
                if let Some(m) = c.estimated_time_to_regain_access.filter(|m| *m > 0.0) {
                    regain = Some(regain.unwrap_or(0).max(m.ceil() as u64));
                }
            }
        }
        Usage {
            app_pct,
            buc_pct,
            regain_minutes: regain,
        }
    }

    /// The highest usage Meta reported.
    pub fn peak(&self) -> u32 {
        self.app_pct.unwrap_or(0).max(self.buc_pct.unwrap_or(0))
    }

    pub fn regain_after(&self) -> Option<Duration> {
        self.regain_minutes.map(|m| Duration::from_secs(m * 60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meta_headers() {
        let u = Usage::from_headers(
            Some(r#"{"call_count":12,"total_cputime":3,"total_time":80}"#),
            Some(
                r#"{"1784":[{"type":"instagram","call_count":91,"total_cputime":1,"total_time":2,"estimated_time_to_regain_access":7}]}"#,
            ),
        );
        assert_eq!(u.app_pct, Some(80));
        assert_eq!(u.buc_pct, Some(91));
        assert_eq!(u.peak(), 91);
        assert_eq!(u.regain_after(), Some(Duration::from_secs(420)));
        assert_eq!(Usage::from_headers(Some("garbage"), None), Usage::default());
    }
}
