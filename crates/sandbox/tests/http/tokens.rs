//! Token life and death, debug_token, appsecret_proof, revocation.

use crate::helpers::*;
use urlinsta_sandbox::SandboxConfig;

#[tokio::test]
async fn debug_token_tells_a_dead_token_from_a_live_one() {
    let env = start().await;
    let long = env.long_token().await;
    let page = env.page_token(&long).await;
    let page_info = env.debug(&page).await;
    assert_eq!(page_info["type"], "PAGE");
    assert_eq!(
        page_info["expires_at"], 0,
        "page tokens from long-lived user tokens never expire"
    );
    assert_eq!(page_info["profile_id"], PAGE_ID);

    env.control.invalidate_user_tokens(USER_ID, 460);
    for token in [&long, &page] {
        let info = env.debug(token).await;
        assert_eq!(info["is_valid"], false);
        assert_eq!(info["error"]["code"], 190);
        assert_eq!(info["error"]["subcode"], 460);
    }
    let call = env.graph(&format!("/{IG_ID}"), &page, &[("fields", "username")]).await;
    assert_eq!(call.status, 400);
    assert_eq!(call.error(), (190, Some(460)));
    assert!(call.header("www-authenticate").unwrap_or("").contains("invalid_token"));

    // Logging in again gives working tokens.
    let fresh = env.long_token().await;
    assert_eq!(env.debug(&fresh).await["is_valid"], true);
    assert_eq!(env.graph("/me", &fresh, &[]).await.json()["id"], USER_ID);

    let unknown = env.debug("EAAGnever-issued").await;
    assert_eq!(unknown["is_valid"], false);
    assert_eq!(unknown["error"]["code"], 190);
}

#[tokio::test]
async fn debug_token_needs_an_app_token() {
    let env = start().await;
    let user = env.short_token().await;
    let answer = env
        .get(
            &format!("/{V}/debug_token"),
            &[("input_token", &user), ("access_token", &user)],
        )
        .await;
    assert_eq!(answer.error().0, 190);
    let answer = env
        .get(
            &format!("/{V}/debug_token"),
            &[("input_token", &user), ("access_token", "sandbox-app|wrong")],
        )
        .await;
    assert_eq!(answer.error().0, 190);
}

#[tokio::test]
async fn tokens_expire_on_the_virtual_clock_with_their_page_tokens() {
    let env = start().await;
    let short = env.short_token().await;
    let page = env.page_token(&short).await;
    let page_info = env.debug(&page).await;
    assert!(
        page_info["expires_at"].as_i64().unwrap_or(0) > 0,
        "dies with its short-lived user token"
    );

    env.control.advance(chrono::Duration::hours(3));
    let answer = env.graph(&format!("/{IG_ID}"), &page, &[("fields", "username")]).await;
    assert_eq!(answer.error(), (190, Some(463)));
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Session has expired")
    );

    let long = env.long_token().await;
    env.control
        .set_token_expiry(&long, env.control.now() - chrono::Duration::seconds(1));
    assert_eq!(env.graph("/me", &long, &[]).await.error(), (190, Some(463)));
    assert_eq!(env.debug(&long).await["error"]["subcode"], 463);
}

#[tokio::test]
async fn lapsed_data_access_stops_calls_and_shows_in_debug_token() {
    let env = start().await;
    let long = env.long_token().await;
    let lapsed = env.control.now() - chrono::Duration::minutes(1);
    env.control.set_data_access_expiry(USER_ID, lapsed);
    let info = env.debug(&long).await;
    assert_eq!(info["data_access_expires_at"], lapsed.timestamp());
    assert_eq!(info["is_valid"], false);
    assert_eq!(env.graph("/me/accounts", &long, &[]).await.error().0, 190);
}

#[tokio::test]
async fn revoking_permissions_kills_user_and_page_tokens_with_458() {
    let env = start().await;
    let long = env.long_token().await;
    let page = env.page_token(&long).await;
    let proof = proof(&long);
    let revoke = env
        .send(
            env.http
                .delete(env.url(&format!("/{V}/me/permissions")))
                .query(&[("access_token", long.as_str()), ("appsecret_proof", proof.as_str())]),
        )
        .await;
    assert_eq!(revoke.json(), serde_json::json!({ "success": true }));
    assert_eq!(env.graph("/me/accounts", &long, &[]).await.error(), (190, Some(458)));
    assert_eq!(
        env.graph(&format!("/{IG_ID}"), &page, &[]).await.error(),
        (190, Some(458))
    );
    assert_eq!(env.control.count(urlinsta_sandbox::Endpoint::Revoke), 1);
}

#[tokio::test]
async fn appsecret_proof_is_required_and_checked() {
    let env = start().await;
    let token = env.long_token().await;
    let path = format!("/{V}/me");

    let missing = env.get(&path, &[("access_token", &token)]).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.error(), (100, None));
    assert_eq!(missing.json()["error"]["type"], "GraphMethodException");
    assert!(
        missing.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("require an appsecret_proof")
    );

    let wrong = env
        .get(
            &path,
            &[("access_token", &token), ("appsecret_proof", &sign("something else"))],
        )
        .await;
    assert_eq!(wrong.error(), (100, None));
    assert!(
        wrong.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Invalid appsecret_proof")
    );

    let now = env.control.now().timestamp().to_string();
    let timed = sign(&format!("{token}|{now}"));
    let ok = env
        .get(
            &path,
            &[
                ("access_token", &token),
                ("appsecret_proof", &timed),
                ("appsecret_time", &now),
            ],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);

    let old = (env.control.now().timestamp() - 6 * 60).to_string();
    let stale_proof = sign(&format!("{token}|{old}"));
    let stale = env
        .get(
            &path,
            &[
                ("access_token", &token),
                ("appsecret_proof", &stale_proof),
                ("appsecret_time", &old),
            ],
        )
        .await;
    assert_eq!(stale.error(), (100, None));
    // With a time, a proof over the token alone does not do.
    let mixed = env
        .get(
            &path,
            &[
                ("access_token", &token),
                ("appsecret_proof", &proof(&token)),
                ("appsecret_time", &now),
            ],
        )
        .await;
    assert_eq!(mixed.error(), (100, None));

    // The token may travel in the Authorization header instead.
    let header = env
        .send(
            env.http
                .get(env.url(&path))
                .bearer_auth(&token)
                .query(&[("appsecret_proof", proof(&token))]),
        )
        .await;
    assert_eq!(header.json()["id"], USER_ID);
    let calls = env.control.calls();
    assert!(
        calls.iter().any(|c| c.had_appsecret_proof)
            && calls.iter().any(|c| !c.had_appsecret_proof && c.token_kind.is_some())
    );
}

#[tokio::test]
async fn proofs_can_be_switched_off() {
    let env = start_with(SandboxConfig {
        require_appsecret_proof: false,
        ..SandboxConfig::default()
    })
    .await;
    let token = env.long_token().await;
    assert_eq!(
        env.get(&format!("/{V}/me"), &[("access_token", &token)]).await.status,
        200
    );
}

#[tokio::test]
async fn the_call_log_never_holds_a_secret() {
    let env = start().await;
    let long = env.long_token().await;
    let page = env.page_token(&long).await;
    env.graph(&format!("/{IG_ID}"), &page, &[]).await;
    env.debug(&page).await;
    let log = format!("{:?}", env.control.calls());
    for secret in env.control.issued_tokens() {
        assert!(!log.contains(&secret), "the call log holds a token");
    }
    assert!(!log.contains(SECRET));
    assert!(log.contains("[redacted]"));
}
