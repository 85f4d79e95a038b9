//! "Load older posts" in real headless Chromium: how far back the posts
//! are loaded before asking, the request and its progress, and the older
//! posts ranked with the rest once the hourly collection catalogued them.

use chrono::Duration;
use urlinsta_core::jobs::JobKind;
use urlinsta_sandbox::MediaSpec;

use crate::collect_media::next_run;
use crate::harness::*;
use crate::page::{assert_readable, connect, screenshots};
use crate::webdriver::Browser;

async fn wait_for_older(browser: &Browser, state: &str) -> String {
    browser
        .wait_for(
            &format!("document.getElementById('older-status').dataset.state === '{state}'"),
            &format!("the older posts to be {state}"),
        )
        .await;
    browser.text("#older-status").await
}

#[tokio::test]
async fn older_posts_load_on_request_in_a_real_browser() {
    let t = spawn_app().await;
    let now = t.control.now();
    for i in 0..30 {
        t.control
            .add_media(DEFAULT_IG, MediaSpec::post().posted_at(now - Duration::days(2 * i + 1)));
    }
    let old = t.control.add_media(
        DEFAULT_IG,
        MediaSpec::reel()
            .caption("from last year")
            .reaching(1_000_000)
            .posted_at(now - Duration::days(400)),
    );
    let browser = Browser::start(1280, 900).await;
    connect(&browser, &t).await;
    // Two hourly runs catalogue the last 90 days, and no further.
    run_collect(&t.app, JobKind::CollectInsights).await;
    next_run(&t).await;
    browser.goto(&t.url).await;
    let before = wait_for_older(&browser, "not_requested").await;
    assert!(
        before.contains("loaded back to") && before.contains("30 posts and reels"),
        "{before}"
    );

    // Two years back, as the control offers by default.
    browser.click("#older-load").await;
    let asked = wait_for_older(&browser, "in_progress").await;
    assert!(asked.contains("Loading posts back to"), "{asked}");
    assert!(asked.contains("About 100 more each hour"), "{asked}");

    // The next hourly run catalogues it; the page says so when opened again.
    next_run(&t).await;
    browser.goto(&t.url).await;
    let done = wait_for_older(&browser, "done").await;
    assert!(
        done.contains("Loaded back to") && done.contains("31 posts and reels in all"),
        "{done}"
    );

    // Any time: the year-old reel ranks first by reach, with the numbers its listing gave.
    browser
        .execute(
            "const w = document.getElementById('content-window'); w.value = 'all'; w.dispatchEvent(new Event('change'));",
            serde_json::json!([]),
        )
        .await;
    browser
        .wait_for(
            &format!(
                "document.getElementById('content-list').dataset.state === 'ready' && document.querySelector('#content-list .content-item')?.dataset.media === '{old}'"
            ),
            "the older reel first",
        )
        .await;
    let first = browser.text("#content-list .content-item").await;
    assert!(
        first.contains("from last year") && first.contains("1,000,000"),
        "{first}"
    );

    assert_readable(&browser, "the older posts").await;
    screenshots(&browser, "older-posts").await;
    browser.quit().await;
}
