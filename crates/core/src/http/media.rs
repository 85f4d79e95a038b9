//! The content read API:
//! `GET /api/insights/:userId/media?from=&to=&type=&sort=&order=&limit=&after=&format=`
//! (each media with the latest value of each metric, ranked and paged) and
//! `GET /api/insights/:userId/media/:mediaId` (the media and every snapshot).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::insights::authorized_account;
use super::query::{Format, csv_field, next_url, parse_limit, parse_range};
use super::{ApiError, ApiRequest, ApiResponse};
use crate::app::App;
use crate::domain::{InstagramUserId, MediaId, MetricName, ProductType, Timestamp};
use crate::store::{MediaFilter, StoredMedia};

/// The largest page a client may ask for.
const MAX_LIMIT: usize = 1_000;
const DEFAULT_LIMIT: usize = 100;

/// What media can be ranked by: when they were posted, their counts, and
/// every media metric Meta reports (platform-facts, December 2026).
const SORTS: &[&str] = &[
    "posted_at",
    "like_count",
    "comments_count",
    "reach",
    "views",
    "likes",
    "comments",
    "saved",
    "shares",
    "reposts",
    "total_interactions",
    "follows",
    "profile_visits",
    "profile_activity",
    "replies",
    "navigation",
    "ig_reels_avg_watch_time",
    "ig_reels_video_view_total_time",
    "reels_skip_rate",
    "crossposted_views",
    "facebook_views",
    "total_likes",
    "total_comments",
    "total_views",
];

#[derive(Debug)]
struct MediaQuery {
    filter: MediaFilter,
    sort: &'static str,
    descending: bool,
    limit: usize,
    after: Option<Cursor>,
    format: Format,
}

/// Where the last media of a page sat in the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Cursor {
    key: SortKey,
    media_id: String,
}

/// A media's place in the ranking: a time, a number, or nothing (last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum SortKey {
    Number(i64),
    Time(Timestamp),
    Missing,
}

impl MediaQuery {
    fn parse(req: &ApiRequest) -> Result<Self, ApiError> {
        let (from, until) = parse_range(req)?;
        let product = match req.query("type") {
            None => None,
            Some(t) => Some(
                ProductType::parse_lower(t)
                    .ok_or_else(|| ApiError::BadRequest("`type` must be feed, reels or story".into()))?,
            ),
        };
        let sort = match req.query("sort") {
            None => "posted_at",
            Some(s) => SORTS
                .iter()
                .copied()
                .find(|known| *known == s)
                .ok_or_else(|| ApiError::BadRequest(format!("`sort` must be one of: {}", SORTS.join(", "))))?,
        };
        let descending = match req.query("order").unwrap_or("desc") {
            "desc" => true,
            "asc" => false,
            _ => return Err(ApiError::BadRequest("`order` must be asc or desc".into())),
        };
        let limit = parse_limit(req, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
        let after = req
            .query("after")
            .map(|v| {
                crate::crypto::b64url_decode(v)
                    .and_then(|bytes| serde_json::from_slice::<Cursor>(&bytes).ok())
                    .ok_or_else(|| ApiError::BadRequest("`after` must be the `next` cursor of an earlier page".into()))
            })
            .transpose()?;
        let format = Format::parse(req)?;
        Ok(MediaQuery {
            filter: MediaFilter { from, until, product },
            sort,
            descending,
            limit,
            after,
            format,
        })
    }

    fn key(&self, media: &StoredMedia) -> SortKey {
        let number = match self.sort {
            "posted_at" => return SortKey::Time(media.posted_at),
            "like_count" => media.like_count,
            "comments_count" => media.comments_count,
            metric => media.metrics.get(metric).copied(),
        };
        number.map_or(SortKey::Missing, SortKey::Number)
    }

    /// The ranking: by the key in the asked order, media without a value
    /// last, then by id so that pages never overlap.
    fn compare(&self, a: &(SortKey, String), b: &(SortKey, String)) -> Ordering {
        let by_key = match (&a.0, &b.0) {
            (SortKey::Missing, SortKey::Missing) => Ordering::Equal,
            (SortKey::Missing, _) => return Ordering::Greater,
            (_, SortKey::Missing) => return Ordering::Less,
            (SortKey::Number(x), SortKey::Number(y)) => x.cmp(y),
            (SortKey::Time(x), SortKey::Time(y)) => x.cmp(y),
            (SortKey::Number(_), SortKey::Time(_)) => Ordering::Less,
            (SortKey::Time(_), SortKey::Number(_)) => Ordering::Greater,
        };
        let by_key = if self.descending { by_key.reverse() } else { by_key };
        by_key.then_with(|| b.1.cmp(&a.1))
    }
}

#[derive(Serialize)]
struct MediaPage<'a> {
    instagram_user_id: &'a InstagramUserId,
    count: usize,
    media: Vec<MediaOut<'a>>,
    /// The `after` of the next page, while there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

#[derive(Serialize)]
struct MediaOut<'a> {
    #[serde(flatten)]
    media: &'a StoredMedia,
    /// A story whose final numbers came from Meta's webhook.
    completed_by_webhook: bool,
}

/// `GET /api/insights/:userId/media`.
pub async fn list(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let account = authorized_account(app, req).await?;
    let query = MediaQuery::parse(req)?;
    let all = app.store.stored_media(account.id, &query.filter).await?;
    let mut ranked: Vec<((SortKey, String), StoredMedia)> = all
        .into_iter()
        .map(|m| ((query.key(&m), m.media_id.clone()), m))
        .collect();
    ranked.sort_by(|a, b| query.compare(&a.0, &b.0));
    let start = match &query.after {
        Some(c) => {
            let at = (c.key.clone(), c.media_id.clone());
            ranked.partition_point(|(k, _)| query.compare(k, &at) != Ordering::Greater)
        }
        None => 0,
    };
    let page: Vec<&((SortKey, String), StoredMedia)> = ranked.iter().skip(start).take(query.limit).collect();
    let next = (start + page.len() < ranked.len())
        .then(|| page.last())
        .flatten()
        .map(|((key, id), _)| cursor(key, id));
    let media: Vec<&StoredMedia> = page.iter().map(|(_, m)| m).collect();
    Ok(match query.format {
        Format::Json => ApiResponse::ok(&MediaPage {
            instagram_user_id: &account.instagram_user_id,
            count: media.len(),
            media: media
                .iter()
                .map(|m| MediaOut {
                    media: m,
                    completed_by_webhook: m.final_metrics.is_some(),
                })
                .collect(),
            next,
        }),
        Format::Csv => {
            let mut r = ApiResponse::text(StatusCode::OK, "text/csv; charset=utf-8", to_csv(&media));
            let disposition = format!("attachment; filename=\"media-{}.csv\"", account.instagram_user_id);
            r.set_header("content-disposition", &disposition);
            if let Some(next) = &next {
                r.set_header("link", &format!("<{}>; rel=\"next\"", next_url(req, next)));
            }
            r
        }
    })
}

/// `GET /api/insights/:userId/media/:mediaId`.
pub async fn detail(app: &App, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let account = authorized_account(app, req).await?;
    let media_id = MediaId::parse(req.param("mediaId").unwrap_or(""))
        .ok_or_else(|| ApiError::BadRequest("mediaId must be an Instagram media id (digits only)".into()))?;
    let (media, snapshots) = app
        .store
        .stored_media_detail(account.id, &media_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no such media of this account".into()))?;
    Ok(ApiResponse::ok(&json!({
        "instagram_user_id": account.instagram_user_id,
        "media": MediaOut { completed_by_webhook: media.final_metrics.is_some(), media: &media },
        "snapshots": snapshots,
    })))
}

fn cursor(key: &SortKey, media_id: &str) -> String {
    let c = Cursor {
        key: key.clone(),
        media_id: media_id.to_string(),
    };
    crate::crypto::b64url(serde_json::to_string(&c).unwrap_or_default().as_bytes())
}

/// One row per media; a column per metric any of them has.
fn to_csv(media: &[&StoredMedia]) -> String {
    let metrics: BTreeSet<&str> = media
        .iter()
        .flat_map(|m| m.metrics.keys().map(MetricName::as_str))
        .collect();
    let mut out = String::from(
        "media_id,product_type,media_type,posted_at,permalink,caption,like_count,comments_count,deleted_at,completed_by_webhook",
    );
    for metric in &metrics {
        out.push(',');
        out.push_str(metric);
    }
    out.push('\n');
    for m in media {
        let posted_at = m.posted_at.to_string();
        for (i, field) in [m.media_id.as_str(), m.product_type.as_str(), &m.media_type, &posted_at]
            .iter()
            .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            csv_field(&mut out, field);
        }
        for field in [&m.permalink, &m.caption] {
            out.push(',');
            csv_field(&mut out, field.as_deref().unwrap_or(""));
        }
        for number in [m.like_count, m.comments_count] {
            out.push(',');
            out.push_str(&number.map(|n| n.to_string()).unwrap_or_default());
        }
        out.push(',');
        csv_field(&mut out, &m.deleted_at.map(|t| t.to_string()).unwrap_or_default());
        out.push(',');
        out.push_str(if m.final_metrics.is_some() { "true" } else { "false" });
        for metric in &metrics {
            out.push(',');
            if let Some(v) = m.metrics.get(*metric) {
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::Method;

    fn query(q: &str) -> Result<MediaQuery, ApiError> {
        MediaQuery::parse(&ApiRequest::new(Method::GET, &format!("/api/insights/1/media?{q}")))
    }

    #[test]
    fn unknown_type_sort_or_order_is_refused() {
        assert!(query("type=feed&sort=reach&order=asc&limit=10").is_ok());
        for bad in [
            "type=FEED",
            "type=ad",
            "sort=impressions",
            "sort=",
            "order=up",
            "limit=0",
            "limit=1001",
            "after=x",
            "format=xml",
        ] {
            assert!(query(bad).is_err(), "{bad}");
        }
        let q = query("type=reels&sort=views").unwrap();
        assert_eq!(q.filter.product, Some(ProductType::Reels));
        assert!(q.descending);
    }

    #[test]
    fn rankings_put_missing_values_last_either_way() {
        let q = query("sort=reach&order=asc").unwrap();
        let mut keys = [
            (SortKey::Missing, "3".to_string()),
            (SortKey::Number(5), "2".to_string()),
            (SortKey::Number(1), "1".to_string()),
        ];
        keys.sort_by(|a, b| q.compare(a, b));
        assert_eq!(keys[0].1, "1");
        assert_eq!(keys[2].0, SortKey::Missing);
    }
}
