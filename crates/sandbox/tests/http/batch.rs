//! Batch requests: one HTTP request, many logged operations.

use std::time::Duration;

use crate::helpers::*;
use urlinsta_sandbox::{Endpoint, Fault};

fn batch(ops: &[(&str, &str)]) -> String {
    let items: Vec<serde_json::Value> = ops
        .iter()
        .map(|(method, url)| serde_json::json!({ "method": method, "relative_url": url }))
        .collect();
    serde_json::Value::Array(items).to_string()
}

async fn post_batch(env: &Env, token: &str, batch: &str) -> Answer {
    let proof = proof(token);
    let form = [
        ("access_token", token),
        ("appsecret_proof", proof.as_str()),
        ("batch", batch),
    ];
    env.send(env.http.post(env.url(&format!("/{V}/"))).form(&form)).await
}

#[tokio::test]
async fn a_batch_answers_each_operation_and_logs_each() {
    let env = start().await;
    let token = env.long_token().await;
    env.control.reset_calls();
    let body = batch(&[
        ("GET", &format!("{V}/{IG_ID}?fields=username,followers_count")),
        (
            "GET",
            &format!("{IG_ID}/insights?metric=views&period=day&metric_type=total_value"),
        ),
        ("GET", &format!("{V}/{IG_ID}/insights?metric=impressions&period=day")),
    ]);
    let answer = post_batch(&env, &token, &body).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let items = answer.json();
    let items = items.as_array().expect("array");
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["code"], 200);
    assert!(
        items[0]["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .any(|h| h["name"] == "Content-Type")
    );
    let first: serde_json::Value = serde_json::from_str(items[0]["body"].as_str().expect("string body")).expect("json");
    assert_eq!(first["username"], "sandbox.creator");
    let second: serde_json::Value =
        serde_json::from_str(items[1]["body"].as_str().expect("string body")).expect("json");
    assert_eq!(second["data"][0]["name"], "views");
    assert_eq!(items[2]["code"], 400);
    assert!(items[2]["body"].as_str().unwrap_or("").contains("metric[0]"));

    assert_eq!(env.control.http_requests(), 1);
    let calls = env.control.calls();
    let ops: Vec<_> = calls.iter().filter(|c| c.in_batch).collect();
    assert_eq!(ops.len(), 3);
    assert!(
        ops.iter()
            .all(|c| c.account.as_deref() == Some(IG_ID) && c.path.starts_with("/v26.0/"))
    );
    assert_eq!(env.control.count(Endpoint::Batch), 1);
    assert_eq!(env.control.count(Endpoint::Insights), 2);
    assert_eq!(
        env.control.graph_calls(),
        3,
        "each operation counts against the limits, the batch itself does not"
    );
}

#[tokio::test]
async fn a_slow_operation_comes_back_as_null() {
    let env = start().await;
    let token = env.long_token().await;
    env.control
        .inject(Endpoint::IgUser, Fault::Delay(Duration::from_secs(5)), Some(1));
    let body = batch(&[("GET", &format!("{V}/{IG_ID}")), ("GET", &format!("{V}/{IG_ID}"))]);
    let started = std::time::Instant::now();
    let items = post_batch(&env, &token, &body).await.json();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(items[0].is_null());
    assert_eq!(items[1]["code"], 200);
}

#[tokio::test]
async fn operations_count_against_account_throttles() {
    let env = start().await;
    let token = env.long_token().await;
    env.control.throttle_account(IG_ID, 80002, 5);
    let body = batch(&[("GET", &format!("{V}/me")), ("GET", &format!("{V}/{IG_ID}"))]);
    let items = post_batch(&env, &token, &body).await.json();
    assert_eq!(items[0]["code"], 200);
    assert_eq!(items[1]["code"], 400);
    assert!(items[1]["body"].as_str().unwrap_or("").contains("80002"));
}

#[tokio::test]
async fn batches_are_limited_to_50_and_need_a_proof() {
    let env = start().await;
    let token = env.long_token().await;
    let ops: Vec<(&str, String)> = (0..51).map(|_| ("GET", format!("{V}/me"))).collect();
    let refs: Vec<(&str, &str)> = ops.iter().map(|(m, u)| (*m, u.as_str())).collect();
    let too_many = post_batch(&env, &token, &batch(&refs)).await;
    assert_eq!(too_many.error().0, 1);
    assert!(too_many.text.contains("50"));

    let form = [("access_token", token.as_str()), ("batch", &batch(&[("GET", "me")]))];
    let unproven = env.send(env.http.post(env.url("/")).form(&form)).await;
    assert_eq!(unproven.error(), (100, None));
}
