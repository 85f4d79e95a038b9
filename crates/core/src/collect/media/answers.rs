//! Meta's answers to the media batch, read into what is written: catalog
//! entries (a carousel's children after it), snapshots, stories under the
//! viewer threshold, media Meta no longer has, refused metrics and how far
//! back the catalog is whole.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::due::{Due, Window};
use super::plan::{MediaPlan, Op};
use crate::collect::limits::Next;
use crate::collect::metrics::{data, parse_meta_time};
use crate::domain::{MediaId, MediaKind, MetricName, ProductType};
use crate::graph::{ErrorKind, GraphError};
use crate::store::{MediaItem, MediaMetricRefusal, MediaSnapshot, MediaWrite, MetricValue};

/// List pages one run reads when more than a page is new since the last run.
const MAX_PAGES: u8 = 4;

impl MediaPlan<'_> {
    /// What an answer to `op` means for the plan.
    pub(super) fn read(&mut self, op: Op, answer: Result<&Value, &GraphError>) -> Next {
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

    /// Top-level media listed in this run that the catalog did not have.
    pub(super) fn new_media(&self) -> usize {
        let listed = self.newest.iter().chain(&self.media).chain(&self.stories);
        let new: BTreeSet<&MediaId> = listed
            .filter(|m| m.parent.is_none() && !self.known.contains_key(&m.media_id))
            .map(|m| &m.media_id)
            .collect();
        new.len()
    }

    /// Everything gathered, as one write.
    pub(super) fn finish(self, account_id: i64) -> MediaWrite {
        // Only the newest pages' own span: the backlog and the windows say
        // nothing of the media between them and it.
        let top: Vec<&MediaItem> = self.newest.iter().filter(|m| m.parent.is_none()).collect();
        let missing = match (top.first(), top.last()) {
            (Some(newest), Some(oldest)) => self.missing(&top, oldest.posted_at, newest.posted_at),
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
            .newest
            .into_iter()
            .chain(self.media)
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

    /// Keep listing when the whole page was new and younger than the
    /// horizon; after the first listing the backlog's wide pages do that.
    fn wants_more(&self, page: &[MediaItem]) -> bool {
        self.catalogued_before.is_some()
            && self.pages < MAX_PAGES
            && page.iter().all(|m| !self.known.contains_key(&m.media_id))
            && page
                .last()
                .is_some_and(|m| self.now - m.posted_at < self.schedule.horizon())
    }

    /// Catalogued posts and reels from `since` to `until` that a complete
    /// listing of that span left out: Meta no longer has them.
    fn missing(&self, listed: &[&MediaItem], since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<MediaId> {
        let listed: BTreeSet<&str> = listed.iter().map(|m| m.media_id.as_str()).collect();
        self.known
            .values()
            .filter(|k| k.product != ProductType::Story && !k.deleted)
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
        let first = self.catalogued_before.is_none();
        self.shared(body, |posted| match posted >= young {
            true => Some(false),
            false => (first && posted >= horizon).then_some(true),
        });
        self.pages += 1;
        // The first listing: what is older than this page is the backlog. An
        // account that never posted has nothing to note, unless older media
        // were asked for: then the catalog is whole back to the day asked.
        if first && (!page.is_empty() || self.asked_back_to.is_some()) {
            self.catalogued_until = Some(self.backlog_from(&page, body));
        }
        let more = self.wants_more(&page);
        self.newest.extend(page);
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
    /// while Meta has more, else nowhere (the catalog is whole back to its
    /// reach: the horizon, or the day older media were asked back to).
    fn backlog_from(&self, page: &[MediaItem], body: &Value) -> DateTime<Utc> {
        let reach = self.reach();
        let oldest = page.iter().filter(|m| m.parent.is_none()).map(|m| m.posted_at).min();
        match (has_next(body), oldest) {
            (true, Some(oldest)) if oldest > reach => oldest,
            _ => reach,
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
            Err(e) => match e.rejected_metric() {
                Some(metric) => {
                    tracing::warn!(metric = %metric, product_type = %due.product, error = %e, "Meta refused a media metric for this product type: dropped for it");
                    self.sets.drop_for(due.product, metric);
                    self.rejected.push(MediaMetricRefusal {
                        product: due.product,
                        metric: metric.clone(),
                        reason: e.message.clone(),
                    });
                    Next::Again
                }
                // One media's failure does not fail the account: it is due again next run.
                None => Next::Done,
            },
        }
    }

    /// A list whose shared expansion Meta refused: asked again without that metric.
    fn list_refused(&mut self, e: &GraphError, fail: Next) -> Next {
        match e.rejected_metric() {
            Some(metric) => {
                tracing::warn!(metric = %metric, instagram_user_id = %self.ig_id, error = %e, "Meta refused a metric on a mixed page of media: left out of the shared expansion");
                self.sets.drop_from_shared(metric.clone());
                Next::Again
            }
            None => fail,
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

/// The values of an insights answer's `data`; an entry without a metric
/// name or a number is left out.
fn insight_values(body: &Value) -> Vec<MetricValue> {
    data(body)
        .filter_map(|m| {
            Some(MetricValue {
                metric: m["name"].as_str().and_then(MetricName::parse)?,
                value: m["values"][0]["value"].as_i64()?,
            })
        })
        .collect()
}
