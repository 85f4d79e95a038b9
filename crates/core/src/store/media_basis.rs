//! What collect-insights reads of an account's media with its candidate
//! row (see [`Store::collection_candidates`]), so that the media step costs
//! no read of its own: the calls spent of the hourly ceiling, how far back
//! the catalog is whole (and how far back older media were asked for), the
//! metrics Meta refused per product type, and of
//! the catalog only what the plan can use: the top-level posts and reels
//! within the refresh horizon (and the newest list page's span, however
//! old), and the live stories, each with what decides whether it is due.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use libsql::{Row, Value};

use super::sql::{parse_ts, ts};
use super::{Result, StoreError};
use crate::domain::{MediaId, MetricName, ProductType};

/// How much of each account's catalog the candidate query reads.
#[derive(Debug, Clone, Copy)]
pub struct MediaReach {
    /// The run's time: the hourly ceiling's window ends here.
    pub now: DateTime<Utc>,
    /// Posts and reels posted since then (the refresh horizon)...
    pub since: DateTime<Utc>,
    /// ...and the newest this many in any case: the span a list page
    /// covers, in which a media Meta no longer lists is known gone.
    pub newest: usize,
    /// Stories posted since then (the live ones).
    pub stories_since: DateTime<Utc>,
}

/// A catalogued top-level media, as much as the plan needs of it.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownMedia {
    pub media_id: MediaId,
    pub product: ProductType,
    pub posted_at: DateTime<Utc>,
    pub deleted: bool,
    /// The last time a snapshot counted as its refresh.
    pub last_measured_at: Option<DateTime<Utc>>,
}

/// A metric Meta refused for one product type.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefusedMetric {
    pub product_type: ProductType,
    pub metric: MetricName,
}

/// What the media step of an account's hour starts from.
#[derive(Debug, Clone)]
pub struct MediaBasis {
    /// Graph calls spent of the account's hourly ceiling when it was read.
    pub calls_used: u32,
    /// Media posted before this are not catalogued yet; none: never listed.
    pub catalogued_until: Option<DateTime<Utc>>,
    /// Older media were asked for, back to this time; none: not asked.
    pub asked_back_to: Option<DateTime<Utc>>,
    pub refused: Vec<RefusedMetric>,
    /// The catalog as read (JSON), parsed by [`MediaBasis::known`] when the
    /// account's turn comes: a run holds every candidate at once.
    known: String,
}

impl MediaBasis {
    /// The catalog the plan can use, by id.
    pub fn known(&self) -> Result<BTreeMap<MediaId, KnownMedia>> {
        let rows: Vec<(String, String, String, Option<String>, i64)> = serde_json::from_str(&self.known)
            .map_err(|e| StoreError::Corrupt(format!("the media of a candidate: {e}")))?;
        let corrupt = |what: &str| StoreError::Corrupt(format!("media row with a bad {what}"));
        rows.into_iter()
            .map(|(id, product, posted_at, last, deleted)| {
                let media = KnownMedia {
                    media_id: MediaId::parse(&id).ok_or_else(|| corrupt("id"))?,
                    product: ProductType::parse(&product).ok_or_else(|| corrupt("product type"))?,
                    posted_at: parse_ts(&posted_at).ok_or_else(|| corrupt("time"))?,
                    deleted: deleted != 0,
                    last_measured_at: last.as_deref().and_then(parse_ts),
                };
                Ok((media.media_id.clone(), media))
            })
            .collect()
    }
}

/// The candidate query's media columns (5 of them) and their parameters,
/// numbered from `first`; without a reach, five NULLs.
pub(super) fn media_columns(reach: Option<&MediaReach>, first: usize) -> (String, Vec<Value>) {
    let Some(reach) = reach else {
        return ("NULL, NULL, NULL, NULL, NULL".into(), Vec::new());
    };
    let [hour_ago, since, stories_since, newest] = [first, first + 1, first + 2, first + 3];
    let columns = format!(
        "CASE WHEN s.rate_window_start > ?{hour_ago} THEN s.rate_window_calls ELSE 0 END,
         s.media_catalogued_until,
         (SELECT json_group_array(json_array(r.product_type, r.metric_name)) FROM media_rejected_metrics r WHERE r.user_id = u.id),
         (SELECT json_group_array(json_array(k.media_id, k.product_type, k.posted_at, k.last_insights_at, k.deleted)) FROM (
             SELECT media_id, product_type, posted_at, last_insights_at, deleted_at IS NOT NULL AS deleted FROM media
             WHERE user_id = u.id AND parent_media_id IS NULL AND product_type <> 'STORY' AND posted_at >= ?{since}
             UNION
             SELECT * FROM (SELECT media_id, product_type, posted_at, last_insights_at, deleted_at IS NOT NULL FROM media
                            WHERE user_id = u.id AND parent_media_id IS NULL AND product_type <> 'STORY'
                            ORDER BY posted_at DESC LIMIT ?{newest})
             UNION
             SELECT media_id, product_type, posted_at, last_insights_at, deleted_at IS NOT NULL FROM media
             WHERE user_id = u.id AND parent_media_id IS NULL AND product_type = 'STORY' AND posted_at >= ?{stories_since}
         ) k),
         s.media_history_since"
    );
    let params = vec![
        Value::Text(ts(reach.now - Duration::hours(1))),
        Value::Text(ts(reach.since)),
        Value::Text(ts(reach.stories_since)),
        Value::Integer(i64::try_from(reach.newest).unwrap_or(i64::MAX)),
    ];
    (columns, params)
}

/// The media columns of a candidate row from `first` on; none without a reach.
pub(super) fn media_basis(row: &Row, first: i32) -> Result<Option<MediaBasis>> {
    let Some(known) = row.get::<Option<String>>(first + 3)? else {
        return Ok(None);
    };
    let used: Option<i64> = row.get(first)?;
    let until: Option<String> = row.get(first + 1)?;
    let refused: Option<String> = row.get(first + 2)?;
    let asked: Option<String> = row.get(first + 4)?;
    let refused: Vec<(String, String)> = match refused {
        Some(json) => serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("the refused media metrics of a candidate: {e}")))?,
        None => Vec::new(),
    };
    Ok(Some(MediaBasis {
        calls_used: used.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        catalogued_until: until.as_deref().and_then(parse_ts),
        asked_back_to: asked.as_deref().and_then(parse_ts),
        // A row no longer of our types (a product type or name Meta dropped) refuses nothing.
        refused: refused
            .into_iter()
            .filter_map(|(product, metric)| {
                Some(RefusedMetric {
                    product_type: ProductType::parse(&product)?,
                    metric: MetricName::parse(&metric)?,
                })
            })
            .collect(),
        known,
    }))
}
