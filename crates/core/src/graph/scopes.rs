//! The permissions urlinsta asks for on either login: Meta's vocabulary,
//! kept here so that both the logins (which ask for them) and the error
//! reasons (which name a missing one) read the same lists.

/// What urlinsta asks for, and why: read the profile, read insights, find the Pages.
pub const SCOPES: &[&str] = &[
    "instagram_basic",
    "instagram_manage_insights",
    "pages_show_list",
    "pages_read_engagement",
];

/// Without these nothing can be collected.
pub const REQUIRED_SCOPES: &[&str] = &["instagram_basic", "instagram_manage_insights", "pages_show_list"];

/// What Instagram Login asks for: the profile and its insights (both needed).
pub const INSTAGRAM_SCOPES: &[&str] = &["instagram_business_basic", "instagram_business_manage_insights"];
