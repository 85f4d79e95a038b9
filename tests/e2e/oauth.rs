//! Connecting an account: the plan's OAuth tests and what the platform adds.

use urlinsta_sandbox::{IgSpec, PageSpec, UserSpec};

use crate::harness::*;

fn ig(id: &str, username: &str, followers: i64) -> Option<IgSpec> {
    Some(IgSpec {
        id: id.into(),
        username: username.into(),
        name: format!("{username} (name)"),
        followers_count: followers,
        follows_count: 10,
        media_count: 5,
    })
}

fn page(id: &str, instagram: Option<IgSpec>) -> PageSpec {
    PageSpec {
        id: id.into(),
        name: format!("Page {id}"),
        instagram,
    }
}

#[tokio::test]
async fn login_redirects_to_the_dialog_with_the_right_scopes() {
    let t = spawn_app().await;
    let r = t.browser.get(t.api("/api/auth/login")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let url = url::Url::parse(location(&r)).unwrap();
    assert!(
        url.as_str()
            .starts_with(&format!("{}/v26.0/dialog/oauth?", t.sandbox.base_url())),
        "{url}"
    );
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "sandbox-app");
    assert_eq!(q["redirect_uri"], t.api("/api/auth/callback"));
    assert_eq!(
        q["scope"],
        "instagram_basic,instagram_manage_insights,pages_show_list,pages_read_engagement"
    );
    assert_eq!(q["response_type"], "code");
    assert!(q["state"].len() >= 32);
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.starts_with("urlinsta_oauth_state="));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Max-Age=600"),
        "{cookie}"
    );
    assert!(
        !cookie.contains(&q["state"][..]) || cookie.contains('.'),
        "state cookie is signed"
    );
}

#[tokio::test]
async fn connect_stores_both_tokens_encrypted_and_sets_a_session() {
    let t = spawn_app().await;
    let r = t.connect().await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "/?connected=true");
    let set_cookie: Vec<_> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("urlinsta_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));

    let status = t.status(&t.browser).await;
    assert_eq!(status["connected"], true);
    assert_eq!(status["username"], "sandbox.creator");
    assert_eq!(status["instagram_user_id"], "17841400000000001");
    assert_eq!(status["token_status"], "active");
    assert_eq!(status["user_id"], "100000000000001");

    // Both tokens stored, the user token long-lived (~60 days), the page token distinct.
    let account = t
        .app
        .store
        .account(&instagram_id("17841400000000001"))
        .await
        .unwrap()
        .expect("stored");
    let tokens = t.app.store.tokens(account.id).await.unwrap().expect("tokens");
    assert_ne!(tokens.user_token.expose(), tokens.page_token.expose());
    let issued = t.control.issued_tokens();
    assert!(issued.iter().any(|s| s == tokens.user_token.expose()));
    assert!(issued.iter().any(|s| s == tokens.page_token.expose()));
    let expires = account.token.user_token_expires_at.expect("an expiry");
    let days = (expires.to_datetime() - chrono::Utc::now()).num_days();
    assert!((58..=60).contains(&days), "long-lived token expires in {days} days");
    assert!(account.token.data_access_expires_at.is_some());
    assert!(
        account
            .token
            .granted_scopes
            .iter()
            .any(|s| s == "instagram_manage_insights")
    );
    assert_eq!(account.facebook_page_id.as_deref(), Some("200000000000001"));

    // The page token works for Instagram calls: the sandbox saw it used with a proof.
    let calls = t.control.calls();
    assert!(calls.iter().all(|c| c.token_kind.is_none()
        || c.had_appsecret_proof
        || matches!(c.token_kind, Some(urlinsta_sandbox::TokenKind::App))));

    // Nothing secret at rest or in the logs.
    assert_no_secrets(&t.control, &t.db_bytes(), "the database file");
    assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
}

#[tokio::test]
async fn cancel_on_the_dialog_is_access_denied() {
    let t = spawn_app().await;
    let r = t.login_with(&t.browser, "cancel").await;
    assert_eq!(location(&r), "/?error=access_denied");
    assert_eq!(t.app.store.users_count().await.unwrap(), 0);
}

#[tokio::test]
async fn a_state_that_does_not_match_stores_nothing() {
    let t = spawn_app().await;
    // A callback with a code but a forged state, from a browser that never logged in.
    let stranger = browser();
    let r = stranger
        .get(t.api("/api/auth/callback?code=AQforged&state=forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/?error=state_mismatch");
    // The real login in one browser, its callback replayed from another browser.
    let login = t.browser.get(t.api("/api/auth/login")).send().await.unwrap();
    let dialog = url::Url::parse(location(&login)).unwrap();
    let state: String = dialog.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let r = stranger
        .get(t.api(&format!("/api/auth/callback?code=AQx&state={state}")))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/?error=state_mismatch");
    // A missing state in the right browser.
    let r = t
        .browser
        .get(t.api("/api/auth/callback?code=AQx"))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&r), "/?error=state_mismatch");
    assert_eq!(t.app.store.users_count().await.unwrap(), 0);
}

#[tokio::test]
async fn pages_without_instagram_are_reported() {
    let t = spawn_app().await;
    let user = t.control.add_user(UserSpec {
        name: "No IG".into(),
        pages: vec![page("300", None), page("301", None)],
        declined_scopes: vec![],
    });
    t.control.set_dialog_user(&user);
    let r = t.connect().await;
    assert_eq!(location(&r), "/?error=no_instagram_account");

    let user = t.control.add_user(UserSpec {
        name: "No pages".into(),
        pages: vec![],
        declined_scopes: vec![],
    });
    t.control.set_dialog_user(&user);
    let r = t.login_with(&browser(), "allow").await;
    assert_eq!(location(&r), "/?error=no_pages");
    assert_eq!(t.app.store.users_count().await.unwrap(), 0);
}

#[tokio::test]
async fn every_page_of_me_accounts_is_searched() {
    let t = spawn_app().await;
    let mut pages: Vec<PageSpec> = (0..30).map(|i| page(&format!("4000{i:02}"), None)).collect();
    pages[27].instagram = ig("17841499999999927", "late.page", 4321);
    pages[29].instagram = ig("17841499999999929", "last.page", 99);
    let user = t.control.add_user(UserSpec {
        name: "Many pages".into(),
        pages,
        declined_scopes: vec![],
    });
    t.control.set_dialog_user(&user);
    let r = t.connect().await;
    assert_eq!(location(&r), "/?connected=true");
    let status = t.status(&t.browser).await;
    let ids: Vec<&str> = status["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["instagram_user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["17841499999999927", "17841499999999929"]);
    assert!(
        t.control.count(urlinsta_sandbox::Endpoint::MeAccounts) >= 2,
        "followed paging"
    );
}

#[tokio::test]
async fn a_declined_insights_permission_is_reported() {
    let t = spawn_app().await;
    t.control
        .set_declined_scopes("100000000000001", &["instagram_manage_insights"]);
    let r = t.connect().await;
    assert_eq!(location(&r), "/?error=missing_permissions");
    assert_eq!(t.app.store.users_count().await.unwrap(), 0);
}

#[tokio::test]
async fn connecting_again_updates_instead_of_duplicating() {
    let t = spawn_app().await;
    t.connect().await;
    let account = t
        .app
        .store
        .account(&instagram_id("17841400000000001"))
        .await
        .unwrap()
        .unwrap();
    let first = t.app.store.tokens(account.id).await.unwrap().unwrap();
    let r = t.login_with(&browser(), "allow").await;
    assert_eq!(location(&r), "/?connected=true");
    assert_eq!(t.app.store.users_count().await.unwrap(), 1);
    let second = t.app.store.tokens(account.id).await.unwrap().unwrap();
    assert_ne!(first.user_token.expose(), second.user_token.expose());
    assert!(second.generation > first.generation);
}

#[tokio::test]
async fn status_and_disconnect_need_a_session_and_the_right_account() {
    let t = spawn_app().await;
    let anon = browser();
    let r = anon.get(t.api("/api/auth/status")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["connected"], false);
    let r = anon
        .post(t.api("/api/auth/disconnect"))
        .json(&serde_json::json!({"instagram_user_id": "17841400000000001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Two browsers, two accounts.
    t.connect().await;
    let other_user = t.control.add_user(UserSpec {
        name: "Other".into(),
        pages: vec![page("500", ig("17841455555555555", "other.creator", 500))],
        declined_scopes: vec![],
    });
    t.control.set_dialog_user(&other_user);
    let other = browser();
    t.login_with(&other, "allow").await;

    let r = t
        .post(&other, "/api/auth/disconnect")
        .json(&serde_json::json!({"instagram_user_id": "17841400000000001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = t
        .browser
        .post(t.api("/api/auth/disconnect"))
        .bearer_auth("wrong-key")
        .json(&serde_json::json!({"instagram_user_id": "17841455555555555"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(t.app.store.users_count().await.unwrap(), 2);

    // The owner disconnects: account and tokens gone, permission revoked at Meta.
    let r = t
        .post(&t.browser, "/api/auth/disconnect")
        .json(&serde_json::json!({"instagram_user_id": "17841400000000001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(body["revoked"], true);
    assert!(
        t.app
            .store
            .account(&instagram_id("17841400000000001"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(t.control.count(urlinsta_sandbox::Endpoint::Revoke), 1);
    assert_eq!(t.status(&t.browser).await["connected"], false);

    // The admin may disconnect anyone.
    let r = browser()
        .post(t.api("/api/auth/disconnect"))
        .bearer_auth(ADMIN_KEY)
        .json(&serde_json::json!({"instagram_user_id": "17841455555555555"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(t.app.store.users_count().await.unwrap(), 0);
}

#[tokio::test]
async fn health_routes_answer() {
    let t = spawn_app().await;
    let r: serde_json::Value = reqwest::get(t.api("/api/health")).await.unwrap().json().await.unwrap();
    assert_eq!(r["status"], "ok");
    assert!(r["timestamp"].as_str().unwrap().ends_with('Z'));
    t.connect().await;
    let r: serde_json::Value = reqwest::get(t.api("/api/health/db"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["users_count"], 1);
    t.stop().await;
}

#[tokio::test]
async fn a_real_api_binary_answers_on_vercel_dev_port() {
    let dir = tempfile::tempdir().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_health-db"))
        .env("VERCEL_DEV_PORT", port.to_string())
        .env("DATABASE_PATH", dir.path().join("f.db"))
        .env_remove("TURSO_DATABASE_URL")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/health/db");
    let mut body = None;
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(&url).await {
            body = Some(r.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    child.kill().await.ok();
    let body = body.expect("the function answered");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["users_count"], 0);
}

#[tokio::test]
async fn the_admin_key_sees_the_status_of_any_account() {
    let t = spawn_app().await;
    t.connect().await;
    let admin = |query: &str| {
        browser()
            .get(t.api(&format!("/api/auth/status{query}")))
            .bearer_auth(ADMIN_KEY)
            .send()
    };
    let r = admin("?instagram_user_id=17841400000000001").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("set-cookie").is_none(), "no session is made or cleared");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (body["connected"].as_bool(), body["username"].as_str()),
        (Some(true), Some("sandbox.creator"))
    );
    let all: serde_json::Value = admin("").await.unwrap().json().await.unwrap();
    assert_eq!(all["accounts"].as_array().map(Vec::len), Some(1));
    let none: serde_json::Value = admin("?instagram_user_id=1").await.unwrap().json().await.unwrap();
    assert_eq!(none["connected"], false);
}
