//! Sessions live on the server: a copied cookie loses what a disconnect
//! takes, a reconnect grants only the browser that made it, logout and expiry
//! end a session, and disconnecting one account of a Facebook user leaves
//! Meta's grant for the others alone.

use serde_json::{Value, json};
use urlinsta_core::jobs::JobKind;
use urlinsta_sandbox::{Endpoint, PageSpec, UserSpec};

use crate::harness::*;

const IG: &str = DEFAULT_IG;

/// The session id a response sets (plain name: the tests speak HTTP).
pub fn session_value(r: &reqwest::Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("urlinsta_session="))
        .and_then(|c| c.split(';').next())
        .filter(|v| !v.is_empty())
        // Where the login ended says why there is none (e.g. `server_error`).
        .unwrap_or_else(|| {
            panic!(
                "a session cookie; the login ended at {:?}; the app logged:\n{}",
                r.headers().get("location"),
                why_logins_failed()
            )
        })
        .to_string()
}

/// What the app logged about failed logins (every test's: logs are per process).
fn why_logins_failed() -> String {
    captured_logs()
        .lines()
        .filter(|l| l.contains("connect failed") || l.contains("session could not be stored"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A client that sends this session cookie and nothing else of a browser's:
/// someone who copied the cookie.
fn holder_of(session: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("cookie", format!("urlinsta_session={session}").parse().expect("header"));
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn get(t: &TestApp, client: &reqwest::Client, path: &str) -> (u16, Value) {
    let r = client.get(t.api(path)).send().await.expect("an answer");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

async fn disconnect(t: &TestApp, client: &reqwest::Client, ig: &str) -> (u16, Value) {
    let r = t
        .post(client, "/api/auth/disconnect")
        .json(&json!({ "instagram_user_id": ig }))
        .send()
        .await
        .expect("disconnect answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or_default())
}

fn listed(status: &Value) -> Vec<String> {
    status["accounts"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["instagram_user_id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

on_both_databases! {
    async fn a_cookie_copied_before_a_disconnect_sees_nothing_of_the_account_after_a_reconnect_elsewhere(t: TestApp) {
        // The owner's browser connects two accounts, so its session outlives the disconnect of one.
        assert_eq!(location(&t.connect().await), "/?connected=true");
        let second = t.control.add_user(UserSpec::default_influencer());
        t.control.set_dialog_user(&second);
        let r = t.login_with(&t.browser, "allow").await;
        assert_eq!(location(&r), "/?connected=true");
        t.control.set_dialog_user(DEFAULT_FB_USER);
        let copied = holder_of(&session_value(&r));

        // The control: the copy works while the account is connected.
        assert_eq!(get(&t, &copied, &format!("/api/insights/{IG}")).await.0, 200);
        assert_eq!(listed(&get(&t, &copied, "/api/auth/status").await.1).len(), 2);

        // The owner disconnects it; someone connects it again from another browser.
        assert_eq!(disconnect(&t, &t.browser, IG).await.0, 200);
        let elsewhere = browser();
        assert_eq!(location(&t.login_with(&elsewhere, "allow").await), "/?connected=true");
        assert_eq!(get(&t, &elsewhere, &format!("/api/insights/{IG}")).await.0, 200);

        // The copied cookie, and the owner's browser, see nothing of it and cannot remove it.
        for (who, client) in [("the copied cookie", &copied), ("the owner's browser", &t.browser)] {
            let (status, body) = get(&t, client, &format!("/api/insights/{IG}")).await;
            assert_eq!(status, 403, "{who}: {body}");
            let (status, body) = get(&t, client, "/api/auth/status").await;
            assert_eq!(status, 200, "{who}: the session lives on with its other account");
            assert!(!listed(&body).contains(&IG.to_string()), "{who}: {body}");
            assert_eq!(listed(&body).len(), 1, "{who}: {body}");
            assert_eq!(disconnect(&t, client, IG).await.0, 403, "{who}");
        }
        assert!(t.app.store.account(&instagram_id(IG)).await.expect("read").is_some(), "still connected");
    }

    async fn logout_ends_the_session_for_every_copy_of_its_cookie(t: TestApp) {
        let copied = holder_of(&session_value(&t.connect().await));
        assert_eq!(get(&t, &copied, "/api/auth/status").await.0, 200);
        let r = t.post(&t.browser, "/api/auth/logout").send().await.expect("logout");
        assert_eq!(r.status(), 200);
        let cleared: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(String::from))
            .collect();
        assert!(
            cleared.iter().any(|c| c.starts_with("urlinsta_session=;") && c.contains("Max-Age=0")),
            "{cleared:?}"
        );
        assert_eq!(r.json::<Value>().await.expect("json")["success"], true);
        for client in [&copied, &t.browser] {
            assert_eq!(get(&t, client, "/api/auth/status").await.0, 401);
            assert_eq!(get(&t, client, &format!("/api/insights/{IG}")).await.0, 401);
        }
        // Nothing left to end: the same answer.
        let r = t.post(&copied, "/api/auth/logout").send().await.expect("logout");
        assert_eq!(r.status(), 200);
        // The account itself stays connected and collected.
        assert!(t.app.store.account(&instagram_id(IG)).await.expect("read").is_some());
        assert_eq!(row_count(&t, "sessions").await, 0);
    }

    async fn a_session_expires_unless_used_and_use_slides_its_expiry(t: TestApp) {
        let session = session_value(&t.connect().await);
        let copied = holder_of(&session);
        let conn = t.app.store.conn().await.expect("connection");
        let in_days = |d: i64| ts(chrono::Utc::now() + chrono::Duration::days(d));

        // Unused for 28 days: two left. A use gives it 30 again.
        conn.execute("UPDATE sessions SET expires_at = ?1", [in_days(2)]).await.expect("update");
        assert_eq!(get(&t, &copied, "/api/auth/status").await.0, 200);
        let expires = expiry(&t).await;
        assert!(expires > in_days(29) && expires <= in_days(30), "slid to {expires}");

        // Unused for 30 days: over, for every copy.
        conn.execute("UPDATE sessions SET expires_at = ?1", [in_days(0)]).await.expect("update");
        assert_eq!(get(&t, &copied, "/api/auth/status").await.0, 401);
        assert_eq!(get(&t, &t.browser, &format!("/api/insights/{IG}")).await.0, 401);

        // The database never holds the cookie's id itself.
        let mut rows = conn.query("SELECT COUNT(*) FROM sessions WHERE id = ?1", [session.as_str()]).await.expect("query");
        let stored: i64 = rows.next().await.expect("row").expect("one").get(0).expect("count");
        assert_eq!(stored, 0);
    }

    async fn a_refresh_tokens_run_deletes_expired_sessions_and_keeps_live_ones(t: TestApp) {
        // Two browsers, two sessions; one of them unused for 30 days.
        assert_eq!(location(&t.connect().await), "/?connected=true");
        let (_, live) = connect_another(&t).await;
        assert_eq!(row_count(&t, "sessions").await, 2);
        let conn = t.app.store.conn().await.expect("connection");
        let yesterday = ts(chrono::Utc::now() - chrono::Duration::days(1));
        conn.execute(
            "UPDATE sessions SET expires_at = ?1 WHERE id IN (SELECT session_id FROM session_accounts sa JOIN users u ON u.id = sa.user_id WHERE u.instagram_user_id = ?2)",
            [yesterday.as_str(), IG],
        )
        .await
        .expect("update");

        run_job(&t.app, JobKind::RefreshTokens).await;
        assert_eq!(row_count(&t, "sessions").await, 1, "the expired session is gone");
        assert_eq!(row_count(&t, "session_accounts").await, 1, "and its grant with it");
        assert_eq!(get(&t, &live, "/api/auth/status").await.0, 200, "the live one works");
        assert_eq!(get(&t, &t.browser, "/api/auth/status").await.0, 401);
    }

    async fn an_agency_disconnecting_one_of_three_accounts_keeps_the_others_and_meta_s_grant(t: TestApp) {
        let agency = t.control.add_user(
            UserSpec::named("Agency")
                .with_page(PageSpec::with_instagram("300000000000001", "Client A", "17841430000000001", "client.a", 1_000))
                .with_page(PageSpec::with_instagram("300000000000002", "Client B", "17841430000000002", "client.b", 2_000))
                .with_page(PageSpec::with_instagram("300000000000003", "Client C", "17841430000000003", "client.c", 3_000)),
        );
        t.control.set_dialog_user(&agency);
        assert_eq!(location(&t.connect().await), "/?connected=true");
        assert_eq!(listed(&t.status(&t.browser).await).len(), 3);

        let (status, body) = disconnect(&t, &t.browser, "17841430000000001").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["revoked"], false, "two other accounts of the agency use the grant");
        assert_eq!(t.control.count(Endpoint::Revoke), 0, "no revocation reached Meta");

        let report = run_collect(&t.app, JobKind::CollectInsights).await;
        assert_eq!(report.counts.collected, 2, "{report:?}");
        assert_eq!(report.counts.failed, 0, "{report:?}");
        for ig in ["17841430000000002", "17841430000000003"] {
            assert_eq!(account(&t, ig).await.token.status.as_str(), "active");
        }

        // The admin removes the second; the agency's own browser the last, which revokes.
        let r = browser()
            .post(t.api("/api/auth/disconnect"))
            .bearer_auth(ADMIN_KEY)
            .json(&json!({ "instagram_user_id": "17841430000000002" }))
            .send()
            .await
            .expect("disconnect");
        assert_eq!(r.json::<Value>().await.expect("json")["revoked"], false);
        assert_eq!(t.control.count(Endpoint::Revoke), 0);
        let (status, body) = disconnect(&t, &t.browser, "17841430000000003").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["revoked"], true, "the last account: the grant goes");
        assert_eq!(t.control.count(Endpoint::Revoke), 1);
    }
}

async fn expiry(t: &TestApp) -> String {
    let conn = t.app.store.conn().await.expect("connection");
    let mut rows = conn.query("SELECT expires_at FROM sessions", ()).await.expect("query");
    rows.next()
        .await
        .expect("row")
        .expect("one session")
        .get(0)
        .expect("text")
}
