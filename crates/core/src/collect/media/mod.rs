//! collect-insights, after the account metrics: the account's posts, reels
//! and stories, in one round trip (one batch):
//!
//! - the newest media (`/{ig}/media`, newest first) with the metrics every
//!   feed post and reel supports expanded in place (`insights.metric(...)`:
//!   one call measures a whole page of young media);
//! - the live stories (`/{ig}/stories`);
//! - the catalog's backlog: after the first listing, one wide page a run
//!   (`until` the oldest catalogued, `since` the refresh horizon) until the
//!   catalog reaches back to the horizon, or further back to the day the
//!   owner asked older media for (`/media/history`), each older media
//!   measured once by the list's shared metrics and never again (past the
//!   schedule's last band);
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
//! media Meta no longer has is marked deleted.
//!
//! The step costs the database nothing of its own: what it plans from comes
//! with the account's candidate row (`store::media_basis`), its calls are
//! taken from the allowance with the account metrics' (`prepaid`), and
//! everything it gathered is written in the account's one write (`record`).
//!
//! The plan's parts: `due` (which media are due by age, within the room
//! left), `sets` (the metric sets per product type), `plan` (the calls) and
//! `answers` (Meta's answers read into one write).

mod answers;
mod due;
mod plan;
mod sets;

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::limits::{ExchangeEnd, exchange};
use crate::app::App;
use crate::domain::MediaId;
use crate::engine::Run;
use crate::graph::Auth;
use crate::store::{Candidate, KnownMedia, MediaReach, MediaWrite, RefusedMetric};
use due::{STORY_LIFETIME_HOURS, Work};
use plan::{MediaPlan, Op, PAGE_SIZE};
use sets::MetricSets;

/// Meta's ceiling of operations in one batch.
const MAX_BATCH: usize = 50;

/// What the candidate query reads of each account's media at `now`: what
/// the plan can use (see `store::media_basis`).
pub fn reach(app: &App, now: DateTime<Utc>) -> MediaReach {
    MediaReach {
        now,
        since: now - app.config.media_schedule.horizon(),
        newest: PAGE_SIZE,
        stories_since: now - Duration::hours(STORY_LIFETIME_HOURS),
    }
}

/// What the media part of a run did for one account.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct MediaSummary {
    /// Posts, reels and stories seen for the first time (a carousel once, its children aside).
    pub new: usize,
    /// Media measured (a snapshot stored).
    pub measured: usize,
    /// Media Meta no longer has.
    pub gone: usize,
    /// Stories under Meta's viewer threshold.
    pub not_enough_viewers: usize,
    /// Metrics Meta refused, each for one product type.
    pub rejected: Vec<RefusedMetric>,
    /// Why the media part stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// The media part of an account's hour, planned from its candidate row
/// before the account's first call, so that its calls are taken from the
/// hourly allowance together with the account metrics' (one write).
#[derive(Debug)]
pub struct MediaHour {
    known: BTreeMap<MediaId, KnownMedia>,
    catalogued_until: Option<DateTime<Utc>>,
    asked_back_to: Option<DateTime<Utc>>,
    sets: MetricSets,
    work: Work,
    now: DateTime<Utc>,
}

impl MediaHour {
    /// What is due of the account's media at `now`, within what its hourly
    /// ceiling leaves after the account metrics' `account_calls`; or why
    /// there is no media step this hour.
    pub fn plan(app: &App, account: &Candidate, now: DateTime<Utc>, account_calls: u32) -> Result<MediaHour, String> {
        let basis = (account.media.as_ref()).ok_or("the media of this account were not read with it")?;
        let known = basis
            .known()
            .map_err(|e| format!("the media catalog could not be read: {e}"))?;
        let limit = app.config.rate_limit_per_hour;
        let left = limit.saturating_sub(basis.calls_used).saturating_sub(account_calls);
        // The two lists first; the rest takes what is left.
        let Some(room) = (left as usize).checked_sub(2) else {
            return Err(format!(
                "the hourly ceiling of {limit} Graph calls for this account is reached"
            ));
        };
        let sets = MetricSets::new(&app.config.media_metrics, &basis.refused);
        let measurable = |product| !sets.of(product).is_empty();
        let schedule = &app.config.media_schedule;
        let work = Work::plan(
            known.values(),
            basis.catalogued_until,
            basis.asked_back_to,
            schedule,
            now,
            room.min(MAX_BATCH - 2),
            measurable,
        );
        Ok(MediaHour {
            known,
            catalogued_until: basis.catalogued_until,
            asked_back_to: basis.asked_back_to,
            sets,
            work,
            now,
        })
    }

    /// The Graph calls of its one batch, as planned.
    pub fn calls(&self) -> u32 {
        Op::all(&self.work).len() as u32
    }
}

/// Collects the account's media as `hour` planned them, spending the
/// `prepaid` calls first; what it gathered is written with the account's
/// collection (see `record`).
pub async fn collect(
    app: &App,
    run: &Run,
    account: &Candidate,
    auth: Auth<'_>,
    hour: Result<MediaHour, String>,
    prepaid: &mut u32,
) -> (MediaSummary, Option<MediaWrite>) {
    let hour = match hour {
        Ok(hour) => hour,
        Err(stopped) => {
            let summary = MediaSummary {
                stopped: Some(stopped),
                ..MediaSummary::default()
            };
            return (summary, None);
        }
    };
    let ops = Op::all(&hour.work);
    let mut plan = MediaPlan::new(&account.instagram_user_id, &app.config.media_schedule, hour);
    let ended = exchange(app, run, account, auth, &mut plan, ops, prepaid).await;
    let new = plan.new_media();
    let write = plan.finish(account.id);
    let summary = MediaSummary {
        new,
        measured: write.snapshots.len(),
        gone: write.gone.len(),
        not_enough_viewers: write.not_enough_viewers.len(),
        rejected: write
            .rejected
            .iter()
            .map(|r| RefusedMetric {
                product_type: r.product,
                metric: r.metric.clone(),
            })
            .collect(),
        stopped: stopped(&ended),
    };
    (summary, Some(write))
}

fn stopped(ended: &ExchangeEnd) -> Option<String> {
    match ended {
        ExchangeEnd::Complete => None,
        ExchangeEnd::OverAllowance => Some("the hourly ceiling for this account is reached".into()),
        ExchangeEnd::Parked { reason, .. } => Some(format!("parked: {reason}")),
        ExchangeEnd::Failed(reason, _) => Some(reason.clone()),
    }
}
