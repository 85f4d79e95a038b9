//! Older media on request: how far back an account's owner asked its media
//! catalog to reach, and how far it reaches now. The hourly collection
//! walks the catalog's backlog back to the day asked; this is its record.

use chrono::{DateTime, Utc};
use libsql::params;

use super::sql::{parse_ts, ts};
use super::{Result, Store};
use crate::domain::CatalogReach;

/// Where an account's catalog of older media stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaHistory {
    /// The day asked for; none: nothing asked (the catalog reaches back to
    /// the refresh horizon only).
    pub since: Option<CatalogReach>,
    /// When the current reach was asked for.
    pub requested_at: Option<DateTime<Utc>>,
    /// The catalog is complete from this time on; none: never listed yet.
    pub catalogued_until: Option<DateTime<Utc>>,
    /// Posts and reels in the catalog (carousels' children and stories aside).
    pub media: i64,
    /// When the oldest of them was posted.
    pub oldest_posted_at: Option<DateTime<Utc>>,
}

impl MediaHistory {
    /// The catalog reaches back to the day asked.
    pub fn done(&self) -> bool {
        match (self.since, self.catalogued_until) {
            (Some(since), Some(until)) => until <= since.start(),
            _ => false,
        }
    }
}

impl Store {
    /// Records that the account's media are wanted back to `reach`. A reach
    /// no further back than the one already asked changes nothing (a
    /// repeated request is no new work); says whether it changed anything.
    pub async fn request_media_history(&self, account_id: i64, reach: CatalogReach, at: DateTime<Utc>) -> Result<bool> {
        let conn = self.writer().await?;
        let changed = conn
            .execute(
                "INSERT INTO account_state (user_id, media_history_since, media_history_requested_at)
                 SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?1)
                 ON CONFLICT (user_id) DO UPDATE SET
                    media_history_since = excluded.media_history_since,
                    media_history_requested_at = excluded.media_history_requested_at
                 WHERE account_state.media_history_since IS NULL
                    OR excluded.media_history_since < account_state.media_history_since",
                params![account_id, ts(reach.start()), ts(at)],
            )
            .await?;
        Ok(changed > 0)
    }

    /// The account's request, if any, and its catalog's reach, in one read.
    pub async fn media_history(&self, account_id: i64) -> Result<MediaHistory> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT s.media_history_since, s.media_history_requested_at, s.media_catalogued_until,
                        (SELECT COUNT(*) FROM media m
                          WHERE m.user_id = ?1 AND m.parent_media_id IS NULL AND m.product_type != 'STORY'),
                        (SELECT MIN(posted_at) FROM media m
                          WHERE m.user_id = ?1 AND m.parent_media_id IS NULL AND m.product_type != 'STORY')
                 FROM (SELECT ?1 AS user_id) a LEFT JOIN account_state s ON s.user_id = a.user_id",
                [account_id],
            )
            .await?;
        let Some(row) = rows.next().await? else {
            return Ok(MediaHistory {
                since: None,
                requested_at: None,
                catalogued_until: None,
                media: 0,
                oldest_posted_at: None,
            });
        };
        let time = |i: i32| -> Result<Option<DateTime<Utc>>> {
            Ok(row.get::<Option<String>>(i)?.as_deref().and_then(parse_ts))
        };
        Ok(MediaHistory {
            since: time(0)?.map(CatalogReach::from_start),
            requested_at: time(1)?,
            catalogued_until: time(2)?,
            media: row.get(3)?,
            oldest_posted_at: time(4)?,
        })
    }
}
