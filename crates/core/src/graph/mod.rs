//! The Meta Graph API: one client per process, typed errors, usage headers,
//! and the few calls urlinsta makes.

mod answer;
mod batch;
mod call;
mod classify;
mod client;
mod error;
mod instagram;
mod scopes;
#[cfg(test)]
mod stub;
pub mod types;
mod usage;

pub use batch::{BatchReply, MAX_BATCH_OPERATIONS};
pub use call::{Auth, Call};
pub use client::{GraphClient, Reply};
pub use error::{ErrorKind, GraphError, MetaError};
pub use instagram::{InstagramClients, join};
pub use scopes::{INSTAGRAM_SCOPES, REQUIRED_SCOPES, SCOPES};
pub use usage::Usage;
