//! collect-audience for one account: follower (and engaged-audience)
//! demographics by age, city, country and gender, one dated snapshot per
//! day. Accounts Meta reports nothing for yet (under 100 followers, or too
//! little engagement) are recorded as "not available", not as failures.

use serde_json::Value;

use super::limits::{Next, Plan};
use super::metrics::{
    BREAKDOWNS, DEMOGRAPHIC_METRICS, MIN_FOLLOWERS_FOR_DEMOGRAPHICS, breakdown_values, demographics_call,
};
use super::{Gathered, Rejections};
use crate::domain::{InstagramUserId, MetricName};
use crate::graph::{Call, ErrorKind, GraphError};
use crate::store::{AudienceSnapshot, Candidate, DemographicValue, SnapshotStatus};

/// `(metric, breakdown)`, as indexes into [`DEMOGRAPHIC_METRICS`] and [`BREAKDOWNS`].
pub type Op = (usize, usize);

/// One operation per metric and breakdown: eight, one round trip.
pub fn ops() -> Vec<Op> {
    (0..DEMOGRAPHIC_METRICS.len())
        .flat_map(|m| (0..BREAKDOWNS.len()).map(move |b| (m, b)))
        .collect()
}

#[derive(Debug, Clone, Default)]
enum State {
    #[default]
    Collecting,
    NotAvailable(String),
    Rejected(String),
}

#[derive(Debug, Clone, Default)]
struct MetricResult {
    state: State,
    answered: usize,
    values: Vec<DemographicValue>,
}

pub struct AudiencePlan<'r> {
    ig_id: InstagramUserId,
    results: Vec<MetricResult>,
    run_rejected: &'r Rejections,
}

impl<'r> AudiencePlan<'r> {
    pub fn new(run_rejected: &'r Rejections, account: &Candidate) -> Self {
        let small = account
            .followers_count
            .is_some_and(|f| f < MIN_FOLLOWERS_FOR_DEMOGRAPHICS);
        let results = DEMOGRAPHIC_METRICS
            .iter()
            .map(|m| {
                let state = match run_rejected.reason(&MetricName::known(m)) {
                    Some(reason) => State::Rejected(reason),
                    // Meta answers nothing below 100 followers: no call spent to hear it.
                    None if small => {
                        State::NotAvailable(format!("fewer than {MIN_FOLLOWERS_FOR_DEMOGRAPHICS} followers"))
                    }
                    None => State::Collecting,
                };
                MetricResult {
                    state,
                    ..MetricResult::default()
                }
            })
            .collect();
        AudiencePlan {
            ig_id: account.instagram_user_id.clone(),
            results,
            run_rejected,
        }
    }

    /// Complete snapshots only: a metric with a missing breakdown waits for the next run.
    pub fn gathered(self) -> Gathered {
        let mut gathered = Gathered::default();
        for (metric, r) in DEMOGRAPHIC_METRICS.map(MetricName::known).into_iter().zip(self.results) {
            let snapshot = |status, detail, values| AudienceSnapshot {
                metric: metric.clone(),
                status,
                detail,
                values,
            };
            match r.state {
                State::Rejected(reason) => {
                    gathered.rejected.insert(metric, reason);
                }
                State::NotAvailable(why) => {
                    gathered
                        .audience
                        .push(snapshot(SnapshotStatus::NotAvailable, Some(why), Vec::new()))
                }
                State::Collecting if r.answered == BREAKDOWNS.len() => {
                    gathered.audience.push(snapshot(SnapshotStatus::Ok, None, r.values))
                }
                State::Collecting => {}
            }
        }
        gathered
    }
}

impl Plan for AudiencePlan<'_> {
    type Op = Op;

    fn call(&self, (m, b): Op) -> Option<Call<'static>> {
        matches!(self.results[m].state, State::Collecting)
            .then(|| demographics_call(&self.ig_id, DEMOGRAPHIC_METRICS[m], BREAKDOWNS[b]))
    }

    fn answer(&mut self, (m, _): Op, answer: Result<&Value, &GraphError>) -> Next {
        let metric = DEMOGRAPHIC_METRICS[m];
        let result = &mut self.results[m];
        match answer {
            Ok(body) => {
                result.values.extend(breakdown_values(body));
                result.answered += 1;
                Next::Done
            }
            Err(e) if e.kind == ErrorKind::NotEnoughAudience => {
                result.state = State::NotAvailable(e.message.clone());
                Next::Done
            }
            Err(e) if e.kind == ErrorKind::MetricRejected => {
                tracing::warn!(metric, instagram_user_id = %self.ig_id, error = %e, "Meta refused a demographics metric: dropped for this run");
                self.run_rejected.insert(MetricName::known(metric), e.message.clone());
                result.state = State::Rejected(e.message.clone());
                Next::Done
            }
            Err(_) => Next::Fail,
        }
    }
}
