//! Instagram insights under Meta's 2026 rules.

use chrono::{NaiveDate, TimeZone, Utc};

use crate::helpers::*;
use urlinsta_sandbox::{Endpoint, PageSpec, UserSpec};

async fn connected() -> (Env, String) {
    connected_at(None).await
}

/// Logged in, optionally after moving the virtual clock (before the login,
/// so the tokens and data access are fresh at that time).
async fn connected_at(now: Option<chrono::DateTime<Utc>>) -> (Env, String) {
    let env = start().await;
    if let Some(now) = now {
        env.control.set_now(now);
    }
    let token = env.long_token().await;
    let page = env.page_token(&token).await;
    (env, page)
}

async fn insights(env: &Env, token: &str, params: &[(&str, &str)]) -> Answer {
    env.graph(&format!("/{IG_ID}/insights"), token, params).await
}

#[tokio::test]
async fn a_removed_metric_fails_the_whole_request() {
    let (env, page) = connected().await;
    let answer = insights(&env, &page, &[("metric", "reach,impressions"), ("period", "day")]).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.error(), (100, None));
    let message = answer.json()["error"]["message"].as_str().unwrap_or("").to_string();
    assert!(
        message.starts_with("(#100) metric[1] must be one of the following values: reach,"),
        "{message}"
    );
    assert!(
        message.contains("'impressions'") && !message.contains(", impressions,"),
        "{message}"
    );

    let audience = insights(&env, &page, &[("metric", "audience_country"), ("period", "lifetime")]).await;
    assert!(audience.text.contains("metric[0]"));

    // A metric retired mid-flight goes the same way.
    env.control.deprecate_metric("views");
    let views = insights(
        &env,
        &page,
        &[
            ("metric", "reach,views"),
            ("period", "day"),
            ("metric_type", "total_value"),
        ],
    )
    .await;
    assert_eq!(views.error(), (100, None));
    assert!(views.text.contains("metric[1]") && views.text.contains("'views'"));
    assert_eq!(env.control.count(Endpoint::Insights), 3);
}

#[tokio::test]
async fn total_value_metrics_need_metric_type_total_value() {
    let (env, page) = connected().await;
    let answer = insights(&env, &page, &[("metric", "reach,views,likes"), ("period", "day")]).await;
    assert_eq!(answer.error(), (100, None));
    assert_eq!(
        answer.json()["error"]["message"],
        "(#100) The following metrics (views, likes) should be specified with parameter metric_type=total_value"
    );

    let total = insights(
        &env,
        &page,
        &[
            ("metric", "reach,views,likes,total_interactions"),
            ("period", "day"),
            ("metric_type", "total_value"),
        ],
    )
    .await
    .json();
    let data = total["data"].as_array().expect("data");
    assert_eq!(data.len(), 4);
    assert_eq!(data[1]["name"], "views");
    assert_eq!(data[1]["period"], "day");
    assert_eq!(data[1]["id"], format!("{IG_ID}/insights/views/day"));
    assert!(data[1]["total_value"]["value"].as_i64().unwrap_or(0) > 0);
    assert!(data[1]["title"].is_string() && data[1]["description"].is_string());
}

#[tokio::test]
async fn time_series_give_one_value_per_day_and_stay_the_same() {
    let (env, page) = connected_at(Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).single()).await;
    let since = Utc
        .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("time")
        .timestamp()
        .to_string();
    let until = Utc
        .with_ymd_and_hms(2026, 11, 8, 0, 0, 0)
        .single()
        .expect("time")
        .timestamp()
        .to_string();
    let params = [
        ("metric", "reach,follower_count"),
        ("period", "day"),
        ("since", since.as_str()),
        ("until", until.as_str()),
    ];
    let first = insights(&env, &page, &params).await.json();
    let reach = &first["data"][0];
    assert_eq!(reach["name"], "reach");
    let values = reach["values"].as_array().expect("values");
    assert_eq!(values.len(), 7);
    // October 31 closes at Pacific midnight on daylight time (07:00 UTC), the days after on standard time.
    assert_eq!(values[0]["end_time"], "2026-11-01T07:00:00+0000");
    assert_eq!(values[1]["end_time"], "2026-11-02T08:00:00+0000");
    assert_eq!(values[6]["end_time"], "2026-11-07T08:00:00+0000");
    assert!(values.iter().all(|v| v["value"].as_i64().is_some()));
    assert_eq!(insights(&env, &page, &params).await.json(), first, "deterministic");

    // Meta corrects a late value.
    let day = NaiveDate::from_ymd_opt(2026, 11, 3).expect("date");
    env.control.set_metric_value(IG_ID, "reach", day, 4242);
    let corrected = insights(&env, &page, &params).await.json();
    assert_eq!(corrected["data"][0]["values"][3]["value"], 4242);
    assert_eq!(corrected["data"][0]["values"][2], first["data"][0]["values"][2]);

    // Without since/until: the last day only.
    let recent = insights(&env, &page, &[("metric", "reach"), ("period", "day")])
        .await
        .json();
    let values = recent["data"][0]["values"].as_array().expect("values");
    assert_eq!(values.len(), 1);
    assert_eq!(values[0]["end_time"], "2026-11-20T08:00:00+0000");
}

#[tokio::test]
async fn more_than_30_days_is_refused() {
    let (env, page) = connected().await;
    let until = env.control.now().timestamp();
    let since = (until - 31 * 86_400).to_string();
    let until = until.to_string();
    let answer = insights(
        &env,
        &page,
        &[
            ("metric", "reach"),
            ("period", "day"),
            ("since", &since),
            ("until", &until),
        ],
    )
    .await;
    assert_eq!(answer.error(), (100, None));
    assert!(answer.text.contains("30 days"));
}

#[tokio::test]
async fn insights_need_instagram_manage_insights() {
    let env = start().await;
    env.control.set_declined_scopes(USER_ID, &["instagram_manage_insights"]);
    let token = env.long_token().await;
    let answer = insights(&env, &token, &[("metric", "reach"), ("period", "day")]).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error(), (10, None));
    assert_eq!(
        answer.json()["error"]["message"],
        "(#10) Application does not have permission for this action"
    );
}

#[tokio::test]
async fn demographics_break_down_the_audience() {
    let (env, page) = connected().await;
    let params = [
        ("metric", "follower_demographics"),
        ("period", "lifetime"),
        ("metric_type", "total_value"),
        ("timeframe", "this_month"),
        ("breakdown", "country"),
    ];
    let body = insights(&env, &page, &params).await.json();
    let entry = &body["data"][0];
    assert_eq!(entry["name"], "follower_demographics");
    assert_eq!(entry["period"], "lifetime");
    let breakdown = &entry["total_value"]["breakdowns"][0];
    assert_eq!(breakdown["dimension_keys"], serde_json::json!(["country"]));
    let results = breakdown["results"].as_array().expect("results");
    assert!(!results.is_empty() && results.len() <= 45);
    assert!(results.iter().any(|r| r["dimension_values"][0] == "US"));
    assert_eq!(env.control.count(Endpoint::Demographics), 1);

    let ages = insights(
        &env,
        &page,
        &[params[0], params[1], params[2], params[3], ("breakdown", "age")],
    )
    .await
    .json();
    let keys: Vec<&str> = ages["data"][0]["total_value"]["breakdowns"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["dimension_values"][0].as_str())
        .collect();
    assert!(keys.contains(&"25-34") && keys.iter().all(|k| k.contains('-') || *k == "65+"));

    let no_timeframe = insights(&env, &page, &[params[0], params[1], params[2], params[4]]).await;
    assert_eq!(no_timeframe.error(), (100, None));
    let bad_breakdown = insights(
        &env,
        &page,
        &[params[0], params[1], params[2], params[3], ("breakdown", "locale")],
    )
    .await;
    assert_eq!(bad_breakdown.error(), (100, None));
}

#[tokio::test]
async fn small_accounts_get_no_demographics() {
    let env = start().await;
    let user = env.control.add_user(UserSpec {
        name: "Tiny".into(),
        pages: vec![PageSpec::with_instagram(
            "500000000000001",
            "Tiny Page",
            "17841455555555501",
            "tiny",
            99,
        )],
        declined_scopes: vec![],
    });
    env.control.set_dialog_user(&user);
    let token = env.long_token().await;
    let answer = env
        .graph(
            "/17841455555555501/insights",
            &token,
            &[
                ("metric", "follower_demographics"),
                ("period", "lifetime"),
                ("metric_type", "total_value"),
                ("timeframe", "this_week"),
                ("breakdown", "city"),
            ],
        )
        .await;
    assert_eq!(answer.error(), (100, Some(2_108_006)));
    assert!(answer.text.contains("Insufficient followers"));
}

/// `since`/`until` of the 30 days ending at `end`, in unix seconds.
fn month_before(end: chrono::DateTime<Utc>) -> (String, String) {
    let until = end.timestamp();
    ((until - 30 * 86_400).to_string(), until.to_string())
}

#[tokio::test]
async fn history_goes_back_90_days_and_follower_changes_30_adding_up_to_the_count() {
    let now = Utc.with_ymd_and_hms(2026, 12, 5, 20, 0, 0).single().expect("time");
    let (env, page) = connected_at(Some(now)).await;
    let days_of = |answer: &serde_json::Value, i: usize| answer["data"][i]["values"].as_array().map_or(0, Vec::len);

    // Account metrics: four 30-day requests reach 120 days back; only 90 come back.
    let mut reach_days = 0;
    for back in 0..4 {
        let (since, until) = month_before(now - chrono::Duration::days(30 * back));
        let params = [
            ("metric", "reach"),
            ("period", "day"),
            ("since", since.as_str()),
            ("until", until.as_str()),
        ];
        reach_days += days_of(&insights(&env, &page, &params).await.json(), 0);
    }
    assert!((89..=90).contains(&reach_days), "{reach_days} days of reach");

    // A `since` more than two years back is refused.
    let (since, until) = month_before(now - chrono::Duration::days(731));
    let params = [
        ("metric", "reach"),
        ("period", "day"),
        ("since", since.as_str()),
        ("until", until.as_str()),
    ];
    let refused = insights(&env, &page, &params).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.text.contains("Metrics data is available for the last 2 years"),
        "{}",
        refused.text
    );

    // Follower changes: the 30 days before today (November 5 to December 4), not today, nothing older.
    let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).expect("date");
    let (since, until) = (
        urlinsta_sandbox::day_end(day(11, 4)).timestamp().to_string(),
        urlinsta_sandbox::day_end(day(12, 4)).timestamp().to_string(),
    );
    let params = [
        ("metric", "follower_count"),
        ("period", "day"),
        ("since", since.as_str()),
        ("until", until.as_str()),
    ];
    let changes = insights(&env, &page, &params).await.json();
    let values = changes["data"][0]["values"].as_array().cloned().unwrap_or_default();
    assert_eq!(values.len(), 30, "{changes}");
    assert_eq!(
        values[29]["end_time"], "2026-12-05T08:00:00+0000",
        "yesterday (December 4) is the last"
    );
    let (since, until) = month_before(now - chrono::Duration::days(30));
    let params = [
        ("metric", "follower_count"),
        ("period", "day"),
        ("since", since.as_str()),
        ("until", until.as_str()),
    ];
    let older = insights(&env, &page, &params).await;
    assert_eq!(older.status, 400, "older than 30 days: refused");
    let message = older.json()["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        message,
        "(#100) (follower_count) metric only supports querying data for the last 30 days excluding the current day"
    );

    // The truth behind them: yesterday closed at today's count, each day before
    // at the next day's close less that next day's change.
    let count = |day: NaiveDate| env.control.followers_at_end_of(IG_ID, day).expect("account");
    let yesterday = day(12, 4);
    let node = env
        .graph(&format!("/{IG_ID}"), &page, &[("fields", "followers_count")])
        .await
        .json();
    assert_eq!(Some(count(yesterday)), node["followers_count"].as_i64());
    for (i, v) in values.iter().enumerate().skip(1) {
        let day = yesterday - chrono::Days::new(29 - i as u64);
        let change = v["value"].as_i64().expect("a change");
        assert_eq!(count(day.pred_opt().expect("date")), count(day) - change, "{day}");
    }

    // A range of total_value is one total for the whole range, not one per day.
    let (since, until) = month_before(now);
    let params = [
        ("metric", "views"),
        ("period", "day"),
        ("metric_type", "total_value"),
        ("since", since.as_str()),
        ("until", until.as_str()),
    ];
    let total = insights(&env, &page, &params).await.json();
    assert!(total["data"][0]["total_value"]["value"].as_i64().is_some(), "{total}");
    assert!(total["data"][0].get("values").is_none(), "{total}");
}
