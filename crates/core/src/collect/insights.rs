//! collect-insights for one account: the daily account metrics for today
//! and the two days before (late data is updated in place) and the hourly
//! snapshot of the IG user node, all in one batch (four operations, one
//! round trip) with the Page token.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::days::{DAYS_FETCHED, MetaDay, hour_start, recent_days};
use super::limits::{Next, Plan};
use super::metrics::{day_call, day_rows, snapshot_call, snapshot_rows};
use super::{Gathered, Rejections};
use crate::domain::{InstagramUserId, MetricName};
use crate::graph::{Call, ErrorKind, GraphError};
use crate::store::{Candidate, MetricRow};

#[derive(Debug, Clone, Copy)]
pub enum Op {
    Snapshot,
    Day(usize),
}

/// The operations of one hourly run.
pub fn ops() -> Vec<Op> {
    std::iter::once(Op::Snapshot)
        .chain((0..DAYS_FETCHED).map(Op::Day))
        .collect()
}

pub struct InsightsPlan<'r> {
    ig_id: InstagramUserId,
    days: [MetaDay; DAYS_FETCHED],
    hour: DateTime<Utc>,
    /// The configured metrics still asked for.
    metrics: Vec<MetricName>,
    /// Metrics refused in this run, shared with its other accounts.
    run_rejected: &'r Rejections,
    rows: Vec<MetricRow>,
    followers: Option<i64>,
}

impl<'r> InsightsPlan<'r> {
    pub fn new(app: &crate::App, run_rejected: &'r Rejections, account: &Candidate, now: DateTime<Utc>) -> Self {
        InsightsPlan {
            ig_id: account.instagram_user_id.clone(),
            days: recent_days(now),
            hour: hour_start(now),
            metrics: run_rejected.still_asked(&app.config.insight_metrics),
            run_rejected,
            rows: Vec::new(),
            followers: None,
        }
    }

    /// What was gathered; `rejected` names the configured metrics not collected.
    pub fn gathered(self, configured: &[MetricName]) -> Gathered {
        Gathered {
            rejected: self.run_rejected.refused(configured, &self.metrics),
            insights: self.rows,
            followers_count: self.followers,
            ..Gathered::default()
        }
    }
}

impl Plan for InsightsPlan<'_> {
    type Op = Op;

    fn call(&self, op: Op) -> Option<Call<'static>> {
        match op {
            Op::Snapshot => Some(snapshot_call(&self.ig_id)),
            Op::Day(_) if self.metrics.is_empty() => None,
            Op::Day(i) => Some(day_call(&self.ig_id, &self.metrics, &self.days[i])),
        }
    }

    fn answer(&mut self, op: Op, answer: Result<&Value, &GraphError>) -> Next {
        match (op, answer) {
            (Op::Snapshot, Ok(body)) => {
                let (rows, followers) = snapshot_rows(body, self.hour);
                self.rows.extend(rows);
                self.followers = followers;
                Next::Done
            }
            (Op::Day(i), Ok(body)) => {
                self.rows.extend(day_rows(body, &self.days[i]));
                Next::Done
            }
            (Op::Day(_), Err(e)) => drop_refused(&self.ig_id, &mut self.metrics, self.run_rejected, e),
            (Op::Snapshot, Err(_)) => Next::Fail,
        }
    }
}

/// An error answering a request for `metrics`: when it is Meta refusing one
/// of them, that metric is dropped (here and for the run's other accounts)
/// and the request is asked again without it; any other error fails it.
pub(super) fn drop_refused(
    ig_id: &InstagramUserId,
    metrics: &mut Vec<MetricName>,
    run_rejected: &Rejections,
    e: &GraphError,
) -> Next {
    match e.rejected_metric() {
        Some(metric) if e.kind == ErrorKind::MetricRejected => {
            if metrics.contains(metric) {
                tracing::warn!(%metric, instagram_user_id = %ig_id, error = %e, "Meta refused a metric: dropped for this run");
                metrics.retain(|m| m != metric);
                run_rejected.insert(metric.clone(), e.message.clone());
            }
            Next::Again
        }
        _ => Next::Fail,
    }
}
