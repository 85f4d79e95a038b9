//! Connecting through Instagram Login: "Continue with Instagram", the
//! sandbox's Instagram dialog, code, long-lived token, the account stored
//! under the same id Facebook Login knows; refusals that store nothing; one
//! account when connected both ways; disconnect and Meta's Instagram callbacks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use url::Url;
use urlinsta_core::App;
use urlinsta_core::clock::DatesFrom;
use urlinsta_core::jobs::JobKind;
use urlinsta_core::store::TokenStatus;
use urlinsta_sandbox::{Endpoint, IgEndpoint};

use crate::harness::*;
use crate::receiver::{Receiver, WEBHOOK_SECRET, verified};

/// The sandbox's Instagram app (`SandboxConfig::default()`).
const IG_SECRET: &str = "sandbox-ig-secret";
/// A creator with no Facebook Page in the sandbox's world.
pub(crate) const SOLO: &str = "17841400000000901";
const PERSONAL: &str = "17841400000000902";

impl TestApp {
    /// "Continue with Instagram" as a browser does it, ending at the
    /// callback's redirect; `decision` is "allow" or "cancel".
    async fn instagram_login(&self, browser: &reqwest::Client, decision: &str) -> reqwest::Response {
        let login = browser
            .get(self.api("/api/auth/login?provider=instagram"))
            .send()
            .await
            .expect("login");
        assert_eq!(login.status(), 302);
        let dialog = Url::parse(location(&login)).expect("dialog url");
        assert_eq!(browser.get(dialog.clone()).send().await.expect("dialog").status(), 200);
        let mut form: Vec<(String, String)> = dialog.query_pairs().into_owned().collect();
        form.push(("decision".into(), decision.into()));
        let mut confirm = dialog.clone();
        confirm.set_query(None);
        confirm.set_path(&format!("{}/confirm", dialog.path()));
        let back = browser.post(confirm).form(&form).send().await.expect("confirm");
        assert_eq!(back.status(), 302);
        let callback = Url::parse(location(&back)).expect("callback url");
        assert_eq!(callback.fragment(), Some("_"), "Instagram appends #_");
        browser.get(callback).send().await.expect("callback")
    }
}

fn signed_request(secret: &str, user_id: &str) -> String {
    let payload =
        json!({ "algorithm": "HMAC-SHA256", "issued_at": chrono::Utc::now().timestamp(), "user_id": user_id });
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    format!("{}.{payload}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

async fn stored_nothing(t: &TestApp) {
    for table in ["users", "tokens", "instagram_logins"] {
        assert_eq!(row_count(t, table).await, 0, "{table}");
    }
}

#[tokio::test]
async fn login_sends_the_browser_to_instagrams_dialog_with_both_scopes() {
    let t = spawn_app().await;
    let r = t
        .browser
        .get(t.api("/api/auth/login?provider=instagram"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let url = Url::parse(location(&r)).unwrap();
    assert!(
        url.as_str()
            .starts_with(&format!("{}/ig/www/oauth/authorize?", t.sandbox.base_url())),
        "{url}"
    );
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "sandbox-ig-app");
    assert_eq!(q["redirect_uri"], t.api("/api/auth/callback"));
    assert_eq!(
        q["scope"],
        "instagram_business_basic,instagram_business_manage_insights"
    );
    assert_eq!(q["response_type"], "code");
    assert!(q["state"].len() >= 32);
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.starts_with("urlinsta_oauth_state=") && cookie.contains("HttpOnly"));

    let unknown = t
        .browser
        .get(t.api("/api/auth/login?provider=myspace"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
}

on_both_databases! {
    async fn instagram_login_connects_a_creator_without_a_page(t: TestApp) {
        // Facebook Login cannot reach this creator: no Page links the account.
        t.control.set_instagram_dialog_account(SOLO);
        let r = t.instagram_login(&t.browser, "allow").await;
        assert_eq!(location(&r), "/?connected=true");
        let status = t.status(&t.browser).await;
        assert_eq!(status["connected"], true);
        assert_eq!(status["instagram_user_id"], SOLO, "the professional id, not the scoped one");
        assert_eq!(status["username"], "solo.creator");
        assert_eq!(status["login"], "instagram");
        assert_eq!(status["token_status"], "active");
        assert_eq!(status["facebook_page_id"], Value::Null);

        let stored = tokens(&t, SOLO).await;
        assert!(stored.user_token.expose().starts_with("IGAA"));
        assert_eq!(stored.user_token, stored.page_token);
        let expiry = account(&t, SOLO).await.token.user_token_expires_at.expect("an expiry");
        assert!(expiry > (chrono::Utc::now() + chrono::Duration::days(59)).into(), "{expiry}");
        assert_eq!(row_count(&t, "instagram_logins").await, 1);

        // Encrypted at rest, absent from the logs.
        if t.sqld.is_none() {
            assert_no_secrets(&t.control, &t.db_bytes(), "the database file");
        }
        let logs = captured_logs();
        assert_no_secrets(&t.control, logs.as_bytes(), "the logs");
        assert!(!logs.contains(IG_SECRET));
    }

    async fn refusals_end_on_their_reason_and_store_nothing(t: TestApp) {
        let cancel = t.instagram_login(&browser(), "cancel").await;
        assert_eq!(location(&cancel), "/?error=access_denied");

        t.control.set_instagram_dialog_account(PERSONAL);
        let personal = t.instagram_login(&browser(), "allow").await;
        assert_eq!(location(&personal), "/?error=personal_account");

        t.control.set_instagram_dialog_account(SOLO);
        t.control
            .set_instagram_declined_scopes(SOLO, &["instagram_business_manage_insights"]);
        let declined = t.instagram_login(&browser(), "allow").await;
        assert_eq!(location(&declined), "/?error=missing_permissions");
        stored_nothing(&t).await;
    }
}

#[tokio::test]
async fn a_forged_state_stores_nothing() {
    let t = spawn_app().await;
    t.control.set_instagram_dialog_account(SOLO);
    // A callback this browser never started, with a real code.
    let login = browser()
        .get(t.api("/api/auth/login?provider=instagram"))
        .send()
        .await
        .unwrap();
    let dialog = Url::parse(location(&login)).unwrap();
    let mut form: Vec<(String, String)> = dialog.query_pairs().into_owned().collect();
    form.push(("decision".into(), "allow".into()));
    let mut confirm = dialog.clone();
    confirm.set_query(None);
    confirm.set_path(&format!("{}/confirm", dialog.path()));
    let back = browser().post(confirm).form(&form).send().await.unwrap();
    let forged = t.browser.get(location(&back)).send().await.unwrap();
    assert_eq!(location(&forged), "/?error=state_mismatch");
    stored_nothing(&t).await;
}

#[tokio::test]
async fn an_account_connected_both_ways_is_one_account_collected_by_its_instagram_login() {
    let t = spawn_app().await;
    // The sandbox's default person reaches the same account both ways.
    assert_eq!(location(&t.connect().await), "/?connected=true");
    assert_eq!(t.status(&t.browser).await["login"], "facebook");
    let facebook_page = account(&t, DEFAULT_IG).await.facebook_page_id;

    assert_eq!(
        location(&t.instagram_login(&t.browser, "allow").await),
        "/?connected=true"
    );
    assert_eq!(t.app.store.users_count().await.unwrap(), 1);
    let status = t.status(&t.browser).await;
    assert_eq!(status["login"], "instagram");
    assert_eq!(status["accounts"].as_array().map(Vec::len), Some(1));
    let both = account(&t, DEFAULT_IG).await;
    assert_eq!(both.facebook_page_id, facebook_page, "the Page details stay");
    let instagram_token = tokens(&t, DEFAULT_IG).await;

    // Facebook Login again: the Instagram-login token keeps collecting.
    assert_eq!(location(&t.connect().await), "/?connected=true");
    assert_eq!(t.status(&t.browser).await["login"], "instagram");
    assert_eq!(tokens(&t, DEFAULT_IG).await.user_token, instagram_token.user_token);

    // Disconnect removes what each login stored.
    let r = t
        .post(&t.browser, "/api/auth/disconnect")
        .json(&json!({ "instagram_user_id": DEFAULT_IG }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["revoked"], false, "Meta has no revoke for Instagram-login tokens");
    stored_nothing(&t).await;
    assert_no_orphans(&t).await;
}

on_both_databases! {
    async fn instagram_callbacks_verified_with_the_instagram_secret_delete_the_account(t: TestApp) {
        t.control.set_instagram_dialog_account(SOLO);
        assert_eq!(location(&t.instagram_login(&t.browser, "allow").await), "/?connected=true");
        let scoped = t.control.instagram_scoped_id(SOLO);

        // Signed with another key: refused, nothing deleted.
        let forged = browser()
            .post(t.api("/api/auth/deauthorize"))
            .form(&[("signed_request", signed_request("not-the-secret", &scoped))])
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status(), 403);
        assert_eq!(t.app.store.users_count().await.unwrap(), 1);

        let r = browser()
            .post(t.api("/api/auth/data-deletion"))
            .form(&[("signed_request", signed_request(IG_SECRET, &scoped))])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let receipt: Value = r.json().await.unwrap();
        assert!(receipt["confirmation_code"].is_string());
        stored_nothing(&t).await;
        assert_no_orphans(&t).await;
        let status: Value = reqwest::get(receipt["url"].as_str().unwrap()).await.unwrap().json().await.unwrap();
        assert_eq!(status["accounts_deleted"], 1);
        assert_eq!(status["source"], "instagram_data_deletion");
    }
}

#[tokio::test]
async fn deauthorize_with_the_instagram_secret_deletes_the_account() {
    let t = spawn_app().await;
    t.control.set_instagram_dialog_account(SOLO);
    assert_eq!(
        location(&t.instagram_login(&t.browser, "allow").await),
        "/?connected=true"
    );
    let scoped = t.control.instagram_scoped_id(SOLO);
    let r = browser()
        .post(t.api("/api/auth/deauthorize"))
        .form(&[("signed_request", signed_request(IG_SECRET, &scoped))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    stored_nothing(&t).await;
}

/// `t`'s app with its dates on the sandbox's virtual clock: a test moves
/// both through months at once (`t.control.advance`).
fn on_virtual_time(t: &TestApp) -> App {
    let control = t.control.clone();
    App {
        clock: std::sync::Arc::new(DatesFrom::new(move || control.now())),
        ..t.app.clone()
    }
}

pub(crate) async fn connect_solo(t: &TestApp) {
    t.control.set_instagram_dialog_account(SOLO);
    assert_eq!(
        location(&t.instagram_login(&t.browser, "allow").await),
        "/?connected=true"
    );
}

on_both_databases! {
    async fn refresh_renews_a_token_a_day_old_and_the_connection_lives_a_year(t: TestApp) {
        connect_solo(&t).await;
        let app = on_virtual_time(&t);
        let first = tokens(&t, SOLO).await.user_token;
        // Fresh: 60 days left, nothing to renew; the daily check is the login's.
        refresh_on(&app).await;
        assert_eq!(t.control.count(Endpoint::Instagram(IgEndpoint::Refresh)), 0);

        // Within the renewal window but younger than a day (as after a renewal): left alone.
        sql_on(&t, &format!(
            "UPDATE tokens SET user_token_expires_at = '{}', last_refreshed_at = '{}'",
            ts(t.control.now() + chrono::Duration::days(20)),
            ts(t.control.now() - chrono::Duration::hours(2)),
        )).await;
        refresh_on(&app).await;
        assert_eq!(t.control.count(Endpoint::Instagram(IgEndpoint::Refresh)), 0, "not before 24 hours");
        assert_eq!(tokens(&t, SOLO).await.user_token, first);

        // A year, 45 days at a time on the one clock of Meta and the job: every
        // renewal lands, no reconnect needed.
        for step in 1..=8 {
            t.control.advance(chrono::Duration::days(45));
            let report = refresh_on(&app).await;
            let a = account(&t, SOLO).await;
            assert_eq!(a.token.status, TokenStatus::Active, "step {step}: {report:?}");
            let left = a.token.user_token_expires_at.expect("an expiry").to_datetime() - t.control.now();
            assert!(left > chrono::Duration::days(59), "step {step}: renewed for 60 days, {left} left");
        }
        assert_eq!(t.control.count(Endpoint::Instagram(IgEndpoint::Refresh)), 8);
        assert_ne!(tokens(&t, SOLO).await.user_token, first);
        // The renewed token still reads the account at Meta.
        let report = run_collect(&t.app, JobKind::CollectInsights).await;
        assert_eq!(report.counts.collected, 1, "{report:?}");
        assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
    }

    async fn a_190_marks_an_instagram_login_connection_invalid(t: TestApp) {
        connect_solo(&t).await;
        t.control.invalidate_instagram_tokens(SOLO, 460);
        let yesterday = ts(chrono::Utc::now() - chrono::Duration::hours(25));
        sql_on(&t, &format!("UPDATE tokens SET last_checked_at = '{yesterday}'")).await;
        run_refresh(&t).await;
        let a = account(&t, SOLO).await;
        assert_eq!(a.token.status, TokenStatus::Invalid);
        assert_eq!((a.token.code, a.token.subcode), (Some(190), Some(460)));
        // Instagram's password, not Facebook's: the reason is the login's.
        assert_eq!(a.token.reason.as_deref(), Some("the Instagram password was changed"));
    }

    async fn collection_reads_graph_instagram_com_one_call_at_a_time(t: TestApp) {
        connect_solo(&t).await;
        t.control.reset_calls();
        let report = run_collect(&t.app, JobKind::CollectInsights).await;
        assert_eq!(report.counts.collected, 1, "{report:?}");
        assert!(row_count(&t, "insights").await > 0);
        let on_instagram = t.control.instagram_calls();
        assert!(on_instagram >= 2, "{on_instagram}");
        assert_eq!(t.control.count(Endpoint::Batch), 0, "no batch on graph.instagram.com");
        assert_eq!(t.control.count(Endpoint::Insights), 0, "nothing asked of graph.facebook.com");
        assert_eq!(account(&t, SOLO).await.followers_count, Some(4_321));

        let audience = run_collect(&t.app, JobKind::CollectAudience).await;
        assert_eq!(audience.counts.collected, 1, "{audience:?}");
        assert!(t.control.count(Endpoint::Instagram(IgEndpoint::Demographics)) > 0);
        assert!(row_count(&t, "audience_data").await > 0);
    }
}

/// Webhook events name the login of the connection they are about, going
/// bad and coming back, so a receiver knows where the person logs in again.
#[tokio::test]
async fn webhook_events_say_the_connection_uses_instagram_login() {
    let receiver = Receiver::start().await;
    let t = spawn_app_with(Options {
        vars: vec![
            ("NOTIFY_WEBHOOK_URL", receiver.url.clone()),
            ("NOTIFY_WEBHOOK_SECRET", WEBHOOK_SECRET.into()),
        ],
        ..Options::default()
    })
    .await;
    connect_solo(&t).await;
    t.control.invalidate_instagram_tokens(SOLO, 460);
    let yesterday = ts(chrono::Utc::now() - chrono::Duration::hours(25));
    sql_on(&t, &format!("UPDATE tokens SET last_checked_at = '{yesterday}'")).await;
    run_refresh(&t).await;
    let invalid = verified(&receiver.received()[0]);
    assert_eq!(invalid["type"], "connection.invalid");
    assert_eq!(invalid["account"]["instagram_user_id"], SOLO);
    assert_eq!(invalid["login"], "instagram");
    assert_eq!(invalid["reason"], "the Instagram password was changed");

    connect_solo(&t).await;
    let received = receiver.received();
    assert_eq!(received.len(), 2, "the recovery event");
    let restored = verified(&received[1]);
    assert_eq!(restored["type"], "connection.restored");
    assert_eq!(restored["login"], "instagram");
    // The operator view says it too.
    let admin: urlinsta_core::http::AccountsBody = t
        .browser
        .get(t.api("/api/admin/accounts"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        admin.accounts[0].account.login,
        urlinsta_core::domain::Login::Instagram,
        "{admin:?}"
    );
}

pub(crate) async fn sql_on(t: &TestApp, statement: &str) {
    t.app.store.conn().await.unwrap().execute(statement, ()).await.unwrap();
}
