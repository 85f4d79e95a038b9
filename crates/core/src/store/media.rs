//! Content insights: the media catalog of each account, dated snapshots of
//! each media's lifetime metrics, stories' final numbers from Meta's
//! `story_insights` webhook, and the metrics Meta refused per product type.
//!
//! Every write is idempotent: a catalog entry is upserted, a snapshot is one
//! per media, metric and hour, a story's final numbers are written once and
//! a repeated or late delivery changes nothing.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Serialize;

use super::accounts::account_id;
use super::sql::{account_exists, opt_int, opt_text, text, ts};
use super::{Result, Store, StoreError};
use crate::domain::{InstagramUserId, MediaId, MediaKind, MetricName, ProductType, Timestamp};

/// One media as Meta lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaItem {
    pub media_id: MediaId,
    /// The carousel a child belongs to.
    pub parent: Option<MediaId>,
    pub kind: MediaKind,
    pub product: ProductType,
    pub posted_at: DateTime<Utc>,
    pub permalink: Option<String>,
    /// In full; the page shortens it.
    pub caption: Option<String>,
    pub like_count: Option<i64>,
    pub comments_count: Option<i64>,
}

/// A media's lifetime values as Meta reported them at one time.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSnapshot {
    pub media_id: MediaId,
    /// A metric Meta had no data for is absent.
    pub values: Vec<MetricValue>,
    /// It counts as the media's refresh for the schedule: its product
    /// type's whole metric set, or a list's shared set past the young age
    /// (a young media's shared values, measured in place every hour, do not).
    pub refreshes: bool,
}

/// One metric's value in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricValue {
    pub metric: MetricName,
    pub value: i64,
}

/// A metric Meta refused for one product type, as collection found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaMetricRefusal {
    pub product: ProductType,
    pub metric: MetricName,
    /// Meta's message.
    pub reason: String,
}

/// A metric Meta refused for one product type, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedMediaMetric {
    pub product_type: ProductType,
    pub metric: MetricName,
    pub reason: String,
    pub rejected_at: Timestamp,
}

/// What one account's media collection leaves behind, written at once.
#[derive(Debug, Clone, Default)]
pub struct MediaWrite {
    pub account_id: i64,
    /// Catalog entries to add or refresh (a listed media is not deleted).
    pub items: Vec<MediaItem>,
    /// Media Meta no longer has: marked deleted, history kept.
    pub gone: Vec<MediaId>,
    pub snapshots: Vec<MediaSnapshot>,
    /// Stories Meta answers "not enough viewers" for: recorded, not failed.
    pub not_enough_viewers: Vec<MediaId>,
    pub rejected: Vec<MediaMetricRefusal>,
    /// How far back the catalog is now complete, when that moved.
    pub catalogued_until: Option<DateTime<Utc>>,
}

/// A story's final number as the webhook gave it; in JSON a number, or
/// `"fewer_than_5"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalValue {
    Count(i64),
    /// Meta's -1: fewer than 5, not a count.
    FewerThanFive,
}

impl FinalValue {
    /// Meta's number: -1 means fewer than 5; other negatives are not counts either.
    pub fn from_meta(value: i64) -> FinalValue {
        if value < 0 {
            FinalValue::FewerThanFive
        } else {
            FinalValue::Count(value)
        }
    }
}

impl Serialize for FinalValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            FinalValue::Count(n) => serializer.serialize_i64(*n),
            FinalValue::FewerThanFive => serializer.serialize_str("fewer_than_5"),
        }
    }
}

/// One of a story's final numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalMetric {
    pub metric: MetricName,
    pub value: FinalValue,
}

/// What became of a webhook's final numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalOutcome {
    Stored,
    /// The story already had its final numbers: nothing changed.
    AlreadyFinal,
    /// No connected account has this Instagram id: ignored.
    UnknownAccount,
}

/// The hour a snapshot belongs to: one per media, metric and hour.
pub fn snapshot_hour(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

impl Store {
    /// Writes one account's catalog changes, snapshots taken `at`, story
    /// statuses and refused metrics in one transactional batch. Nothing is
    /// written for an account deleted meanwhile.
    pub async fn save_media(&self, write: &MediaWrite, at: DateTime<Utc>) -> Result<()> {
        let sql = media_write_sql(write, at);
        if sql.is_empty() {
            return Ok(());
        }
        self.write_script(sql).await
    }

    /// Stores a story's final numbers from the webhook, once: the first
    /// delivery wins, a repeat or a late one changes nothing.
    pub async fn save_story_final(
        &self,
        instagram_user_id: &InstagramUserId,
        media_id: &MediaId,
        values: &[FinalMetric],
        received_at: DateTime<Utc>,
    ) -> Result<FinalOutcome> {
        let conn = self.writer().await?;
        let tx = conn.transaction().await?;
        let Some(account) = account_id(&tx, instagram_user_id).await? else {
            return Ok(FinalOutcome::UnknownAccount);
        };
        let already = {
            let mut rows = tx
                .query(
                    "SELECT 1 FROM story_final_insights WHERE user_id = ?1 AND media_id = ?2",
                    libsql::params![account, media_id.as_str()],
                )
                .await?;
            rows.next().await?.is_some()
        };
        if already {
            return Ok(FinalOutcome::AlreadyFinal);
        }
        let at = ts(received_at);
        for FinalMetric { metric, value } in values {
            let (number, fewer) = match value {
                FinalValue::Count(n) => (Some(*n), 0),
                FinalValue::FewerThanFive => (None, 1),
            };
            tx.execute(
                "INSERT INTO story_final_insights (user_id, media_id, metric_name, metric_value, fewer_than_five, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                libsql::params![account, media_id.as_str(), metric.as_str(), number, fewer, at.as_str()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(FinalOutcome::Stored)
    }

    /// The metrics Meta refused for each product type of this account.
    pub async fn rejected_media_metrics(&self, account_id: i64) -> Result<Vec<RejectedMediaMetric>> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT product_type, metric_name, reason, rejected_at FROM media_rejected_metrics
                 WHERE user_id = ?1 ORDER BY product_type, metric_name",
                [account_id],
            )
            .await?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().await? {
            // A row no longer of our types (a product type or name Meta dropped) asks nothing.
            let product = ProductType::parse(&r.get::<String>(0)?);
            let metric = MetricName::parse(&r.get::<String>(1)?);
            if let (Some(product_type), Some(metric)) = (product, metric) {
                out.push(RejectedMediaMetric {
                    product_type,
                    metric,
                    reason: r.get(2)?,
                    rejected_at: Timestamp::parse(&r.get::<String>(3)?)
                        .ok_or_else(|| StoreError::Corrupt("a refused media metric with a bad time".into()))?,
                });
            }
        }
        Ok(out)
    }
}

pub(super) fn media_write_sql(write: &MediaWrite, at: DateTime<Utc>) -> String {
    let id = write.account_id;
    let now = text(&ts(at));
    let hour = text(&ts(snapshot_hour(at)));
    let guard = account_exists(id);
    let mut sql = String::new();
    for item in &write.items {
        sql.push_str(&format!(
            "INSERT INTO media (user_id, media_id, parent_media_id, media_type, product_type, posted_at, permalink, caption,
                                like_count, comments_count, first_seen_at, updated_at)
             SELECT {id}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {now}, {now} WHERE {guard}
             ON CONFLICT (user_id, media_id) DO UPDATE SET
                permalink = excluded.permalink, caption = excluded.caption, like_count = excluded.like_count,
                comments_count = excluded.comments_count, updated_at = excluded.updated_at, deleted_at = NULL;\n",
            text(item.media_id.as_str()),
            opt_text(item.parent.as_ref().map(MediaId::as_str)),
            text(item.kind.as_str()),
            text(item.product.as_str()),
            text(&ts(item.posted_at)),
            opt_text(item.permalink.as_deref()),
            opt_text(item.caption.as_deref()),
            opt_int(item.like_count),
            opt_int(item.comments_count),
        ));
    }
    if !write.gone.is_empty() {
        let ids = id_list(&write.gone);
        sql.push_str(&format!(
            "UPDATE media SET deleted_at = {now}, updated_at = {now}
             WHERE user_id = {id} AND deleted_at IS NULL AND (media_id IN ({ids}) OR parent_media_id IN ({ids}));\n"
        ));
    }
    for snapshot in &write.snapshots {
        let media = text(snapshot.media_id.as_str());
        for MetricValue { metric, value } in &snapshot.values {
            sql.push_str(&format!(
                "INSERT INTO media_insights (user_id, media_id, metric_name, metric_value, snapshot_at)
                 SELECT {id}, {media}, {}, {value}, {hour} WHERE {guard}
                 ON CONFLICT (user_id, media_id, snapshot_at, metric_name) DO UPDATE SET metric_value = excluded.metric_value;\n",
                text(metric.as_str())
            ));
        }
        if snapshot.refreshes {
            sql.push_str(&format!(
                "UPDATE media SET insights_status = 'ok', last_insights_at = {now} WHERE user_id = {id} AND media_id = {media};\n"
            ));
        }
    }
    if !write.not_enough_viewers.is_empty() {
        sql.push_str(&format!(
            "UPDATE media SET insights_status = 'not_enough_viewers', last_insights_at = {now}
             WHERE user_id = {id} AND media_id IN ({});\n",
            id_list(&write.not_enough_viewers)
        ));
    }
    for MediaMetricRefusal {
        product,
        metric,
        reason,
    } in &write.rejected
    {
        sql.push_str(&format!(
            "INSERT INTO media_rejected_metrics (user_id, product_type, metric_name, reason, rejected_at)
             SELECT {id}, {}, {}, {}, {now} WHERE {guard}
             ON CONFLICT (user_id, product_type, metric_name) DO UPDATE SET reason = excluded.reason;\n",
            text(product.as_str()),
            text(metric.as_str()),
            text(reason)
        ));
    }
    if let Some(until) = write.catalogued_until {
        sql.push_str(&format!(
            "INSERT INTO account_state (user_id, media_catalogued_until) SELECT {id}, {} WHERE {guard}
             ON CONFLICT (user_id) DO UPDATE SET media_catalogued_until = excluded.media_catalogued_until;\n",
            text(&ts(until))
        ));
    }
    sql
}

fn id_list(ids: &[MediaId]) -> String {
    ids.iter().map(|m| text(m.as_str())).collect::<Vec<_>>().join(", ")
}
