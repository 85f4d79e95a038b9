//! Every fault kind, counted faults, per-account throttles, latency.

use std::time::{Duration, Instant};

use crate::helpers::*;
use urlinsta_sandbox::{Endpoint, Fault, UserSpec};

async fn connected() -> (Env, String) {
    let env = start().await;
    let token = env.long_token().await;
    let page = env.page_token(&token).await;
    (env, page)
}

async fn ig(env: &Env, token: &str) -> Answer {
    env.graph(&format!("/{IG_ID}"), token, &[("fields", "username")]).await
}

#[tokio::test]
async fn graph_error_faults_answer_meta_bodies_then_run_out() {
    let (env, page) = connected().await;
    env.control.inject(Endpoint::IgUser, Fault::graph(2, None), Some(2));
    for _ in 0..2 {
        let answer = ig(&env, &page).await;
        assert_eq!(answer.status, 500);
        let error = &answer.json()["error"];
        assert_eq!(error["code"], 2);
        assert_eq!(error["is_transient"], true);
        assert!(error["fbtrace_id"].is_string());
    }
    assert_eq!(ig(&env, &page).await.status, 200);

    env.control.inject(
        Endpoint::IgUser,
        Fault::GraphError {
            http_status: 403,
            code: 200,
            subcode: Some(1),
            message: "(#200) Custom".into(),
            error_type: "OAuthException".into(),
            is_transient: false,
        },
        None,
    );
    for _ in 0..3 {
        let answer = ig(&env, &page).await;
        assert_eq!((answer.status.as_u16(), answer.error()), (403, (200, Some(1))));
    }
    env.control.clear_faults();
    assert_eq!(ig(&env, &page).await.status, 200);
    // Other endpoints were never affected.
    assert_eq!(
        env.graph("/me/accounts", &env.long_token().await, &[]).await.status,
        200
    );
}

#[tokio::test]
async fn http_faults_answer_whatever_a_proxy_would() {
    let (env, page) = connected().await;
    env.control.inject(
        Endpoint::Insights,
        Fault::Http {
            status: 503,
            content_type: "text/html".into(),
            body: "<html><body>Service Unavailable</body></html>".into(),
        },
        Some(1),
    );
    let answer = env
        .graph(
            &format!("/{IG_ID}/insights"),
            &page,
            &[("metric", "reach"), ("period", "day")],
        )
        .await;
    assert_eq!(answer.status, 503);
    assert_eq!(answer.header("content-type"), Some("text/html"));
    assert!(answer.text.contains("Service Unavailable"));

    // A forward proxy's error page prints the URL it could not fetch.
    env.control.inject(
        Endpoint::IgUser,
        Fault::Http {
            status: 502,
            content_type: "text/html".into(),
            body: "<p>The requested URL could not be retrieved: {request_url}</p>".into(),
        },
        Some(1),
    );
    let answer = env
        .get(
            &format!("/{V}/{IG_ID}"),
            &[("fields", "username"), ("access_token", &page)],
        )
        .await;
    assert_eq!(answer.status, 502);
    assert!(
        answer
            .text
            .contains(&format!("retrieved: /{V}/{IG_ID}?fields=username&access_token={page}")),
        "{}",
        answer.text
    );
}

#[tokio::test]
async fn truncated_answers_are_200_with_half_a_json() {
    let (env, page) = connected().await;
    env.control.inject(Endpoint::IgUser, Fault::Truncated, Some(1));
    let answer = ig(&env, &page).await;
    assert_eq!(answer.status, 200);
    assert!(!answer.text.is_empty());
    assert!(
        serde_json::from_str::<serde_json::Value>(&answer.text).is_err(),
        "{}",
        answer.text
    );
    assert_eq!(ig(&env, &page).await.json()["username"], "sandbox.creator");
}

#[tokio::test]
async fn delays_then_answer_normally() {
    let (env, page) = connected().await;
    env.control
        .inject(Endpoint::IgUser, Fault::Delay(Duration::from_millis(60)), Some(1));
    let started = Instant::now();
    let answer = ig(&env, &page).await;
    assert!(started.elapsed() >= Duration::from_millis(60));
    assert_eq!(answer.status, 200);
}

#[tokio::test]
async fn close_drops_the_connection_unanswered() {
    let (env, page) = connected().await;
    env.control.inject(Endpoint::IgUser, Fault::Close, Some(1));
    let proof = proof(&page);
    let result = env
        .http
        .get(env.url(&format!("/{V}/{IG_ID}")))
        .query(&[("access_token", page.as_str()), ("appsecret_proof", proof.as_str())])
        .send()
        .await;
    assert!(result.is_err(), "expected a transport error, got {result:?}");
    assert_eq!(ig(&env, &page).await.status, 200, "the next call goes through");
    let closed = env
        .control
        .calls()
        .into_iter()
        .find(|c| c.endpoint == Endpoint::IgUser)
        .expect("logged");
    assert_eq!(closed.status, 0);
}

#[tokio::test]
async fn retry_after_is_a_429_with_the_header() {
    let (env, page) = connected().await;
    env.control
        .inject(Endpoint::IgUser, Fault::RetryAfter { secs: 7 }, Some(1));
    let answer = ig(&env, &page).await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("retry-after"), Some("7"));
}

#[tokio::test]
async fn throttle_faults_carry_meta_codes_and_full_usage() {
    let (env, page) = connected().await;
    env.control.inject(
        Endpoint::Insights,
        Fault::Throttle {
            code: 80002,
            minutes_to_regain: 12,
        },
        Some(1),
    );
    let answer = env
        .graph(
            &format!("/{IG_ID}/insights"),
            &page,
            &[("metric", "reach"), ("period", "day")],
        )
        .await;
    assert!(answer.status == 400 || answer.status == 403, "{}", answer.status);
    assert_eq!(answer.error(), (80002, None));
    assert_eq!(answer.json()["error"]["is_transient"], true);
    let buc: serde_json::Value =
        serde_json::from_str(answer.header("x-business-use-case-usage").expect("buc")).expect("json");
    assert_eq!(buc[IG_ID][0]["call_count"], 100);
    assert_eq!(buc[IG_ID][0]["estimated_time_to_regain_access"], 12);

    env.control.inject(
        Endpoint::IgUser,
        Fault::Throttle {
            code: 4,
            minutes_to_regain: 1,
        },
        Some(1),
    );
    let app = ig(&env, &page).await;
    assert_eq!(app.error().0, 4);
    let usage: serde_json::Value = serde_json::from_str(app.header("x-app-usage").expect("usage")).expect("json");
    assert_eq!(usage["call_count"], 100);
}

#[tokio::test]
async fn a_throttled_account_waits_while_others_go_on() {
    let env = start().await;
    let other = env.control.add_user(UserSpec::default_influencer());
    let other_ig = {
        env.control.set_dialog_user(&other);
        let token = env.long_token().await;
        let accounts = env
            .graph("/me/accounts", &token, &[("fields", "instagram_business_account")])
            .await
            .json();
        let ig_id = accounts["data"][0]["instagram_business_account"]["id"]
            .as_str()
            .expect("ig")
            .to_string();
        (token, ig_id)
    };
    env.control.set_dialog_user(USER_ID);
    let token = env.long_token().await;

    env.control.throttle_account(IG_ID, 80002, 30);
    let throttled = ig(&env, &token).await;
    assert_eq!(throttled.error().0, 80002);
    let buc: serde_json::Value =
        serde_json::from_str(throttled.header("x-business-use-case-usage").expect("buc")).expect("json");
    assert_eq!(buc[IG_ID][0]["estimated_time_to_regain_access"], 30);
    let fine = env
        .graph(&format!("/{}", other_ig.1), &other_ig.0, &[("fields", "username")])
        .await;
    assert_eq!(fine.status, 200);

    env.control.advance(chrono::Duration::minutes(31));
    assert_eq!(ig(&env, &token).await.status, 200);
}

#[tokio::test]
async fn latency_is_added_to_every_answer() {
    let env = start().await;
    env.control.set_latency(Duration::from_millis(40));
    let started = Instant::now();
    env.get("/v26.0/me", &[]).await;
    assert!(started.elapsed() >= Duration::from_millis(40));
}

#[tokio::test]
async fn login_endpoints_take_faults_too() {
    let env = start().await;
    env.control
        .inject(Endpoint::CodeExchange, Fault::graph(1, None), Some(1));
    let code = env.code(SCOPES).await;
    let failed = env.exchange_code(&code, REDIRECT).await;
    assert_eq!(failed.error().0, 1);
    // The fault answered before the code was used: it still works.
    assert_eq!(env.exchange_code(&code, REDIRECT).await.status, 200);

    env.control.inject(
        Endpoint::DebugToken,
        Fault::Http {
            status: 502,
            content_type: "text/plain".into(),
            body: "Bad Gateway".into(),
        },
        Some(1),
    );
    let answer = env
        .get(
            &format!("/{V}/debug_token"),
            &[("input_token", "x"), ("access_token", &app_token())],
        )
        .await;
    assert_eq!(answer.status, 502);
}
