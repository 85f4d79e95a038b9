//! The hosted-database path end to end: the app with every byte of its state
//! on a real `sqld` (what Turso runs), and real function binaries on it.

use serde_json::Value;

use crate::harness::*;

#[tokio::test]
async fn connect_end_to_end_on_sqld() {
    let t = spawn_app_on_sqld().await;
    assert!(!t.app.store.is_local());
    let r = t.connect().await;
    assert_eq!(location(&r), "/?connected=true");

    let status = t.status(&t.browser).await;
    assert_eq!(status["connected"], true);
    assert_eq!(status["username"], "sandbox.creator");
    assert_eq!(status["token_status"], "active");
    let account = t
        .app
        .store
        .account(&instagram_id("17841400000000001"))
        .await
        .unwrap()
        .expect("stored on sqld");
    let tokens = t.app.store.tokens(account.id).await.unwrap().expect("tokens");
    assert!(
        t.control
            .issued_tokens()
            .iter()
            .any(|s| s == tokens.page_token.expose())
    );
    let health: Value = reqwest::get(t.api("/api/health/db"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["users_count"], 1);

    // Nothing was written beside the app: no embedded file, no generated keys.
    assert!(
        !t.db_path().exists(),
        "no embedded database file with TURSO_DATABASE_URL set"
    );

    // Connecting again updates in place; disconnecting deletes on the server.
    t.connect().await;
    assert_eq!(t.app.store.users_count().await.unwrap(), 1);
    let r = t
        .post(&t.browser, "/api/auth/disconnect")
        .json(&serde_json::json!({"instagram_user_id": "17841400000000001"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(t.app.store.users_count().await.unwrap(), 0);
    assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
}

/// The deletion-status function (`api/auth/deletion-status/[code].rs`) finds
/// its code on the public path and on the file path with the code in the
/// query, the two ways a dynamic route can reach it; its data is on sqld.
#[tokio::test]
async fn a_dynamic_route_function_binary_reads_its_parameter_on_sqld() {
    let sqld = Sqld::start().await;
    let mut env = fixed_keys();
    env.push(("TURSO_DATABASE_URL", sqld.url.clone()));
    let (mut child, base) = start_function(env!("CARGO_BIN_EXE_auth-deletion-status"), &env).await;

    // A request recorded through the store of another process on the same server.
    let vars = env.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    let app = urlinsta_core::App::build(urlinsta_core::Config::from_vars(&vars).unwrap())
        .await
        .unwrap();
    app.store
        .delete_facebook_user("fb-nobody", "DynamicRouteCode", "data_deletion")
        .await
        .unwrap();

    for path in [
        "/api/auth/deletion-status/DynamicRouteCode",
        "/api/auth/deletion-status/[code]?code=DynamicRouteCode",
        "/api/auth/deletion-status/%5Bcode%5D?code=DynamicRouteCode",
    ] {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["confirmation_code"], "DynamicRouteCode", "{path}");
    }
    let r = reqwest::get(format!("{base}/api/auth/deletion-status/[code]"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "a placeholder is no code");
    child.kill().await.ok();
}
