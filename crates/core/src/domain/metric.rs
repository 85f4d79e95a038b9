//! The name of an Instagram insights metric.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A metric name as Graph spells them (`reach`, `follower_demographics`):
/// lowercase ASCII letters, digits and underscores, at most 64 bytes.
/// Anything else stops at the edge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MetricName(String);

impl MetricName {
    /// The name, surrounding blanks aside; `None` when it cannot be a metric.
    pub fn parse(raw: &str) -> Option<MetricName> {
        let raw = raw.trim();
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        ok.then(|| MetricName(raw.to_string()))
    }

    /// One of the names the code itself spells (a constant such as
    /// `followers_count`), which a test proves is a metric name.
    pub fn known(name: &'static str) -> MetricName {
        debug_assert!(MetricName::parse(name).is_some_and(|m| m.as_str() == name), "{name}");
        MetricName(name.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MetricName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for MetricName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// Exactly a metric name: blanks around it are not trimmed here.
impl<'de> Deserialize<'de> for MetricName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        MetricName::parse(&raw)
            .filter(|m| m.as_str() == raw)
            .ok_or_else(|| serde::de::Error::custom(format!("`{raw}` is not a metric name")))
    }
}

impl PartialEq<str> for MetricName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

/// Its order and equality are its text's, so a map keyed by names is read by `&str`.
impl std::borrow::Borrow<str> for MetricName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for MetricName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_graph_spellings_are_metric_names() {
        assert_eq!(
            MetricName::parse(" reach ").map(|m| m.to_string()).as_deref(),
            Some("reach")
        );
        assert!(MetricName::parse("follower_demographics").is_some());
        for bad in ["", "Reach", "reach;drop", "re ach", &"a".repeat(65)] {
            assert!(MetricName::parse(bad).is_none(), "{bad:?}");
        }
    }
}
