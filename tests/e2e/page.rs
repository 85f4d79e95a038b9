//! The influencer's page in real headless Chromium against the real local
//! server and the sandbox: connect through the dialog, see the collected
//! insights and audience, refresh, fix and end the connection; and what the
//! page says when things go wrong. Screenshots land in `target/screenshots/`.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use urlinsta_core::domain::{MetricName, Timestamp};
use urlinsta_core::jobs::JobKind;
use urlinsta_core::store::{
    CollectKind, CollectionRecord, LogEntry, LogJob, LogStatus, MetricRow, StatusChange, TokenStatus,
};
use urlinsta_sandbox::{PageSpec, UserSpec};

use crate::harness::*;
use crate::webdriver::Browser;

pub(crate) const DESKTOP: (u32, u32) = (1280, 900);
pub(crate) const PHONE: (u32, u32) = (375, 812);
const SANDBOX_IG: &str = "17841400000000001";
const CHARTS: [&str; 4] = ["reach", "views", "accounts_engaged", "followers_count"];
const BREAKDOWNS: [&str; 4] = ["country", "city", "age", "gender"];

/// Waits until the page shows `view`: loading, failed, connect or dashboard.
pub(crate) async fn wait_for_view(browser: &Browser, view: &str) {
    browser
        .wait_for(
            &format!("document.body.dataset.view === '{view}'"),
            &format!("the {view} view"),
        )
        .await;
}

/// Opens the page, clicks Connect, and clicks `button` (`allow` or `cancel`) on the sandbox dialog.
async fn connect_through_the_dialog(browser: &Browser, t: &TestApp, button: &str) {
    browser.goto(&t.url).await;
    wait_for_view(browser, "connect").await;
    browser.click("#connect").await;
    browser.find(&format!("#{button}")).await;
    assert!(
        browser.current_url().await.starts_with(&t.sandbox.base_url()),
        "Connect opens Facebook's dialog"
    );
    browser.click(&format!("#{button}")).await;
}

pub(crate) async fn connect(browser: &Browser, t: &TestApp) {
    connect_through_the_dialog(browser, t, "allow").await;
    wait_for_view(browser, "dashboard").await;
}

/// Waits until no chart and no audience card is loading any more.
pub(crate) async fn wait_for_charts(browser: &Browser) {
    browser
        .wait_for(
            "[...document.querySelectorAll('.chart-body, .audience-body')].every(b => b.dataset.state !== 'loading')",
            "the charts and the audience to load",
        )
        .await;
}

/// Switches the charts to 90 days and waits for them.
pub(crate) async fn show_90_days(browser: &Browser) {
    browser.click("label[for=range-90]").await;
    browser
        .wait_for(
            "document.getElementById('csv-download').textContent.includes('90 days')",
            "the 90-day range",
        )
        .await;
    wait_for_charts(browser).await;
}

/// The number of data points each chart draws, by metric.
async fn points(browser: &Browser) -> Value {
    browser
        .execute(
            "const out = {};
             for (const card of document.querySelectorAll('.chart-card')) {
               out[card.dataset.metric] = card.querySelectorAll('svg circle.point').length;
             }
             return out;",
            json!([]),
        )
        .await
}

/// Saves the whole page at 1280 px and at 375 px wide.
pub(crate) async fn screenshots(browser: &Browser, name: &str) {
    browser.screenshot(&format!("{name}-1280"), DESKTOP.0).await;
    browser.set_viewport(PHONE.0, PHONE.1).await;
    // The charts redraw for the narrow card before the picture is taken.
    browser
        .wait_for(
            "[...document.querySelectorAll('.chart-body svg')].every(s => Math.abs(s.getAttribute('width') - Math.max(240, s.parentElement.clientWidth)) <= 1)",
            "the charts to fit a phone",
        )
        .await;
    browser.screenshot(&format!("{name}-375"), PHONE.0).await;
    browser.set_viewport(DESKTOP.0, DESKTOP.1).await;
}

/// Every piece of visible text meets WCAG AA contrast against what is behind
/// it: 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold). Text over a
/// gradient cannot be measured here and is counted apart.
pub(crate) async fn assert_readable(browser: &Browser, what: &str) {
    let report = browser
        .execute(
            r#"
            const parse = (c) => {
              const m = c && c.match(/rgba?\(([^)]+)\)/);
              if (!m) return null;
              const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
              return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
            };
            const over = (top, under) => ({
              r: top.r * top.a + under.r * (1 - top.a), g: top.g * top.a + under.g * (1 - top.a),
              b: top.b * top.a + under.b * (1 - top.a), a: 1 });
            const lum = ({ r, g, b }) => {
              const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
              return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
            };
            const backdrop = (el) => {
              const layers = [];
              for (let e = el; e; e = e.parentElement) {
                const cs = getComputedStyle(e);
                if (cs.backgroundImage !== 'none') return null;
                const c = parse(cs.backgroundColor);
                if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
              }
              return layers.reverse().reduce((under, top) => over(top, under), { r: 255, g: 255, b: 255, a: 1 });
            };
            const failures = [];
            let checked = 0, unmeasured = 0;
            for (const el of document.querySelectorAll('body *')) {
              const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
              if (!own || !el.getClientRects().length || el.closest('[hidden], .visually-hidden, option, title, script')) continue;
              const cs = getComputedStyle(el);
              if (cs.visibility === 'hidden') continue;
              const fg = parse(el instanceof SVGElement ? cs.fill : cs.color);
              const bg = backdrop(el);
              if (!fg || !bg) { unmeasured += 1; continue; }
              const ratio = (Math.max(lum(fg), lum(bg)) + 0.05) / (Math.min(lum(fg), lum(bg)) + 0.05);
              const size = parseFloat(cs.fontSize);
              const large = size >= 24 || (size >= 18.66 && Number(cs.fontWeight) >= 700);
              checked += 1;
              if (ratio < (large ? 3 : 4.5)) failures.push(`${ratio.toFixed(2)}: "${el.textContent.trim().slice(0, 40)}" (${cs.color} on ${JSON.stringify(bg)})`);
            }
            return { checked, unmeasured, failures };
            "#,
            json!([]),
        )
        .await;
    assert!(
        report["checked"].as_u64().unwrap_or(0) > 5,
        "{what}: measured too little text: {report}"
    );
    assert_eq!(report["failures"], json!([]), "{what}: text below WCAG AA contrast");
}

#[tokio::test]
async fn connect_collect_refresh_and_disconnect_in_a_real_browser() {
    let t = spawn_app().await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;

    // Before connecting: the button, and what is collected and why.
    browser.goto(&t.url).await;
    wait_for_view(&browser, "connect").await;
    let what = browser.text("#connect-what").await;
    assert!(
        what.contains("reach") && what.contains("followers") && what.contains("never posts"),
        "{what}"
    );
    assert_eq!(
        browser.find("#connect").await.attribute("href").await.as_deref(),
        Some("/api/auth/login")
    );
    assert_readable(&browser, "the connect view").await;
    screenshots(&browser, "connect").await;

    // Connect, Allow, and back on the page, connected.
    connect(&browser, &t).await;
    assert!(browser.text("#notice").await.contains("connected"));
    assert!(
        !browser.current_url().await.contains("connected=true"),
        "the callback's query is tidied away"
    );
    assert_eq!(browser.text("#account-username").await, "@sandbox.creator");
    assert_eq!(browser.text("#account-followers").await, "12,345");
    assert_eq!(browser.text("#account-page").await, "Facebook Page: Sandbox Studio");
    assert_eq!(
        browser.find("#health").await.attribute("data-health").await.as_deref(),
        Some("ok")
    );
    assert!(
        browser.text("#health-text").await.contains("reconnect by"),
        "the reconnect date is shown"
    );

    // Nothing collected yet: every chart says so, none is blank.
    wait_for_charts(&browser).await;
    for metric in CHARTS {
        let body = browser.find(&format!("#chart-{metric} .chart-body")).await;
        assert_eq!(body.attribute("data-state").await.as_deref(), Some("empty"), "{metric}");
        assert!(body.text().await.contains("No data yet"), "{metric}");
    }
    assert_eq!(browser.text("#last-collected").await, "not yet");

    // The scheduled collection runs; the page shows what it stored.
    let insights = run_collect(&t.app, JobKind::CollectInsights).await;
    assert_eq!(insights.counts.collected, 1, "{insights:?}");
    let audience = run_collect(&t.app, JobKind::CollectAudience).await;
    assert_eq!(audience.counts.collected, 1, "{audience:?}");
    browser.goto(&t.url).await;
    wait_for_view(&browser, "dashboard").await;
    wait_for_charts(&browser).await;
    let drawn = points(&browser).await;
    for metric in CHARTS {
        assert!(
            drawn[metric].as_u64().unwrap_or(0) >= 1,
            "{metric} shows data points: {drawn}"
        );
        let figure = browser.text(&format!("#chart-{metric}-figure")).await;
        assert!(
            figure.chars().any(|c| c.is_ascii_digit()),
            "{metric} shows its latest value: {figure}"
        );
    }
    assert_eq!(browser.text("#chart-followers_count-figure").await, "12,345");
    for breakdown in BREAKDOWNS {
        let bars = browser
            .execute(
                &format!("return document.querySelectorAll('#audience-{breakdown} .bar-row').length"),
                json!([]),
            )
            .await;
        assert!(bars.as_u64().unwrap_or(0) >= 1, "{breakdown} has bars");
    }
    let last = browser.text("#last-collected").await;
    assert!(
        last.contains("just now") || last.contains("minute"),
        "last collection time: {last}"
    );

    // Refresh now, with Instagram slow to answer: progress while it runs,
    // then the result, and the charts again.
    t.control.set_latency(std::time::Duration::from_millis(1500));
    browser.click("#refresh").await;
    let busy = browser
        .execute(
            "const b = document.getElementById('refresh');
             return [b.getAttribute('aria-busy'), b.textContent.trim(), document.getElementById('refresh-progress').hidden];",
            json!([]),
        )
        .await;
    assert_eq!(busy, json!(["true", "Collecting…", false]), "progress while refreshing");
    browser
        .wait_for(
            "document.getElementById('refresh-result').dataset.kind === 'success'",
            "the refresh result",
        )
        .await;
    t.control.set_latency(std::time::Duration::ZERO);
    let result = browser.text("#refresh-result").await;
    assert!(result.starts_with("Done"), "{result}");
    assert!(
        browser.find("#refresh").await.attribute("aria-busy").await.is_none(),
        "the button is usable again"
    );
    wait_for_charts(&browser).await;
    assert!(points(&browser).await["reach"].as_u64().unwrap_or(0) >= 1);

    // The CSV link downloads this account's data with this session.
    let csv = browser
        .execute(
            "return fetch(document.getElementById('csv-download').href).then(r => r.text())",
            json!([]),
        )
        .await;
    let csv = csv.as_str().unwrap_or_default();
    assert!(
        csv.starts_with("metric_name,metric_value,period,end_time,collected_at,reconstructed\n"),
        "{csv}"
    );
    assert!(csv.contains("\nreach,"), "{csv}");

    assert_readable(&browser, "the dashboard").await;
    screenshots(&browser, "dashboard-first-day").await;

    // Every control says what it is to a screen reader.
    let unlabelled = browser
        .execute(
            "return [...document.querySelectorAll('a, button, input, select, svg[tabindex]')]
               .filter(e => e.getClientRects().length && !e.closest('[hidden]'))
               .filter(e => !((e.labels && e.labels.length) || e.getAttribute('aria-label') || e.textContent.trim()))
               .map(e => e.outerHTML.slice(0, 80));",
            json!([]),
        )
        .await;
    assert_eq!(unlabelled, json!([]), "controls without a label");

    // Disconnect asks first, with the safe choice focused; Escape keeps the account.
    browser.click("#disconnect").await;
    browser
        .wait_for("document.getElementById('disconnect-dialog').open", "the confirmation")
        .await;
    assert!(browser.text("#dialog-title").await.contains("@sandbox.creator"));
    let focused = browser.execute("return document.activeElement.id", json!([])).await;
    assert_eq!(focused, "dialog-cancel", "Keep connected has the focus");
    browser.find("#dialog-cancel").await.send_keys("\u{E00C}").await;
    browser
        .wait_for(
            "!document.getElementById('disconnect-dialog').open",
            "Escape to close the dialog",
        )
        .await;
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
    assert!(t.app.store.account(&instagram_id(SANDBOX_IG)).await.unwrap().is_some());

    browser.click("#disconnect").await;
    browser
        .wait_for("document.getElementById('disconnect-dialog').open", "the confirmation")
        .await;
    browser.click("#dialog-confirm").await;
    wait_for_view(&browser, "connect").await;
    assert!(browser.text("#notice").await.contains("disconnected"));
    assert!(
        t.app.store.account(&instagram_id(SANDBOX_IG)).await.unwrap().is_none(),
        "the account is deleted"
    );

    browser.quit().await;
    t.stop().await;
}

/// The stored history's daily value of `metric`, `ago` days before today: a weekly wave.
pub(crate) fn seeded(metric: &str, ago: i64) -> i64 {
    let (base, spread) = match metric {
        "reach" => (900, 400),
        "views" => (2600, 900),
        _ => (110, 60),
    };
    base + (ago * 37 % spread) + if ago % 7 < 2 { spread / 2 } else { 0 }
}

/// Stores `days` days of history through the collector's own write, as if
/// the account had been collected every day: Meta's daily values end at
/// 08:00 UTC the next day, the follower count is an hourly snapshot.
pub(crate) async fn store_history(t: &TestApp, days: i64) {
    let account = t
        .app
        .store
        .account(&instagram_id(SANDBOX_IG))
        .await
        .unwrap()
        .expect("connected");
    let today = Utc::now().date_naive();
    let mut insights = Vec::new();
    for ago in 1..=days {
        let day = today - Duration::days(ago);
        for metric in ["reach", "views", "accounts_engaged"] {
            let end = (day + Duration::days(1)).format("%Y-%m-%dT08:00:00Z").to_string();
            insights.push(MetricRow {
                metric_name: MetricName::parse(metric).expect("a metric"),
                metric_value: Some(seeded(metric, ago)),
                period: "day".into(),
                end_time: Timestamp::parse(&end).expect("a time"),
            });
        }
        insights.push(MetricRow {
            metric_name: MetricName::parse("followers_count").expect("a metric"),
            metric_value: Some(12_345 - ago * 9),
            period: "lifetime".into(),
            end_time: Timestamp::parse(&day.format("%Y-%m-%dT23:00:00Z").to_string()).expect("a time"),
        });
    }
    let started = Timestamp::from(Utc::now());
    let finish = CollectionRecord {
        account_id: account.id,
        kind: CollectKind::Insights,
        complete: false,
        insights,
        followers_count: None,
        snapshot_date: today,
        audience: Vec::new(),
        reconstructed: Vec::new(),
        rollup: Vec::new(),
        backfill: None,
        rejected_metrics: None,
        error: None,
        parked: None,
        media: None,
        at: Utc::now(),
        log: LogEntry {
            account_id: Some(account.id),
            run_id: "history",
            job_type: LogJob::Collect(CollectKind::Insights),
            status: LogStatus::Success,
            error_code: None,
            error_message: None,
            details: None,
            started_at: started,
        },
    };
    t.app.store.finish_collection(&finish).await.expect("history stored");
}

#[tokio::test]
async fn ninety_days_of_history_read_by_mouse_and_keyboard() {
    let t = spawn_app().await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    connect(&browser, &t).await;
    store_history(&t, 89).await;
    run_job(&t.app, JobKind::CollectInsights).await;
    run_job(&t.app, JobKind::CollectAudience).await;
    browser.goto(&t.url).await;
    wait_for_view(&browser, "dashboard").await;
    wait_for_charts(&browser).await;

    // 30 days, then 90: more points, and the CSV link follows the range.
    let month = points(&browser).await;
    for metric in CHARTS {
        let n = month[metric].as_u64().unwrap_or(0);
        assert!((29..=31).contains(&n), "{metric}: {n} points in 30 days");
    }
    show_90_days(&browser).await;
    let quarter = points(&browser).await;
    for metric in CHARTS {
        let n = quarter[metric].as_u64().unwrap_or(0);
        assert!((88..=91).contains(&n), "{metric}: {n} points in 90 days");
    }
    let href = browser
        .find("#csv-download")
        .await
        .attribute("href")
        .await
        .unwrap_or_default();
    let from = (Utc::now().date_naive() - Duration::days(89)).to_string();
    assert!(
        href.contains(&format!("from={from}")) && href.contains("format=csv"),
        "{href}"
    );

    // Keyboard: Tab reaches the chart; the arrow keys read day by day.
    let tabbable = browser
        .execute(
            "return document.querySelector('#chart-accounts_engaged svg').getAttribute('tabindex')",
            json!([]),
        )
        .await;
    assert_eq!(tabbable, "0", "the chart is in the Tab order");
    let chart = browser.find("#chart-accounts_engaged svg").await;
    chart.send_keys("\u{E011}").await; // Home: the first day
    chart.send_keys("\u{E014}").await; // Right arrow: the second day
    let read = browser
        .execute(
            "const card = document.getElementById('chart-accounts_engaged');
             const all = [...card.querySelectorAll('circle.point')];
             const active = card.querySelector('circle.point.active');
             const tip = card.querySelector('.tooltip');
             return { index: all.indexOf(active), day: active && active.dataset.day,
                      tip: tip.hidden ? '' : tip.textContent, live: card.querySelector('[aria-live]').textContent };",
            json!([]),
        )
        .await;
    assert_eq!(read["index"], 1, "{read}");
    // The value read out is the one stored for that very day.
    let day = chrono::NaiveDate::parse_from_str(read["day"].as_str().unwrap_or_default(), "%Y-%m-%d").expect("day");
    let expected = seeded("accounts_engaged", (Utc::now().date_naive() - day).num_days()).to_string();
    let tip = read["tip"].as_str().unwrap_or_default();
    assert!(tip.ends_with(&expected), "the tooltip shows {expected}: {read}");
    assert!(
        read["live"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!(": {expected} ")),
        "screen readers hear {expected}: {read}"
    );

    // Mouse: pointing at the chart shows the value under the pointer.
    browser.find("#chart-views rect.hit").await.hover(0).await;
    let tip = browser.text("#chart-views .tooltip").await;
    assert!(tip.chars().any(|c| c.is_ascii_digit()), "hovering shows a value: {tip}");

    assert_readable(&browser, "the charts with their tooltips").await;
    screenshots(&browser, "dashboard-90-days").await;
    browser.quit().await;
    t.stop().await;
}

#[tokio::test]
async fn cancel_on_the_dialog_shows_the_denial_in_plain_words() {
    let t = spawn_app().await;
    let browser = Browser::start(PHONE.0, PHONE.1).await;
    connect_through_the_dialog(&browser, &t, "cancel").await;
    wait_for_view(&browser, "connect").await;
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
    assert_readable(&browser, "the denial").await;
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
        ("server_error", "Nothing was saved"),
        ("something_new", "something_new"),
    ] {
        browser.goto(&format!("{}/?error={reason}", t.url)).await;
        wait_for_view(&browser, "connect").await;
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

async fn set_health(t: &TestApp, change: StatusChange) {
    let account = t
        .app
        .store
        .account(&instagram_id(SANDBOX_IG))
        .await
        .unwrap()
        .expect("connected");
    t.app.store.set_status(account.id, &change).await.unwrap();
}

#[tokio::test]
async fn a_connection_near_its_end_or_broken_says_so_and_reconnect_fixes_it() {
    let t = spawn_app().await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    connect(&browser, &t).await;
    assert!(
        browser.find("#reconnect").await.attribute("hidden").await.is_some(),
        "no Reconnect while healthy"
    );

    // Facebook wants a new login within five days: the date and the button.
    let by = Utc::now() + Duration::days(5);
    let soon = StatusChange {
        status: TokenStatus::Active,
        code: None,
        subcode: None,
        reason: None,
        reconnect_by: Some(by.into()),
    };
    set_health(&t, soon).await;
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
    assert!(
        browser.find("#reconnect").await.attribute("hidden").await.is_none(),
        "Reconnect is offered"
    );
    assert_readable(&browser, "the reconnect warning").await;

    // The password changed: collection stopped, said in plain words.
    let broken = StatusChange {
        status: TokenStatus::ReauthRequired,
        code: Some(190),
        subcode: Some(460),
        reason: Some("password changed".into()),
        reconnect_by: None,
    };
    set_health(&t, broken).await;
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
    assert_readable(&browser, "the broken connection").await;
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
    let account = t.app.store.account(&instagram_id(SANDBOX_IG)).await.unwrap().unwrap();
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
    connect(&browser, &t).await;
    assert!(
        browser
            .text("#notice")
            .await
            .contains("2 Instagram accounts are connected")
    );
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
async fn the_page_says_so_when_the_api_is_slow_or_cannot_be_reached() {
    let t = spawn_app().await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    connect(&browser, &t).await;

    // A slow network: each chart shows that it is loading, then its content.
    browser.set_latency(1500).await;
    browser.goto(&t.url).await;
    wait_for_view(&browser, "dashboard").await;
    let loading = browser
        .execute(
            "return [...document.querySelectorAll('.chart-body')].map(b => [b.dataset.state, b.textContent.trim()]);",
            json!([]),
        )
        .await;
    assert_eq!(loading[0], json!(["loading", "Loading reach…"]), "{loading}");
    assert!(
        loading.as_array().unwrap().iter().all(|c| c[0] == "loading"),
        "{loading}"
    );
    wait_for_charts(&browser).await;
    browser.set_latency(0).await;

    // No status: a message and Try again, not the Connect button.
    browser.block_urls(&["*/api/auth/status*"]).await;
    browser.goto(&t.url).await;
    wait_for_view(&browser, "failed").await;
    assert!(browser.text("#failed-text").await.contains("could not be reached"));
    browser.block_urls(&[]).await;
    browser.click("#failed-retry").await;
    wait_for_view(&browser, "dashboard").await;

    // No insights: every chart and audience card says so, with Try again.
    browser.block_urls(&["*/api/insights/*"]).await;
    browser.goto(&t.url).await;
    wait_for_view(&browser, "dashboard").await;
    browser
        .wait_for(
            "[...document.querySelectorAll('.chart-body, .audience-body')].every(b => b.dataset.state === 'error' && b.textContent.includes('could not be reached'))",
            "a network error in every chart and audience card",
        )
        .await;
    let reach = browser.text("#chart-reach .chart-body").await;
    assert!(reach.contains("Could not load reach"), "{reach}");
    assert_eq!(browser.text("#chart-reach .chart-body button").await, "Try again");
    assert_readable(&browser, "the error messages").await;
    browser.screenshot("api-unreachable-1280", DESKTOP.0).await;

    // The network is back: Try again loads the chart.
    browser.block_urls(&[]).await;
    browser.click("#chart-reach .chart-body button").await;
    browser
        .wait_for(
            "document.querySelector('#chart-reach .chart-body').dataset.state === 'empty'",
            "the chart to load",
        )
        .await;
    browser.quit().await;
    t.stop().await;
}

#[tokio::test]
async fn sign_out_ends_the_session_and_leaves_the_accounts_connected() {
    let t = spawn_app().await;
    let browser = Browser::start(PHONE.0, PHONE.1).await;
    connect(&browser, &t).await;
    browser.screenshot("sign-out-375", PHONE.0).await;
    browser.click("#sign-out").await;
    wait_for_view(&browser, "connect").await;
    assert!(browser.text("#notice").await.contains("signed out"));
    assert_eq!(row_count(&t, "sessions").await, 0, "the session is gone on the server");
    assert!(
        t.app.store.account(&instagram_id(SANDBOX_IG)).await.unwrap().is_some(),
        "the account stays connected"
    );
    // A reload stays signed out.
    browser.goto(&t.url).await;
    wait_for_view(&browser, "connect").await;
    browser.quit().await;
    t.stop().await;
}
