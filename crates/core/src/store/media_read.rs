//! Reading content insights back: an account's media with the latest value
//! of each metric (and a story's final numbers), and one media's snapshots.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use libsql::{Value, params};
use serde::Serialize;

use super::media::FinalValue;
use super::sql::ts;
use super::{Result, Store, StoreError};
use crate::domain::{MediaId, MetricName, ProductType, Timestamp};

/// Which media to read: top-level ones posted in `from <= posted_at < until`,
/// of one product type or all; deleted ones included.
#[derive(Debug, Clone, Default)]
pub struct MediaFilter {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub product: Option<ProductType>,
}

/// A catalogued media with its latest numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredMedia {
    pub media_id: String,
    pub media_type: String,
    pub product_type: ProductType,
    pub posted_at: Timestamp,
    pub permalink: Option<String>,
    pub caption: Option<String>,
    pub like_count: Option<i64>,
    pub comments_count: Option<i64>,
    /// `pending`, `ok` or `not_enough_viewers`.
    pub insights_status: String,
    pub last_insights_at: Option<Timestamp>,
    pub deleted_at: Option<Timestamp>,
    /// The latest snapshot's value of each metric.
    pub metrics: BTreeMap<MetricName, i64>,
    /// A story's final numbers from Meta's webhook, when they came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_metrics: Option<BTreeMap<String, FinalValue>>,
    /// Ids of a carousel's children.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
}

/// One stored value of a media's metric at one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MediaSnapshotRow {
    pub snapshot_at: Timestamp,
    pub metric_name: MetricName,
    pub metric_value: i64,
}

impl Store {
    /// The account's media matching `filter`, newest first, each with the
    /// latest value of every metric.
    pub async fn stored_media(&self, account_id: i64, filter: &MediaFilter) -> Result<Vec<StoredMedia>> {
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT media_id, media_type, product_type, posted_at, permalink, caption, like_count, comments_count,
                        insights_status, last_insights_at, deleted_at,
                        (SELECT group_concat(c.media_id) FROM media c WHERE c.user_id = m.user_id AND c.parent_media_id = m.media_id)
                 FROM media m
                 WHERE user_id = ?1 AND parent_media_id IS NULL
                   AND (?2 IS NULL OR posted_at >= ?2) AND (?3 IS NULL OR posted_at < ?3) AND (?4 IS NULL OR product_type = ?4)
                 ORDER BY posted_at DESC, media_id DESC",
                params![
                    account_id,
                    opt(filter.from.map(ts)),
                    opt(filter.until.map(ts)),
                    opt(filter.product.map(|p| p.as_str().to_string()))
                ],
            )
            .await?;
        let mut media = Vec::new();
        while let Some(r) = rows.next().await? {
            let children: Option<String> = r.get(11)?;
            media.push(StoredMedia {
                media_id: r.get(0)?,
                media_type: r.get(1)?,
                product_type: ProductType::parse(&r.get::<String>(2)?).ok_or_else(|| corrupt("product type"))?,
                posted_at: time(&r.get::<String>(3)?)?,
                permalink: r.get(4)?,
                caption: r.get(5)?,
                like_count: r.get(6)?,
                comments_count: r.get(7)?,
                insights_status: r.get(8)?,
                last_insights_at: r.get::<Option<String>>(9)?.as_deref().map(time).transpose()?,
                deleted_at: r.get::<Option<String>>(10)?.as_deref().map(time).transpose()?,
                metrics: BTreeMap::new(),
                final_metrics: None,
                children: children
                    .map(|c| c.split(',').map(str::to_string).collect())
                    .unwrap_or_default(),
            });
        }
        drop(rows);
        let mut latest = conn
            .query(
                "SELECT s.media_id, s.metric_name, s.metric_value FROM media_insights s
                 JOIN (SELECT media_id, metric_name, MAX(snapshot_at) AS at FROM media_insights
                       WHERE user_id = ?1 GROUP BY media_id, metric_name) l
                   ON l.media_id = s.media_id AND l.metric_name = s.metric_name AND l.at = s.snapshot_at
                 WHERE s.user_id = ?1",
                [account_id],
            )
            .await?;
        let index: BTreeMap<String, usize> = media.iter().enumerate().map(|(i, m)| (m.media_id.clone(), i)).collect();
        while let Some(r) = latest.next().await? {
            if let Some(&i) = index.get(&r.get::<String>(0)?) {
                media[i].metrics.insert(metric(&r.get::<String>(1)?)?, r.get(2)?);
            }
        }
        drop(latest);
        for (media_id, finals) in self.story_finals(&conn, account_id, None).await? {
            if let Some(&i) = index.get(&media_id) {
                media[i].final_metrics = Some(finals);
            }
        }
        Ok(media)
    }

    /// One media with every snapshot of it, oldest first; `None` when the
    /// account has no such media.
    pub async fn stored_media_detail(
        &self,
        account_id: i64,
        media_id: &MediaId,
    ) -> Result<Option<(StoredMedia, Vec<MediaSnapshotRow>)>> {
        let all = self.stored_media(account_id, &MediaFilter::default()).await?;
        let Some(media) = all.into_iter().find(|m| m.media_id == media_id.as_str()) else {
            return Ok(None);
        };
        let conn = self.conn().await?;
        let mut rows = conn
            .query(
                "SELECT snapshot_at, metric_name, metric_value FROM media_insights
                 WHERE user_id = ?1 AND media_id = ?2 ORDER BY snapshot_at, metric_name",
                params![account_id, media_id.as_str()],
            )
            .await?;
        let mut snapshots = Vec::new();
        while let Some(r) = rows.next().await? {
            snapshots.push(MediaSnapshotRow {
                snapshot_at: time(&r.get::<String>(0)?)?,
                metric_name: metric(&r.get::<String>(1)?)?,
                metric_value: r.get(2)?,
            });
        }
        Ok(Some((media, snapshots)))
    }

    /// Final numbers per story (of one media, or all of the account's).
    async fn story_finals(
        &self,
        conn: &super::Conn,
        account_id: i64,
        only: Option<&str>,
    ) -> Result<BTreeMap<String, BTreeMap<String, FinalValue>>> {
        let mut rows = conn
            .query(
                "SELECT media_id, metric_name, metric_value, fewer_than_five FROM story_final_insights
                 WHERE user_id = ?1 AND (?2 IS NULL OR media_id = ?2)",
                params![account_id, opt(only.map(str::to_string))],
            )
            .await?;
        let mut out: BTreeMap<String, BTreeMap<String, FinalValue>> = BTreeMap::new();
        while let Some(r) = rows.next().await? {
            let value = match (r.get::<Option<i64>>(2)?, r.get::<i64>(3)?) {
                (_, 1) => FinalValue::FewerThanFive,
                (Some(n), _) => FinalValue::Count(n),
                (None, _) => return Err(StoreError::Corrupt("a final story value without a number".into())),
            };
            out.entry(r.get(0)?).or_default().insert(r.get(1)?, value);
        }
        Ok(out)
    }
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("stored media with a bad {what}"))
}

fn time(stored: &str) -> Result<Timestamp> {
    Timestamp::parse(stored).ok_or_else(|| corrupt("time"))
}

fn metric(stored: &str) -> Result<MetricName> {
    MetricName::parse(stored).ok_or_else(|| corrupt("metric name"))
}

fn opt(value: Option<String>) -> Value {
    value.map_or(Value::Null, Value::Text)
}
