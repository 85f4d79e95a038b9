//! The metrics Meta refused in one run, shared by its accounts.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::domain::MetricName;

/// Metrics Meta refused in this run (name -> Meta's message): the run's
/// other accounts do not ask for them again.
#[derive(Debug, Default)]
pub struct Rejections(Mutex<BTreeMap<MetricName, String>>);

impl Rejections {
    /// Meta's message refusing `metric` in this run, if it did.
    pub fn reason(&self, metric: &MetricName) -> Option<String> {
        self.lock().get(metric).cloned()
    }

    pub fn insert(&self, metric: MetricName, message: String) {
        self.lock().insert(metric, message);
    }

    /// Those of `configured` not refused in this run: what a plan asks for.
    pub fn still_asked(&self, configured: &[MetricName]) -> Vec<MetricName> {
        let refused = self.lock();
        configured
            .iter()
            .filter(|m| !refused.contains_key(*m))
            .cloned()
            .collect()
    }

    /// Those of `configured` a plan no longer `asked` for, with Meta's
    /// message: what it gathered as refused.
    pub fn refused(&self, configured: &[MetricName], asked: &[MetricName]) -> BTreeMap<MetricName, String> {
        let refused = self.lock();
        (configured.iter())
            .filter(|m| !asked.contains(m))
            .map(|m| (m.clone(), refused.get(m).cloned().unwrap_or_default()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<MetricName, String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
