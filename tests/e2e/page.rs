//! The influencer's page in real headless Chromium against the real local
//! server and the sandbox: connect through the dialog, read the dashboard,
//! refresh, disconnect; the denial message; charts that fail say so.

use serde_json::json;

use crate::harness::*;
use crate::webdriver::Browser;

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (375, 812);

/// Clicks Connect on the page and the given button (`allow` or `cancel`) on the sandbox dialog.
async fn connect_through_the_dialog(browser: &Browser, t: &TestApp, button: &str) {
    browser.goto(&t.url).await;
    browser.wait_for("document.body.dataset.view === 'connect'", "the connect view").await;
    browser.click("#connect").await;
    browser.find(&format!("#{button}")).await;
    assert!(browser.current_url().await.starts_with(&t.sandbox.base_url()), "Connect opens Facebook's dialog");
    browser.click(&format!("#{button}")).await;
}

#[tokio::test]
async fn connect_read_refresh_and_disconnect_in_a_real_browser() {
    let t = spawn_app().await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;

    // Before connecting: the button and what is collected, and why.
    browser.goto(&t.url).await;
    browser.wait_for("document.body.dataset.view === 'connect'", "the connect view").await;
    let what = browser.text("#connect-what").await;
    assert!(what.contains("reach") && what.contains("followers") && what.contains("never posts"), "{what}");
    assert_eq!(browser.find("#connect").await.attribute("href").await.as_deref(), Some("/api/auth/login"));
    browser.screenshot("connect-1280", DESKTOP.0).await;
    browser.set_viewport(PHONE.0, PHONE.1).await;
    browser.screenshot("connect-375", PHONE.0).await;
    browser.set_viewport(DESKTOP.0, DESKTOP.1).await;

    // Connect, Allow, and back on the page connected.
    connect_through_the_dialog(&browser, &t, "allow").await;
    browser.wait_for("document.body.dataset.view === 'dashboard'", "the dashboard").await;
    assert!(browser.text("#notice").await.contains("connected"));
    assert!(!browser.current_url().await.contains("connected=true"), "the callback's query is tidied away");
    assert_eq!(browser.text("#account-username").await, "@sandbox.creator");
    assert_eq!(browser.text("#account-followers").await, "12,345");
    assert!(browser.text("#account-page").await.contains("Page"));
    assert_eq!(browser.find("#health").await.attribute("data-health").await.as_deref(), Some("ok"));
    assert!(browser.text("#health-text").await.contains("reconnect by"), "the reconnect date is shown");
    browser.wait_for("[...document.querySelectorAll('.chart-body')].every(b => b.dataset.state !== 'loading')", "the charts").await;
    browser.screenshot("dashboard-1280", DESKTOP.0).await;
    browser.set_viewport(PHONE.0, PHONE.1).await;
    browser.screenshot("dashboard-375", PHONE.0).await;
    browser.set_viewport(DESKTOP.0, DESKTOP.1).await;

    // Disconnect asks first; keeping the account changes nothing.
    browser.click("#disconnect").await;
    browser.wait_for("document.getElementById('disconnect-dialog').open", "the confirmation").await;
    browser.click("#dialog-cancel").await;
    browser.wait_for("!document.getElementById('disconnect-dialog').open", "the dialog to close").await;
    assert!(t.app.store.account("17841400000000001").await.unwrap().is_some());

    browser.click("#disconnect").await;
    browser.wait_for("document.getElementById('disconnect-dialog').open", "the confirmation").await;
    browser.click("#dialog-confirm").await;
    browser.wait_for("document.body.dataset.view === 'connect'", "the connect view after disconnecting").await;
    assert!(browser.text("#notice").await.contains("disconnected"));
    assert!(t.app.store.account("17841400000000001").await.unwrap().is_none(), "the account is deleted");

    browser.quit().await;
    t.stop().await;
}

#[tokio::test]
async fn cancel_on_the_dialog_shows_the_denial_in_plain_words() {
    let t = spawn_app().await;
    let browser = Browser::start(PHONE.0, PHONE.1).await;
    connect_through_the_dialog(&browser, &t, "cancel").await;
    browser.wait_for("document.body.dataset.view === 'connect'", "the connect view").await;
    browser.wait_for("document.getElementById('notice').dataset.reason === 'access_denied'", "the denial").await;
    let notice = browser.text("#notice").await;
    assert!(notice.contains("Nothing was connected") && notice.contains("Allow"), "{notice}");
    browser.screenshot("denied-375", PHONE.0).await;
    assert_eq!(t.app.store.users_count().await.unwrap(), 0);
    browser.quit().await;
    t.stop().await;
}

#[tokio::test]
async fn every_reason_code_reads_as_plain_words() {
    let t = spawn_app().await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    for (reason, words) in [
        ("state_mismatch", "could not be verified"),
        ("no_pages", "Create a Page"),
        ("no_instagram_account", "Business or Creator"),
        ("missing_permissions", "permissions switched on"),
        ("graph_error", "try again"),
        ("something_new", "something_new"),
    ] {
        browser.goto(&format!("{}/?error={reason}", t.url)).await;
        browser.wait_for("document.body.dataset.view === 'connect'", "the connect view").await;
        let notice = browser.text("#notice").await;
        assert!(notice.contains(words), "{reason}: {notice}");
        let shown = browser.execute("return document.getElementById('notice').dataset.reason", json!([])).await;
        assert_eq!(shown, reason);
    }
    browser.quit().await;
    t.stop().await;
}
