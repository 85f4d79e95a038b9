//! Meta's Deauthorize and Data Deletion callbacks, as Meta calls them: a form
//! POST with a `signed_request` signed by the app secret.

use serde_json::Value;
use urlinsta_sandbox::UserSpec;

use crate::harness::*;
use crate::storage::{fill_account, rows_of};

/// The app secret the sandbox app has (`SandboxConfig::default()`).
const APP_SECRET: &str = urlinsta_core::config::SANDBOX_APP_SECRET;
const FIRST_USER: &str = "100000000000001";

fn from_meta(user_id: &str) -> String {
    signed_request_for(APP_SECRET, user_id)
}

async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn post(t: &TestApp, path: &str, signed: &str) -> reqwest::Response {
    browser()
        .post(t.api(path))
        .form(&[("signed_request", signed)])
        .send()
        .await
        .unwrap()
}

/// Two Facebook users connect through the sandbox: the default one, and a
/// second one with an account of their own. Returns the second's ids.
async fn two_users_connected(t: &TestApp) -> (String, String) {
    assert_eq!(t.connect().await.status(), 302);
    let spec = UserSpec::default_influencer();
    let ig = spec.pages[0].instagram.as_ref().unwrap().id.clone();
    let other = t.control.add_user(spec);
    t.control.set_dialog_user(&other);
    let r = t.login_with(&browser(), "allow").await;
    assert_eq!(location(&r), "/?connected=true");
    assert_eq!(t.app.store.users_count().await.unwrap(), 2);
    (other, ig)
}

on_both_databases! {
    async fn data_deletion_removes_that_users_data_and_nothing_else(t: TestApp) {
        let (_, other_ig) = two_users_connected(&t).await;
        let first = t.app.store.account(&instagram_id("17841400000000001")).await.unwrap().unwrap().id;
        let second = t.app.store.account(&instagram_id(&other_ig)).await.unwrap().unwrap().id;
        fill_account(&t.app.store, first).await;
        fill_account(&t.app.store, second).await;
        let second_before = rows_of(&t.app.store, second).await;

        let signed = from_meta(FIRST_USER);
        let r = post(&t, "/api/auth/data-deletion", &signed).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let code = body["confirmation_code"].as_str().expect("confirmation_code");
        assert!(code.len() >= 16, "an unguessable code: {code}");
        assert_eq!(body["url"], t.api(&format!("/api/auth/deletion-status/{code}")));

        let left = rows_of(&t.app.store, first).await;
        assert!(
            left.iter().all(|(_, n)| *n == 0),
            "everything of that user is gone: {left:?}"
        );
        assert_eq!(
            rows_of(&t.app.store, second).await,
            second_before,
            "nobody else lost anything"
        );
        // The browser that connected the deleted account is connected to nothing now.
        assert_eq!(t.status(&t.browser).await["connected"], false);

        // The status page Meta shows the user: JSON, and HTML for a browser.
        let status: Value = get_json(body["url"].as_str().unwrap()).await;
        assert_eq!(status["status"], "completed");
        assert_eq!(status["accounts_deleted"], 1);
        assert_eq!(status["confirmation_code"], code);
        assert!(
            status.get("facebook_user_id").is_none(),
            "the page does not name the user"
        );
        let page = browser()
            .get(body["url"].as_str().unwrap())
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        assert!(
            page.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(
            page.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        let html = page.text().await.unwrap();
        assert!(html.contains(code) && html.contains("were deleted"), "{html}");
        let unknown = reqwest::get(t.api("/api/auth/deletion-status/AAAAAAAAAAAAAAAA"))
            .await
            .unwrap();
        assert_eq!(unknown.status(), 404);

        // Meta may call again: a second receipt, nothing more to delete.
        let again: Value = post(&t, "/api/auth/data-deletion", &from_meta(FIRST_USER))
            .await
            .json()
            .await
            .unwrap();
        assert_ne!(again["confirmation_code"], code);
        let status: Value = get_json(again["url"].as_str().unwrap()).await;
        assert_eq!(status["accounts_deleted"], 0);

        let logs = captured_logs();
        assert!(!logs.contains(&signed), "the signed_request is not logged");
        assert_no_secrets(&t.control, logs.as_bytes(), "the logs");
    }

}

#[tokio::test]
async fn deauthorize_deletes_that_users_accounts() {
    let t = spawn_app().await;
    let (other, other_ig) = two_users_connected(&t).await;
    let r = post(&t, "/api/auth/deauthorize", &from_meta(&other)).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(body["confirmation_code"].is_string() && body["url"].is_string());
    assert!(t.app.store.account(&instagram_id(&other_ig)).await.unwrap().is_none());
    assert!(
        t.app
            .store
            .account(&instagram_id("17841400000000001"))
            .await
            .unwrap()
            .is_some()
    );
    let status: Value = get_json(body["url"].as_str().unwrap()).await;
    assert_eq!(status["source"], "deauthorize");
}

#[tokio::test]
async fn callbacks_refuse_what_meta_did_not_sign_and_delete_nothing() {
    let t = spawn_app().await;
    t.connect().await;
    let now = chrono::Utc::now().timestamp();
    let payload = |algorithm: &str, issued_at: i64| meta_payload(algorithm, issued_at, FIRST_USER);
    let cases = [
        (
            "another secret",
            signed_request("not-the-app-secret", &payload("HMAC-SHA256", now)),
            403,
        ),
        (
            "another algorithm",
            signed_request(APP_SECRET, &payload("HMAC-SHA1", now)),
            400,
        ),
        ("garbled base64", "%%%.@@@".to_string(), 400),
        ("no dot", "abcdef".to_string(), 400),
        (
            "issued two days ago",
            signed_request(APP_SECRET, &payload("HMAC-SHA256", now - 2 * 86_400)),
            400,
        ),
        (
            "issued in an hour",
            signed_request(APP_SECRET, &payload("HMAC-SHA256", now + 3_600)),
            400,
        ),
    ];
    for path in ["/api/auth/data-deletion", "/api/auth/deauthorize"] {
        for (what, signed, status) in &cases {
            let r = post(&t, path, signed).await;
            assert_eq!(r.status(), *status, "{path}: {what}");
            let body: Value = r.json().await.unwrap();
            assert!(
                body["message"].as_str().unwrap().contains("signed_request"),
                "{path}: {what}: {body}"
            );
        }
        let r = browser()
            .post(t.api(path))
            .form(&[("other", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}: no signed_request field");
        let r = browser().get(t.api(path)).send().await.unwrap();
        assert_eq!(r.status(), 405, "{path}: Meta POSTs");
    }
    assert_eq!(t.app.store.users_count().await.unwrap(), 1, "nothing was deleted");
}
