//! Who an Instagram account is, to Meta.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An Instagram user id (a Business or Creator account's, as Graph and
/// Instagram Login both hand it out): a Graph id, which is a 64-bit number
/// written in decimal digits. Parsed once where it arrives (a request's path
/// or body, a Graph answer, a stored row).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstagramUserId(String);

impl InstagramUserId {
    pub fn parse(raw: &str) -> Option<InstagramUserId> {
        is_graph_id(raw).then(|| InstagramUserId(raw.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Graph's ids (users, Pages, media): decimal digits, at most 32 (a 64-bit
/// number needs 20; the margin costs nothing and refuses nothing real).
pub(super) fn is_graph_id(raw: &str) -> bool {
    !raw.is_empty() && raw.len() <= 32 && raw.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Display for InstagramUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for InstagramUserId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// From a Graph answer (a string of digits): anything else makes the answer unreadable.
impl<'de> Deserialize<'de> for InstagramUserId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        InstagramUserId::parse(&raw)
            .ok_or_else(|| serde::de::Error::custom(format!("`{raw}` is not an Instagram user id")))
    }
}

impl PartialEq<str> for InstagramUserId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instagram_user_id_is_a_graph_id() {
        assert_eq!(
            InstagramUserId::parse("17841400000000001")
                .map(|id| id.to_string())
                .as_deref(),
            Some("17841400000000001")
        );
        for bad in ["", " 1784", "1784 ", "abc", "1' OR 1=1", "😀", "-1", &"9".repeat(33)] {
            assert!(InstagramUserId::parse(bad).is_none(), "{bad:?}");
        }
        assert!(InstagramUserId::parse(&"9".repeat(32)).is_some());
    }
}
