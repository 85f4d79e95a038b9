//! Which of Meta's logins a connection came through.

use serde::{Deserialize, Serialize};

/// The login whose token collects an account, and so which of Meta's
/// products speaks for it: Facebook Login (`graph.facebook.com`, through a
/// Page) or Instagram Login (`graph.instagram.com`, no Page needed). Status,
/// webhook events, Graph errors' reasons and the operator view name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Login {
    Facebook,
    Instagram,
}

impl Login {
    pub fn as_str(self) -> &'static str {
        match self {
            Login::Facebook => "facebook",
            Login::Instagram => "instagram",
        }
    }

    pub fn parse(raw: &str) -> Option<Login> {
        match raw {
            "facebook" => Some(Login::Facebook),
            "instagram" => Some(Login::Instagram),
            _ => None,
        }
    }

    /// The product's name as people know it, for sentences.
    pub fn product(self) -> &'static str {
        match self {
            Login::Facebook => "Facebook",
            Login::Instagram => "Instagram",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_reads_back_what_it_writes() {
        for login in [Login::Facebook, Login::Instagram] {
            assert_eq!(Login::parse(login.as_str()), Some(login));
        }
        assert_eq!(Login::parse("Instagram"), None);
    }
}
