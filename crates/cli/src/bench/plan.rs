//! The plan's collect-insights loop (original-plan.md, "collectInsightsJob"),
//! for comparison: one account after another, its insights call and its
//! follower-count call in turn with the Page token, the results stored, then
//! a 500 ms pause before the next account. Two things are brought up to
//! date so that it works at all against today's API: the metrics are asked
//! with `metric_type=total_value` (the plan's call fails without it), and
//! an account's rows are stored in one write instead of one per value.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use serde_json::Value;
use urlinsta_core::App;
use urlinsta_core::collect::days::recent_days;
use urlinsta_core::collect::metrics::{day_call, day_rows};
use urlinsta_core::domain::{MetricName, Timestamp};
use urlinsta_core::graph::{Auth, Call, Reply};
use urlinsta_core::store::{Candidate, CollectionRecord, MetricRow};

/// Runs the plan's loop over `accounts` and returns its wall time.
pub async fn run(app: &App, accounts: &[Candidate], pause: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for account in accounts {
        collect_one(app, account).await?;
        tokio::time::sleep(pause).await;
    }
    Ok(started.elapsed())
}

async fn collect_one(app: &App, account: &Candidate) -> anyhow::Result<()> {
    let started_at = Timestamp::from(Utc::now());
    let tokens = app.store.tokens(account.id).await?.context("no tokens stored")?;
    let auth = Auth::Page(&tokens.page_token);
    let ig = &account.instagram_user_id;
    let [today, ..] = recent_days(Utc::now());
    let insights = Call {
        auth,
        ..day_call(ig, &app.config.insight_metrics, &today)
    };
    let insights: Reply<Value> = app.graph.send(&insights, None).await?;
    let user: Reply<Value> = app
        .graph
        .send(
            &Call::get(ig.to_string(), auth).param("fields", "followers_count"),
            None,
        )
        .await?;
    let mut rows = day_rows(&insights.data, &today);
    let followers = user.data.get("followers_count").and_then(Value::as_i64);
    rows.push(MetricRow {
        metric_name: MetricName::known("follower_count"),
        metric_value: followers,
        period: "lifetime".into(),
        end_time: Timestamp::from(Utc::now()),
    });
    let mut finish = CollectionRecord::insights(account.id, "bench-plan", rows);
    finish.followers_count = followers;
    finish.log.started_at = started_at;
    app.store.finish_collection(&finish).await?;
    Ok(())
}
