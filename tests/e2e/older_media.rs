//! Older media on request: the request and its progress over HTTP, who may
//! ask, what disconnecting takes along; and the hourly collection walking
//! the catalog back to the day asked, a page a run within the account's
//! hourly ceiling, after its account metrics, each media measured once.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use urlinsta_core::jobs::JobKind;
use urlinsta_sandbox::MediaSpec;

use crate::harness::*;

const IG: &str = DEFAULT_IG;
const HISTORY: &str = "/api/insights/17841400000000001/media/history";

/// Asks for older media as the page does, from the connected browser.
async fn ask(t: &TestApp, body: Value) -> reqwest::Response {
    t.post(&t.browser, HISTORY).json(&body).send().await.expect("request")
}

async fn progress(t: &TestApp) -> Value {
    let r = t.browser.get(t.api(HISTORY)).send().await.expect("progress");
    assert_eq!(r.status(), 200);
    r.json().await.expect("JSON")
}

fn days_before_today(days: i64) -> String {
    (Utc::now().date_naive() - Duration::days(days)).to_string()
}

on_both_databases! {
    async fn a_request_is_recorded_once_and_goes_with_the_account(t: TestApp) {
        assert_eq!(t.connect().await.status(), 302);
        let none = progress(&t).await;
        assert_eq!((none["status"].as_str(), &none["since"]), (Some("not_requested"), &Value::Null), "{none}");

        let first = ask(&t, json!({ "days": 365 })).await;
        assert_eq!(first.status(), 202);
        let first: Value = first.json().await.unwrap();
        assert_eq!(first["since"], days_before_today(365), "{first}");
        assert_eq!((first["status"].as_str(), first["changed"].as_bool()), (Some("in_progress"), Some(true)));
        assert!(first["requested_at"].is_string(), "{first}");

        // The same again, or less far back: nothing changes.
        for again in [json!({ "days": 365 }), json!({ "since": days_before_today(30) })] {
            let r = ask(&t, again).await;
            assert_eq!(r.status(), 202);
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["changed"], false, "{body}");
            assert_eq!((&body["since"], &body["requested_at"]), (&first["since"], &first["requested_at"]));
        }
        // Further back moves it.
        let further: Value = ask(&t, json!({ "since": "2024-01-31" })).await.json().await.unwrap();
        assert_eq!((further["since"].as_str(), further["changed"].as_bool()), (Some("2024-01-31"), Some(true)));
        let shown = progress(&t).await;
        assert_eq!(shown["since"], "2024-01-31");
        assert!(shown.get("changed").is_none(), "only a POST says what it changed: {shown}");

        // Disconnecting deletes the request with the media.
        let now = t.control.now();
        t.control.add_media(IG, MediaSpec::post().posted_at(now - Duration::hours(3)));
        run_collect(&t.app, JobKind::CollectInsights).await;
        assert_eq!(progress(&t).await["media"], 1);
        let gone = t
            .post(&t.browser, "/api/auth/disconnect")
            .json(&json!({ "instagram_user_id": IG }))
            .send()
            .await
            .unwrap();
        assert_eq!(gone.status(), 200);
        assert_eq!(row_count(&t, "media").await, 0);
        assert_eq!(row_count(&t, "account_state").await, 0);
        assert_no_orphans(&t).await;
        // Connected again, nothing is asked.
        assert_eq!(t.connect().await.status(), 302);
        assert_eq!(progress(&t).await["status"], "not_requested");
    }
}

#[tokio::test]
async fn bad_requests_are_refused_clearly_and_strangers_get_nothing() {
    let t = spawn_app().await;
    assert_eq!(t.connect().await.status(), 302);
    let tomorrow = (Utc::now().date_naive() + Duration::days(1)).to_string();
    for (body, says) in [
        (json!({}), "say how far back"),
        (json!({ "days": 0 }), "`days` must be a whole number from 1 to 6000"),
        (json!({ "days": 6001 }), "`days` must be"),
        (json!({ "days": 1.5 }), "`days` must be"),
        (json!({ "days": "30" }), "`days` must be"),
        (json!({ "since": "2025-02-30" }), "YYYY-MM-DD"),
        (json!({ "since": tomorrow }), "to today"),
        (json!({ "since": "2009-12-31" }), "2010-10-06"),
        (json!({ "since": "2025-01-01", "days": 30 }), "not both"),
        (json!({ "until": "2025-01-01" }), "unknown field"),
        (json!([365]), "a JSON object"),
    ] {
        let r = ask(&t, body.clone()).await;
        assert_eq!(r.status(), 400, "{body}");
        let error: Value = r.json().await.unwrap();
        assert!(
            error["message"].as_str().is_some_and(|m| m.contains(says)),
            "{body}: {error}"
        );
    }
    let form = t
        .post(&t.browser, HISTORY)
        .form(&[("days", "30")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415, "a form any site can send is refused");
    assert_eq!(progress(&t).await["status"], "not_requested", "nothing was recorded");

    // Nobody: 401. Another influencer: 403. Another site, with the cookie: 403.
    let nobody = browser();
    assert_eq!(nobody.get(t.api(HISTORY)).send().await.unwrap().status(), 401);
    let r = t
        .post(&nobody, HISTORY)
        .json(&json!({ "days": 30 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (_, other) = connect_another(&t).await;
    assert_eq!(other.get(t.api(HISTORY)).send().await.unwrap().status(), 403);
    let r = t
        .post(&other, HISTORY)
        .json(&json!({ "days": 30 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let cross = t
        .browser
        .post(t.api(HISTORY))
        .header("origin", "https://evil.example")
        .json(&json!({ "days": 30 }))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    assert_eq!(
        progress(&t).await["status"],
        "not_requested",
        "none of them recorded anything"
    );

    // The operator may ask for any account; an unknown one is 404.
    let admin = reqwest::Client::new();
    let r = admin
        .post(t.api(HISTORY))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({ "since": "2020-05-01" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(progress(&t).await["since"], "2020-05-01");
    let r = admin
        .post(t.api("/api/insights/17841499999999999/media/history"))
        .bearer_auth(ADMIN_KEY)
        .json(&json!({ "days": 30 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn an_account_that_never_posted_is_done_at_its_next_run() {
    let t = spawn_app().await;
    assert_eq!(t.connect().await.status(), 302);
    let asked: Value = ask(&t, json!({ "days": 365 })).await.json().await.unwrap();
    assert_eq!(asked["status"], "in_progress");
    run_collect(&t.app, JobKind::CollectInsights).await;
    let done = progress(&t).await;
    assert_eq!(
        (done["status"].as_str(), done["media"].as_i64()),
        (Some("done"), Some(0)),
        "{done}"
    );
}

/// Our ceiling of Graph calls per account and hour in the collection test:
/// tight, so that the account metrics and the older media compete for it.
const CEILING: u32 = 12;

/// The app with [`CEILING`], on an embedded file or a fresh `sqld`.
async fn with_a_tight_ceiling(on_sqld: bool) -> TestApp {
    let mut vars = vec![("RATE_LIMIT_PER_HOUR", CEILING.to_string())];
    if !on_sqld {
        return spawn_app_with(Options {
            vars,
            ..Options::default()
        })
        .await;
    }
    let sqld = Sqld::start().await;
    vars.extend(fixed_keys());
    let mut t = spawn_app_with(Options {
        remote_db: Some(sqld.url.clone()),
        vars,
        ..Options::default()
    })
    .await;
    t.sqld = Some(sqld);
    t
}

/// One hourly run; every account must have had its account metrics and no
/// more Graph calls than the ceiling.
async fn hourly_run(t: &TestApp, first: bool) {
    t.control.reset_calls();
    let report = match first {
        true => run_collect(&t.app, JobKind::CollectInsights).await,
        false => crate::collect_media::next_run(t).await,
    };
    assert_eq!(
        report.counts.collected, 1,
        "account metrics first, every run: {report:?}"
    );
    let calls = t.control.graph_calls();
    assert!(calls <= u64::from(CEILING), "{calls} Graph calls in one run");
}

async fn media(t: &TestApp) -> Vec<urlinsta_core::store::StoredMedia> {
    let id = account(t, IG).await.id;
    let filter = urlinsta_core::store::MediaFilter::default();
    t.app.store.stored_media(id, &filter).await.unwrap()
}

/// Sets every media's last measure to `at` (as if measured then).
async fn measured_at(t: &TestApp, at: chrono::DateTime<Utc>) {
    sql(t, &format!("UPDATE media SET last_insights_at = '{}'", ts(at))).await;
}

async fn older_media_are_catalogued_page_by_page_within_the_ceiling(t: TestApp) {
    assert_eq!(t.connect().await.status(), 302);
    let now = t.control.now();
    // 30 posts of the last 60 days; 150 from 100 to 398 days back; one 800
    // days back, older than Meta keeps media insights.
    for i in 0..30 {
        t.control
            .add_media(IG, MediaSpec::post().posted_at(now - Duration::days(2 * i + 1)));
    }
    let older: Vec<String> = (0..150)
        .map(|i| {
            t.control
                .add_media(IG, MediaSpec::reel().posted_at(now - Duration::days(100 + 2 * i)))
        })
        .collect();
    let ancient = t
        .control
        .add_media(IG, MediaSpec::post().posted_at(now - Duration::days(800)));

    // Unasked, the catalog stops at the 90-day horizon.
    hourly_run(&t, true).await;
    hourly_run(&t, false).await;
    hourly_run(&t, false).await;
    let before = progress(&t).await;
    assert_eq!(
        (before["status"].as_str(), before["media"].as_i64()),
        (Some("not_requested"), Some(30)),
        "{before}"
    );

    let asked: Value = ask(&t, json!({ "days": 900 })).await.json().await.unwrap();
    assert_eq!(asked["status"], "in_progress");
    let mut seen = vec![asked["media"].as_i64().unwrap_or(0)];
    let mut reach = vec![asked["catalogued_back_to"].as_str().unwrap_or_default().to_string()];
    for _ in 0..8 {
        hourly_run(&t, false).await;
        let p = progress(&t).await;
        seen.push(p["media"].as_i64().unwrap_or(0));
        reach.push(p["catalogued_back_to"].as_str().unwrap_or_default().to_string());
        if p["status"] == "done" {
            assert_eq!(
                p["catalogued_back_to"],
                format!("{}T00:00:00Z", p["since"].as_str().unwrap_or(""))
            );
            break;
        }
    }
    // A wide page of 100 a run, further back each time (the second begins
    // with the oldest one already catalogued), until the day asked.
    assert_eq!(seen, [30, 130, 181], "media catalogued, run by run");
    assert!(reach.windows(2).all(|w| w[1] < w[0]), "{reach:?}");

    // Each older media measured once, with the numbers the list gave; the
    // one past two years catalogued without numbers (Meta has none).
    let stored = media(&t).await;
    let of = |id: &str| stored.iter().find(|m| m.media_id == id).expect("catalogued");
    for id in &older {
        assert_eq!(
            of(id).metrics.get("reach").copied(),
            t.control.media_value(id, "reach"),
            "{id}"
        );
        assert!(of(id).last_insights_at.is_some());
    }
    assert!(of(&ancient).metrics.is_empty(), "{:?}", of(&ancient).metrics);
    let deleted: Vec<&str> = stored
        .iter()
        .filter(|m| m.deleted_at.is_some())
        .map(|m| m.media_id.as_str())
        .collect();
    assert!(deleted.is_empty(), "nothing was deleted on Instagram: {deleted:?}");

    // Never again: a month later they are not due, while the recent posts are.
    let month_ago = Utc::now() - Duration::days(30);
    measured_at(&t, month_ago).await;
    hourly_run(&t, false).await;
    let stored = media(&t).await;
    let untouched = ts(month_ago);
    for id in &older {
        let m = stored.iter().find(|m| m.media_id == *id).expect("kept");
        assert_eq!(
            m.last_insights_at.map(|t| t.to_string()).as_deref(),
            Some(untouched.as_str()),
            "{id} was measured again"
        );
    }
    assert!(
        stored
            .iter()
            .any(|m| m.last_insights_at.map(|t| t.to_string()).as_deref() != Some(untouched.as_str())),
        "the recent posts are refreshed as ever"
    );

    // The same request again changes nothing, and costs no Graph call.
    let again: Value = ask(&t, json!({ "days": 900 })).await.json().await.unwrap();
    assert_eq!(
        (again["changed"].as_bool(), again["status"].as_str()),
        (Some(false), Some("done"))
    );
    measured_at(&t, Utc::now()).await;
    hourly_run(&t, false).await;
    assert_eq!(
        t.control.count(urlinsta_sandbox::Endpoint::MediaList),
        1,
        "the newest page only"
    );
    assert_eq!(progress(&t).await["media"], 181);
}

mod older_media_are_catalogued_page_by_page_within_the_ceiling {
    #[tokio::test]
    async fn embedded_file() {
        super::older_media_are_catalogued_page_by_page_within_the_ceiling(super::with_a_tight_ceiling(false).await)
            .await
    }

    #[tokio::test]
    async fn sqld() {
        super::older_media_are_catalogued_page_by_page_within_the_ceiling(super::with_a_tight_ceiling(true).await).await
    }
}
