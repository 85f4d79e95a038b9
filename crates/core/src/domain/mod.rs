//! The domain's values, each parsed once where it enters (an HTTP request,
//! a Graph answer, the configuration, a stored row) and carried as its type
//! down to the store. The bottom layer: it imports nothing of the crate.

mod media;

pub use media::{MediaId, MediaKind, ProductType};
