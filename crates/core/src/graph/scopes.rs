//! The Facebook Login permissions urlinsta asks for: Meta's vocabulary, kept
//! here so that both the login (which asks for them) and the error reasons
//! (which name a missing one) read the same list.

/// What urlinsta asks for, and why: read the profile, read insights, find the Pages.
pub const SCOPES: &[&str] = &[
    "instagram_basic",
    "instagram_manage_insights",
    "pages_show_list",
    "pages_read_engagement",
];

/// Without these nothing can be collected.
pub const REQUIRED_SCOPES: &[&str] = &["instagram_basic", "instagram_manage_insights", "pages_show_list"];
