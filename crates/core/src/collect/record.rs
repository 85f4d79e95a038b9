//! The end of one account's collection: everything it gathered, the
//! account's state (collected until when, parked, refused metrics, last
//! error) and its log row, written in one round trip, and how it went.

use std::collections::BTreeMap;

use super::limits::ExchangeEnd;
use super::{Gathered, Outcome, Skip, backfill, days};
use crate::app::App;
use crate::domain::{MetricName, Timestamp};
use crate::engine::Run;
use crate::store::{
    Backfill, Candidate, CollectKind, CollectionRecord, DayRange, LogEntry, LogJob, LogStatus, Parked, RejectedMetric,
};

/// Writes what an account's collection gathered, its state and its log row
/// in one round trip, and says how it went.
pub(super) async fn record(
    app: &App,
    run: &Run,
    account: &Candidate,
    kind: CollectKind,
    started_at: Timestamp,
    ended: ExchangeEnd,
    gathered: Gathered,
) -> Outcome {
    let not_available = kind == CollectKind::Audience
        && !gathered.audience.is_empty()
        && gathered
            .audience
            .iter()
            .all(|s| s.status == crate::store::SnapshotStatus::NotAvailable);
    let rows = gathered.insights.len() + gathered.audience.iter().map(|s| s.values.len()).sum::<usize>();
    let outcome = match &ended {
        ExchangeEnd::Complete if not_available => Outcome::NotAvailable,
        ExchangeEnd::Complete => Outcome::Collected { rows },
        ExchangeEnd::OverAllowance => Outcome::Skipped {
            why: Skip::OverAllowance,
            reason: format!(
                "the hourly ceiling of {} Graph calls for this account is reached",
                app.config.rate_limit_per_hour
            ),
            retry_at: None,
        },
        ExchangeEnd::Parked { until, reason } => Outcome::Skipped {
            why: Skip::Parked,
            reason: format!("parked: {reason}"),
            retry_at: Some(*until),
        },
        ExchangeEnd::Failed(reason, _) => Outcome::Failed(reason.clone()),
    };
    let (status, message) = match &outcome {
        Outcome::Collected { .. } => (LogStatus::Success, None),
        Outcome::NotAvailable => (
            LogStatus::Skipped,
            Some("not available yet: too few followers".to_string()),
        ),
        Outcome::Skipped { reason, .. } => (LogStatus::Skipped, Some(reason.clone())),
        Outcome::Failed(reason) => (LogStatus::Failed, Some(reason.clone())),
        Outcome::Gone => (LogStatus::Skipped, None),
    };
    let error_code = match &ended {
        ExchangeEnd::Failed(_, Some(e)) => e.code,
        _ => None,
    };
    let rejected_names: Vec<&MetricName> = gathered.rejected.keys().collect();
    let details = serde_json::json!({ "rows": rows, "rejected_metrics": rejected_names, "media": gathered.media });
    let finish = CollectionRecord {
        account_id: account.id,
        kind,
        complete: matches!(ended, ExchangeEnd::Complete),
        followers_count: gathered.followers_count,
        snapshot_date: run.utc_now().date_naive(),
        rejected_metrics: Some(rejected_list(run, account, kind, &gathered.rejected)),
        error: matches!(outcome, Outcome::Failed(_)).then(|| message.clone()).flatten(),
        parked: match &ended {
            ExchangeEnd::Parked { until, reason } => Some(Parked {
                until: Timestamp::from(*until),
                reason: reason.clone(),
            }),
            _ => None,
        },
        log: LogEntry {
            account_id: Some(account.id),
            run_id: &run.id,
            job_type: LogJob::Collect(kind),
            status,
            error_code,
            error_message: message.clone(),
            details: Some(details),
            started_at,
        },
        media: gathered.media_write,
        at: run.utc_now(),
        insights: gathered.insights,
        audience: gathered.audience,
        reconstructed: gathered.reconstructed,
        rollup: match kind {
            CollectKind::Insights => rollup_days(app, run, account),
            CollectKind::Audience => Vec::new(),
        },
        backfill: gathered.backfill.or_else(|| {
            (kind == CollectKind::Insights
                && matches!(ended, ExchangeEnd::Complete)
                && backfill::gap_before(account, run.utc_now()))
            .then_some(Backfill::Due)
        }),
    };
    match app.store.finish_collection(&finish).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(instagram_user_id = %account.instagram_user_id, job = kind.as_str(), "account deleted during its collection; nothing stored");
            return Outcome::Gone;
        }
        Err(e) => {
            tracing::error!(instagram_user_id = %account.instagram_user_id, error = %e, "collected data could not be stored");
            run.note_store_error(&e);
            // The cause is logged; callers and answers get no database internals.
            return Outcome::Failed("the results could not be stored; the next run collects them again".into());
        }
    }
    match &outcome {
        Outcome::Failed(reason) => {
            tracing::warn!(instagram_user_id = %account.instagram_user_id, job = kind.as_str(), reason = %reason, "collection failed")
        }
        other => {
            tracing::debug!(instagram_user_id = %account.instagram_user_id, job = kind.as_str(), outcome = ?other, "collection done")
        }
    }
    outcome
}

/// The account's rejected metrics after this run: the other job's as they
/// were, this job's as this run found them (unchanged dates when still refused).
fn rejected_list(
    run: &Run,
    account: &Candidate,
    kind: CollectKind,
    found: &BTreeMap<MetricName, String>,
) -> Vec<RejectedMetric> {
    let mut list: Vec<RejectedMetric> = account
        .rejected_metrics
        .iter()
        .filter(|r| r.job != kind)
        .cloned()
        .collect();
    for (metric, reason) in found {
        let at = account
            .rejected_metrics
            .iter()
            .find(|r| r.job == kind && r.metric == *metric)
            .map_or_else(|| Timestamp::from(run.utc_now()), |r| r.at);
        list.push(RejectedMetric {
            metric: metric.clone(),
            job: kind,
            reason: reason.clone(),
            at,
        });
    }
    list
}

/// The days an insights write rolls up: from how far the account is rolled
/// up (or when it was connected) to `HOURLY_RETENTION_DAYS` ago.
fn rollup_days(app: &App, run: &Run, account: &Candidate) -> Vec<DayRange> {
    let now_t = run.utc_now();
    let from = account.rolled_up_to.unwrap_or(account.connected_at).to_datetime();
    days::rollup_days(from, now_t, app.config.hourly_retention_days)
}
