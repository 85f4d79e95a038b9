//! collect-insights, after the account metrics: the account's posts, reels
//! and stories, in one round trip (one batch):
//!
//! - the newest media (`/{ig}/media`, newest first) with the metrics every
//!   feed post and reel supports expanded in place (`insights.metric(...)`:
//!   one call measures a whole page of young media);
//! - the live stories (`/{ig}/stories`);
//! - the catalog's backlog: after the first listing, one wide page a run
//!   (`until` the oldest catalogued, `since` the refresh horizon) until the
//!   catalog reaches back to the horizon;
//! - the catalogued media due a full measure with their product type's own
//!   metric set (`/{media}/insights`): live stories first, then young media;
//! - older media due a refresh by the schedule, a window of them per call:
//!   `/{ig}/media` between the oldest and the newest of them (`since`,
//!   `until`) with the shared metrics expanded, so that a day's worth of
//!   refreshes costs one call instead of one per media.
//!
//! All within what is left of the account's hourly ceiling: stories, young
//! media and the backlog before older refreshes. A media first seen in this
//! run is measured in the next (its shared metrics already came with the
//! list). Past the young age a media's refreshes are its shared metrics
//! only: the type-specific ones (watch time, profile visits) have settled by
//! then (Meta: within about 48 hours), and one call per media would cost
//! about 4 calls per run for an account posting 3 times a day (BENCHMARKS.md).
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
use crate::store::{Candidate, KnownMedia, MediaItem, MediaSnapshot, MediaState, MediaWrite};

/// Media per list page; a day's posts of a busy account fit in one.
const PAGE_SIZE: usize = 25;
/// Media per backlog or refresh-window call: Meta's largest page.
const WIDE_PAGE: usize = 100;
/// List pages one run reads when more than a page is new since the last run.
const MAX_PAGES: u8 = 4;
/// Catalogued media in one refresh window at most (it lists every media
/// in its span, so this leaves room under [`WIDE_PAGE`]).
const PER_WINDOW: usize = 50;
/// Refresh windows in one run at most: a backlog of refreshes spreads over
/// the runs of the day.
const WINDOWS_PER_RUN: usize = 2;
/// A story is live this long.
const STORY_LIFETIME_HOURS: i64 = 24;
/// A live story is measured this often.
const STORY_EVERY: Duration = Duration::hours(4);
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
        let state = app.store.media_state(account.id, limit).await?;
        Ok::<_, crate::store::StoreError>((known, rejected, state))
    };
    let (known, rejected, state) = match read.await {
        Ok(read) => read,
        Err(e) => {
            summary.stopped = Some(format!("the media catalog could not be read: {e}"));
            return summary;
        }
    };
    // The two lists first; the rest takes what is left.
    let Some(room) = (state.calls_left as usize).checked_sub(2) else {
        summary.stopped = Some(format!(
            "the hourly ceiling of {limit} Graph calls for this account is reached"
        ));
        return summary;
    };
    let schedule = &app.config.media_schedule;
    let work = Work::plan(&known, &state, schedule, now, room.min(MAX_BATCH - 2));
    let sets = MetricSets::new(&app.config.media_metrics, &rejected);
    let ops = [Op::Media, Op::Stories]
        .into_iter()
        .chain(work.backlog.map(|_| Op::Backlog))
        .chain((0..work.measures.len()).map(Op::Measure))
        .chain((0..work.windows.len()).map(Op::Window))
        .collect();
    let mut plan = MediaPlan::new(&account.instagram_user_id, sets, schedule, &known, state, work, now);
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

    /// The list fields, the shared metrics expanded when there are any.
    fn list_fields(&self) -> String {
        let shared = self.shared();
        match shared.is_empty() {
            true => FIELDS.to_string(),
            false => format!("{FIELDS},insights.metric({})", shared.join(",")),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    /// The newest media, with the shared metrics expanded in place.
    Media,
    Stories,
    /// One wide page further back into the catalog's backlog.
    Backlog,
    /// The full measure of `measures[i]`.
    Measure(usize),
    /// The refresh of `windows[i]`.
    Window(usize),
}

/// One catalogued media due a full measure.
#[derive(Debug, Clone)]
struct Due {
    media_id: MediaId,
    product: ProductType,
}

/// Older media due a refresh, posted from `since` to `until`: one list call
/// measures them all.
#[derive(Debug, Clone)]
struct Window {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
}

/// What a run asks beyond the two lists.
#[derive(Debug, Default)]
struct Work {
    /// The backlog's next page ends at this time (the oldest catalogued).
    backlog: Option<DateTime<Utc>>,
    measures: Vec<Due>,
    windows: Vec<Window>,
}

impl Work {
    /// What is due now, most urgent first, as many as `room` calls allow:
    /// live stories, then young media, then the catalog's backlog, then
    /// windows of the longest-waiting older media.
    fn plan(
        known: &BTreeMap<String, KnownMedia>,
        state: &MediaState,
        schedule: &RefreshSchedule,
        now: DateTime<Utc>,
        mut room: usize,
    ) -> Work {
        let mut take = |wanted: usize| {
            let granted = wanted.min(room);
            room -= granted;
            granted
        };
        let live = |k: &KnownMedia| now - k.posted_at < Duration::hours(STORY_LIFETIME_HOURS);
        let candidates = known.values().filter(|k| k.parent.is_none() && !k.deleted);
        let stories = candidates
            .clone()
            .filter(|k| k.product == ProductType::Story && live(k))
            .filter(|k| {
                k.last_measured_at
                    .is_none_or(|at| now - at >= STORY_EVERY - Duration::minutes(5))
            });
        let (young, older): (Vec<&KnownMedia>, Vec<&KnownMedia>) = candidates
            .filter(|k| k.product != ProductType::Story && schedule.is_due(k.posted_at, k.last_measured_at, now))
            .partition(|k| now - k.posted_at < schedule.young());
        let mut measures: Vec<Due> = stories
            .chain(young)
            .map(|k| Due {
                media_id: k.media_id.clone(),
                product: k.product,
            })
            .collect();
        measures.truncate(take(measures.len()));
        let horizon = now - schedule.horizon();
        let backlog = state
            .catalogued_until
            .filter(|until| *until > horizon)
            .filter(|_| take(1) == 1);
        let mut windows = windows(older);
        windows.truncate(take(WINDOWS_PER_RUN));
        Work {
            backlog,
            measures,
            windows,
        }
    }
}

/// Older due media, newest first, in windows of at most [`PER_WINDOW`],
/// the window whose media waited longest first.
fn windows(mut older: Vec<&KnownMedia>) -> Vec<Window> {
    older.sort_by_key(|k| std::cmp::Reverse(k.posted_at));
    let mut chunks: Vec<&[&KnownMedia]> = older.chunks(PER_WINDOW).collect();
    chunks.sort_by_key(|chunk| chunk.iter().map(|k| k.last_measured_at).min().flatten());
    chunks
        .into_iter()
        .filter_map(|chunk| {
            Some(Window {
                since: chunk.last()?.posted_at,
                until: chunk.first()?.posted_at,
            })
        })
        .collect()
}

/// Meta's `since`/`until` as unix seconds, widened by a second each way so
/// that neither end's media can fall out.
fn bounds(since: DateTime<Utc>, until: Option<DateTime<Utc>>) -> (String, Option<String>) {
    (
        (since.timestamp() - 1).to_string(),
        until.map(|u| (u.timestamp() + 1).to_string()),
    )
}

struct MediaPlan<'a> {
    ig_id: &'a InstagramUserId,
    sets: MetricSets,
    schedule: &'a RefreshSchedule,
    known: &'a BTreeMap<String, KnownMedia>,
    state: MediaState,
    work: Work,
    now: DateTime<Utc>,
    /// The next list page, while more than a page is new.
    after: Option<String>,
    pages: u8,
    media: Vec<MediaItem>,
    stories: Vec<MediaItem>,
    /// Shared values from the lists.
    shared_snapshots: Vec<MediaSnapshot>,
    snapshots: Vec<MediaSnapshot>,
    not_enough_viewers: Vec<MediaId>,
    gone: Vec<MediaId>,
    rejected: Vec<(ProductType, String, String)>,
    catalogued_until: Option<DateTime<Utc>>,
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
        state: MediaState,
        work: Work,
        now: DateTime<Utc>,
    ) -> Self {
        MediaPlan {
            ig_id,
            sets,
            schedule,
            known,
            state,
            work,
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
            catalogued_until: None,
            listed: false,
        }
    }

    /// Keep listing when the whole page was new and younger than the
    /// horizon; after the first listing the backlog's wide pages do that.
    fn wants_more(&self, page: &[MediaItem]) -> bool {
        self.state.catalogued_until.is_some()
            && self.pages < MAX_PAGES
            && page.iter().all(|m| !self.known.contains_key(m.media_id.as_str()))
            && page
                .last()
                .is_some_and(|m| self.now - m.posted_at < self.schedule.horizon())
    }

    /// Everything gathered, as one write.
    fn finish(self, account_id: i64) -> MediaWrite {
        let top: Vec<&MediaItem> = self.media.iter().filter(|m| m.parent.is_none()).collect();
        let missing = match (self.listed, top.first(), top.last()) {
            (true, Some(newest), Some(oldest)) => self.missing(&top, oldest.posted_at, newest.posted_at),
            _ => Vec::new(),
        };
        let mut gone = self.gone;
        gone.extend(missing);
        // A full measure supersedes the hour's shared values; a media listed
        // twice (the first page and the backlog) is written once.
        let mut seen: BTreeSet<MediaId> = self.snapshots.iter().map(|s| s.media_id.clone()).collect();
        let shared: Vec<MediaSnapshot> = self
            .shared_snapshots
            .into_iter()
            .filter(|s| seen.insert(s.media_id.clone()))
            .collect();
        let mut listed = BTreeSet::new();
        let items = self
            .media
            .into_iter()
            .chain(self.stories)
            .filter(|m| listed.insert(m.media_id.clone()))
            .collect();
        MediaWrite {
            account_id,
            items,
            gone,
            snapshots: shared.into_iter().chain(self.snapshots).collect(),
            not_enough_viewers: self.not_enough_viewers,
            rejected: self.rejected,
            catalogued_until: self.catalogued_until,
        }
    }

    /// Catalogued posts and reels from `since` to `until` that a complete
    /// listing of that span left out: Meta no longer has them.
    fn missing(&self, listed: &[&MediaItem], since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<MediaId> {
        let listed: BTreeSet<&str> = listed.iter().map(|m| m.media_id.as_str()).collect();
        self.known
            .values()
            .filter(|k| k.product != ProductType::Story && k.parent.is_none() && !k.deleted)
            .filter(|k| k.posted_at >= since && k.posted_at <= until)
            .filter(|k| !listed.contains(k.media_id.as_str()))
            .map(|k| k.media_id.clone())
            .collect()
    }

    /// The newest page: catalogued, young media measured in place (and at
    /// the first listing the older ones on it too, as their first refresh).
    fn listed_page(&mut self, body: &Value) -> Next {
        let page: Vec<MediaItem> = items(body).collect();
        let young = self.now - self.schedule.young();
        let horizon = self.now - self.schedule.horizon();
        let first = self.state.catalogued_until.is_none();
        self.shared(body, |posted| match posted >= young {
            true => Some(false),
            false => (first && posted >= horizon).then_some(true),
        });
        self.pages += 1;
        self.listed = true;
        if self.state.catalogued_until.is_none() && !page.is_empty() {
            // The first listing: what is older than this page is the backlog.
            // (An account that never posted has nothing to note.)
            self.catalogued_until = Some(self.backlog_from(&page, body));
        }
        let more = self.wants_more(&page);
        self.media.extend(page);
        match (more, body["paging"]["cursors"]["after"].as_str(), has_next(body)) {
            (true, Some(after), true) => {
                self.after = Some(after.to_string());
                Next::Again
            }
            _ => Next::Done,
        }
    }

    /// A wide page of the backlog or a refresh window: catalogued, and
    /// every media in it measured with the shared metrics (a refresh past
    /// the young age). What comes back is what the catalog knows now.
    fn listed_wide(&mut self, body: &Value) -> Vec<MediaItem> {
        let page: Vec<MediaItem> = items(body).collect();
        let young = self.now - self.schedule.young();
        self.shared(body, |posted| Some(posted < young));
        self.media.extend(page.iter().cloned());
        page
    }

    /// The shared values of a list answer's media; `refreshes` says, by
    /// when a media was posted, whether its values count as its refresh
    /// (none: not stored).
    fn shared(&mut self, body: &Value, refreshes: impl Fn(DateTime<Utc>) -> Option<bool>) {
        for entry in data(body) {
            let id = entry["id"].as_str().and_then(MediaId::parse);
            let posted = entry["timestamp"].as_str().and_then(parse_meta_time);
            let values = insight_values(&entry["insights"]);
            if let (Some(id), Some(refreshes), false) = (id, posted.and_then(&refreshes), values.is_empty()) {
                self.shared_snapshots.push(MediaSnapshot {
                    media_id: id,
                    values,
                    refreshes,
                });
            }
        }
    }

    fn backlog_page(&mut self, body: &Value) -> Next {
        let page = self.listed_wide(body);
        self.catalogued_until = Some(self.backlog_from(&page, body));
        Next::Done
    }

    /// Where the backlog goes on after a list page: before its oldest media
    /// while Meta has more, else nowhere (the catalog is whole back to the horizon).
    fn backlog_from(&self, page: &[MediaItem], body: &Value) -> DateTime<Utc> {
        let horizon = self.now - self.schedule.horizon();
        let oldest = page.iter().filter(|m| m.parent.is_none()).map(|m| m.posted_at).min();
        match (has_next(body), oldest) {
            (true, Some(oldest)) if oldest > horizon => oldest,
            _ => horizon,
        }
    }

    fn window_page(&mut self, window: Window, body: &Value) -> Next {
        let page = self.listed_wide(body);
        if !has_next(body) {
            let top: Vec<&MediaItem> = page.iter().filter(|m| m.parent.is_none()).collect();
            let gone = self.missing(&top, window.since, window.until);
            self.gone.extend(gone);
        }
        Next::Done
    }

    fn measured(&mut self, due: Due, answer: Result<&Value, &GraphError>) -> Next {
        match answer {
            Ok(body) => {
                self.snapshots.push(MediaSnapshot {
                    media_id: due.media_id,
                    values: insight_values(body),
                    refreshes: true,
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

    /// A list whose shared expansion Meta refused: asked again without that metric.
    fn list_refused(&mut self, e: &GraphError, fail: Next) -> Next {
        match e.rejected_metric().map(|m| m.as_str().to_string()) {
            Some(metric) => {
                tracing::warn!(metric = %metric, instagram_user_id = %self.ig_id, error = %e, "Meta refused a metric on a mixed page of media: left out of the shared expansion");
                self.sets.dropped_from_shared.insert(metric);
                Next::Again
            }
            None => fail,
        }
    }

    fn wide_list(&self, since: DateTime<Utc>, until: Option<DateTime<Utc>>) -> Call<'static> {
        let (since, until) = bounds(since, until);
        let call = Call::get(format!("{}/media", self.ig_id), Auth::None)
            .param("fields", self.sets.list_fields())
            .param("limit", WIDE_PAGE.to_string())
            .param("since", since);
        match until {
            Some(until) => call.param("until", until),
            None => call,
        }
    }
}

impl Plan for MediaPlan<'_> {
    type Op = Op;

    fn call(&self, op: Op) -> Option<Call<'static>> {
        match op {
            Op::Media => {
                let call = Call::get(format!("{}/media", self.ig_id), Auth::None)
                    .param("fields", self.sets.list_fields())
                    .param("limit", PAGE_SIZE.to_string());
                Some(match &self.after {
                    Some(after) => call.param("after", after.clone()),
                    None => call,
                })
            }
            Op::Stories => Some(Call::get(format!("{}/stories", self.ig_id), Auth::None).param("fields", STORY_FIELDS)),
            Op::Backlog => Some(self.wide_list(self.now - self.schedule.horizon(), Some(self.work.backlog?))),
            Op::Measure(i) => {
                let due = self.work.measures.get(i)?;
                let metrics = self.sets.of(due.product);
                (!metrics.is_empty()).then(|| {
                    Call::get(format!("{}/insights", due.media_id), Auth::None).param("metric", metrics.join(","))
                })
            }
            Op::Window(i) => {
                let window = self.work.windows.get(i)?;
                Some(self.wide_list(window.since, Some(window.until)))
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
            (Op::Backlog, Ok(body)) => self.backlog_page(body),
            (Op::Measure(i), answer) => match self.work.measures.get(i).cloned() {
                Some(due) => self.measured(due, answer),
                None => Next::Done,
            },
            (Op::Window(i), Ok(body)) => match self.work.windows.get(i).cloned() {
                Some(window) => self.window_page(window, body),
                None => Next::Done,
            },
            (Op::Media, Err(e)) => self.list_refused(e, Next::Fail),
            // The backlog and the refreshes wait for the next run.
            (Op::Backlog | Op::Window(_), Err(e)) => self.list_refused(e, Next::Done),
            (Op::Stories, Err(_)) => Next::Fail,
        }
    }
}

fn has_next(body: &Value) -> bool {
    body["paging"]["next"].is_string()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn media(
        n: u32,
        product: ProductType,
        age_hours: i64,
        measured_hours_ago: Option<i64>,
        now: DateTime<Utc>,
    ) -> KnownMedia {
        KnownMedia {
            media_id: MediaId::parse(&format!("1790000000{n:04}")).unwrap(),
            parent: None,
            product,
            posted_at: now - Duration::hours(age_hours),
            deleted: false,
            last_measured_at: measured_hours_ago.map(|h| now - Duration::hours(h)),
        }
    }

    #[test]
    fn stories_and_young_media_come_first_then_the_backlog_then_older_windows() {
        let now = Utc::now();
        let mut known: Vec<KnownMedia> = vec![
            media(1, ProductType::Story, 5, None, now),
            media(2, ProductType::Reels, 20, Some(13), now),
        ];
        // 120 posts of 3 to 30 days, measured a day ago: due; the oldest waited longest.
        known.extend((0..120).map(|i| {
            media(
                10 + i,
                ProductType::Feed,
                72 + 5 * i64::from(i),
                Some(24 + i64::from(i / 50)),
                now,
            )
        }));
        let known: BTreeMap<String, KnownMedia> = known.into_iter().map(|k| (k.media_id.to_string(), k)).collect();
        let schedule = RefreshSchedule::default();
        let state = |until: Option<DateTime<Utc>>| MediaState {
            calls_left: 0,
            catalogued_until: until,
        };
        let backlog = now - Duration::days(40);

        let work = Work::plan(&known, &state(Some(backlog)), &schedule, now, 10);
        let measured: Vec<&str> = work.measures.iter().map(|d| d.product.as_str()).collect();
        assert_eq!(measured, ["STORY", "REELS"]);
        assert_eq!(work.backlog, Some(backlog));
        assert_eq!(
            work.windows.len(),
            WINDOWS_PER_RUN,
            "a backlog of refreshes spreads over runs"
        );
        // The window of the longest-waiting (oldest) posts first, 20 of them.
        assert_eq!(work.windows[0].since, now - Duration::hours(72 + 5 * 119));
        assert_eq!(work.windows[0].until, now - Duration::hours(72 + 5 * 100));

        // Two calls left: the story and the reel; nothing older.
        let work = Work::plan(&known, &state(Some(backlog)), &schedule, now, 2);
        assert_eq!((work.measures.len(), work.backlog, work.windows.len()), (2, None, 0));
        // A catalog whole back to the horizon has no backlog.
        let work = Work::plan(&known, &state(Some(now - Duration::days(90))), &schedule, now, 10);
        assert_eq!(work.backlog, None);
    }
}
