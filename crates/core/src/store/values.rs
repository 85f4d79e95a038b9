//! Domain values out of stored rows: each column read as its type, and a
//! stored value that is not one of them is corrupt data, said so, never
//! carried on as text.

use chrono::NaiveDate;
use libsql::Row;

use super::{Result, StoreError};
use crate::domain::{InstagramUserId, Login, MetricName, Timestamp};

pub(super) fn instagram_user_id(row: &Row, column: i32) -> Result<InstagramUserId> {
    parse_instagram_user_id(row.get(column)?)
}

/// A nullable column (an outer join's, or an event's that outlives its account).
pub(super) fn opt_instagram_user_id(row: &Row, column: i32) -> Result<Option<InstagramUserId>> {
    row.get::<Option<String>>(column)?
        .map(parse_instagram_user_id)
        .transpose()
}

fn parse_instagram_user_id(raw: String) -> Result<InstagramUserId> {
    InstagramUserId::parse(&raw).ok_or_else(|| StoreError::Corrupt(format!("instagram user id `{raw}`")))
}

pub(super) fn metric_name(row: &Row, column: i32) -> Result<MetricName> {
    let raw: String = row.get(column)?;
    MetricName::parse(&raw)
        .filter(|m| m.as_str() == raw)
        .ok_or_else(|| StoreError::Corrupt(format!("metric name `{raw}`")))
}

/// A stored calendar day, `2026-11-28`.
pub(super) fn date(row: &Row, column: i32) -> Result<NaiveDate> {
    let raw: String = row.get(column)?;
    NaiveDate::parse_from_str(&raw, "%Y-%m-%d").map_err(|_| StoreError::Corrupt(format!("date `{raw}`")))
}

/// `tokens.login`: which login's token collects the account.
pub(super) fn login(row: &Row, column: i32) -> Result<Login> {
    let raw: String = row.get(column)?;
    Login::parse(&raw).ok_or_else(|| StoreError::Corrupt(format!("login `{raw}`")))
}

/// A stored time (see [`Timestamp`]): compared as a time from here on.
pub(super) fn timestamp(row: &Row, column: i32) -> Result<Timestamp> {
    parse_timestamp(row.get(column)?)
}

pub(super) fn opt_timestamp(row: &Row, column: i32) -> Result<Option<Timestamp>> {
    row.get::<Option<String>>(column)?.map(parse_timestamp).transpose()
}

fn parse_timestamp(raw: String) -> Result<Timestamp> {
    Timestamp::parse(&raw).ok_or_else(|| StoreError::Corrupt(format!("time `{raw}`")))
}
