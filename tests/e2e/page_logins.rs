//! The page's two ways to connect, in a real Chromium: both buttons with
//! who should pick which, Instagram Login through the sandbox's Instagram
//! dialog, its reason codes in plain words, and Facebook only where
//! Instagram Login is not configured.

use serde_json::json;

use crate::harness::*;
use crate::page::{assert_readable, screenshots, wait_for_view};
use crate::webdriver::Browser;

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (375, 812);
/// A creator with no Facebook Page in the sandbox's world.
const SOLO: &str = "17841400000000901";

async fn visible(browser: &Browser, id: &str) -> bool {
    browser
        .execute(
            "const e = document.getElementById(arguments[0]); return !!e && e.offsetParent !== null;",
            json!([id]),
        )
        .await
        .as_bool()
        .unwrap_or(false)
}

#[tokio::test]
async fn both_buttons_say_who_they_are_for_and_instagram_connects_a_creator_without_a_page() {
    let t = spawn_app().await;
    t.control.set_instagram_dialog_account(SOLO);
    let browser = Browser::start(PHONE.0, PHONE.1).await;
    browser.goto(&t.url).await;
    wait_for_view(&browser, "connect").await;
    browser
        .wait_for(
            "!document.getElementById('login-instagram').hidden",
            "the Instagram button",
        )
        .await;
    assert!(visible(&browser, "connect").await && visible(&browser, "connect-instagram").await);
    assert_eq!(browser.text("#connect").await, "Continue with Facebook");
    assert_eq!(browser.text("#connect-instagram").await, "Continue with Instagram");
    assert!(
        browser
            .text("#login-facebook-who")
            .await
            .contains("Facebook Page you manage")
    );
    assert!(
        browser
            .text("#login-instagram-who")
            .await
            .contains("without a Facebook Page")
    );
    assert_readable(&browser, "the two logins").await;
    screenshots(&browser, "connect-two-logins").await;

    browser.click("#connect-instagram").await;
    browser.find("#allow").await;
    assert!(
        browser
            .current_url()
            .await
            .starts_with(&format!("{}/ig/www/oauth/authorize", t.sandbox.base_url())),
        "Continue with Instagram opens Instagram's dialog"
    );
    browser.click("#allow").await;
    wait_for_view(&browser, "dashboard").await;
    assert!(browser.text("#notice").await.contains("connected"));
    assert!(
        browser.text("#health").await.contains("renews itself"),
        "{}",
        browser.text("#health").await
    );
    assert!(
        !browser.current_url().await.contains("#_"),
        "no #_ left in the address bar"
    );
    assert_eq!(account(&t, SOLO).await.login, urlinsta_core::store::Login::Instagram);
    browser.quit().await;
    t.stop().await;
}

#[tokio::test]
async fn a_dead_instagram_login_reads_as_instagrams_on_the_health_card() {
    let t = spawn_app().await;
    t.control.set_instagram_dialog_account(SOLO);
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    browser.goto(&t.url).await;
    wait_for_view(&browser, "connect").await;
    browser
        .wait_for(
            "!document.getElementById('login-instagram').hidden",
            "the Instagram button",
        )
        .await;
    browser.click("#connect-instagram").await;
    browser.click("#allow").await;
    wait_for_view(&browser, "dashboard").await;

    // Instagram says the password changed; the daily check finds it.
    t.control.invalidate_instagram_tokens(SOLO, 460);
    let yesterday = ts(chrono::Utc::now() - chrono::Duration::hours(25));
    t.app
        .store
        .conn()
        .await
        .unwrap()
        .execute(&format!("UPDATE tokens SET last_checked_at = '{yesterday}'"), ())
        .await
        .unwrap();
    run_refresh(&t).await;
    browser.goto(&t.url).await;
    browser
        .wait_for(
            "document.getElementById('health').dataset.health === 'bad'",
            "the broken connection",
        )
        .await;
    let text = browser.text("#health").await;
    assert!(text.contains("Instagram password was changed"), "{text}");
    assert!(!text.contains("Facebook"), "nothing of Facebook's: {text}");
    assert_eq!(
        browser.find("#reconnect").await.attribute("href").await.as_deref(),
        Some("/api/auth/login?provider=instagram")
    );
    assert_readable(&browser, "a dead Instagram login").await;
    browser.quit().await;
    t.stop().await;
}

#[tokio::test]
async fn instagram_logins_reason_codes_read_as_plain_words() {
    let t = spawn_app().await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    for (reason, words) in [
        ("personal_account", "Business or Creator"),
        ("instagram_unavailable", "Continue with Facebook"),
        ("access_denied", "Allow"),
        ("missing_permissions", "permissions switched on"),
        ("state_mismatch", "could not be verified"),
        ("graph_error", "try again"),
    ] {
        browser.goto(&format!("{}/?error={reason}", t.url)).await;
        wait_for_view(&browser, "connect").await;
        let notice = browser.text("#notice").await;
        assert!(notice.contains(words), "{reason}: {notice}");
        assert!(
            !notice.contains(reason),
            "{reason} is explained, not shown raw: {notice}"
        );
    }
    assert_readable(&browser, "a personal account's refusal").await;
    browser.quit().await;
    t.stop().await;
}

/// Whatever the callback can end on, the page says in words, never as the raw code.
#[tokio::test]
async fn every_code_the_callback_gives_is_explained() {
    let t = spawn_app().await;
    let browser = Browser::start(PHONE.0, PHONE.1).await;
    for reason in urlinsta_core::oauth::ConnectError::REASON_CODES {
        browser.goto(&format!("{}/?error={reason}", t.url)).await;
        wait_for_view(&browser, "connect").await;
        let notice = browser.text("#notice").await;
        assert!(notice.len() > 40 && !notice.contains(reason), "{reason}: {notice}");
    }
    browser.quit().await;
    t.stop().await;
}

#[tokio::test]
async fn without_instagram_login_the_page_offers_facebook_only() {
    // A Meta app without an Instagram app: the Instagram path is off.
    let t = spawn_app_with(Options {
        vars: vec![
            ("FB_APP_ID", "sandbox-app".to_string()),
            ("FB_APP_SECRET", "sandbox-secret".to_string()),
        ],
        ..Options::default()
    })
    .await;
    assert!(t.app.config.instagram.is_none());
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    browser.goto(&t.url).await;
    wait_for_view(&browser, "connect").await;
    assert!(visible(&browser, "connect").await);
    assert!(!visible(&browser, "connect-instagram").await);
    let r = browser_get(&t, "/api/auth/login?provider=instagram").await;
    assert_eq!(r, 404);
    browser.quit().await;
    t.stop().await;
}

async fn browser_get(t: &TestApp, path: &str) -> u16 {
    browser().get(t.api(path)).send().await.unwrap().status().as_u16()
}
