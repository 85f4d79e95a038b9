//! Keeping connections alive: the plan's token tests and what the platform
//! adds (tokens Facebook will not extend, daily checks, invalidation, signed
//! webhooks, overlapping runs).

use chrono::{Duration, SubsecRound, Utc};
use serde_json::Value;
use urlinsta_core::domain::Timestamp;
use urlinsta_core::store::{Login, TokenStatus};
use urlinsta_sandbox::{Endpoint, ExchangePolicy, Fault};

use crate::harness::*;
use crate::receiver::{Receiver, WEBHOOK_SECRET, verified};

const IG: &str = "17841400000000001";
const FB_USER: &str = "100000000000001";

/// An app whose webhooks go to a receiver of the test's own, with the default account connected.
async fn connected_app() -> (TestApp, Receiver) {
    connected_app_with(Vec::new()).await
}

async fn connected_app_with(mut vars: Vec<(&'static str, String)>) -> (TestApp, Receiver) {
    let receiver = Receiver::start().await;
    vars.push(("NOTIFY_WEBHOOK_URL", receiver.url.clone()));
    vars.push(("NOTIFY_WEBHOOK_SECRET", WEBHOOK_SECRET.into()));
    let t = spawn_app_with(Options {
        vars,
        ..Options::default()
    })
    .await;
    assert_eq!(location(&t.connect().await), "/?connected=true");
    (t, receiver)
}

/// As if every waiting webhook retry were due now.
async fn as_if_backoff_elapsed(t: &TestApp) {
    sql(
        t,
        &format!(
            "UPDATE notifications SET next_attempt_at = '{}' WHERE next_attempt_at IS NOT NULL",
            ts(Utc::now())
        ),
    )
    .await;
}

fn days_until(at: Option<Timestamp>) -> i64 {
    (at.expect("an expiry").to_datetime() - Utc::now()).num_days()
}

#[tokio::test]
async fn identifies_tokens_needing_refresh_and_refreshes_them_with_a_new_page_token() {
    let (t, _receiver) = connected_app().await;
    // A second influencer whose token has 11 days left: not due yet.
    let other_ig = connect_another(&t).await.0;

    expire_in(&t, IG, 9).await;
    expire_in(&t, &other_ig, 11).await;
    let before = tokens(&t, IG).await;
    let other_before = tokens(&t, &other_ig).await;
    t.control.set_exchange_policy(ExchangePolicy::Extend);
    t.control.reset_calls();

    let report = run_refresh(&t).await;
    assert_eq!(report.counts.refreshed, 1, "{report:?}");
    assert_eq!(report.counts.failed, 0);
    assert_eq!(
        t.control.count(Endpoint::LongLivedExchange),
        1,
        "only the token inside 10 days is exchanged"
    );
    let exchange = t
        .control
        .calls()
        .into_iter()
        .find(|c| c.endpoint == Endpoint::LongLivedExchange)
        .unwrap();
    assert!(
        exchange
            .params
            .iter()
            .any(|(k, v)| k == "grant_type" && v == "fb_exchange_token")
    );

    let after = tokens(&t, IG).await;
    assert_ne!(
        after.user_token.expose(),
        before.user_token.expose(),
        "the new user token replaced the old"
    );
    assert_ne!(
        after.page_token.expose(),
        before.page_token.expose(),
        "the Page token was regenerated"
    );
    assert!(t.control.issued_tokens().iter().any(|s| s == after.page_token.expose()));
    assert_eq!(after.generation, before.generation + 1);
    let a = account(&t, IG).await;
    assert!(
        (58..=60).contains(&days_until(a.token.user_token_expires_at)),
        "about 60 days ahead"
    );
    assert_eq!(a.token.status, TokenStatus::Active);
    assert!(a.token.last_refreshed_at.is_some());
    let rows = log_rows(&t, IG).await;
    assert_eq!(
        (rows[0]["job_type"].as_str(), rows[0]["status"].as_str()),
        (Some("token_refresh"), Some("success"))
    );

    let other_after = tokens(&t, &other_ig).await;
    assert_eq!(
        other_after.user_token.expose(),
        other_before.user_token.expose(),
        "11 days left: untouched"
    );
    assert_eq!(other_after.generation, other_before.generation);

    // The new tokens are what the next run sees: nothing is due any more.
    t.control.reset_calls();
    let again = run_refresh(&t).await;
    assert_eq!(again.counts.refreshed, 0);
    assert_eq!(t.control.count(Endpoint::LongLivedExchange), 0);
    assert_no_secrets(&t.control, &t.db_bytes(), "the database file");
}

#[tokio::test]
async fn a_new_expiry_missing_from_the_exchange_is_read_through_debug_token() {
    let (t, _receiver) = connected_app().await;
    expire_in(&t, IG, 3).await;
    t.control.set_exchange_policy(ExchangePolicy::ExtendWithoutExpiresIn);
    t.control.reset_calls();
    let report = run_refresh(&t).await;
    assert_eq!(report.counts.refreshed, 1, "{report:?}");
    assert!(t.control.count(Endpoint::DebugToken) >= 1);
    let a = account(&t, IG).await;
    assert!((58..=60).contains(&days_until(a.token.user_token_expires_at)));
    assert_eq!(a.token.status, TokenStatus::Active);
}

#[tokio::test]
async fn an_expires_in_past_the_last_date_there_is_is_not_believed_and_the_run_goes_on() {
    let (t, _receiver) = connected_app().await;
    let expires = expire_in(&t, IG, 5).await;
    // The same token back (as Meta does), "valid" for i64::MAX seconds.
    let body = serde_json::json!({
        "access_token": tokens(&t, IG).await.user_token.expose(),
        "token_type": "bearer",
        "expires_in": i64::MAX,
    });
    t.control.inject(
        Endpoint::LongLivedExchange,
        Fault::Http {
            status: 200,
            content_type: "application/json".into(),
            body: body.to_string(),
        },
        Some(1),
    );
    t.control.reset_calls();
    let report = run_refresh(&t).await;
    // The expiry is read through debug_token instead: five days, not extended.
    assert!(t.control.count(Endpoint::DebugToken) >= 1);
    assert_eq!(report.counts.reauth_required, 1, "{report:?}");
    let a = account(&t, IG).await;
    assert_eq!(a.token.reconnect_by, Some(expires.into()));
}

#[tokio::test]
async fn a_token_facebook_will_not_extend_asks_for_a_reconnect_with_one_signed_webhook() {
    let (t, receiver) = connected_app().await;
    let expires = expire_in(&t, IG, 5).await;
    let before = tokens(&t, IG).await;
    // The sandbox's default policy is Meta's: a long-lived token comes back unchanged.

    let report = run_refresh(&t).await;
    assert_eq!(report.counts.reauth_required, 1, "{report:?}");
    assert_eq!(report.counts.refreshed, 0);
    assert_eq!(report.counts.failed, 0);
    let a = account(&t, IG).await;
    assert_eq!(a.token.status, TokenStatus::ReauthRequired);
    assert_eq!(a.token.reconnect_by, Some(expires.into()));
    assert!(
        a.token.reason.as_deref().unwrap_or("").contains("did not extend"),
        "{:?}",
        a.token.reason
    );
    assert_eq!(
        tokens(&t, IG).await.user_token.expose(),
        before.user_token.expose(),
        "the working token is kept"
    );
    let rows = log_rows(&t, IG).await;
    assert_eq!(
        (rows[0]["job_type"].as_str(), rows[0]["status"].as_str()),
        (Some("token_refresh"), Some("failed"))
    );

    // What the influencer's page reads.
    let status = t.status(&t.browser).await;
    assert_eq!(status["token_status"], "reauth_required");
    assert_eq!(status["reconnect_by"], ts(expires));

    // Exactly one event, signed.
    let received = receiver.received();
    assert_eq!(received.len(), 1, "one webhook per transition");
    let event = verified(&received[0]);
    assert_eq!(event["type"], "connection.reauth_required");
    assert_eq!(event["token_status"], "reauth_required");
    assert_eq!(event["account"]["instagram_user_id"], IG);
    assert_eq!(event["account"]["username"], "sandbox.creator");
    assert_eq!(event["login"], "facebook", "the login the person reconnects with");
    assert_eq!(event["reconnect_by"], ts(expires));

    // The next run tries again, finds the same, and says nothing new.
    let again = run_refresh(&t).await;
    assert_eq!(again.counts.reauth_required, 1);
    assert_eq!(receiver.received().len(), 1, "no second webhook on the next run");

    // Reconnecting restores `active` and announces it.
    assert_eq!(location(&t.connect().await), "/?connected=true");
    let a = account(&t, IG).await;
    assert_eq!(a.token.status, TokenStatus::Active);
    assert_eq!(a.token.reconnect_by, None);
    let received = receiver.received();
    assert_eq!(received.len(), 2, "the recovery event");
    let event = verified(&received[1]);
    assert_eq!(event["type"], "connection.restored");
    assert_eq!(event["token_status"], "active");
    assert_eq!(t.status(&t.browser).await["token_status"], "active");

    for r in &received {
        assert_no_secrets(&t.control, r.body.as_bytes(), "a webhook body");
    }
    assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
}

#[tokio::test]
async fn a_revoked_token_is_found_by_the_daily_check_and_marked_invalid_with_the_reason() {
    let (t, receiver) = connected_app().await;
    t.control.invalidate_user_tokens(FB_USER, 460);
    as_if_checked_yesterday(&t).await;

    let report = run_refresh(&t).await;
    assert_eq!(report.counts.checked, 1, "{report:?}");
    assert_eq!(report.counts.invalid, 1);
    let a = account(&t, IG).await;
    assert_eq!(a.token.status, TokenStatus::Invalid);
    assert_eq!((a.token.code, a.token.subcode), (Some(190), Some(460)));
    assert_eq!(a.token.reason.as_deref(), Some("the Facebook password was changed"));
    let rows = log_rows(&t, IG).await;
    assert_eq!(
        (rows[0]["job_type"].as_str(), rows[0]["status"].as_str()),
        (Some("token_check"), Some("failed"))
    );
    assert_eq!(rows[0]["error_code"], 190);
    let event = verified(&receiver.received()[0]);
    assert_eq!(event["type"], "connection.invalid");
    assert_eq!(
        (event["code"].as_i64(), event["subcode"].as_i64()),
        (Some(190), Some(460))
    );
    assert_eq!(event["reason"], "the Facebook password was changed");

    // Jobs skip invalid connections: no call, no row, no event.
    as_if_checked_yesterday(&t).await;
    t.control.reset_calls();
    let again = run_refresh(&t).await;
    assert_eq!(again.counts.checked, 0);
    assert_eq!(t.control.calls().len(), 0);
    assert_eq!(log_rows(&t, IG).await.len(), rows.len());
    assert_eq!(receiver.received().len(), 1);

    // A new login brings it back.
    assert_eq!(location(&t.connect().await), "/?connected=true");
    assert_eq!(account(&t, IG).await.token.status, TokenStatus::Active);
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    assert_eq!(verified(&received[1])["type"], "connection.restored");
}

#[tokio::test]
async fn an_auth_error_during_a_refresh_marks_the_token_invalid_without_retrying() {
    let (t, receiver) = connected_app().await;
    expire_in(&t, IG, 5).await;
    t.control
        .inject(Endpoint::LongLivedExchange, Fault::graph(190, 463), None);
    t.control.reset_calls();

    let report = run_refresh(&t).await;
    assert_eq!(report.counts.invalid, 1, "{report:?}");
    assert_eq!(
        t.control.count(Endpoint::LongLivedExchange),
        1,
        "auth errors are never retried"
    );
    let a = account(&t, IG).await;
    assert_eq!(a.token.status, TokenStatus::Invalid);
    assert_eq!(a.token.subcode, Some(463));
    assert_eq!(a.token.reason.as_deref(), Some("the access token expired"));
    assert_eq!(verified(&receiver.received()[0])["type"], "connection.invalid");
}

#[tokio::test]
async fn data_access_ending_within_two_weeks_asks_for_a_reconnect() {
    let (t, receiver) = connected_app().await;
    let ends = (Utc::now() + Duration::days(10)).trunc_subsecs(0);
    t.control.set_data_access_expiry(FB_USER, ends);
    as_if_checked_yesterday(&t).await;

    let report = run_refresh(&t).await;
    assert_eq!(
        (report.counts.checked, report.counts.reauth_required),
        (1, 1),
        "{report:?}"
    );
    let a = account(&t, IG).await;
    assert_eq!(a.token.status, TokenStatus::ReauthRequired);
    assert_eq!(a.token.data_access_expires_at, Some(ends.into()), "the check stored it");
    assert_eq!(a.token.reconnect_by, Some(ends.into()));
    assert!(a.token.reason.as_deref().unwrap_or("").contains("data access ends"));
    assert!(a.token.last_checked_at.is_some());
    let event = verified(&receiver.received()[0]);
    assert_eq!(event["type"], "connection.reauth_required");
    assert_eq!(event["reconnect_by"], ts(ends));
}

#[tokio::test]
async fn a_withdrawn_permission_asks_for_a_reconnect_naming_it() {
    let (t, _receiver) = connected_app().await;
    t.control.set_declined_scopes(FB_USER, &["instagram_manage_insights"]);
    as_if_checked_yesterday(&t).await;
    let report = run_refresh(&t).await;
    assert_eq!(report.counts.reauth_required, 1, "{report:?}");
    let a = account(&t, IG).await;
    assert_eq!(a.token.status, TokenStatus::ReauthRequired);
    assert!(
        a.token
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("instagram_manage_insights"),
        "{:?}",
        a.token.reason
    );
    assert!(!a.token.granted_scopes.iter().any(|s| s == "instagram_manage_insights"));
}

#[tokio::test]
async fn transient_failures_are_retried_with_backoff_then_logged_failed_and_not_marked_invalid() {
    let (t, receiver) = connected_app().await;
    expire_in(&t, IG, 5).await;
    t.control.set_exchange_policy(ExchangePolicy::Extend);
    t.control
        .inject(Endpoint::LongLivedExchange, Fault::graph(2, None), Some(3));
    t.control.reset_calls();

    let report = run_refresh(&t).await;
    assert_eq!((report.counts.failed, report.counts.refreshed), (1, 0), "{report:?}");
    assert_eq!(t.control.count(Endpoint::LongLivedExchange), 3, "three tries");
    let a = account(&t, IG).await;
    assert_eq!(
        a.token.status,
        TokenStatus::Active,
        "a transient failure says nothing about the token"
    );
    let rows = log_rows(&t, IG).await;
    assert_eq!(
        (rows[0]["job_type"].as_str(), rows[0]["status"].as_str()),
        (Some("token_refresh"), Some("failed"))
    );
    assert_eq!(rows[0]["error_code"], 2);
    assert!(receiver.received().is_empty());

    // The next run tries again and succeeds.
    let again = run_refresh(&t).await;
    assert_eq!(again.counts.refreshed, 1, "{again:?}");
}

#[tokio::test]
async fn two_refresh_runs_at_once_refresh_once() {
    let (t, _receiver) = connected_app().await;
    expire_in(&t, IG, 5).await;
    t.control.set_exchange_policy(ExchangePolicy::Extend);
    // The first exchange is slow, so the two runs surely overlap.
    t.control.inject(
        Endpoint::LongLivedExchange,
        Fault::Delay(std::time::Duration::from_millis(500)),
        Some(1),
    );
    t.control.reset_calls();

    let (a, b) = tokio::join!(run_refresh(&t), run_refresh(&t));
    assert_eq!(a.counts.refreshed + b.counts.refreshed, 1, "{a:?} {b:?}");
    assert_eq!(
        t.control.count(Endpoint::LongLivedExchange),
        1,
        "the token was exchanged once"
    );
    assert_eq!(tokens(&t, IG).await.generation, 2);
}

#[tokio::test]
async fn a_refresh_overlapping_a_reconnect_keeps_the_reconnects_tokens() {
    let (t, _receiver) = connected_app().await;
    expire_in(&t, IG, 5).await;
    t.control.set_exchange_policy(ExchangePolicy::Extend);
    // The job's exchange (the first) is held for 3 s; the reconnect, whose
    // code exchange is held 1 s so that the job goes first, completes inside.
    t.control.inject(
        Endpoint::LongLivedExchange,
        Fault::Delay(std::time::Duration::from_secs(3)),
        Some(1),
    );
    t.control.inject(
        Endpoint::CodeExchange,
        Fault::Delay(std::time::Duration::from_secs(1)),
        Some(1),
    );

    let app = t.app.clone();
    let job = tokio::spawn(async move { refresh_on(&app).await });
    assert_eq!(location(&t.connect().await), "/?connected=true");
    let reconnected = tokens(&t, IG).await;
    let report = job.await.unwrap();

    assert_eq!(report.counts.refreshed, 0, "{report:?}");
    let now = tokens(&t, IG).await;
    assert_eq!(
        now.user_token.expose(),
        reconnected.user_token.expose(),
        "the reconnect's user token stands"
    );
    assert_eq!(now.page_token.expose(), reconnected.page_token.expose());
    assert_eq!(now.generation, reconnected.generation);
    assert_eq!(account(&t, IG).await.token.status, TokenStatus::Active);
    let rows = log_rows(&t, IG).await;
    assert_eq!(
        (rows[0]["job_type"].as_str(), rows[0]["status"].as_str()),
        (Some("token_refresh"), Some("skipped"))
    );
}

#[tokio::test]
async fn the_cron_route_needs_the_secret_and_answers_the_counts() {
    let (t, _receiver) = connected_app().await;
    expire_in(&t, IG, 5).await;
    t.control.set_exchange_policy(ExchangePolicy::Extend);
    t.control.reset_calls();
    let client = reqwest::Client::new();
    let url = t.api("/api/cron/refresh-tokens");

    let none = client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert_eq!(none.json::<Value>().await.unwrap()["error"], "unauthorized");
    let wrong = client.get(&url).bearer_auth("not-the-secret").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(wrong.json::<Value>().await.unwrap()["error"], "unauthorized");
    assert_eq!(t.control.count(Endpoint::LongLivedExchange), 0, "nothing ran");

    let ok = client.get(&url).bearer_auth(CRON_SECRET).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    let mut keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "checked",
            "duration_ms",
            "failed",
            "invalid",
            "reauth_required",
            "refreshed",
            "remaining"
        ]
    );
    let report: RefreshReport = serde_json::from_value(body).expect("a refresh report");
    assert_eq!(report.counts.refreshed, 1, "{report:?}");
    t.stop().await;
}

#[tokio::test]
async fn a_failed_webhook_delivery_is_retried_on_a_later_run_and_never_fails_the_job() {
    let (t, receiver) = connected_app().await;
    expire_in(&t, IG, 5).await;
    receiver.fail_next(1, 503);

    let report = run_refresh(&t).await;
    assert_eq!(
        report.counts.reauth_required, 1,
        "the job's own work is unaffected: {report:?}"
    );
    assert_eq!(receiver.received().len(), 1);
    let outbox = t.app.store.recent_notifications(10).await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!((outbox[0].attempts, outbox[0].delivered_at), (1, None));
    assert!(outbox[0].next_attempt_at.is_some(), "a retry is planned");
    assert!(outbox[0].last_error.as_deref().unwrap_or("").contains("503"));

    // Not due yet: the next run leaves it alone.
    run_refresh(&t).await;
    assert_eq!(receiver.received().len(), 1);

    as_if_backoff_elapsed(&t).await;
    run_refresh(&t).await;
    let received = receiver.received();
    assert_eq!(received.len(), 2, "retried once due");
    assert_eq!(received[0].body, received[1].body, "the same event, byte for byte");
    assert_eq!(verified(&received[1])["type"], "connection.reauth_required");
    let outbox = t.app.store.recent_notifications(10).await.unwrap();
    assert_eq!(outbox[0].attempts, 2);
    assert!(outbox[0].delivered_at.is_some());

    as_if_backoff_elapsed(&t).await;
    run_refresh(&t).await;
    assert_eq!(receiver.received().len(), 2, "delivered events are not sent again");
}

#[tokio::test]
async fn the_stalest_connection_goes_first_and_none_starts_after_the_time_budget() {
    let (t, _receiver) = connected_app_with(vec![("JOB_TIME_BUDGET_SECS", "0".into())]).await;
    let other_ig = connect_another(&t).await.0;
    expire_in(&t, IG, 7).await;
    expire_in(&t, &other_ig, 3).await;

    let now = Utc::now();
    let due = t
        .app
        .store
        .upkeep_candidates(
            Login::Facebook,
            (now + Duration::days(10)).into(),
            (now - Duration::hours(24)).into(),
        )
        .await;
    let order: Vec<String> = due
        .unwrap()
        .into_iter()
        .map(|c| c.account.instagram_user_id.to_string())
        .collect();
    assert_eq!(order, [other_ig.as_str(), IG], "soonest expiry first");

    t.control.reset_calls();
    let report = run_refresh(&t).await;
    assert_eq!(
        report.counts.refreshed + report.counts.failed + report.counts.reauth_required,
        0
    );
    assert_eq!(
        t.control.calls().len(),
        0,
        "no account is started once the budget is spent"
    );
    assert!(log_rows(&t, IG).await.is_empty());
}
