//! The influencer's page in real headless Chromium against the real local
//! server and the sandbox: connect through the dialog, read the dashboard,
//! refresh, disconnect; the denial message; charts that fail say so.

use serde_json::json;
use urlinsta_core::store::{StatusChange, TokenStatus};
use urlinsta_sandbox::{PageSpec, UserSpec};

use crate::harness::*;
use crate::webdriver::Browser;

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (375, 812);

/// Clicks Connect on the page and the given button (`allow` or `cancel`) on the sandbox dialog.
async fn connect_through_the_dialog(browser: &Browser, t: &TestApp, button: &str) {
    browser.goto(&t.url).await;
    browser
        .wait_for("document.body.dataset.view === 'connect'", "the connect view")
        .await;
    browser.click("#connect").await;
    browser.find(&format!("#{button}")).await;
    assert!(
        browser.current_url().await.starts_with(&t.sandbox.base_url()),
        "Connect opens Facebook's dialog"
    );
    browser.click(&format!("#{button}")).await;
}

#[tokio::test]
async fn connect_read_refresh_and_disconnect_in_a_real_browser() {
    let t = spawn_app().await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;

    // Before connecting: the button and what is collected, and why.
    browser.goto(&t.url).await;
    browser
        .wait_for("document.body.dataset.view === 'connect'", "the connect view")
        .await;
    let what = browser.text("#connect-what").await;
    assert!(
        what.contains("reach") && what.contains("followers") && what.contains("never posts"),
        "{what}"
    );
    assert_eq!(
        browser.find("#connect").await.attribute("href").await.as_deref(),
        Some("/api/auth/login")
    );
    browser.screenshot("connect-1280", DESKTOP.0).await;
    browser.set_viewport(PHONE.0, PHONE.1).await;
    browser.screenshot("connect-375", PHONE.0).await;
    browser.set_viewport(DESKTOP.0, DESKTOP.1).await;

    // Connect, Allow, and back on the page connected.
    connect_through_the_dialog(&browser, &t, "allow").await;
    browser
        .wait_for("document.body.dataset.view === 'dashboard'", "the dashboard")
        .await;
    assert!(browser.text("#notice").await.contains("connected"));
    assert!(
        !browser.current_url().await.contains("connected=true"),
        "the callback's query is tidied away"
    );
    assert_eq!(browser.text("#account-username").await, "@sandbox.creator");
    assert_eq!(browser.text("#account-followers").await, "12,345");
    assert!(browser.text("#account-page").await.contains("Page"));
    assert_eq!(
        browser.find("#health").await.attribute("data-health").await.as_deref(),
        Some("ok")
    );
    assert!(
        browser.text("#health-text").await.contains("reconnect by"),
        "the reconnect date is shown"
    );
    browser
        .wait_for(
            "[...document.querySelectorAll('.chart-body')].every(b => b.dataset.state !== 'loading')",
            "the charts",
        )
        .await;
    browser.screenshot("dashboard-1280", DESKTOP.0).await;
    browser.set_viewport(PHONE.0, PHONE.1).await;
    browser.screenshot("dashboard-375", PHONE.0).await;
    browser.set_viewport(DESKTOP.0, DESKTOP.1).await;

    // Disconnect asks first; keeping the account changes nothing.
    browser.click("#disconnect").await;
    browser
        .wait_for("document.getElementById('disconnect-dialog').open", "the confirmation")
        .await;
    browser.click("#dialog-cancel").await;
    browser
        .wait_for(
            "!document.getElementById('disconnect-dialog').open",
            "the dialog to close",
        )
        .await;
    assert!(t.app.store.account("17841400000000001").await.unwrap().is_some());

    browser.click("#disconnect").await;
    browser
        .wait_for("document.getElementById('disconnect-dialog').open", "the confirmation")
        .await;
    browser.click("#dialog-confirm").await;
    browser
        .wait_for(
            "document.body.dataset.view === 'connect'",
            "the connect view after disconnecting",
        )
        .await;
    assert!(browser.text("#notice").await.contains("disconnected"));
    assert!(
        t.app.store.account("17841400000000001").await.unwrap().is_none(),
        "the account is deleted"
    );

    browser.quit().await;
    t.stop().await;
}

#[tokio::test]
async fn cancel_on_the_dialog_shows_the_denial_in_plain_words() {
    let t = spawn_app().await;
    let browser = Browser::start(PHONE.0, PHONE.1).await;
    connect_through_the_dialog(&browser, &t, "cancel").await;
    browser
        .wait_for("document.body.dataset.view === 'connect'", "the connect view")
        .await;
    browser
        .wait_for(
            "document.getElementById('notice').dataset.reason === 'access_denied'",
            "the denial",
        )
        .await;
    let notice = browser.text("#notice").await;
    assert!(
        notice.contains("Nothing was connected") && notice.contains("Allow"),
        "{notice}"
    );
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
        browser
            .wait_for("document.body.dataset.view === 'connect'", "the connect view")
            .await;
        let notice = browser.text("#notice").await;
        assert!(notice.contains(words), "{reason}: {notice}");
        let shown = browser
            .execute("return document.getElementById('notice').dataset.reason", json!([]))
            .await;
        assert_eq!(shown, reason);
    }
    browser.quit().await;
    t.stop().await;
}

const SANDBOX_IG: &str = "17841400000000001";

async fn set_health(t: &TestApp, change: StatusChange) {
    let account = t.app.store.account(SANDBOX_IG).await.unwrap().expect("connected");
    t.app.store.set_status(account.id, &change).await.unwrap();
}

#[tokio::test]
async fn a_connection_near_its_end_or_broken_says_so_and_reconnect_fixes_it() {
    let t = spawn_app().await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    connect_through_the_dialog(&browser, &t, "allow").await;
    browser
        .wait_for("document.body.dataset.view === 'dashboard'", "the dashboard")
        .await;
    assert!(
        browser.find("#reconnect").await.attribute("hidden").await.is_some(),
        "no Reconnect while healthy"
    );

    // Facebook wants a new login within five days: the date and the button.
    let by = chrono::Utc::now() + chrono::Duration::days(5);
    set_health(
        &t,
        StatusChange {
            status: TokenStatus::Active,
            code: None,
            subcode: None,
            reason: None,
            reconnect_by: Some(by.to_rfc3339()),
        },
    )
    .await;
    browser.goto(&t.url).await;
    browser
        .wait_for(
            "document.getElementById('health').dataset.health === 'warn'",
            "the reconnect warning",
        )
        .await;
    let text = browser.text("#health").await;
    assert!(
        text.contains("Reconnect within") && text.contains(&by.format("%B").to_string()),
        "{text}"
    );

    // The password changed: collection stopped, in plain words.
    set_health(
        &t,
        StatusChange {
            status: TokenStatus::ReauthRequired,
            code: Some(190),
            subcode: Some(460),
            reason: Some("password changed".into()),
            reconnect_by: None,
        },
    )
    .await;
    browser.goto(&t.url).await;
    browser
        .wait_for(
            "document.getElementById('health').dataset.health === 'bad'",
            "the broken connection",
        )
        .await;
    let text = browser.text("#health").await;
    assert!(
        text.contains("Reconnect needed") && text.contains("password changed"),
        "{text}"
    );
    browser.set_viewport(PHONE.0, PHONE.1).await;
    browser.screenshot("reconnect-needed-375", PHONE.0).await;
    browser.set_viewport(DESKTOP.0, DESKTOP.1).await;

    // Reconnect goes through Facebook again and comes back healthy.
    browser.click("#reconnect").await;
    browser.click("#allow").await;
    browser
        .wait_for(
            "document.getElementById('health').dataset.health === 'ok'",
            "a healthy connection",
        )
        .await;
    let account = t.app.store.account(SANDBOX_IG).await.unwrap().unwrap();
    assert_eq!(account.token.status, TokenStatus::Active);
    browser.quit().await;
    t.stop().await;
}

#[tokio::test]
async fn several_accounts_get_a_switcher() {
    let t = spawn_app().await;
    let user = t.control.add_user(
        UserSpec::named("Two accounts")
            .with_page(PageSpec::with_instagram(
                "210000000000001",
                "Food Page",
                "17841411111111111",
                "food.diary",
                2_500,
            ))
            .with_page(PageSpec::with_instagram(
                "210000000000002",
                "Travel Page",
                "17841422222222222",
                "travel.notes",
                48_000,
            )),
    );
    t.control.set_dialog_user(&user);
    let browser = Browser::start(PHONE.0, PHONE.1).await;
    connect_through_the_dialog(&browser, &t, "allow").await;
    browser
        .wait_for("document.body.dataset.view === 'dashboard'", "the dashboard")
        .await;
    assert_eq!(browser.text("#account-username").await, "@food.diary");
    browser
        .wait_for("!document.getElementById('switcher').hidden", "the account switcher")
        .await;
    let label = browser
        .execute(
            "return document.querySelector('label[for=account-switcher]').textContent",
            json!([]),
        )
        .await;
    assert_eq!(label, "Account", "the switcher is labelled");

    browser
        .click("#account-switcher option[value='17841422222222222']")
        .await;
    browser
        .wait_for(
            "document.getElementById('account-username').textContent === '@travel.notes'",
            "the second account",
        )
        .await;
    assert_eq!(browser.text("#account-followers").await, "48,000");
    browser.screenshot("switcher-375", PHONE.0).await;
    // The choice survives a reload.
    browser.goto(&t.url).await;
    browser
        .wait_for(
            "document.getElementById('account-username').textContent === '@travel.notes'",
            "the chosen account",
        )
        .await;
    browser.quit().await;
    t.stop().await;
}

#[tokio::test]
async fn charts_say_so_when_the_api_cannot_be_reached() {
    let t = spawn_app().await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    connect_through_the_dialog(&browser, &t, "allow").await;
    browser
        .wait_for("document.body.dataset.view === 'dashboard'", "the dashboard")
        .await;
    browser.block_urls(&["*/api/insights/*"]).await;
    browser.click("#range-90").await;
    browser.wait_for(
        "[...document.querySelectorAll('.chart-body')].every(b => b.dataset.state === 'error' && b.textContent.includes('could not be reached'))",
        "a network error in every chart",
    )
    .await;
    let reach = browser.text("#chart-reach .chart-body").await;
    assert!(
        reach.contains("Could not load reach") && reach.contains("could not be reached"),
        "{reach}"
    );
    assert!(
        browser
            .find("#chart-reach .chart-body button")
            .await
            .text()
            .await
            .contains("Try again")
    );
    browser.click("#audience-country button").await;
    browser
        .wait_for(
            "document.querySelector('#audience-country .audience-body').textContent.includes('could not be reached')",
            "an error instead of audience bars",
        )
        .await;
    browser.screenshot("api-unreachable-1280", DESKTOP.0).await;
    browser.quit().await;
    t.stop().await;
}
