//! Which catalogued media are due, by age, and what of them fits in a run:
//! live stories every few hours, young media by their product type's own
//! metric set, the catalog's backlog, then older media in windows of one
//! list call each.

use chrono::{DateTime, Duration, Utc};

use crate::domain::{MediaId, ProductType, RefreshSchedule};
use crate::store::KnownMedia;

/// A story is live this long.
pub(super) const STORY_LIFETIME_HOURS: i64 = 24;
/// A live story is measured this often.
const STORY_EVERY: Duration = Duration::hours(4);
/// Catalogued media in one refresh window at most (it lists every media
/// in its span, so this leaves room under Meta's largest page of 100).
const PER_WINDOW: usize = 50;
/// Refresh windows in one run at most: a backlog of refreshes spreads over
/// the runs of the day.
const WINDOWS_PER_RUN: usize = 2;

/// One catalogued media due a full measure.
#[derive(Debug, Clone)]
pub(super) struct Due {
    pub media_id: MediaId,
    pub product: ProductType,
}

/// Older media due a refresh, posted from `since` to `until`: one list call
/// measures them all.
#[derive(Debug, Clone)]
pub(super) struct Window {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// What a run asks beyond the two lists.
#[derive(Debug, Default)]
pub(super) struct Work {
    /// The backlog's next page ends at this time (the oldest catalogued).
    pub backlog: Option<DateTime<Utc>>,
    pub measures: Vec<Due>,
    pub windows: Vec<Window>,
}

impl Work {
    /// What is due now, most urgent first, as many as `room` calls allow:
    /// live stories, then young media, then the catalog's backlog (before
    /// `catalogued_until`, back to the horizon or to the day older media
    /// were `asked_back_to`), then windows of the longest-waiting older
    /// media. Only a product type with metrics left to ask (`measurable`)
    /// is measured by its own set.
    pub fn plan<'k>(
        known: impl Iterator<Item = &'k KnownMedia> + Clone,
        catalogued_until: Option<DateTime<Utc>>,
        asked_back_to: Option<DateTime<Utc>>,
        schedule: &RefreshSchedule,
        now: DateTime<Utc>,
        mut room: usize,
        measurable: impl Fn(ProductType) -> bool,
    ) -> Work {
        let mut take = |wanted: usize| {
            let granted = wanted.min(room);
            room -= granted;
            granted
        };
        let live = |k: &KnownMedia| now - k.posted_at < Duration::hours(STORY_LIFETIME_HOURS);
        let candidates = known.filter(|k| !k.deleted);
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
            .filter(|k| measurable(k.product))
            .map(|k| Due {
                media_id: k.media_id.clone(),
                product: k.product,
            })
            .collect();
        measures.truncate(take(measures.len()));
        let reach = reach(now - schedule.horizon(), asked_back_to);
        let backlog = catalogued_until.filter(|until| *until > reach).filter(|_| take(1) == 1);
        let mut windows = windows(older);
        windows.truncate(take(WINDOWS_PER_RUN));
        Work {
            backlog,
            measures,
            windows,
        }
    }
}

/// How far back the catalog's backlog walks: to the refresh `horizon`, or
/// to the day older media were asked back to when that is further back.
pub(super) fn reach(horizon: DateTime<Utc>, asked_back_to: Option<DateTime<Utc>>) -> DateTime<Utc> {
    asked_back_to.map_or(horizon, |asked| asked.min(horizon))
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
        let schedule = RefreshSchedule::default();
        let all = |_| true;
        let backlog = now - Duration::days(40);

        let work = Work::plan(known.iter(), Some(backlog), None, &schedule, now, 10, all);
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
        let work = Work::plan(known.iter(), Some(backlog), None, &schedule, now, 2, all);
        assert_eq!((work.measures.len(), work.backlog, work.windows.len()), (2, None, 0));
        // A catalog whole back to the horizon has no backlog.
        let whole = Some(now - Duration::days(90));
        let work = Work::plan(known.iter(), whole, None, &schedule, now, 10, all);
        assert_eq!(work.backlog, None);
        // Unless older media were asked for: it walks on, after the young media.
        let asked = Some(now - Duration::days(400));
        let work = Work::plan(known.iter(), whole, asked, &schedule, now, 10, all);
        assert_eq!(work.backlog, whole);
        assert_eq!(
            Work::plan(known.iter(), whole, asked, &schedule, now, 2, all).backlog,
            None
        );
        assert_eq!(
            Work::plan(known.iter(), asked, asked, &schedule, now, 10, all).backlog,
            None
        );
        // A product type without metrics left to ask is not measured by its own set.
        let work = Work::plan(known.iter(), Some(backlog), None, &schedule, now, 10, |p| {
            p != ProductType::Story
        });
        let measured: Vec<&str> = work.measures.iter().map(|d| d.product.as_str()).collect();
        assert_eq!(measured, ["REELS"]);
    }
}
