//! Who gets in: the authorization matrix of every route, forged and
//! tampered cookies, cookie flags, the OAuth state against CSRF, tokens
//! encrypted at rest, and rotation of the encryption key.

use reqwest::Method;
use serde_json::{Value, json};
use urlinsta_core::crypto::sign;
use urlinsta_core::http::Route;
use urlinsta_core::jobs::JobKind;
use urlinsta_core::secret::Secret;
use urlinsta_sandbox::{ExchangePolicy, UserSpec};

use crate::harness::*;
use crate::input::concrete;

const IG: &str = DEFAULT_IG;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Access {
    /// Anyone, and credentials change nothing.
    Public,
    /// The session's own accounts, or the admin key.
    Account,
    /// Any session (it describes that session's own accounts), or the admin key.
    Session,
    /// The admin key only.
    Admin,
    /// The cron secret only.
    Cron,
}

/// Every route's access. The match has no wildcard: a new route does not
/// compile until it is placed here, so the matrix covers it from then on.
fn access(route: Route) -> Access {
    match route {
        Route::Health
        | Route::HealthDb
        | Route::AuthLogin
        | Route::AuthCallback
        // Ends the caller's own session, if any; the same answer for everyone.
        | Route::AuthLogout
        | Route::OpenApi
        // Meta's callbacks prove themselves with a signed_request, not a credential.
        | Route::AuthDeauthorize
        | Route::AuthDataDeletion
        | Route::AuthDeletionStatus
        // So does Meta's webhook, with X-Hub-Signature-256.
        | Route::WebhookInstagram => Access::Public,
        Route::AuthStatus => Access::Session,
        Route::AuthDisconnect
        | Route::Insights
        | Route::InsightsAudience
        | Route::InsightsRefresh
        | Route::InsightsSummary
        | Route::InsightsMedia
        | Route::InsightsMediaHistory
        | Route::InsightsMediaDetail => Access::Account,
        Route::AdminAccounts => Access::Admin,
        Route::Cron(_) => Access::Cron,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    /// The browser that connected the account the request names.
    Owner,
    /// A browser that connected another account.
    Other,
    Admin,
    WrongKey,
    CronSecret,
}

const EVERYONE: [Who; 6] = [
    Who::Anonymous,
    Who::Owner,
    Who::Other,
    Who::Admin,
    Who::WrongKey,
    Who::CronSecret,
];

/// The status class a caller must get: `None` means "let in" (2xx or 3xx).
fn expected(access: Access, who: Who) -> Option<u16> {
    use Who::*;
    match (access, who) {
        (Access::Public, _) => None,
        (_, Anonymous | WrongKey) => Some(401),
        (Access::Account, Owner | Admin) | (Access::Session, Owner | Other | Admin) => None,
        (Access::Account, Other) => Some(403),
        (Access::Account | Access::Session, CronSecret) => Some(401),
        (Access::Admin, Admin) => None,
        (Access::Admin, Owner | Other) => Some(403),
        (Access::Admin, CronSecret) => Some(401),
        (Access::Cron, CronSecret) => None,
        (Access::Cron, _) => Some(401),
    }
}

struct World {
    t: TestApp,
    /// The browser of the other influencer.
    other: reqwest::Client,
    other_ig: String,
    other_user: String,
}

async fn two_influencers() -> World {
    let t = spawn_app_with(Options {
        vars: vec![("RATE_LIMIT_PER_HOUR", "1000000".into())],
        ..Options::default()
    })
    .await;
    assert_eq!(location(&t.connect().await), "/?connected=true");
    let spec = UserSpec::default_influencer();
    let other_ig = spec.pages[0].instagram.as_ref().expect("an account").id.clone();
    let other_user = t.control.add_user(spec);
    let w = World {
        t,
        other: browser(),
        other_ig,
        other_user,
    };
    w.sign_in(Who::Other).await;
    w
}

impl World {
    /// Connects the browser of the owner or the other influencer (again).
    async fn sign_in(&self, who: Who) {
        let (user, client) = match who {
            Who::Owner => (DEFAULT_FB_USER, &self.t.browser),
            _ => (self.other_user.as_str(), &self.other),
        };
        self.t.control.set_dialog_user(user);
        assert_eq!(location(&self.t.login_with(client, "allow").await), "/?connected=true");
        self.t.control.set_dialog_user(DEFAULT_FB_USER);
    }

    fn client(&self, who: Who) -> (reqwest::Client, Option<&'static str>) {
        match who {
            Who::Owner => (self.t.browser.clone(), None),
            Who::Other => (self.other.clone(), None),
            Who::Anonymous => (browser(), None),
            Who::Admin => (browser(), Some(ADMIN_KEY)),
            Who::WrongKey => (browser(), Some("not-the-key")),
            Who::CronSecret => (browser(), Some(CRON_SECRET)),
        }
    }

    /// `call` names the owner's account for every path parameter: a media of
    /// that id makes `/media/:mediaId` exist for its owner (again after a
    /// disconnect and reconnect).
    async fn owner_media_named_like_the_account(&self) {
        let t = &self.t;
        let account_id = account(t, IG).await.id;
        let media = urlinsta_core::store::MediaItem {
            media_id: urlinsta_core::domain::MediaId::parse(IG).expect("digits"),
            parent: None,
            kind: urlinsta_core::domain::MediaKind::Image,
            product: urlinsta_core::domain::ProductType::Feed,
            posted_at: chrono::Utc::now(),
            permalink: None,
            caption: None,
            like_count: None,
            comments_count: None,
        };
        let write = urlinsta_core::store::MediaWrite {
            account_id,
            items: vec![media],
            ..Default::default()
        };
        t.app
            .store
            .save_media(&write, chrono::Utc::now())
            .await
            .expect("stored");
    }

    /// `method pattern` as `who`, naming the owner's account wherever an account is named.
    async fn call(&self, method: &Method, pattern: &str, who: Who) -> reqwest::Response {
        if pattern.contains(":mediaId") {
            self.owner_media_named_like_the_account().await;
        }
        let (client, bearer) = self.client(who);
        let id = if pattern.contains(":code") {
            "AAAAAAAAAAAAAAAA"
        } else {
            IG
        };
        let mut req = client.request(method.clone(), self.t.api(&concrete(pattern, id)));
        if let Some(key) = bearer {
            req = req.bearer_auth(key);
        }
        if *method == Method::POST {
            // As the page sends it: from the site itself.
            req = req.header("origin", &self.t.url);
            req = match pattern {
                "/api/auth/disconnect" => req.json(&json!({ "instagram_user_id": IG })),
                "/api/insights/:userId/media/history" => req.json(&json!({ "days": 30 })),
                _ => req.form(&[("signed_request", "not.signed")]),
            };
        }
        req.send().await.expect("an answer")
    }
}

#[tokio::test]
async fn every_route_lets_in_exactly_who_it_should() {
    let w = two_influencers().await;
    let mut tried = 0;
    for (route, pattern, methods) in Route::TABLE {
        let access = access(*route);
        for method in methods.iter() {
            let anonymous = w.call(method, pattern, Who::Anonymous).await.status().as_u16();
            for who in EVERYONE {
                let what = format!("{method} {pattern} as {who:?}");
                let r = w.call(method, pattern, who).await;
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                match expected(access, who) {
                    Some(code) => {
                        assert_eq!(status, code, "{what}: {body}");
                        let error: Value = serde_json::from_str(&body).unwrap_or_default();
                        assert!(error["message"].is_string(), "{what}: a JSON error: {body}");
                    }
                    None if access == Access::Public => {
                        assert_eq!(
                            status, anonymous,
                            "{what}: credentials change nothing on a public route"
                        );
                    }
                    None => assert!((200..400).contains(&status), "{what}: let in, got {status}: {body}"),
                }
                // Whoever is let in sees only what is theirs.
                if who == Who::Owner || who == Who::Other {
                    let foreign = if who == Who::Owner { w.other_ig.as_str() } else { IG };
                    if access == Access::Session {
                        assert!(!body.contains(foreign), "{what}: shows another influencer's account");
                    }
                }
                // A disconnect let in deleted the account: connect it again for the rest.
                if *route == Route::AuthDisconnect && (200..300).contains(&status) {
                    assert_eq!(location(&w.t.connect().await), "/?connected=true");
                }
                // A logout ended the browser's session: sign in again for the rest.
                if *route == Route::AuthLogout && matches!(who, Who::Owner | Who::Other) {
                    w.sign_in(who).await;
                }
                tried += 1;
            }
        }
    }
    println!("authorization matrix: {tried} requests");
}

// ---- cookies ----

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(String::from))
        .collect()
}

fn cookie<'a>(cookies: &'a [String], name: &str) -> &'a str {
    cookies
        .iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("a {name} cookie in {cookies:?}"))
}

fn assert_flags(cookie: &str, secure: bool) {
    let attrs: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(attrs.contains(&"HttpOnly"), "{cookie}");
    assert!(attrs.contains(&"SameSite=Lax"), "{cookie}");
    assert!(attrs.contains(&"Path=/"), "{cookie}");
    assert!(attrs.iter().any(|a| a.starts_with("Max-Age=")), "{cookie}");
    assert!(
        !attrs.iter().any(|a| a.to_ascii_lowercase().starts_with("domain")),
        "{cookie}"
    );
    assert_eq!(attrs.contains(&"Secure"), secure, "{cookie}");
    // Over HTTPS the `__Host-` prefix: no sibling subdomain can set or overwrite it.
    assert_eq!(cookie.starts_with("__Host-"), secure, "{cookie}");
}

/// The cookie's name over plain HTTP or HTTPS.
fn named(base: &str, https: bool) -> String {
    match https {
        true => format!("__Host-{base}"),
        false => base.to_string(),
    }
}

/// The Set-Cookie lines of a login and of its callback, over https or not.
async fn login_cookies(t: &TestApp, https: bool) -> (Vec<String>, Vec<String>) {
    let b = browser();
    let proto = |req: reqwest::RequestBuilder| {
        if https {
            req.header("x-forwarded-proto", "https")
        } else {
            req
        }
    };
    let login = proto(b.get(t.api("/api/auth/login"))).send().await.expect("login");
    let login_cookies = set_cookies(&login);
    // The dialog, then the callback as the proxy forwards it. The plain HTTP
    // test client keeps no Secure cookie, so the state goes back by hand.
    let callback = t.decide(&b, &login, "allow").await;
    let mut req = proto(b.get(callback));
    if https {
        let state = cookie(&login_cookies, &named("urlinsta_oauth_state", true));
        req = req.header("cookie", state.split(';').next().unwrap_or(""));
    }
    let r = req.send().await.expect("callback");
    (login_cookies, set_cookies(&r))
}

#[tokio::test]
async fn cookies_are_http_only_same_site_and_host_only_secure_over_https() {
    let t = spawn_app().await;
    for https in [false, true] {
        let (login, callback) = login_cookies(&t, https).await;
        assert_flags(cookie(&login, &named("urlinsta_oauth_state", https)), https);
        assert_flags(cookie(&callback, &named("urlinsta_session", https)), https);
        // The state is spent: cleared with the same flags.
        let cleared = cookie(&callback, &named("urlinsta_oauth_state", https));
        assert!(cleared.contains("Max-Age=0"), "{cleared}");
        assert_flags(cleared, https);
    }
    // Disconnecting the last account clears the session, flags kept.
    let session = cookie(&set_cookies(&t.connect().await), "urlinsta_session").to_string();
    let r = browser()
        .post(t.api("/api/auth/disconnect"))
        .header("x-forwarded-proto", "https")
        .header("origin", "https://urlinsta.example")
        .header("host", "urlinsta.example")
        .header("cookie", format!("__Host-{}", session.split(';').next().unwrap_or("")))
        .json(&json!({ "instagram_user_id": IG }))
        .send()
        .await
        .expect("disconnect");
    assert_eq!(r.status(), 200);
    let cleared = set_cookies(&r);
    assert!(cookie(&cleared, "__Host-urlinsta_session").contains("Max-Age=0"));
    assert_flags(cookie(&cleared, "__Host-urlinsta_session"), true);
}

/// The session id of a fresh login.
async fn session_of(t: &TestApp) -> String {
    crate::sessions::session_value(&t.connect().await)
}

async fn status_with(t: &TestApp, cookie: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(t.api("/api/auth/status"))
        .header("cookie", cookie)
        .send()
        .await
        .expect("status");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_forged_guessed_or_ended_session_is_nobody() {
    let t = spawn_app().await;
    let real = session_of(&t).await;
    // The control: the real cookie is believed, so the test can fail.
    assert_eq!(status_with(&t, &format!("urlinsta_session={real}")).await.0, 200);

    // A session of another browser, ended by its logout.
    let ended = session_of(&t).await;
    let r = t
        .post(&browser(), "/api/auth/logout")
        .header("cookie", format!("urlinsta_session={ended}"))
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), 200);

    let mut flipped = real.clone().into_bytes();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    let attempts = [
        (
            "a random id",
            format!("urlinsta_session={}", urlinsta_core::crypto::random_token(32)),
        ),
        (
            "the real id, one character changed",
            format!("urlinsta_session={flipped}"),
        ),
        ("the real id, cut short", format!("urlinsta_session={}", &real[..42])),
        ("the real id, and more", format!("urlinsta_session={real}A")),
        ("an ended session", format!("urlinsta_session={ended}")),
        (
            "the real id under the __Host- name over plain HTTP",
            format!("__Host-urlinsta_session={real}"),
        ),
        (
            "an old signed cookie",
            format!(
                "urlinsta_session={}",
                sign(&t.app.config.session_secret, "session", "e30")
            ),
        ),
        ("garbage", "urlinsta_session=%%%.%%%".to_string()),
    ];
    for (what, cookie) in attempts {
        let (status, body) = status_with(&t, &cookie).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["connected"], false, "{what}");
        let r = reqwest::Client::new()
            .get(t.api(&format!("/api/insights/{IG}")))
            .header("cookie", cookie)
            .send()
            .await
            .expect("insights");
        assert_eq!(r.status(), 401, "{what}: the insights of the account stay closed");
    }
}

// ---- the OAuth state (CSRF); the basic cases are in oauth.rs ----

#[tokio::test]
async fn an_expired_tampered_reused_or_superseded_state_stores_nothing_and_spares_a_newer_login() {
    let t = spawn_app().await;
    let key = t.app.config.session_secret.clone();
    let callback_with = |state_cookie: String, state: &str| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .get(t.api(&format!("/api/auth/callback?code=AQx&state={state}")))
            .header("cookie", format!("urlinsta_oauth_state={state_cookie}"))
            .send()
    };
    let past = chrono::Utc::now().timestamp() - 1;
    let future = chrono::Utc::now().timestamp() + 600;
    let cases = [
        ("expired", sign(&key, "state", &format!("s1~{past}")), "s1"),
        (
            "signed with another key",
            sign(&Secret::new("other"), "state", &format!("s1~{future}")),
            "s1",
        ),
        (
            "a session cookie as the state",
            sign(&key, "session", &format!("s1~{future}")),
            "s1",
        ),
        (
            "an edited state, the old signature",
            {
                let good = sign(&key, "state", &format!("s1~{future}"));
                good.replacen("s1", "s2", 1)
            },
            "s2",
        ),
        ("an empty state", sign(&key, "state", &format!("~{future}")), ""),
        ("no expiry", sign(&key, "state", "s1"), "s1"),
    ];
    for (what, cookie, state) in cases {
        let r = callback_with(cookie, state).await.expect("callback");
        assert_eq!(location(&r), "/?error=state_mismatch", "{what}");
    }
    // The control: a state cookie signed with the real key reaches the code exchange.
    let r = callback_with(sign(&key, "state", &format!("s1~{future}")), "s1")
        .await
        .expect("callback");
    assert_eq!(location(&r), "/?error=graph_error", "a fresh, signed state is believed");

    // A second login in the same browser supersedes the first one's state,
    // and the first one's late callback leaves the second login standing.
    let first = t.authorize(&t.browser, "allow").await;
    let fresh = t.authorize(&t.browser, "allow").await;
    let r = t.browser.get(first).send().await.expect("callback");
    assert_eq!(location(&r), "/?error=state_mismatch", "the superseded state");
    let r = t.browser.get(&fresh).send().await.expect("callback");
    assert_eq!(location(&r), "/?connected=true", "the newer login goes on");
    let r = t.browser.get(&fresh).send().await.expect("callback");
    assert_eq!(location(&r), "/?error=state_mismatch", "a replayed callback");
    assert_eq!(row_count(&t, "users").await, 1);
}

#[tokio::test]
async fn the_cron_secret_must_match_exactly() {
    let t = spawn_app().await;
    let cron = |auth: String| {
        reqwest::Client::new()
            .get(t.api("/api/cron/refresh-tokens"))
            .header("authorization", auth)
            .send()
    };
    for (auth, status) in [
        (format!("Bearer {CRON_SECRET}"), 200),
        (format!("bearer {CRON_SECRET}"), 200),
        (format!("Bearer {}", &CRON_SECRET[..CRON_SECRET.len() - 1]), 401),
        (format!("Bearer {CRON_SECRET}x"), 401),
        (format!("Bearer {}", CRON_SECRET.to_uppercase()), 401),
        (format!("Basic {CRON_SECRET}"), 401),
        (CRON_SECRET.to_string(), 401),
        (format!("Bearer {ADMIN_KEY}"), 401),
    ] {
        let r = cron(auth.clone()).await.expect("answer");
        assert_eq!(r.status(), status, "{auth}");
    }
}

// ---- tokens at rest ----

/// Every file under a directory, concatenated.
fn bytes_under(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(bytes_under(&path));
        } else {
            out.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
    out
}

/// Every job once, a refresh that really exchanges, a reconnect and a disconnect: every kind of token write.
async fn every_kind_of_token_write(t: &TestApp) {
    assert_eq!(location(&t.connect().await), "/?connected=true");
    connect_another(t).await;
    expire_in(t, IG, 5).await;
    t.control.set_exchange_policy(ExchangePolicy::Extend);
    for job in JobKind::ALL {
        run_job(&t.app, job).await;
    }
    assert_eq!(location(&t.connect().await), "/?connected=true");
    assert!(t.control.issued_tokens().len() > 5);
}

#[tokio::test]
async fn no_token_the_sandbox_issued_is_readable_in_the_database_file() {
    let t = spawn_app().await;
    every_kind_of_token_write(&t).await;
    assert_no_secrets(&t.control, &bytes_under(t.dir.path()), "the database directory");
    assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
}

#[tokio::test]
async fn no_token_the_sandbox_issued_is_readable_in_sqlds_files() {
    let t = spawn_app_on_sqld().await;
    every_kind_of_token_write(&t).await;
    let sqld = t.sqld.as_ref().expect("sqld");
    let files = bytes_under(sqld.data_dir());
    assert!(files.len() > 4096, "sqld's files were read");
    assert_no_secrets(&t.control, &files, "sqld's data directory");
}

// ---- key rotation ----

const OLD_KEY: &str = "old:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const NEW_KEY: &str = "new:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

/// The key ids the stored tokens of an account were written with.
async fn key_ids(t: &TestApp, ig: &str) -> (String, String) {
    let conn = t.app.store.conn().await.expect("connection");
    let mut rows = conn
        .query(
            "SELECT t.user_access_token, t.page_access_token FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE u.instagram_user_id = ?1",
            [ig],
        )
        .await
        .expect("query");
    let row = rows.next().await.expect("row").expect("stored");
    let id = |v: String| v.split(':').nth(1).unwrap_or("").to_string();
    (id(row.get(0).expect("user")), id(row.get(1).expect("page")))
}

#[tokio::test]
async fn after_a_key_rotation_old_tokens_still_decrypt_and_new_writes_use_the_new_key() {
    let vars = |key: &str| {
        vec![
            ("TOKEN_ENCRYPTION_KEY", key.to_string()),
            ("SESSION_SECRET", "rotation-test-session-secret".to_string()),
        ]
    };
    let before = spawn_app_with(Options {
        vars: vars(OLD_KEY),
        ..Options::default()
    })
    .await;
    assert_eq!(location(&before.connect().await), "/?connected=true");
    let (other_ig, _) = connect_another(&before).await;
    assert_eq!(key_ids(&before, IG).await, ("old".into(), "old".into()));

    // The same database and Meta, now with "new,old".
    let mut config = (*before.app.config).clone();
    config.token_keys =
        urlinsta_core::crypto::Keyring::parse(&Secret::new(format!("{NEW_KEY},{OLD_KEY}"))).expect("keys");
    let rotated = urlinsta_core::App::build(config.clone()).await.expect("app");
    let old_tokens = rotated
        .store
        .tokens(account(&before, IG).await.id)
        .await
        .expect("read")
        .expect("tokens");
    assert!(
        before
            .control
            .issued_tokens()
            .contains(&old_tokens.user_token.expose().to_string()),
        "old rows decrypt"
    );

    // A refresh writes the one account it extends with the new key; the other keeps the old one.
    expire_in(&before, IG, 5).await;
    before.control.set_exchange_policy(ExchangePolicy::Extend);
    let report = refresh_on(&rotated).await;
    assert_eq!(report.counts.refreshed, 1, "{report:?}");
    assert_eq!(report.counts.failed, 0, "{report:?}");
    assert_eq!(key_ids(&before, IG).await, ("new".into(), "new".into()));
    assert_eq!(key_ids(&before, &other_ig).await, ("old".into(), "old".into()));
    let collected = run_collect(&rotated, JobKind::CollectInsights).await;
    assert_eq!(collected.counts.collected, 2, "both keys read: {collected:?}");

    // Without the old key, the old rows fail alone, loudly, and nothing panics.
    config.token_keys = urlinsta_core::crypto::Keyring::parse(&Secret::new(NEW_KEY)).expect("keys");
    let new_only = urlinsta_core::App::build(config).await.expect("app");
    sql(&before, "UPDATE account_state SET last_insights_at = NULL").await;
    let collected = run_collect(&new_only, JobKind::CollectInsights).await;
    assert_eq!(
        (collected.counts.collected, collected.counts.failed),
        (1, 1),
        "{collected:?}"
    );
    assert_no_secrets(&before.control, captured_logs().as_bytes(), "the logs");
}
