//! Attacks from outside the browser's own tab: other sites posting with the
//! session cookie, and a deployment reachable on the internet without its
//! secrets (a Vercel preview).

use serde_json::{Value, json};

use crate::harness::*;

const IG: &str = DEFAULT_IG;

/// Header sets a browser sends when another site makes it post here.
fn from_elsewhere(t: &TestApp) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let port = t.url.rsplit(':').next().unwrap_or("").to_string();
    vec![
        (
            "another site",
            vec![
                ("origin", "https://evil.example".into()),
                ("sec-fetch-site", "cross-site".into()),
            ],
        ),
        (
            "a sibling subdomain",
            vec![
                ("origin", format!("http://evil.localhost:{port}")),
                ("sec-fetch-site", "same-site".into()),
            ],
        ),
        ("an opaque origin", vec![("origin", "null".into())]),
        ("no Origin, cross-site", vec![("sec-fetch-site", "cross-site".into())]),
        ("no Origin, same-site", vec![("sec-fetch-site", "same-site".into())]),
        ("neither header", vec![]),
    ]
}

/// The state-changing routes a session cookie can act on, with a valid body
/// and the status it gets, in an order that each leaves the session for the next.
fn cookie_routes() -> [(&'static str, Option<Value>, u16); 4] {
    [
        ("/api/insights/17841400000000001/refresh", None, 200),
        (
            "/api/insights/17841400000000001/media/history",
            Some(json!({ "days": 400 })),
            202,
        ),
        ("/api/auth/disconnect", Some(json!({ "instagram_user_id": IG })), 200),
        ("/api/auth/logout", None, 200),
    ]
}

#[tokio::test]
async fn cross_site_posts_with_a_valid_cookie_are_refused_and_same_origin_ones_work() {
    let t = spawn_app().await;
    assert_eq!(location(&t.connect().await), "/?connected=true");
    let collected_before = row_count(&t, "collection_log").await;
    let mut tried = 0;
    for (path, body, _) in cookie_routes() {
        for (what, headers) in from_elsewhere(&t) {
            let mut req = t.browser.post(t.api(path));
            for (k, v) in headers {
                req = req.header(k, v);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            let r = req.send().await.expect("an answer");
            assert_eq!(r.status(), 403, "{path} from {what}");
            let error: Value = r.json().await.expect("a JSON error");
            assert_eq!(error["error"], "forbidden", "{path} from {what}");
            tried += 1;
        }
    }
    println!("cross-site posts refused: {tried}");
    // Nothing happened: the account, its session and its collections are as they were.
    assert!(t.app.store.account(&instagram_id(IG)).await.expect("read").is_some());
    assert_eq!(t.status(&t.browser).await["connected"], true);
    assert_eq!(row_count(&t, "collection_log").await, collected_before);
    let asked = t
        .browser
        .get(t.api("/api/insights/17841400000000001/media/history"))
        .send()
        .await;
    let asked: Value = asked.expect("progress").json().await.expect("JSON");
    assert_eq!(asked["status"], "not_requested", "no older media were asked for");

    // A plain HTML form cannot disconnect, even from this very site.
    let r = t
        .post(&t.browser, "/api/auth/disconnect")
        .form(&[("instagram_user_id", IG)])
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 415);

    // The page's own requests work: by Origin, or by Sec-Fetch-Site alone.
    let r = t
        .browser
        .post(t.api(&format!("/api/insights/{IG}/refresh")))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .expect("refresh");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    for (path, body, status) in cookie_routes() {
        let mut req = t.post(&t.browser, path);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let r = req.send().await.expect("an answer");
        assert_eq!(r.status(), status, "{path}: {}", r.text().await.unwrap_or_default());
    }
    assert!(
        t.app.store.account(&instagram_id(IG)).await.expect("read").is_none(),
        "disconnected"
    );

    // Operators with the admin key are no browser: no Origin needed.
    assert_eq!(location(&t.connect().await), "/?connected=true");
    let r = browser()
        .post(t.api(&format!("/api/insights/{IG}/refresh")))
        .bearer_auth(ADMIN_KEY)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("refresh");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_deployment_reachable_without_its_secrets_answers_503_never_200() {
    // Known values an attacker would try: the sandbox's secret, and nothing at all.
    let forged = [
        signed_request_for(urlinsta_core::config::SANDBOX_APP_SECRET, DEFAULT_FB_USER),
        signed_request_for("", DEFAULT_FB_USER),
    ];
    let environments: [&[(&str, &str)]; 3] = [
        &[("VERCEL", "1"), ("VERCEL_ENV", "preview")],
        &[("VERCEL", "1"), ("VERCEL_ENV", "development")],
        &[("URLINSTA_ENV", "production")],
    ];
    for vars in environments {
        // Everything but the Meta app and the cron secret.
        let mut env = fixed_keys();
        env.extend(vars.iter().map(|(k, v)| (*k, v.to_string())));
        let (_cron, cron) = start_function(env!("CARGO_BIN_EXE_cron-refresh-tokens"), &env).await;
        let (_deletion, deletion) = start_function(env!("CARGO_BIN_EXE_auth-data-deletion"), &env).await;
        let client = reqwest::Client::new();
        let r = client
            .get(format!("{cron}/api/cron/refresh-tokens"))
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status(), 503, "{vars:?}: a cron without CRON_SECRET");
        for signed in &forged {
            let r = client
                .post(format!("{deletion}/api/auth/data-deletion"))
                .form(&[("signed_request", signed.as_str())])
                .send()
                .await
                .expect("answer");
            assert_eq!(r.status(), 503, "{vars:?}: a signed_request under a known secret");
            let body = r.text().await.unwrap_or_default();
            assert!(body.contains("not configured correctly"), "{vars:?}: {body}");
        }
    }
}
