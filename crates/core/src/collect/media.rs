//! collect-insights, after the account metrics: the account's posts, reels
//! and stories, in one round trip (one batch):
//!
//! - the newest media (`/{ig}/media`, newest first) with the metrics every
//!   feed post and reel supports expanded in place (`insights.metric(...)`:
//!   one call measures a whole page of young media); at first connect the
//!   list goes on page by page back to the refresh horizon;
//! - the live stories (`/{ig}/stories`);
//! - the catalogued media due a full measure with their product type's own
//!   metric set (`/{media}/insights`): live stories first, then young media,
//!   then older ones by the refresh schedule, a few per run, within what is
//!   left of the account's hourly ceiling. A media first seen in this run is
//!   measured in the next (its shared metrics already came with the list).
//!
//! A metric Meta refuses costs only the product type that refused it: the
//! shared expansion drops it for the run, the per-type call records it for
//! that type. A story under Meta's viewer threshold is recorded as such, a
//! media Meta no longer has is marked deleted. Everything gathered is
//! written in one round trip.
//!
//! Over 400 lines: the lists and the measures are one plan, so that they
//! travel in one batch, and its answers are read here too.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::limits::{ExchangeEnd, Next, Plan, exchange};
use super::metrics::{data, parse_meta_time};
use crate::app::App;
use crate::domain::{InstagramUserId, MediaId, MediaKind, ProductType, RefreshSchedule};
use crate::engine::Run;
use crate::graph::{Auth, Call, ErrorKind, GraphError};
use crate::store::{Candidate, KnownMedia, MediaItem, MediaSnapshot, MediaWrite};

/// Media per list page; a day's posts of a busy account fit in one.
const PAGE_SIZE: usize = 25;
/// List pages one run reads while cataloguing back to the horizon.
const MAX_PAGES: u8 = 4;
/// A story is live this long.
const STORY_LIFETIME_HOURS: i64 = 24;
/// A live story is measured this often.
const STORY_EVERY: Duration = Duration::hours(4);
/// Older media refreshed in one run at most: the rest wait for the next
/// runs, so that a backlog spreads over the day.
const OLDER_PER_RUN: usize = 6;
/// Meta's ceiling of operations in one batch.
const MAX_BATCH: usize = 50;
const FIELDS: &str =
    "id,media_type,media_product_type,timestamp,permalink,caption,like_count,comments_count,children{id,media_type}";
const STORY_FIELDS: &str = "id,media_type,media_product_type,timestamp,permalink,caption";

/// What the media part of a run did for one account.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MediaSummary {
    /// Media seen for the first time.
    pub new: usize,
    /// Media measured (a snapshot stored).
    pub measured: usize,
    /// Media Meta no longer has.
    pub gone: usize,
    /// Stories under Meta's viewer threshold.
    pub not_enough_viewers: usize,
    /// `(product type, metric)` Meta refused.
    pub rejected: Vec<(String, String)>,
    /// Why the media part stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// Collects the account's media and writes what it gathered.
pub async fn collect(app: &App, run: &Run, account: &Candidate, auth: Auth<'_>, now: DateTime<Utc>) -> MediaSummary {
    let mut summary = MediaSummary::default();
    let limit = app.config.rate_limit_per_hour;
    let read = async {
        let known = app.store.known_media(account.id).await?;
        let rejected = app.store.rejected_media_metrics(account.id).await?;
        let left = app.store.calls_left(account.id, limit).await?;
        Ok::<_, crate::store::StoreError>((known, rejected, left))
    };
    let (known, rejected, left) = match read.await {
        Ok(read) => read,
        Err(e) => {
            summary.stopped = Some(format!("the media catalog could not be read: {e}"));
            return summary;
        }
    };
    // The two lists first; measures take what is left.
    let Some(room) = (left as usize).checked_sub(2) else {
        summary.stopped = Some(format!(
            "the hourly ceiling of {limit} Graph calls for this account is reached"
        ));
        return summary;
    };
    let schedule = &app.config.media_schedule;
    let due = due(&known, schedule, now, room);
    let sets = MetricSets::new(&app.config.media_metrics, &rejected);
    let mut plan = MediaPlan::new(&account.instagram_user_id, sets, schedule, &known, due, now);
    let ops = [Op::Media, Op::Stories]
        .into_iter()
        .chain((0..plan.due.len()).map(Op::Measure))
        .collect();
    let ended = exchange(app, run, account, auth, &mut plan, ops, 0).await;
    summary.stopped = stopped(&ended);
    let write = plan.finish(account.id);
    summary.new = write
        .items
        .iter()
        .filter(|i| !known.contains_key(i.media_id.as_str()))
        .count();
    summary.measured = write.snapshots.len();
    summary.gone = write.gone.len();
    summary.not_enough_viewers = write.not_enough_viewers.len();
    summary.rejected = write
        .rejected
        .iter()
        .map(|(p, m, _)| (p.as_str().to_string(), m.clone()))
        .collect();
    if let Err(e) = app.store.save_media(&write, now).await {
        summary.stopped = Some(format!("the media could not be stored: {e}"));
    }
    summary
}

fn stopped(ended: &ExchangeEnd) -> Option<String> {
    match ended {
        ExchangeEnd::Complete => None,
        ExchangeEnd::OverAllowance => Some("the hourly ceiling for this account is reached".into()),
        ExchangeEnd::Parked { reason, .. } => Some(format!("parked: {reason}")),
        ExchangeEnd::Failed(reason, _) => Some(reason.clone()),
    }
}

/// The metrics asked per product type, and the ones every post and reel takes.
#[derive(Debug, Clone)]
struct MetricSets {
    by_type: BTreeMap<ProductType, Vec<String>>,
    /// Refused for the run's shared expansion (which type refused is learnt per type).
    dropped_from_shared: BTreeSet<String>,
}

impl MetricSets {
    fn new(configured: &BTreeMap<ProductType, Vec<String>>, rejected: &[crate::store::RejectedMediaMetric]) -> Self {
        let by_type = configured
            .iter()
            .map(|(product, metrics)| {
                let refused = |m: &String| {
                    rejected
                        .iter()
                        .any(|r| r.product_type == product.as_str() && r.metric == *m)
                };
                (*product, metrics.iter().filter(|m| !refused(m)).cloned().collect())
            })
            .collect();
        MetricSets {
            by_type,
            dropped_from_shared: BTreeSet::new(),
        }
    }

    fn of(&self, product: ProductType) -> &[String] {
        self.by_type.get(&product).map_or(&[], Vec::as_slice)
    }

    /// What both FEED and REELS take, in FEED's order: safe on a mixed page.
    fn shared(&self) -> Vec<String> {
        let reels = self.of(ProductType::Reels);
        self.of(ProductType::Feed)
            .iter()
            .filter(|m| reels.contains(m) && !self.dropped_from_shared.contains(*m))
            .cloned()
            .collect()
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    /// The newest media, with the shared metrics expanded in place.
    Media,
    Stories,
    /// The full measure of `due[i]`.
    Measure(usize),
}

/// One catalogued media due a full measure.
#[derive(Debug, Clone)]
struct Due {
    media_id: MediaId,
    product: ProductType,
}

/// What is due now, most urgent first, as many as `room` calls allow:
/// live stories, then media young or never measured, then the most overdue
/// older ones (a few per run, so that a backlog spreads over the day).
fn due(known: &BTreeMap<String, KnownMedia>, schedule: &RefreshSchedule, now: DateTime<Utc>, room: usize) -> Vec<Due> {
    let live = |k: &KnownMedia| now - k.posted_at < Duration::hours(STORY_LIFETIME_HOURS);
    let candidates = known.values().filter(|k| k.parent.is_none() && !k.deleted);
    let stories = candidates
        .clone()
        .filter(|k| k.product == ProductType::Story && live(k))
        .filter(|k| {
            k.last_measured_at
                .is_none_or(|at| now - at >= STORY_EVERY - Duration::minutes(5))
        });
    let (young, mut older): (Vec<&KnownMedia>, Vec<&KnownMedia>) = candidates
        .filter(|k| k.product != ProductType::Story && schedule.is_due(k.posted_at, k.last_measured_at, now))
        .partition(|k| k.last_measured_at.is_none() || now - k.posted_at < schedule.young());
    // The longest waiting first.
    older.sort_by_key(|k| k.last_measured_at);
    stories
        .chain(young)
        .chain(older.into_iter().take(OLDER_PER_RUN))
        .map(|k| Due {
            media_id: k.media_id.clone(),
            product: k.product,
        })
        .take(room.min(MAX_BATCH - 2))
        .collect()
}

struct MediaPlan<'a> {
    ig_id: &'a InstagramUserId,
    sets: MetricSets,
    schedule: &'a RefreshSchedule,
    known: &'a BTreeMap<String, KnownMedia>,
    due: Vec<Due>,
    now: DateTime<Utc>,
    /// The next list page, while cataloguing goes on.
    after: Option<String>,
    pages: u8,
    media: Vec<MediaItem>,
    stories: Vec<MediaItem>,
    /// Young media measured in place by the expansion.
    shared_snapshots: Vec<MediaSnapshot>,
    snapshots: Vec<MediaSnapshot>,
    not_enough_viewers: Vec<MediaId>,
    gone: Vec<MediaId>,
    rejected: Vec<(ProductType, String, String)>,
    /// The first list page came back: what it misses between its newest and
    /// oldest entry is gone.
    listed: bool,
}

impl<'a> MediaPlan<'a> {
    fn new(
        ig_id: &'a InstagramUserId,
        sets: MetricSets,
        schedule: &'a RefreshSchedule,
        known: &'a BTreeMap<String, KnownMedia>,
        due: Vec<Due>,
        now: DateTime<Utc>,
    ) -> Self {
        MediaPlan {
            ig_id,
            sets,
            schedule,
            known,
            due,
            now,
            after: None,
            pages: 0,
            media: Vec::new(),
            stories: Vec::new(),
            shared_snapshots: Vec::new(),
            snapshots: Vec::new(),
            not_enough_viewers: Vec::new(),
            gone: Vec::new(),
            rejected: Vec::new(),
            listed: false,
        }
    }

    /// Keep cataloguing when the whole page was new and younger than the horizon.
    fn wants_more(&self, page: &[MediaItem]) -> bool {
        self.pages < MAX_PAGES
            && page.iter().all(|m| !self.known.contains_key(m.media_id.as_str()))
            && page
                .last()
                .is_some_and(|m| self.now - m.posted_at < self.schedule.horizon())
    }

    /// Everything gathered, as one write.
    fn finish(self, account_id: i64) -> MediaWrite {
        let mut gone = self.gone;
        let top: Vec<&MediaItem> = self.media.iter().filter(|m| m.parent.is_none()).collect();
        if self.listed
            && let (Some(newest), Some(oldest)) = (top.first(), top.last())
        {
            let listed: BTreeSet<&str> = top.iter().map(|m| m.media_id.as_str()).collect();
            gone.extend(
                self.known
                    .values()
                    .filter(|k| k.product != ProductType::Story && k.parent.is_none() && !k.deleted)
                    .filter(|k| k.posted_at >= oldest.posted_at && k.posted_at <= newest.posted_at)
                    .filter(|k| !listed.contains(k.media_id.as_str()))
                    .map(|k| k.media_id.clone()),
            );
        }
        // A full measure supersedes the hour's shared one.
        let measured: BTreeSet<MediaId> = self.snapshots.iter().map(|s| s.media_id.clone()).collect();
        let shared = self
            .shared_snapshots
            .into_iter()
            .filter(|s| !measured.contains(&s.media_id));
        MediaWrite {
            account_id,
            items: self.media.into_iter().chain(self.stories).collect(),
            gone,
            snapshots: shared.chain(self.snapshots).collect(),
            not_enough_viewers: self.not_enough_viewers,
            rejected: self.rejected,
        }
    }

    fn listed_page(&mut self, body: &Value) -> Next {
        let page: Vec<MediaItem> = items(body).collect();
        let young = self.now - self.schedule.young();
        for entry in data(body) {
            let id = entry["id"].as_str().and_then(MediaId::parse);
            let posted = entry["timestamp"].as_str().and_then(parse_meta_time);
            if let (Some(id), Some(posted)) = (id, posted)
                && posted >= young
            {
                let values = insight_values(&entry["insights"]);
                if !values.is_empty() {
                    self.shared_snapshots.push(MediaSnapshot {
                        media_id: id,
                        values,
                        full: false,
                    });
                }
            }
        }
        self.pages += 1;
        self.listed = true;
        let more = self.wants_more(&page);
        self.media.extend(page);
        match (
            more,
            body["paging"]["cursors"]["after"].as_str(),
            body["paging"]["next"].is_string(),
        ) {
            (true, Some(after), true) => {
                self.after = Some(after.to_string());
                Next::Again
            }
            _ => Next::Done,
        }
    }

    fn measured(&mut self, due: Due, answer: Result<&Value, &GraphError>) -> Next {
        match answer {
            Ok(body) => {
                self.snapshots.push(MediaSnapshot {
                    media_id: due.media_id,
                    values: insight_values(body),
                    full: true,
                });
                Next::Done
            }
            Err(e) if e.kind == ErrorKind::NotEnoughAudience => {
                self.not_enough_viewers.push(due.media_id);
                Next::Done
            }
            Err(e) if e.code == Some(100) && e.subcode == Some(33) => {
                // Deleted on Instagram (or a story that expired meanwhile).
                if due.product != ProductType::Story {
                    self.gone.push(due.media_id);
                }
                Next::Done
            }
            Err(e) => match e.rejected_metric().map(|m| m.as_str().to_string()) {
                Some(metric) => {
                    tracing::warn!(metric = %metric, product_type = %due.product, error = %e, "Meta refused a media metric for this product type: dropped for it");
                    if let Some(set) = self.sets.by_type.get_mut(&due.product) {
                        set.retain(|m| *m != metric);
                    }
                    self.rejected.push((due.product, metric, e.message.clone()));
                    Next::Again
                }
                // One media's failure does not fail the account: it is due again next run.
                None => Next::Done,
            },
        }
    }
}

impl Plan for MediaPlan<'_> {
    type Op = Op;

    fn call(&self, op: Op) -> Option<Call<'static>> {
        match op {
            Op::Media => {
                let shared = self.sets.shared();
                let fields = match shared.is_empty() {
                    true => FIELDS.to_string(),
                    false => format!("{FIELDS},insights.metric({})", shared.join(",")),
                };
                let call = Call::get(format!("{}/media", self.ig_id), Auth::None)
                    .param("fields", fields)
                    .param("limit", PAGE_SIZE.to_string());
                Some(match &self.after {
                    Some(after) => call.param("after", after.clone()),
                    None => call,
                })
            }
            Op::Stories => Some(Call::get(format!("{}/stories", self.ig_id), Auth::None).param("fields", STORY_FIELDS)),
            Op::Measure(i) => {
                let due = self.due.get(i)?;
                let metrics = self.sets.of(due.product);
                (!metrics.is_empty()).then(|| {
                    Call::get(format!("{}/insights", due.media_id), Auth::None).param("metric", metrics.join(","))
                })
            }
        }
    }

    fn answer(&mut self, op: Op, answer: Result<&Value, &GraphError>) -> Next {
        match (op, answer) {
            (Op::Media, Ok(body)) => self.listed_page(body),
            (Op::Stories, Ok(body)) => {
                self.stories.extend(items(body));
                Next::Done
            }
            (Op::Measure(i), answer) => match self.due.get(i).cloned() {
                Some(due) => self.measured(due, answer),
                None => Next::Done,
            },
            (Op::Media, Err(e)) => match e.rejected_metric().map(|m| m.as_str().to_string()) {
                Some(metric) => {
                    tracing::warn!(metric = %metric, instagram_user_id = %self.ig_id, error = %e, "Meta refused a metric on a mixed page of media: left out of the shared expansion");
                    self.sets.dropped_from_shared.insert(metric);
                    Next::Again
                }
                None => Next::Fail,
            },
            (Op::Stories, Err(_)) => Next::Fail,
        }
    }
}

/// The catalog entries of a list answer, a carousel's children after it.
fn items(body: &Value) -> impl Iterator<Item = MediaItem> + '_ {
    data(body).flat_map(|entry| {
        let parent = item(entry, None);
        let children: Vec<MediaItem> = match &parent {
            Some(p) => data(&entry["children"]).filter_map(|c| item(c, Some(p))).collect(),
            None => Vec::new(),
        };
        parent.into_iter().chain(children)
    })
}

fn item(entry: &Value, parent: Option<&MediaItem>) -> Option<MediaItem> {
    let text = |k: &str| entry[k].as_str().map(str::to_string);
    Some(MediaItem {
        media_id: entry["id"].as_str().and_then(MediaId::parse)?,
        parent: parent.map(|p| p.media_id.clone()),
        kind: entry["media_type"].as_str().and_then(MediaKind::parse)?,
        product: match parent {
            Some(p) => p.product,
            None => entry["media_product_type"].as_str().and_then(ProductType::parse)?,
        },
        posted_at: match parent {
            Some(p) => p.posted_at,
            None => entry["timestamp"].as_str().and_then(parse_meta_time)?,
        },
        permalink: text("permalink"),
        caption: text("caption"),
        like_count: entry["like_count"].as_i64(),
        comments_count: entry["comments_count"].as_i64(),
    })
}

/// `(metric, value)` of an insights answer's `data`.
fn insight_values(body: &Value) -> Vec<(String, i64)> {
    data(body)
        .filter_map(|m| Some((m["name"].as_str()?.to_string(), m["values"][0]["value"].as_i64()?)))
        .collect()
}
