//! Taking the calls of an hour's first round trips from the accounts'
//! hourly allowances before they start, a chunk of accounts in one write:
//! the account metrics' batch and, for collect-insights, the media batch
//! planned with it, so that the media step costs no write of its own.

use std::collections::HashSet;

use super::limits::Plan;
use super::media::MediaHour;
use super::{Due, Rejections, audience, insights};
use crate::app::App;
use crate::engine::Run;
use crate::store::{Candidate, CollectKind};

/// Plans and prepays the first round trips of `next`. An account whose
/// media do not fit asks again for its account metrics alone (they come
/// first); one the allowance cannot take at all gets `prepaid: None`.
pub(super) async fn prepay(app: &App, run: &Run, rejected: &Rejections, kind: CollectKind, next: &mut [&mut Due]) {
    let now = run.utc_now();
    let first: Vec<u32> = next
        .iter()
        .map(|due| first_round_calls(app, rejected, &due.account, kind))
        .collect();
    if kind == CollectKind::Insights {
        for (due, calls) in next.iter_mut().zip(&first) {
            due.media = Some(MediaHour::plan(app, &due.account, now, *calls));
        }
    }
    let media_calls = |due: &Due| match &due.media {
        Some(Ok(hour)) => hour.calls(),
        _ => 0,
    };
    let wanted: Vec<(i64, u32)> = (next.iter().zip(&first))
        .map(|(due, calls)| (due.account.id, calls + media_calls(due)))
        .collect();
    let Some(granted) = reserve(app, run, &wanted).await else {
        // Each account then asks for its own calls, and fails on its own if it must.
        next.iter_mut().for_each(|due| due.prepaid = Some(0));
        return;
    };
    let short: Vec<(i64, u32)> = (next.iter().zip(&first))
        .filter(|(due, _)| !granted.contains(&due.account.id) && media_calls(due) > 0)
        .map(|(due, calls)| (due.account.id, *calls))
        .collect();
    let granted_alone = match short.is_empty() {
        true => HashSet::new(),
        false => reserve(app, run, &short).await.unwrap_or_default(),
    };
    for ((due, (_, all)), calls) in next.iter_mut().zip(wanted).zip(first) {
        let id = due.account.id;
        due.prepaid = match (granted.contains(&id), granted_alone.contains(&id)) {
            (true, _) => Some(all),
            (false, true) => Some(calls),
            (false, false) => None,
        };
    }
}

/// The accounts whose `(account, calls)` fitted, in one write; none when
/// the database did not take it.
async fn reserve(app: &App, run: &Run, wanted: &[(i64, u32)]) -> Option<HashSet<i64>> {
    let limit = app.config.rate_limit_per_hour;
    match app.store.reserve_calls_for(wanted, limit, run.utc_now().into()).await {
        Ok(granted) => Some(granted),
        Err(e) => {
            tracing::warn!(error = %e, "could not take a chunk's calls from their allowances");
            run.note_store_error(&e);
            None
        }
    }
}

/// The calls an account's first round asks for, as its plan stands now.
fn first_round_calls(app: &App, rejected: &Rejections, account: &Candidate, kind: CollectKind) -> u32 {
    match kind {
        CollectKind::Insights => insights_calls(&insights::InsightsPlan::new(
            app,
            rejected,
            account,
            app.clock.utc_now(),
        )),
        CollectKind::Audience => {
            let plan = audience::AudiencePlan::new(rejected, account);
            audience::ops()
                .into_iter()
                .filter(|op| plan.call(*op).is_some())
                .count() as u32
        }
    }
}

/// The calls the account metrics' first round asks for.
pub(super) fn insights_calls(plan: &insights::InsightsPlan) -> u32 {
    insights::ops()
        .into_iter()
        .filter(|op| plan.call(*op).is_some())
        .count() as u32
}
