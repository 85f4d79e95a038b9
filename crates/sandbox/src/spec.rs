//! What a test adds to the world: a Facebook user, its Pages, and the
//! Instagram accounts linked to them.

use std::sync::atomic::{AtomicU64, Ordering};

/// A Facebook user to add to the world.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserSpec {
    pub name: String,
    pub pages: Vec<PageSpec>,
    /// Scopes this user unticks in the login dialog.
    pub declined_scopes: Vec<String>,
}

/// A Facebook Page the user administers.
#[derive(Debug, Clone, PartialEq)]
pub struct PageSpec {
    pub id: String,
    pub name: String,
    pub instagram: Option<IgSpec>,
}

/// An Instagram Business or Creator account linked to a Page.
#[derive(Debug, Clone, PartialEq)]
pub struct IgSpec {
    pub id: String,
    pub username: String,
    pub name: String,
    pub followers_count: i64,
    pub follows_count: i64,
    pub media_count: i64,
}

/// Fresh ids for generated specs, unique across every sandbox in the process.
static NEXT_GENERATED: AtomicU64 = AtomicU64::new(1000);

impl UserSpec {
    /// An influencer with one Page linked to one Instagram account of 12,345
    /// followers; ids are fresh so several can live in one world.
    pub fn default_influencer() -> UserSpec {
        let n = NEXT_GENERATED.fetch_add(1, Ordering::Relaxed);
        UserSpec {
            name: format!("Influencer {n}"),
            pages: vec![PageSpec::with_instagram(
                format!("2{:014}", n),
                format!("Studio {n}"),
                format!("178414{:011}", n),
                format!("creator.{n}"),
                12_345,
            )],
            declined_scopes: Vec::new(),
        }
    }

    /// A user with no Pages yet.
    pub fn named(name: impl Into<String>) -> UserSpec {
        UserSpec {
            name: name.into(),
            ..UserSpec::default()
        }
    }

    pub fn with_page(mut self, page: PageSpec) -> UserSpec {
        self.pages.push(page);
        self
    }

    pub fn declining(mut self, scopes: &[&str]) -> UserSpec {
        self.declined_scopes = scopes.iter().map(|s| s.to_string()).collect();
        self
    }
}

impl PageSpec {
    pub fn with_instagram(
        page_id: impl Into<String>,
        name: impl Into<String>,
        ig_id: impl Into<String>,
        username: impl Into<String>,
        followers: i64,
    ) -> PageSpec {
        let username = username.into();
        PageSpec {
            id: page_id.into(),
            name: name.into(),
            instagram: Some(IgSpec {
                id: ig_id.into(),
                name: display_name(&username),
                username,
                followers_count: followers,
                follows_count: 150 + followers % 400,
                media_count: 20 + followers % 180,
            }),
        }
    }

    pub fn without_instagram(page_id: impl Into<String>, name: impl Into<String>) -> PageSpec {
        PageSpec {
            id: page_id.into(),
            name: name.into(),
            instagram: None,
        }
    }
}

/// "sandbox.creator" -> "Sandbox Creator".
fn display_name(username: &str) -> String {
    username
        .split(['.', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_come_from_usernames() {
        assert_eq!(display_name("sandbox.creator"), "Sandbox Creator");
        assert_eq!(display_name("a_b"), "A B");
    }

    #[test]
    fn generated_influencers_do_not_collide() {
        let a = UserSpec::default_influencer();
        let b = UserSpec::default_influencer();
        assert_ne!(a.pages[0].id, b.pages[0].id);
        let (ia, ib) = (&a.pages[0].instagram, &b.pages[0].instagram);
        assert_ne!(ia.as_ref().map(|i| &i.id), ib.as_ref().map(|i| &i.id));
        assert_eq!(a.pages[0].id.len(), 15);
        assert_eq!(ia.as_ref().map(|i| i.id.len()), Some(17));
    }
}
