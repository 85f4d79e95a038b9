//! The trend tiles and the charts' comparisons in real headless Chromium:
//! the tiles show the summary's own figures with a direction in words and
//! an arrow, the charts draw the previous period on request, and today's
//! unfinished day is drawn as unfinished and left out of the average.

use serde_json::{Value, json};
use urlinsta_core::jobs::JobKind;
use urlinsta_core::trends::Summary;

use crate::harness::*;
use crate::page::{DESKTOP, connect, screenshots, show_90_days, store_history, wait_for_charts, wait_for_view};
use crate::webdriver::Browser;

const IG: &str = "17841400000000001";

async fn summary(t: &TestApp, days: u32) -> Summary {
    let r = t
        .browser
        .get(t.api(&format!("/api/insights/{IG}/summary?days={days}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn tiles(browser: &Browser) -> Value {
    browser
        .execute(
            "const out = {};
             for (const t of document.querySelectorAll('#summary-tiles .tile')) {
               const change = t.querySelector('.tile-change');
               out[t.dataset.tile] = { value: t.querySelector('.tile-value').textContent,
                 trend: change.dataset.trend, change: change.textContent };
             }
             return out;",
            json!([]),
        )
        .await
}

fn formatted(n: i64) -> String {
    let digits = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::test]
async fn trend_tiles_the_previous_period_and_the_unfinished_day() {
    let t = spawn_app().await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    connect(&browser, &t).await;
    store_history(&t, 89).await;
    run_job(&t.app, JobKind::CollectInsights).await;
    browser.goto(&t.url).await;
    wait_for_view(&browser, "dashboard").await;
    wait_for_charts(&browser).await;
    browser
        .wait_for(
            "document.getElementById('summary-tiles').dataset.state === 'ready'",
            "the tiles",
        )
        .await;

    // 28 days by default: each tile shows the summary's figure, and its direction in words.
    for days in [28u32, 7] {
        if days == 7 {
            browser.click("label[for=summary-7]").await;
            browser
                .wait_for("document.getElementById('summary-help').textContent.length > 0 && document.querySelectorAll('#summary-tiles .tile').length === 6 && !document.getElementById('summary-tiles').hasAttribute('aria-busy')", "the 7-day tiles")
                .await;
        }
        let expected = summary(&t, days).await;
        let shown = tiles(&browser).await;
        for metric in ["reach", "views", "accounts_engaged"] {
            let m = &expected.metrics[metric];
            let total = m.current.expect("a total");
            assert_eq!(
                shown[metric]["value"],
                formatted(total),
                "{metric}, {days} days: {shown}"
            );
            let change = m.change.expect("a change");
            let (trend, word, arrow) = match change.signum() {
                1 => ("up", "Up", '▲'),
                -1 => ("down", "Down", '▼'),
                _ => ("flat", "No change", '▬'),
            };
            assert_eq!(shown[metric]["trend"], trend, "{metric}: {shown}");
            let text = shown[metric]["change"].as_str().unwrap_or_default();
            assert!(text.contains(word) && text.contains(arrow), "not color alone: {text}");
        }
        let growth = expected.follower_growth.current.expect("growth");
        let value = shown["follower_growth"]["value"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(value.contains(&formatted(growth)), "{value} vs {growth}");
    }

    // Today is unfinished: its point says so, and the average leaves it out.
    let today = browser
        .execute(
            "const card = document.getElementById('chart-reach');
             return { unfinished: card.querySelectorAll('circle.point.unfinished').length,
                      dotted: !!card.querySelector('path.line.unfinished'),
                      summary: document.getElementById('chart-reach-summary').textContent };",
            json!([]),
        )
        .await;
    assert_eq!(today["unfinished"], 1, "{today}");
    assert_eq!(today["dotted"], true, "{today}");
    assert!(
        today["summary"].as_str().unwrap_or_default().contains("today left out"),
        "{today}"
    );

    // Comparing draws the 30 days before under the last 30.
    let previous = "!!document.querySelector('#chart-reach path.line.previous') && !!document.querySelector('#chart-followers_count path.line.previous')";
    assert_eq!(browser.execute(&format!("return {previous}"), json!([])).await, false);
    browser.click("#compare-previous").await;
    browser.wait_for(previous, "the previous period drawn").await;
    wait_for_charts(&browser).await;
    let legend = browser.text("#chart-reach .chart-legend").await;
    assert!(legend.contains("30 days before"), "{legend}");
    screenshots(&browser, "trends").await;

    browser.quit().await;
    t.stop().await;
}

#[tokio::test]
async fn connect_one_run_and_the_page_charts_90_days() {
    let t = spawn_app_with(Options {
        vars: vec![("BACKFILL_DAYS", "90".into())],
        ..Options::default()
    })
    .await;
    let browser = Browser::start(DESKTOP.0, DESKTOP.1).await;
    connect(&browser, &t).await;
    run_job(&t.app, JobKind::CollectInsights).await;
    browser.goto(&t.url).await;
    wait_for_view(&browser, "dashboard").await;
    show_90_days(&browser).await;
    let drawn = browser
        .execute(
            "const n = (m) => document.querySelectorAll(`#chart-${m} svg circle.point`).length;
             return { reach: n('reach'), views: n('views'), followers: n('followers_count'),
                      dashed: !!document.querySelector('#chart-followers_count path.line.reconstructed'),
                      legend: (document.querySelector('#chart-followers_count .chart-legend') || {}).textContent || '' };",
            json!([]),
        )
        .await;
    for metric in ["reach", "views"] {
        let n = drawn[metric].as_u64().unwrap_or(0);
        assert!(
            (89..=91).contains(&n),
            "{metric}: {n} days charted the hour after connecting: {drawn}"
        );
    }
    // The follower curve of the month before connecting, drawn dashed and said to be worked out.
    assert!(drawn["followers"].as_u64().unwrap_or(0) >= 31, "{drawn}");
    assert_eq!(drawn["dashed"], true, "{drawn}");
    assert!(
        drawn["legend"].as_str().unwrap_or_default().contains("worked out"),
        "{drawn}"
    );
    screenshots(&browser, "day-one").await;

    browser.quit().await;
    t.stop().await;
}
