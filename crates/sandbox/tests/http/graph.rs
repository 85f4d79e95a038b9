//! Pages, Instagram accounts, versions and unknown paths.

use crate::helpers::*;
use urlinsta_sandbox::{Endpoint, PageSpec, TokenKind, UserSpec};

#[tokio::test]
async fn me_accounts_pages_by_25_and_next_is_followable_as_is() {
    let env = start().await;
    let mut pages: Vec<PageSpec> = (0..30)
        .map(|i| PageSpec::without_instagram(format!("4000000000000{i:02}"), format!("Page {i}")))
        .collect();
    pages[27] = PageSpec::with_instagram("400000000000027", "Page 27", "17841499999999927", "late.page", 4321);
    let user = env.control.add_user(UserSpec {
        name: "Many Pages".into(),
        pages,
        declined_scopes: vec![],
    });
    env.control.set_dialog_user(&user);
    let token = env.long_token().await;

    let first = env.graph("/me/accounts", &token, &[]).await.json();
    let data = first["data"].as_array().expect("data");
    assert_eq!(data.len(), 25);
    let entry = &data[0];
    for field in ["id", "name", "access_token", "category", "tasks"] {
        assert!(entry.get(field).is_some(), "{field} missing in {entry}");
    }
    assert_eq!(entry["tasks"][0], "ANALYZE");
    assert!(first["paging"]["cursors"]["after"].is_string());
    let next = first["paging"]["next"].as_str().expect("next");
    assert!(
        next.starts_with(&format!("{}/{V}/{user}/accounts?", env.sandbox.base_url())),
        "{next}"
    );

    let second = env.send(env.http.get(next)).await.json();
    let rest = second["data"].as_array().expect("data");
    assert_eq!(rest.len(), 5);
    assert!(second["paging"].get("next").is_none(), "the last page has no next");
    assert!(second["paging"]["previous"].is_string());
    let linked = rest.iter().find(|p| p["id"] == "400000000000027").expect("page 27");

    // The page token reads the Page's Instagram link.
    let page_token = linked["access_token"].as_str().expect("token");
    let node = env
        .graph(
            "/400000000000027",
            page_token,
            &[("fields", "instagram_business_account,name")],
        )
        .await
        .json();
    assert_eq!(node["instagram_business_account"]["id"], "17841499999999927");
    assert_eq!(node["name"], "Page 27");
    let bare = env
        .graph(
            "/400000000000001",
            page_token,
            &[("fields", "instagram_business_account")],
        )
        .await;
    assert_eq!(bare.error(), (100, Some(33)), "a page token reads its own Page only");
    let unlinked = env
        .graph("/400000000000001", &token, &[("fields", "instagram_business_account")])
        .await
        .json();
    assert_eq!(unlinked, serde_json::json!({ "id": "400000000000001" }));

    let limited = env
        .graph("/me/accounts", &token, &[("limit", "10"), ("fields", "id,name")])
        .await
        .json();
    assert_eq!(limited["data"].as_array().map(Vec::len), Some(10));
    assert!(limited["data"][0].get("access_token").is_none());
    assert!(limited["paging"]["next"].as_str().unwrap_or("").contains("limit=10"));
    assert_eq!(env.control.count(Endpoint::MeAccounts), 3);
}

#[tokio::test]
async fn declining_pages_show_list_empties_me_accounts() {
    let env = start().await;
    env.control.set_declined_scopes(USER_ID, &["pages_show_list"]);
    let token = env.long_token().await;
    assert_eq!(
        env.graph("/me/accounts", &token, &[]).await.json(),
        serde_json::json!({ "data": [] })
    );
}

#[tokio::test]
async fn instagram_nodes_answer_the_fields_asked_for() {
    let env = start().await;
    let token = env.long_token().await;
    let page = env.page_token(&token).await;
    let fields = "username,name,followers_count,follows_count,media_count,profile_picture_url";
    let ig = env.graph(&format!("/{IG_ID}"), &page, &[("fields", fields)]).await;
    assert_eq!(ig.status, 200);
    let body = ig.json();
    assert_eq!(body["id"], IG_ID);
    assert_eq!(body["username"], "sandbox.creator");
    assert_eq!(body["followers_count"], 12_345);
    assert!(body.get("biography").is_none());
    let picture = body["profile_picture_url"].as_str().expect("picture");
    let svg = env.send(env.http.get(picture)).await;
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));

    let nested = env
        .graph(
            &format!("/{PAGE_ID}"),
            &token,
            &[("fields", "instagram_business_account{id,username}")],
        )
        .await
        .json();
    assert_eq!(nested["instagram_business_account"]["username"], "sandbox.creator");

    let unknown = env
        .graph(&format!("/{IG_ID}"), &page, &[("fields", "username,nope")])
        .await;
    assert_eq!(unknown.error().0, 100);
    assert!(unknown.text.contains("nonexisting field (nope)"));

    let record = env
        .control
        .calls()
        .into_iter()
        .rfind(|c| c.endpoint == Endpoint::IgUser)
        .expect("logged");
    assert_eq!(record.account.as_deref(), Some(IG_ID));
    assert_eq!(record.token_kind, Some(TokenKind::Page));
    assert!(record.had_appsecret_proof && !record.in_batch);
    assert!(record.path.starts_with("/v26.0/"));
}

#[tokio::test]
async fn instagram_reads_need_instagram_basic() {
    let env = start().await;
    env.control.set_declined_scopes(USER_ID, &["instagram_basic"]);
    let token = env.long_token().await;
    let answer = env.graph(&format!("/{IG_ID}"), &token, &[("fields", "username")]).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error(), (10, None));
}

#[tokio::test]
async fn other_peoples_accounts_are_invisible() {
    let env = start().await;
    let other = env.control.add_user(UserSpec::default_influencer());
    env.control.set_dialog_user(&other);
    let token = env.long_token().await;
    let answer = env.graph(&format!("/{IG_ID}"), &token, &[("fields", "username")]).await;
    assert_eq!(answer.error(), (100, Some(33)));
    assert!(answer.text.contains("Unsupported get request"));
}

#[tokio::test]
async fn retired_versions_and_unknown_paths_are_refused() {
    let env = start().await;
    let token = env.long_token().await;
    let proof = proof(&token);
    let old = env
        .get("/v18.0/me", &[("access_token", &token), ("appsecret_proof", &proof)])
        .await;
    assert_eq!(old.status, 400);
    assert_eq!(old.error().0, 2635);
    assert!(old.text.contains("deprecated version of the Graph API"));

    let unknown = env.graph("/me/feed/comments", &token, &[]).await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.error(), (100, Some(33)));
    assert!(unknown.text.contains("Unsupported get request"));

    let missing = env.graph("/999999", &token, &[]).await;
    assert_eq!(missing.error(), (100, Some(33)));

    let no_token = env.get(&format!("/{V}/me"), &[]).await;
    assert_eq!(no_token.error().0, 104);
}

#[tokio::test]
async fn usage_headers_report_app_and_account_usage() {
    let env = start().await;
    let token = env.long_token().await;
    let me = env.graph("/me", &token, &[]).await;
    let app: serde_json::Value = serde_json::from_str(me.header("x-app-usage").expect("app usage")).expect("json");
    assert!(app["call_count"].as_i64().unwrap_or(100) < 10);
    assert!(me.header("x-business-use-case-usage").is_none(), "no account touched");

    env.control.set_usage(80, 95, 7);
    let ig = env.graph(&format!("/{IG_ID}"), &token, &[]).await;
    let app: serde_json::Value = serde_json::from_str(ig.header("x-app-usage").expect("app usage")).expect("json");
    assert_eq!(app["call_count"], 80);
    let buc: serde_json::Value =
        serde_json::from_str(ig.header("x-business-use-case-usage").expect("buc")).expect("json");
    let entry = &buc[IG_ID][0];
    assert_eq!(entry["type"], "instagram");
    assert_eq!(entry["call_count"], 95);
    assert_eq!(entry["estimated_time_to_regain_access"], 7);
}

#[tokio::test]
async fn shutdown_refuses_the_port_even_on_kept_alive_connections() {
    let env = start().await;
    let url = env.url("/v26.0/me");
    assert_eq!(env.send(env.http.get(&url)).await.status, 400);
    let Env { sandbox, http, .. } = env;
    sandbox.shutdown().await;
    assert!(http.get(&url).send().await.is_err());

    let dropped = start().await;
    let url = dropped.url("/v26.0/me");
    let http = dropped.http.clone();
    assert_eq!(http.get(&url).send().await.map(|r| r.status().as_u16()).ok(), Some(400));
    drop(dropped);
    tokio::task::yield_now().await;
    assert!(http.get(&url).send().await.is_err());
}

#[tokio::test]
async fn hostile_input_gets_errors_not_a_dead_server() {
    let env = start().await;
    let token = env.long_token().await;
    let deep = format!("{}id{}", "a{".repeat(5000), "}".repeat(5000));
    let huge = i64::MAX.to_string();
    let tiny = i64::MIN.to_string();
    let insights = format!("/{IG_ID}/insights");
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/me", vec![("fields", deep.as_str())]),
        ("/me", vec![("fields", "{{,}}")]),
        (
            insights.as_str(),
            vec![
                ("metric", "reach"),
                ("period", "day"),
                ("since", tiny.as_str()),
                ("until", huge.as_str()),
            ],
        ),
        (
            insights.as_str(),
            vec![
                ("metric", "reach"),
                ("period", "day"),
                ("since", "-99999999999999"),
                ("until", "0"),
            ],
        ),
        (insights.as_str(), vec![("metric", ",,,"), ("period", "day")]),
        (
            "/me/accounts",
            vec![("after", "zz"), ("limit", "99999999999999999999999")],
        ),
        ("/me/accounts", vec![("before", "7061676521")]),
    ];
    for (path, params) in cases {
        let answer = env.graph(path, &token, &params).await;
        assert!(answer.status.as_u16() < 500, "{path} {params:?}: {}", answer.status);
    }
    let timed = env
        .get(
            &format!("/{V}/me"),
            &[
                ("access_token", &token),
                ("appsecret_proof", "00"),
                ("appsecret_time", &tiny),
            ],
        )
        .await;
    assert_eq!(timed.error().0, 100);
    let garbage = env
        .send(
            env.http
                .post(env.url("/v26.0/"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(vec![0xff, 0xfe, b'=', 0x00]),
        )
        .await;
    assert_eq!(garbage.status, 400);
    let not_json = env.send(env.http.post(env.url("/")).form(&[("batch", "[{")])).await;
    assert_eq!(not_json.error().0, 100);
    let odd_ops = env
        .send(
            env.http
                .post(env.url("/"))
                .form(&[("batch", r#"[1, {"method":"GET"}, {"relative_url":"/../../etc"}]"#)]),
        )
        .await;
    assert_eq!(odd_ops.status, 200);
    env.control.throttle_account(IG_ID, 80002, u64::MAX);
    env.control.set_followers(IG_ID, i64::MAX);
    env.control.clear_throttles();
    let busy = env
        .graph(
            &insights,
            &token,
            &[
                ("metric", "reach,views"),
                ("period", "day"),
                ("metric_type", "total_value"),
            ],
        )
        .await;
    assert_eq!(busy.status, 200, "{}", busy.text);
    // Still serving.
    assert_eq!(env.graph("/me", &token, &[]).await.json()["id"], USER_ID);
}
