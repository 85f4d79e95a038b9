//! Values that must never reach a log line, an error text or a response.
//!
//! Every one of them prints `[redacted]` in Debug and Display and gives its
//! content only through `expose()`, so leaking one takes a deliberate call.
//! The bottom layer: it imports nothing of the crate (fresh random values
//! are made in `crypto`).

use std::fmt;

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself: only for the one place that must send or store it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
}

secret_type!(
    /// Any secret configuration value (session secret, admin key, cron secret, ...).
    Secret
);
secret_type!(
    /// A Facebook user or Page access token.
    AccessToken
);
secret_type!(
    /// The Meta app secret.
    AppSecret
);
secret_type!(
    /// The single-use code the login dialog hands back.
    AuthorizationCode
);
secret_type!(
    /// The OAuth `state` value that binds a login to one browser.
    CsrfState
);

secret_type!(
    /// A browser's session id, as its cookie carries it.
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_redact_themselves() {
        let t = AccessToken::new("EAAGsecretvalue");
        assert_eq!(format!("{t:?}"), "AccessToken([redacted])");
        assert_eq!(format!("{t}"), "[redacted]");
        assert_eq!(t.expose(), "EAAGsecretvalue");
        let s = Secret::new("abc");
        assert!(!format!("{s:?} {s}").contains("abc"));
    }
}
