//! Instagram Login over its three hosts: dialog, code exchange (one use, one
//! hour), long-lived exchange, refresh with its 24-hour rule, graph reads,
//! and each token family refused by the other's endpoints.

use crate::helpers::*;
use urlinsta_sandbox::{Endpoint, IgEndpoint, IgSpec};

const IG_APP: &str = "sandbox-ig-app";
const IG_SECRET: &str = "sandbox-ig-secret";
const IG_SCOPES: &str = "instagram_business_basic,instagram_business_manage_insights";
const SOLO: &str = "17841400000000901";
const PERSONAL: &str = "17841400000000902";

impl Env {
    /// Instagram's dialog, Allow or Cancel clicked: the redirect back.
    async fn ig_decide(&self, scopes: &str, decision: &str) -> Answer {
        let page = self
            .get(
                "/ig/www/oauth/authorize",
                &[
                    ("client_id", IG_APP),
                    ("redirect_uri", REDIRECT),
                    ("scope", scopes),
                    ("state", "s1"),
                    ("response_type", "code"),
                ],
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.text.contains("Sandbox Instagram"));
        let mut form: Vec<(String, String)> = page
            .text
            .split("<input")
            .skip(1)
            .filter_map(|tag| {
                let attr = |name: &str| {
                    let marker = format!(r#"{name}=""#);
                    let start = tag.find(&marker)? + marker.len();
                    Some(tag[start..start + tag[start..].find('"')?].replace("&amp;", "&"))
                };
                Some((attr("name")?, attr("value")?))
            })
            .collect();
        form.push(("decision".into(), decision.into()));
        let back = self
            .send(self.http.post(self.url("/ig/www/oauth/authorize/confirm")).form(&form))
            .await;
        assert_eq!(back.status, 302, "{}", back.text);
        back
    }

    async fn ig_code(&self, scopes: &str) -> String {
        let back = self.ig_decide(scopes, "allow").await;
        query(&back.location(), "code").expect("a code")
    }

    async fn ig_exchange_code(&self, code: &str) -> Answer {
        let form = [
            ("client_id", IG_APP),
            ("client_secret", IG_SECRET),
            ("grant_type", "authorization_code"),
            ("redirect_uri", REDIRECT),
            ("code", code),
        ];
        self.send(self.http.post(self.url("/ig/api/oauth/access_token")).form(&form))
            .await
    }

    pub(crate) async fn ig_short_token(&self) -> String {
        let code = self.ig_code(IG_SCOPES).await;
        let answer = self.ig_exchange_code(&code).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()["data"][0]["access_token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    async fn ig_long_lived(&self, short: &str) -> Answer {
        self.get(
            "/ig/graph/access_token",
            &[
                ("grant_type", "ig_exchange_token"),
                ("client_secret", IG_SECRET),
                ("access_token", short),
            ],
        )
        .await
    }

    async fn ig_refresh(&self, token: &str) -> Answer {
        self.get(
            "/ig/graph/refresh_access_token",
            &[("grant_type", "ig_refresh_token"), ("access_token", token)],
        )
        .await
    }

    async fn ig_me(&self, token: &str) -> Answer {
        self.get(
            &format!("/ig/graph/{V}/me"),
            &[
                ("fields", "id,user_id,username,account_type,followers_count,media_count"),
                ("access_token", token),
            ],
        )
        .await
    }
}

#[tokio::test]
async fn the_whole_instagram_login_ends_with_a_long_lived_token_and_the_account() {
    let env = start().await;
    let back = env.ig_decide(IG_SCOPES, "allow").await;
    let location = back.location();
    assert!(location.as_str().starts_with(REDIRECT));
    assert_eq!(location.fragment(), Some("_"), "Instagram appends #_");
    assert_eq!(query(&location, "state").as_deref(), Some("s1"));
    let code = query(&location, "code").expect("code");

    let short = env.ig_exchange_code(&code).await.json();
    let data = &short["data"][0];
    assert!(data["user_id"].is_u64(), "the id comes as a number: {short}");
    assert_eq!(data["permissions"], IG_SCOPES);
    let short_token = data["access_token"].as_str().expect("token");
    assert!(short_token.starts_with("IGAA"));

    let long = env.ig_long_lived(short_token).await.json();
    assert_eq!(long["token_type"], "bearer");
    assert_eq!(long["expires_in"], 5_183_944);
    let long_token = long["access_token"].as_str().expect("token");

    let me = env.ig_me(long_token).await.json();
    assert_eq!(me["user_id"], IG_ID, "user_id is the professional account's id");
    assert_eq!(me["id"].as_str(), Some(env.control.instagram_scoped_id(IG_ID).as_str()));
    assert_eq!(data["user_id"].to_string(), env.control.instagram_scoped_id(IG_ID));
    assert_eq!(me["username"], "sandbox.creator");
    assert_eq!(me["account_type"], "BUSINESS");
    assert!(me["followers_count"].is_i64());
}

#[tokio::test]
async fn a_code_works_once_and_within_the_hour() {
    let env = start().await;
    let code = env.ig_code(IG_SCOPES).await;
    assert_eq!(env.ig_exchange_code(&code).await.status, 200);
    let again = env.ig_exchange_code(&code).await;
    assert_eq!(again.status, 400);
    let body = again.json();
    assert_eq!(
        body["error_type"], "OAuthException",
        "the api host's own error shape: {body}"
    );
    assert_eq!(body["error_message"], "This authorization code has been used");

    let late = env.ig_code(IG_SCOPES).await;
    env.control.advance(chrono::Duration::minutes(61));
    let expired = env.ig_exchange_code(&late).await;
    assert_eq!(expired.status, 400);
    assert!(expired.text.contains("expired"), "{}", expired.text);
    assert!(!expired.text.contains(&late), "no code in an error");
}

#[tokio::test]
async fn cancel_and_a_declined_insights_scope_come_back_as_meta_sends_them() {
    let env = start().await;
    let back = env.ig_decide(IG_SCOPES, "cancel").await.location();
    assert_eq!(query(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&back, "error_reason").as_deref(), Some("user_denied"));
    assert_eq!(query(&back, "state").as_deref(), Some("s1"));
    assert_eq!(query(&back, "code"), None);

    env.control
        .set_instagram_declined_scopes(IG_ID, &["instagram_business_manage_insights"]);
    let code = env.ig_code(IG_SCOPES).await;
    let short = env.ig_exchange_code(&code).await.json();
    assert_eq!(short["data"][0]["permissions"], "instagram_business_basic");
    let token = short["data"][0]["access_token"].as_str().expect("token").to_string();
    let insights = env
        .get(
            &format!("/ig/graph/{V}/me/insights"),
            &[("metric", "reach"), ("period", "day"), ("access_token", &token)],
        )
        .await;
    assert_eq!(insights.error().0, 10);
}

#[tokio::test]
async fn retired_scope_names_and_unknown_apps_are_refused_at_the_dialog() {
    let env = start().await;
    for (client, scope) in [(IG_APP, "business_basic"), (APP_ID, IG_SCOPES)] {
        let page = env
            .get(
                "/ig/www/oauth/authorize",
                &[
                    ("client_id", client),
                    ("redirect_uri", REDIRECT),
                    ("scope", scope),
                    ("response_type", "code"),
                ],
            )
            .await;
        assert_eq!(page.status, 400, "{client} {scope}");
    }
}

#[tokio::test]
async fn refresh_needs_a_day_of_age_and_gives_sixty_days_from_now() {
    let env = start().await;
    let short = env.ig_short_token().await;
    assert_ne!(
        env.ig_refresh(&short).await.status,
        200,
        "short-lived tokens do not refresh"
    );
    let long = env.ig_long_lived(&short).await.json()["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let young = env.ig_refresh(&long).await;
    assert_eq!(young.error().0, 100, "younger than 24 hours: {}", young.text);

    env.control.advance(chrono::Duration::days(50));
    let fresh = env.ig_refresh(&long).await.json();
    let renewed = fresh["access_token"].as_str().expect("token");
    assert_ne!(renewed, long);
    let expiry = env.control.instagram_token_expiry(renewed).expect("issued");
    let left = expiry - env.control.now();
    assert!(left > chrono::Duration::days(59), "{left}");
    assert_eq!(env.ig_me(renewed).await.status, 200);

    // The old string dies at its own expiry; an expired token cannot be renewed.
    env.control.advance(chrono::Duration::days(11));
    assert_eq!(env.ig_me(&long).await.error(), (190, Some(463)));
    assert_eq!(env.ig_refresh(&long).await.error().0, 190);
}

#[tokio::test]
async fn token_families_are_refused_by_each_others_hosts() {
    let env = start().await;
    let facebook = env.long_token().await;
    let instagram = env.control.grant_instagram_token(IG_ID);
    assert_eq!(env.ig_me(&facebook).await.error(), (190, None));
    let on_facebook = env
        .graph(&format!("/{IG_ID}"), &instagram, &[("fields", "username")])
        .await;
    assert_eq!(on_facebook.error(), (190, None));
    assert!(!on_facebook.text.contains(&instagram));
    // No batch requests on the graph host.
    let batch = env
        .send(
            env.http
                .post(env.url("/ig/graph/"))
                .form(&[("access_token", instagram.as_str()), ("batch", "[]")]),
        )
        .await;
    assert_eq!(batch.error().0, 100);
}

#[tokio::test]
async fn a_creator_without_a_page_is_reachable_only_through_instagram_login() {
    let env = start().await;
    env.control.set_instagram_dialog_account(SOLO);
    let short = env.ig_short_token().await;
    let me = env.ig_me(&short).await.json();
    assert_eq!(me["user_id"], SOLO);
    assert_eq!(me["account_type"], "MEDIA_CREATOR");
    let insights = env
        .get(
            &format!("/ig/graph/{V}/{SOLO}/insights"),
            &[
                ("metric", "reach,views"),
                ("period", "day"),
                ("metric_type", "total_value"),
                ("access_token", &short),
            ],
        )
        .await;
    assert_eq!(insights.status, 200, "{}", insights.text);
    assert_eq!(insights.json()["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(env.control.count(Endpoint::Instagram(IgEndpoint::Insights)), 1);
    assert_eq!(env.control.count(Endpoint::Insights), 0, "counted per path");

    // Facebook Login's token cannot see it: no Page links it.
    let facebook = env.long_token().await;
    assert_eq!(env.graph(&format!("/{SOLO}"), &facebook, &[]).await.error().0, 100);
    // Someone else's account is out of reach of this token too.
    let other = env
        .get(&format!("/ig/graph/{V}/{IG_ID}"), &[("access_token", &short)])
        .await;
    assert_eq!(other.error().0, 100);
}

#[tokio::test]
async fn a_personal_account_logs_in_but_says_so_and_has_no_insights() {
    let env = start().await;
    env.control.set_instagram_dialog_account(PERSONAL);
    let short = env.ig_short_token().await;
    assert_eq!(env.ig_me(&short).await.json()["account_type"], "PERSONAL");
    let insights = env
        .get(
            &format!("/ig/graph/{V}/me/insights"),
            &[("metric", "reach"), ("period", "day"), ("access_token", &short)],
        )
        .await;
    assert_eq!(insights.error().0, 10);

    let added = env.control.add_personal_instagram(IgSpec {
        id: "17841400000000903".into(),
        username: "another.personal".into(),
        name: "Another".into(),
        followers_count: 3,
        follows_count: 3,
        media_count: 0,
    });
    env.control.set_instagram_dialog_account(&added);
    let token = env.ig_short_token().await;
    assert_eq!(env.ig_me(&token).await.json()["username"], "another.personal");
}

#[tokio::test]
async fn a_killed_instagram_token_answers_190_with_its_subcode() {
    let env = start().await;
    let token = env.control.grant_instagram_token(IG_ID);
    env.control.invalidate_instagram_tokens(IG_ID, 460);
    assert_eq!(env.ig_me(&token).await.error(), (190, Some(460)));
    assert_eq!(env.control.instagram_calls(), 1);
}
