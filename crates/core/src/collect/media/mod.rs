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
//! media Meta no longer has is marked deleted. Everything gathered is
//! written in one round trip.
//!
//! The plan's parts: `due` (which media are due by age, within the room
//! left), `sets` (the metric sets per product type), `plan` (the calls) and
//! `answers` (Meta's answers read into one write).

mod answers;
mod due;
mod plan;
mod sets;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::limits::{ExchangeEnd, exchange};
use crate::app::App;
use crate::domain::{MetricName, ProductType};
use crate::engine::Run;
use crate::graph::Auth;
use crate::store::Candidate;
use due::Work;
use plan::{MediaPlan, Op};
use sets::MetricSets;

/// Meta's ceiling of operations in one batch.
const MAX_BATCH: usize = 50;

/// What the media part of a run did for one account.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct MediaSummary {
    /// Media seen for the first time.
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

/// A metric Meta refused for one product type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedMetric {
    pub product_type: ProductType,
    pub metric: MetricName,
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
    let work = Work::plan(known.values(), &state, schedule, now, room.min(MAX_BATCH - 2));
    let sets = MetricSets::new(&app.config.media_metrics, &rejected);
    let ops = Op::all(&work);
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
        .map(|r| RefusedMetric {
            product_type: r.product,
            metric: r.metric.clone(),
        })
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
