//! The domain's values, each parsed once where it enters (an HTTP request,
//! a Graph answer, the configuration, a stored row) and carried as its type
//! down to the store. The bottom layer: it imports nothing of the crate.

mod catalog;
mod instagram;
mod lease;
mod login;
mod media;
mod metric;
mod refresh;
mod time;

pub use catalog::{CatalogReach, INSTAGRAM_LAUNCH, MAX_DAYS_BACK, ReachError};
pub use instagram::InstagramUserId;
pub use lease::LeaseName;
pub use login::Login;
pub use media::{MediaId, MediaKind, ProductType};
pub use metric::MetricName;
pub use refresh::{DEFAULT_SCHEDULE, RefreshSchedule, ScheduleError};
pub use time::{Timestamp, expiry_after};
