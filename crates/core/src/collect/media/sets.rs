//! The metrics asked per product type: the configured sets less what Meta
//! refused for that type, and the set every post and reel takes, which a
//! list expands in place on a page mixing both.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{MetricName, ProductType};
use crate::store::RefusedMetric;

/// What a list asks of each media besides its insights.
const FIELDS: &str =
    "id,media_type,media_product_type,timestamp,permalink,caption,like_count,comments_count,children{id,media_type}";

#[derive(Debug, Clone)]
pub(super) struct MetricSets {
    by_type: BTreeMap<ProductType, Vec<MetricName>>,
    /// Refused for the run's shared expansion (which type refused is learnt per type).
    dropped_from_shared: BTreeSet<MetricName>,
}

impl MetricSets {
    pub fn new(configured: &BTreeMap<ProductType, Vec<MetricName>>, rejected: &[RefusedMetric]) -> Self {
        let by_type = configured
            .iter()
            .map(|(product, metrics)| {
                let refused = |m: &MetricName| rejected.iter().any(|r| r.product_type == *product && r.metric == *m);
                (*product, metrics.iter().filter(|m| !refused(m)).cloned().collect())
            })
            .collect();
        MetricSets {
            by_type,
            dropped_from_shared: BTreeSet::new(),
        }
    }

    pub fn of(&self, product: ProductType) -> &[MetricName] {
        self.by_type.get(&product).map_or(&[], Vec::as_slice)
    }

    /// `metric` refused for `product`: not asked of that type again.
    pub fn drop_for(&mut self, product: ProductType, metric: &MetricName) {
        if let Some(set) = self.by_type.get_mut(&product) {
            set.retain(|m| m != metric);
        }
    }

    /// `metric` refused on a mixed page: left out of the shared expansion for the run.
    pub fn drop_from_shared(&mut self, metric: MetricName) {
        self.dropped_from_shared.insert(metric);
    }

    /// What both FEED and REELS take, in FEED's order: safe on a mixed page.
    fn shared(&self) -> Vec<&MetricName> {
        let reels = self.of(ProductType::Reels);
        self.of(ProductType::Feed)
            .iter()
            .filter(|m| reels.contains(m) && !self.dropped_from_shared.contains(*m))
            .collect()
    }

    /// The list fields, the shared metrics expanded when there are any.
    pub fn list_fields(&self) -> String {
        let shared = self.shared();
        match shared.is_empty() {
            true => FIELDS.to_string(),
            false => format!("{FIELDS},insights.metric({})", join(shared)),
        }
    }
}

/// Graph's comma-separated list of metrics.
pub(super) fn join<'m>(metrics: impl IntoIterator<Item = &'m MetricName>) -> String {
    metrics
        .into_iter()
        .map(MetricName::as_str)
        .collect::<Vec<_>>()
        .join(",")
}
