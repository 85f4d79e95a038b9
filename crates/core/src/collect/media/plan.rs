//! What the media part of a run asks, in one batch: the newest media with
//! the shared metrics expanded in place, the live stories, a page of the
//! catalog's backlog, the full measures of due media and the refresh
//! windows of older ones. The answers are read in `answers`.

use chrono::{DateTime, Utc};
use serde_json::Value;

use std::collections::BTreeMap;

use super::MediaHour;
use super::due::Work;
use super::sets::{MetricSets, join};
use crate::collect::limits::{Next, Plan};
use crate::domain::{InstagramUserId, MediaId, RefreshSchedule};
use crate::graph::{Auth, Call, GraphError};
use crate::store::{KnownMedia, MediaItem, MediaMetricRefusal, MediaSnapshot};

/// Media per list page; a day's posts of a busy account fit in one.
pub(super) const PAGE_SIZE: usize = 25;
/// Media per backlog or refresh-window call: Meta's largest page.
const WIDE_PAGE: usize = 100;
const STORY_FIELDS: &str = "id,media_type,media_product_type,timestamp,permalink,caption";

#[derive(Debug, Clone, Copy)]
pub(super) enum Op {
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

impl Op {
    /// Every operation of `work`, the two lists first.
    pub fn all(work: &Work) -> Vec<Op> {
        [Op::Media, Op::Stories]
            .into_iter()
            .chain(work.backlog.map(|_| Op::Backlog))
            .chain((0..work.measures.len()).map(Op::Measure))
            .chain((0..work.windows.len()).map(Op::Window))
            .collect()
    }
}

/// One account's media exchange: what it asks, and what its answers gathered.
pub(super) struct MediaPlan<'a> {
    pub ig_id: &'a InstagramUserId,
    pub sets: MetricSets,
    pub schedule: &'a RefreshSchedule,
    /// The catalog's top-level media the plan can use (see `MediaReach`).
    pub known: BTreeMap<MediaId, KnownMedia>,
    /// Media posted before this were not catalogued when the run began.
    pub catalogued_before: Option<DateTime<Utc>>,
    /// Older media were asked for, back to this time.
    pub asked_back_to: Option<DateTime<Utc>>,
    pub work: Work,
    pub now: DateTime<Utc>,
    /// The next list page, while more than a page is new.
    pub after: Option<String>,
    pub pages: u8,
    /// The newest pages, in Meta's order: a complete listing of their span,
    /// in which a catalogued media they miss is gone.
    pub newest: Vec<MediaItem>,
    /// The backlog's and the refresh windows' pages.
    pub media: Vec<MediaItem>,
    pub stories: Vec<MediaItem>,
    /// Shared values from the lists.
    pub shared_snapshots: Vec<MediaSnapshot>,
    pub snapshots: Vec<MediaSnapshot>,
    pub not_enough_viewers: Vec<MediaId>,
    pub gone: Vec<MediaId>,
    pub rejected: Vec<MediaMetricRefusal>,
    pub catalogued_until: Option<DateTime<Utc>>,
}

impl<'a> MediaPlan<'a> {
    pub fn new(ig_id: &'a InstagramUserId, schedule: &'a RefreshSchedule, hour: MediaHour) -> Self {
        MediaPlan {
            ig_id,
            sets: hour.sets,
            schedule,
            known: hour.known,
            catalogued_before: hour.catalogued_until,
            asked_back_to: hour.asked_back_to,
            work: hour.work,
            now: hour.now,
            after: None,
            pages: 0,
            newest: Vec::new(),
            media: Vec::new(),
            stories: Vec::new(),
            shared_snapshots: Vec::new(),
            snapshots: Vec::new(),
            not_enough_viewers: Vec::new(),
            gone: Vec::new(),
            rejected: Vec::new(),
            catalogued_until: None,
        }
    }

    /// How far back the catalog's backlog walks this run.
    pub(super) fn reach(&self) -> DateTime<Utc> {
        super::due::reach(self.now - self.schedule.horizon(), self.asked_back_to)
    }

    /// Every media posted from `since` to `until`, a wide page, with the
    /// shared metrics expanded.
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
            Op::Backlog => Some(self.wide_list(self.reach(), Some(self.work.backlog?))),
            Op::Measure(i) => {
                let due = self.work.measures.get(i)?;
                let metrics = self.sets.of(due.product);
                (!metrics.is_empty())
                    .then(|| Call::get(format!("{}/insights", due.media_id), Auth::None).param("metric", join(metrics)))
            }
            Op::Window(i) => {
                let window = self.work.windows.get(i)?;
                Some(self.wide_list(window.since, Some(window.until)))
            }
        }
    }

    fn answer(&mut self, op: Op, answer: Result<&Value, &GraphError>) -> Next {
        self.read(op, answer)
    }
}

/// Meta's `since`/`until` as unix seconds, widened by a second each way so
/// that neither end's media can fall out.
fn bounds(since: DateTime<Utc>, until: Option<DateTime<Utc>>) -> (String, Option<String>) {
    (
        (since.timestamp() - 1).to_string(),
        until.map(|u| (u.timestamp() + 1).to_string()),
    )
}
