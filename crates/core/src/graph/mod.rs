//! The Meta Graph API: one client per process, typed errors, usage headers,
//! and the few calls urlinsta makes.

mod batch;
mod client;
mod error;
pub mod types;
mod usage;

pub use batch::{BatchReply, MAX_BATCH_OPERATIONS};
pub use client::{Auth, Call, GraphClient, Reply, RetryPolicy};
pub use error::{ErrorKind, GraphError, MetaError, classify};
pub use usage::Usage;
