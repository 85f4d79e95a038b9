//! What identifies and classifies an Instagram media.

use std::fmt;

/// Meta's `media_product_type`: which metric set a media's insights take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProductType {
    Feed,
    Reels,
    Story,
}

impl ProductType {
    pub const ALL: [ProductType; 3] = [ProductType::Feed, ProductType::Reels, ProductType::Story];

    /// Graph's spelling: `FEED`, `REELS`, `STORY`. Meta's `AD` and anything
    /// newer are not ours to collect.
    pub fn parse(graph: &str) -> Option<ProductType> {
        match graph {
            "FEED" => Some(ProductType::Feed),
            "REELS" => Some(ProductType::Reels),
            "STORY" => Some(ProductType::Story),
            _ => None,
        }
    }

    /// The API's spelling: `feed`, `reels`, `story`.
    pub fn parse_lower(api: &str) -> Option<ProductType> {
        ProductType::ALL.into_iter().find(|p| p.as_lower() == api)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProductType::Feed => "FEED",
            ProductType::Reels => "REELS",
            ProductType::Story => "STORY",
        }
    }

    pub fn as_lower(self) -> &'static str {
        match self {
            ProductType::Feed => "feed",
            ProductType::Reels => "reels",
            ProductType::Story => "story",
        }
    }
}

impl serde::Serialize for ProductType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for ProductType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Meta's `media_type`; a carousel is a `CAROUSEL_ALBUM` of the FEED product type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    CarouselAlbum,
}

impl MediaKind {
    pub fn parse(graph: &str) -> Option<MediaKind> {
        match graph {
            "IMAGE" => Some(MediaKind::Image),
            "VIDEO" => Some(MediaKind::Video),
            "CAROUSEL_ALBUM" => Some(MediaKind::CarouselAlbum),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "IMAGE",
            MediaKind::Video => "VIDEO",
            MediaKind::CarouselAlbum => "CAROUSEL_ALBUM",
        }
    }
}

/// A media id as Graph hands them out (a Graph id: digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaId(String);

impl MediaId {
    pub fn parse(raw: &str) -> Option<MediaId> {
        super::instagram::is_graph_id(raw).then(|| MediaId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MediaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_at_the_edge() {
        assert_eq!(ProductType::parse("REELS"), Some(ProductType::Reels));
        assert_eq!(ProductType::parse("AD"), None);
        assert_eq!(ProductType::parse_lower("story"), Some(ProductType::Story));
        assert_eq!(ProductType::parse_lower("STORY"), None);
        assert_eq!(MediaKind::parse("CAROUSEL_ALBUM"), Some(MediaKind::CarouselAlbum));
        assert!(MediaId::parse("18000000000000001").is_some());
        for bad in ["", "12a", "1'; --", &"9".repeat(33)] {
            assert!(MediaId::parse(bad).is_none(), "{bad}");
        }
    }
}
