//! Facebook Login: dialog, confirm, code, short- and long-lived tokens.

use crate::helpers::*;
use urlinsta_sandbox::{ExchangePolicy, UserSpec};

#[tokio::test]
async fn the_whole_login_ends_with_a_long_lived_token() {
    let env = start().await;
    let page = env
        .get(
            &format!("/{V}/dialog/oauth"),
            &[
                ("client_id", APP_ID),
                ("redirect_uri", REDIRECT),
                ("scope", SCOPES),
                ("state", "abc"),
                ("response_type", "code"),
            ],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap_or("").starts_with("text/html"));
    for expected in [
        "Sandbox Facebook",
        "Sandbox Influencer",
        "Sandbox App",
        "instagram_manage_insights",
        r#"<form method="post" action="/v26.0/dialog/oauth/confirm">"#,
        r#"<button id="allow" name="decision" value="allow""#,
        r#"<button id="cancel" name="decision" value="cancel""#,
    ] {
        assert!(page.text.contains(expected), "dialog lacks {expected}");
    }
    // Self-contained: nothing loaded from other hosts.
    assert!(!page.text.contains("src=\"http") && !page.text.contains("href=\"http"));

    let back = env.decide(SCOPES, "abc", "allow").await;
    let location = back.location();
    assert!(location.as_str().starts_with(REDIRECT), "{location}");
    assert_eq!(query(&location, "state").as_deref(), Some("abc"));
    let code = query(&location, "code").expect("code");
    assert!(code.starts_with("AQ") && code.len() > 150);

    let short = env.exchange_code(&code, REDIRECT).await.json();
    assert_eq!(short["token_type"], "bearer");
    let short_token = short["access_token"].as_str().expect("token").to_string();
    assert!(short_token.starts_with("EAA") && short_token.len() > 100);
    let expires_in = short["expires_in"].as_i64().expect("expires_in");
    assert!((3600..=7200).contains(&expires_in), "{expires_in}");

    let long = env.exchange_token(&short_token).await.json();
    let long_token = long["access_token"].as_str().expect("token");
    assert_ne!(long_token, short_token);
    assert_eq!(long["expires_in"], 5_183_944);

    let info = env.debug(long_token).await;
    assert_eq!(info["is_valid"], true);
    assert_eq!(info["type"], "USER");
    assert_eq!(info["user_id"], USER_ID);
    assert_eq!(info["app_id"], APP_ID);
    let days = (info["expires_at"].as_i64().unwrap_or(0) - chrono::Utc::now().timestamp()) / 86_400;
    assert!((59..=60).contains(&days), "{days}");
    let data_days = (info["data_access_expires_at"].as_i64().unwrap_or(0) - chrono::Utc::now().timestamp()) / 86_400;
    assert!((89..=90).contains(&data_days), "{data_days}");
    assert!(info["issued_at"].is_i64(), "long-lived tokens show issued_at");
    let scopes: Vec<&str> = info["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    for scope in SCOPES.split(',').chain(["public_profile"]) {
        assert!(scopes.contains(&scope), "{scope} missing from {scopes:?}");
    }
    let granular = info["granular_scopes"].as_array().expect("granular");
    let insights = granular
        .iter()
        .find(|g| g["scope"] == "instagram_manage_insights")
        .expect("insights scope");
    assert_eq!(insights["target_ids"][0], IG_ID);
    let pages = granular
        .iter()
        .find(|g| g["scope"] == "pages_show_list")
        .expect("pages scope");
    assert_eq!(pages["target_ids"][0], PAGE_ID);

    let issued = env.control.issued_tokens();
    assert!(issued.contains(&code) && issued.contains(&short_token) && issued.iter().any(|t| t == long_token));
}

#[tokio::test]
async fn a_code_works_once_only_with_its_redirect_uri_and_for_ten_minutes() {
    let env = start().await;
    let code = env.code(SCOPES).await;
    let wrong = env.exchange_code(&code, "http://localhost:3000/other").await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.error(), (100, Some(36008)));
    assert!(
        wrong.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("redirect_uri is identical")
    );

    assert_eq!(env.exchange_code(&code, REDIRECT).await.status, 200);
    let again = env.exchange_code(&code, REDIRECT).await;
    assert_eq!(again.error(), (100, Some(36009)));
    assert_eq!(
        again.json()["error"]["message"],
        "This authorization code has been used."
    );

    let late = env.code(SCOPES).await;
    env.control.advance(chrono::Duration::minutes(11));
    assert_eq!(env.exchange_code(&late, REDIRECT).await.error(), (100, Some(36007)));

    let bad_secret = env
        .get(
            &format!("/{V}/oauth/access_token"),
            &[
                ("client_id", APP_ID),
                ("client_secret", "nope"),
                ("redirect_uri", REDIRECT),
                ("code", &late),
            ],
        )
        .await;
    assert_eq!(bad_secret.error(), (1, None));
    assert_eq!(bad_secret.json()["error"]["message"], "Error validating client secret.");
    // Errors never echo what was sent.
    assert!(!bad_secret.text.contains(&late) && !wrong.text.contains(&code));
}

#[tokio::test]
async fn cancel_redirects_with_access_denied_and_the_state() {
    let env = start().await;
    let back = env.decide(SCOPES, "xyz", "cancel").await;
    let location = back.location();
    assert_eq!(query(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&location, "error_code").as_deref(), Some("200"));
    assert_eq!(query(&location, "error_reason").as_deref(), Some("user_denied"));
    assert_eq!(
        query(&location, "error_description").as_deref(),
        Some("Permissions error")
    );
    assert_eq!(query(&location, "state").as_deref(), Some("xyz"));
    assert_eq!(query(&location, "code"), None);
}

#[tokio::test]
async fn the_dialog_refuses_a_wrong_app_a_blocked_uri_and_unknown_scopes() {
    let env = start().await;
    let path = format!("/{V}/dialog/oauth");
    let wrong_app = env
        .get(
            &path,
            &[("client_id", "other"), ("redirect_uri", REDIRECT), ("scope", SCOPES)],
        )
        .await;
    assert_eq!(wrong_app.status, 400);
    assert!(wrong_app.text.contains("Invalid App ID"));

    let bad_scope = env
        .get(
            &path,
            &[
                ("client_id", APP_ID),
                ("redirect_uri", REDIRECT),
                ("scope", "manage_pages"),
            ],
        )
        .await;
    assert_eq!(bad_scope.status, 400);
    assert!(bad_scope.text.contains("Invalid Scopes: manage_pages"));

    env.control.set_allowed_redirect_uris(&[REDIRECT]);
    let blocked = env
        .get(
            &path,
            &[
                ("client_id", APP_ID),
                ("redirect_uri", "https://evil.example/cb"),
                ("scope", SCOPES),
            ],
        )
        .await;
    assert_eq!(blocked.status, 400);
    assert!(blocked.text.contains("URL blocked"));
    assert_eq!(
        env.get(
            &path,
            &[("client_id", APP_ID), ("redirect_uri", REDIRECT), ("scope", SCOPES)]
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn the_dialog_logs_in_whoever_the_test_chose_minus_declined_scopes() {
    let env = start().await;
    let user = env
        .control
        .add_user(UserSpec::default_influencer().declining(&["instagram_manage_insights"]));
    env.control.set_dialog_user(&user);
    let (_, _) = env.dialog(SCOPES, "s").await;
    let token = env.short_token().await;
    let info = env.debug(&token).await;
    assert_eq!(info["user_id"], user.as_str());
    let scopes = info["scopes"].to_string();
    assert!(
        scopes.contains("instagram_basic") && !scopes.contains("instagram_manage_insights"),
        "{scopes}"
    );
    let permissions = env.graph("/me/permissions", &token, &[]).await.json();
    let declined = permissions["data"]
        .as_array()
        .expect("list")
        .iter()
        .any(|p| p["permission"] == "instagram_manage_insights" && p["status"] == "declined");
    assert!(declined, "{permissions}");
}

#[tokio::test]
async fn re_exchanging_a_long_lived_token_follows_the_policy() {
    let env = start().await;
    let long = env.long_token().await;

    // Like Meta: the same token, the same remaining lifetime.
    env.control.advance(chrono::Duration::days(10));
    let same = env.exchange_token(&long).await.json();
    assert_eq!(same["access_token"], long.as_str());
    let remaining = same["expires_in"].as_i64().expect("expires_in");
    assert!(
        (5_183_944 - 10 * 86_400 - 5..=5_183_944 - 10 * 86_400).contains(&remaining),
        "{remaining}"
    );

    env.control.set_exchange_policy(ExchangePolicy::Extend);
    let extended = env.exchange_token(&long).await.json();
    assert_ne!(extended["access_token"], long.as_str());
    assert_eq!(extended["expires_in"], 5_183_944);

    env.control.set_exchange_policy(ExchangePolicy::ExtendWithoutExpiresIn);
    let silent = env.exchange_token(&long).await.json();
    let new_token = silent["access_token"].as_str().expect("token");
    assert_ne!(new_token, long);
    assert!(silent.get("expires_in").is_none());
    let info = env.debug(new_token).await;
    let days = (info["expires_at"].as_i64().unwrap_or(0) - env.control.now().timestamp()) / 86_400;
    assert!((59..=60).contains(&days));
}

#[tokio::test]
async fn expired_and_dead_tokens_cannot_be_exchanged() {
    let env = start().await;
    let short = env.short_token().await;
    env.control.advance(chrono::Duration::hours(3));
    let expired = env.exchange_token(&short).await;
    assert_eq!(expired.error(), (190, Some(463)));
    assert!(!expired.text.contains(&short));

    let garbage = env.exchange_token("EAAGnotatoken").await;
    assert_eq!(garbage.error(), (190, None));

    let long = env.long_token().await;
    env.control.invalidate_user_tokens(USER_ID, 467);
    assert_eq!(env.exchange_token(&long).await.error(), (190, Some(467)));
}

#[tokio::test]
async fn an_app_token_comes_from_client_credentials() {
    let env = start().await;
    let answer = env
        .get(
            &format!("/{V}/oauth/access_token"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APP_ID),
                ("client_secret", SECRET),
            ],
        )
        .await
        .json();
    let app = answer["access_token"].as_str().expect("token");
    assert!(app.starts_with("sandbox-app|"));
    let user = env.short_token().await;
    let info = env
        .get(
            &format!("/{V}/debug_token"),
            &[("input_token", &user), ("access_token", app)],
        )
        .await
        .json();
    assert_eq!(info["data"]["is_valid"], true);
}
