//! The test-facing side of media: post, delete, reject a metric for one
//! product type, and count what was asked of media insights.

use crate::control::Control;
use crate::media::{MediaSpec, MetricSetCount, ProductType};

impl Control {
    /// Posts a media for the Instagram account `ig_id` and returns its id.
    pub fn add_media(&self, ig_id: &str, spec: MediaSpec) -> String {
        let mut world = self.world();
        let posted_at = spec.posted_at.unwrap_or_else(|| world.now());
        // About a third of the followers by default, never 0.
        let followers = world.igs.get(ig_id).map_or(1_000, |ig| ig.followers_count);
        let reach = spec.reach.unwrap_or((followers / 3).max(1));
        world.media.add(ig_id, spec, posted_at, reach)
    }

    /// The owner deletes a media: it disappears from lists, and reading it
    /// answers "does not exist".
    pub fn delete_media(&self, media_id: &str) {
        if let Some(media) = self.world().media.items.get_mut(media_id) {
            media.deleted = true;
        }
    }

    /// The ids of a carousel's children.
    pub fn media_children(&self, media_id: &str) -> Vec<String> {
        self.world()
            .media
            .get(media_id)
            .map(|m| m.children.clone())
            .unwrap_or_default()
    }

    /// From now on, asking `metric` of media of `product` fails the whole
    /// request with error 100, as when Meta stops supporting a metric for
    /// one product type.
    pub fn reject_media_metric(&self, product: ProductType, metric: &str) {
        self.world().media.rejected.insert((product, metric.to_string()));
    }

    /// The value Meta reports now for one media metric (what a test expects).
    pub fn media_value(&self, media_id: &str, metric: &str) -> Option<i64> {
        let world = self.world();
        let now = world.now();
        world.media.get(media_id)?.value(metric, now)
    }

    /// Every metric set asked of media insights since the last reset, by
    /// product type and way of asking.
    pub fn media_metric_sets(&self) -> Vec<MetricSetCount> {
        self.world()
            .media
            .metric_sets
            .iter()
            .map(|((product, metrics, via), count)| MetricSetCount {
                product: *product,
                metrics: metrics.clone(),
                via: *via,
                count: *count,
            })
            .collect()
    }

    /// Media insights requests refused since the last reset because a metric
    /// did not fit a media's product type.
    pub fn incompatible_media_requests(&self) -> u64 {
        self.world().media.incompatible
    }

    /// Forgets the metric-set counts (like [`Control::reset_calls`]).
    pub fn reset_media_counts(&self) {
        let mut world = self.world();
        world.media.metric_sets.clear();
        world.media.incompatible = 0;
    }
}
