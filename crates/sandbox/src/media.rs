//! Instagram media (posts, reels, carousels and stories) and their insights,
//! with Meta's December 2026 rules (platform-facts, "Media insights"):
//! one metric set per product type, lifetime values that grow with the
//! virtual clock and settle within about two days, stories that vanish
//! after 24 hours. The endpoints are in `media_api.rs`, the `story_insights`
//! webhook in `story_webhook.rs`, the test controls in `media_control.rs`.
//! Over 400 lines because Meta's metric table, one entry per metric, is a
//! third of it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::insights::hash;

/// A story is live this long after it was posted.
pub(crate) const STORY_LIFETIME_HOURS: i64 = 24;
/// Meta answers story insights only from this many viewers on.
pub(crate) const MIN_STORY_VIEWERS: i64 = 5;
/// Meta keeps a media's insights this long ("Metrics data is stored for up
/// to 2 years"): an older media's insights are an empty set.
pub(crate) const INSIGHTS_KEPT_DAYS: i64 = 730;
/// `/{ig-user-id}/media` lists at most this many of an account's newest media.
pub(crate) const MAX_LISTED: usize = 10_000;
/// Metrics Meta removed from media insights (v22, all versions since 2025-04-21).
pub(crate) const REMOVED_METRICS: [&str; 5] = [
    "impressions",
    "plays",
    "clips_replays_count",
    "ig_reels_aggregated_all_plays_count",
    "video_views",
];

/// Meta's `media_product_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProductType {
    Feed,
    Reels,
    Story,
}

impl ProductType {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductType::Feed => "FEED",
            ProductType::Reels => "REELS",
            ProductType::Story => "STORY",
        }
    }
}

/// Meta's `media_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    CarouselAlbum,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "IMAGE",
            MediaKind::Video => "VIDEO",
            MediaKind::CarouselAlbum => "CAROUSEL_ALBUM",
        }
    }
}

/// A post, reel, carousel or story to add with [`Control::add_media`].
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSpec {
    pub product: ProductType,
    pub kind: MediaKind,
    pub caption: String,
    /// When it was posted; `None`: the virtual now.
    pub posted_at: Option<DateTime<Utc>>,
    /// Images in a carousel (its children).
    pub children: usize,
    /// The accounts it reaches once its numbers settle; `None`: a share of
    /// the owner's followers.
    pub reach: Option<i64>,
    /// A reel also shared to Facebook: it has `crossposted_views` and `facebook_views`.
    pub crossposted: bool,
}

impl MediaSpec {
    fn of(product: ProductType, kind: MediaKind) -> MediaSpec {
        MediaSpec {
            product,
            kind,
            caption: String::new(),
            posted_at: None,
            children: 0,
            reach: None,
            crossposted: false,
        }
    }

    /// A feed photo.
    pub fn post() -> MediaSpec {
        MediaSpec::of(ProductType::Feed, MediaKind::Image)
    }

    pub fn reel() -> MediaSpec {
        MediaSpec::of(ProductType::Reels, MediaKind::Video)
    }

    pub fn story() -> MediaSpec {
        MediaSpec::of(ProductType::Story, MediaKind::Image)
    }

    /// A feed carousel of `children` images.
    pub fn carousel(children: usize) -> MediaSpec {
        MediaSpec {
            children,
            ..MediaSpec::of(ProductType::Feed, MediaKind::CarouselAlbum)
        }
    }

    pub fn caption(mut self, caption: impl Into<String>) -> MediaSpec {
        self.caption = caption.into();
        self
    }

    pub fn posted_at(mut self, at: DateTime<Utc>) -> MediaSpec {
        self.posted_at = Some(at);
        self
    }

    pub fn reaching(mut self, accounts: i64) -> MediaSpec {
        self.reach = Some(accounts);
        self
    }

    pub fn crossposted(mut self) -> MediaSpec {
        self.crossposted = true;
        self
    }
}

#[derive(Clone)]
pub(crate) struct Media {
    pub id: String,
    /// The Instagram account that posted it.
    pub owner: String,
    pub kind: MediaKind,
    pub product: ProductType,
    pub caption: String,
    pub posted_at: DateTime<Utc>,
    pub children: Vec<String>,
    /// The carousel a child belongs to.
    pub parent: Option<String>,
    pub reach: i64,
    pub crossposted: bool,
    pub deleted: bool,
}

impl Media {
    /// Readable through the API: not deleted, and a story only while live.
    pub fn visible(&self, now: DateTime<Utc>) -> bool {
        !self.deleted && (self.product != ProductType::Story || now < self.expires_at())
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.posted_at + Duration::hours(STORY_LIFETIME_HOURS)
    }

    /// A metric's lifetime value at `now` as its insights give it; `None`
    /// when Meta has no data for it (an empty set, not 0), as for every
    /// metric of a media older than Meta keeps insights (unverified: Meta's
    /// exact answer there; its documented rule for data it does not have).
    pub fn value(&self, metric: &str, now: DateTime<Utc>) -> Option<i64> {
        if now - self.posted_at > Duration::days(INSIGHTS_KEPT_DAYS) {
            return None;
        }
        self.lifetime(metric, now)
    }

    /// A metric's lifetime value at `now`, however old the media: what its
    /// own fields (`like_count`, `comments_count`) show.
    pub fn lifetime(&self, metric: &str, now: DateTime<Utc>) -> Option<i64> {
        let age_hours = (now - self.posted_at).num_seconds().max(0) as f64 / 3600.0;
        // Stories gather their viewers within hours, posts within about two days.
        let settle_hours = if self.product == ProductType::Story { 3.0 } else { 12.0 };
        let grown = 1.0 - (-age_hours / settle_hours).exp();
        let reach = (self.reach as f64 * grown).round();
        let jitter = |name: &str| 0.7 + (hash(&[&self.id, name]) % 600) as f64 / 1000.0;
        let share = |name: &str, per_mille: f64| (reach * per_mille / 1000.0 * jitter(name)).round() as i64;
        let views = share("views", 1600.0);
        Some(match metric {
            "reach" => reach as i64,
            "views" => views,
            "likes" => share("likes", 80.0),
            "comments" => share("comments", 10.0),
            "saved" => share("saved", 20.0),
            "shares" => share("shares", 12.0),
            "reposts" => share("reposts", 3.0),
            "follows" => share("follows", 4.0),
            "profile_visits" => share("profile_visits", 25.0),
            "profile_activity" => share("profile_activity", 6.0),
            "replies" => share("replies", 8.0),
            "navigation" => share("navigation", 900.0),
            "total_likes" => share("likes", 88.0),
            "total_comments" => share("comments", 11.0),
            "total_views" => share("views", 1700.0),
            "total_interactions" => match self.product {
                ProductType::Story => ["replies", "shares", "reposts"]
                    .iter()
                    .filter_map(|m| self.lifetime(m, now))
                    .sum(),
                _ => ["likes", "comments", "saved", "shares", "reposts"]
                    .iter()
                    .filter_map(|m| self.lifetime(m, now))
                    .sum(),
            },
            "crossposted_views" | "facebook_views" if !self.crossposted => return None,
            "crossposted_views" => share("crossposted_views", 2000.0),
            "facebook_views" => share("facebook_views", 400.0),
            _ if views == 0 => return None,
            "ig_reels_avg_watch_time" => 4_000 + (hash(&[&self.id, "watch"]) % 11_000) as i64,
            "ig_reels_video_view_total_time" => views * self.lifetime("ig_reels_avg_watch_time", now)?,
            "reels_skip_rate" => 15 + (hash(&[&self.id, "skip"]) % 50) as i64,
            _ => return None,
        })
    }
}

/// One media insights metric: who supports it, and how Meta titles it.
pub(crate) struct MediaMetric {
    pub name: &'static str,
    pub products: &'static [ProductType],
    pub title: &'static str,
    pub description: &'static str,
}

use ProductType::{Feed, Reels, Story};

const ALL: &[ProductType] = &[Feed, Reels, Story];
const POSTS: &[ProductType] = &[Feed, Reels];

/// Meta's media metrics and the product types each works for.
pub(crate) const MEDIA_METRICS: [MediaMetric; 19] = [
    mm("comments", POSTS, "Comments", "The number of comments on your post."),
    mm("likes", POSTS, "Likes", "The number of likes on your post."),
    mm("saved", POSTS, "Saved", "The number of saves of your post."),
    mm("shares", ALL, "Shares", "The number of shares of your post."),
    mm(
        "reach",
        ALL,
        "Accounts reached",
        "The number of unique accounts that have seen your post, at least once.",
    ),
    mm(
        "views",
        ALL,
        "Views",
        "The number of times your post was played or displayed.",
    ),
    mm("reposts", ALL, "Reposts", "The number of times your post was reposted."),
    mm(
        "total_interactions",
        ALL,
        "Interactions",
        "Likes, saves, comments, shares and reposts, minus unlikes, unsaves and deleted comments.",
    ),
    mm(
        "follows",
        &[Feed, Story],
        "Follows",
        "The number of accounts that started following you.",
    ),
    mm(
        "profile_visits",
        &[Feed, Story],
        "Profile visits",
        "The number of times your profile was visited.",
    ),
    mm(
        "profile_activity",
        &[Feed, Story],
        "Profile activity",
        "The number of actions people took on your profile after engaging with your post.",
    ),
    mm("replies", &[Story], "Replies", "The number of replies to your story."),
    mm(
        "navigation",
        &[Story],
        "Navigation",
        "Taps forward, taps back, exits and swipes forward on your story.",
    ),
    mm(
        "ig_reels_avg_watch_time",
        &[Reels],
        "Average watch time",
        "The average time your reel was played, in milliseconds.",
    ),
    mm(
        "ig_reels_video_view_total_time",
        &[Reels],
        "Watch time",
        "The total time your reel was played, in milliseconds.",
    ),
    mm(
        "reels_skip_rate",
        &[Reels],
        "Skip rate",
        "The percentage of views in which the reel was skipped within its first 3 seconds.",
    ),
    mm(
        "crossposted_views",
        &[Reels],
        "Crossposted views",
        "Views of your reel on Instagram and Facebook.",
    ),
    mm(
        "facebook_views",
        &[Reels],
        "Facebook views",
        "Views of your reel on Facebook.",
    ),
    mm("total_views", POSTS, "Total views", "Views including those from ads."),
];

const fn mm(
    name: &'static str,
    products: &'static [ProductType],
    title: &'static str,
    description: &'static str,
) -> MediaMetric {
    MediaMetric {
        name,
        products,
        title,
        description,
    }
}

pub(crate) fn media_metric(name: &str) -> Option<&'static MediaMetric> {
    MEDIA_METRICS.iter().find(|m| m.name == name)
}

/// Whether a media insights request came to the edge or through `insights.metric(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Via {
    /// `GET /{media-id}/insights`.
    Edge,
    /// `insights.metric(...)` in the `fields` of a media list or node.
    Expansion,
}

/// How often one metric set was asked of media of one product type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSetCount {
    pub product: ProductType,
    /// The metrics, sorted.
    pub metrics: Vec<String>,
    pub via: Via,
    /// Media the set was asked for (an expansion over a page counts each item).
    pub count: u64,
}

/// The media part of the world.
#[derive(Default)]
pub(crate) struct MediaWorld {
    /// By id; hashed, as a bench holds hundreds of thousands.
    pub items: HashMap<String, Media>,
    /// Each account's top-level media ids by product type: a list reads
    /// its owner's media of its types, not every account's.
    by_owner: HashMap<(String, ProductType), Vec<String>>,
    next_id: u64,
    /// `(product type, metric)` Meta has stopped accepting.
    pub rejected: BTreeSet<(ProductType, String)>,
    pub metric_sets: BTreeMap<(ProductType, Vec<String>, Via), u64>,
    /// Requests refused because a metric did not fit a media's product type.
    pub incompatible: u64,
    /// Where `story_insights` deliveries go.
    pub webhook_url: Option<String>,
    /// Stories whose `story_insights` went out.
    pub delivered: BTreeSet<String>,
}

impl MediaWorld {
    pub fn get(&self, id: &str) -> Option<&Media> {
        self.items.get(id)
    }

    /// Whether Meta accepts `metric` for media of `product` today.
    pub fn supports(&self, product: ProductType, metric: &str) -> bool {
        media_metric(metric).is_some_and(|m| m.products.contains(&product))
            && !self.rejected.contains(&(product, metric.to_string()))
    }

    pub fn count_metric_set(&mut self, product: ProductType, metrics: &[&str], via: Via) {
        let mut set: Vec<String> = metrics.iter().map(|m| m.to_string()).collect();
        set.sort();
        *self.metric_sets.entry((product, set, via)).or_default() += 1;
    }

    /// Adds a media (and a carousel's children) posted by `owner`.
    pub fn add(&mut self, owner: &str, spec: MediaSpec, posted_at: DateTime<Utc>, reach: i64) -> String {
        let id = self.new_id();
        let children: Vec<String> = (0..spec.children).map(|_| self.new_id()).collect();
        for child in &children {
            let media = Media {
                id: child.clone(),
                owner: owner.to_string(),
                kind: MediaKind::Image,
                product: ProductType::Feed,
                caption: String::new(),
                posted_at,
                children: Vec::new(),
                parent: Some(id.clone()),
                reach,
                crossposted: false,
                deleted: false,
            };
            self.items.insert(child.clone(), media);
        }
        let media = Media {
            id: id.clone(),
            owner: owner.to_string(),
            kind: spec.kind,
            product: spec.product,
            caption: spec.caption,
            posted_at,
            children,
            parent: None,
            reach,
            crossposted: spec.crossposted,
            deleted: false,
        };
        self.items.insert(id.clone(), media);
        self.by_owner
            .entry((owner.to_string(), spec.product))
            .or_default()
            .push(id.clone());
        id
    }

    /// Ids like Meta's: 17 digits, increasing.
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("18{:015}", self.next_id)
    }

    /// The account's top-level media of `products` readable at `now`, newest
    /// first, the [`MAX_LISTED`] newest at most.
    pub fn listed(&self, owner: &str, products: &[ProductType], now: DateTime<Utc>) -> Vec<&Media> {
        let mut list: Vec<&Media> = products
            .iter()
            .filter_map(|product| self.by_owner.get(&(owner.to_string(), *product)))
            .flatten()
            .filter_map(|id| self.items.get(id))
            .filter(|m| m.visible(now))
            .collect();
        list.sort_by(|a, b| b.posted_at.cmp(&a.posted_at).then(b.id.cmp(&a.id)));
        list.truncate(MAX_LISTED);
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(product: ProductType, reach: i64) -> Media {
        Media {
            id: "18000000000000001".into(),
            owner: "1".into(),
            kind: MediaKind::Video,
            product,
            caption: String::new(),
            posted_at: DateTime::<Utc>::UNIX_EPOCH,
            children: Vec::new(),
            parent: None,
            reach,
            crossposted: false,
            deleted: false,
        }
    }

    #[test]
    fn numbers_grow_then_settle() {
        let reel = media(ProductType::Reels, 1_000);
        let at = |hours: i64| DateTime::<Utc>::UNIX_EPOCH + Duration::hours(hours);
        let reach: Vec<i64> = [0, 1, 6, 24, 48, 96]
            .iter()
            .filter_map(|h| reel.value("reach", at(*h)))
            .collect();
        assert_eq!(reach[0], 0);
        assert!(reach.windows(2).all(|w| w[0] <= w[1]), "{reach:?}");
        assert!(reach[4] >= 980 && reach[5] <= 1_000, "{reach:?}");
        // No views yet: no watch time either (an empty set, not 0).
        assert_eq!(reel.value("ig_reels_avg_watch_time", at(0)), None);
        assert!(reel.value("ig_reels_avg_watch_time", at(5)).is_some());
        assert_eq!(reel.value("crossposted_views", at(5)), None);
        // Two years on, Meta has dropped its insights; its like count stays.
        let later = at(24 * INSIGHTS_KEPT_DAYS + 1);
        assert_eq!(reel.value("reach", later), None);
        assert!(reel.lifetime("likes", later).is_some_and(|likes| likes > 0));
    }

    #[test]
    fn metric_sets_follow_the_product_type() {
        let mut world = MediaWorld::default();
        assert!(world.supports(ProductType::Reels, "ig_reels_avg_watch_time"));
        assert!(!world.supports(ProductType::Feed, "ig_reels_avg_watch_time"));
        assert!(world.supports(ProductType::Story, "navigation"));
        assert!(!world.supports(ProductType::Reels, "impressions"));
        world.rejected.insert((ProductType::Reels, "reposts".into()));
        assert!(!world.supports(ProductType::Reels, "reposts"));
        assert!(world.supports(ProductType::Feed, "reposts"));
    }
}
