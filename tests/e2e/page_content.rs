//! "Top content" in real headless Chromium: posts and reels ranked by the
//! chosen metric, a post's growth curve on selecting it, and the stories of
//! the last days with the ones Meta's webhook completed.

use crate::harness::*;
use crate::media_api::seed_media;
use crate::page::{assert_readable, connect, screenshots};
use crate::webdriver::Browser;

async fn wait_ready(browser: &Browser, list: &str) {
    browser
        .wait_for(
            &format!("document.getElementById('{list}').dataset.state === 'ready'"),
            &format!("{list} to load"),
        )
        .await;
}

async fn ranked(browser: &Browser) -> Vec<String> {
    let ids = browser
        .execute(
            "return [...document.querySelectorAll('#content-list .content-item')].map(li => li.dataset.media);",
            serde_json::json!([]),
        )
        .await;
    serde_json::from_value(ids).unwrap_or_default()
}

#[tokio::test]
async fn top_content_a_posts_curve_and_stories_in_a_real_browser() {
    let t = spawn_app().await;
    let browser = Browser::start(1280, 900).await;
    connect(&browser, &t).await;
    seed_media(&t).await;
    // Content arrives after the page loaded: switching the window reloads it.
    browser.goto(&t.url).await;
    wait_ready(&browser, "content-list").await;
    assert_eq!(
        ranked(&browser).await[..3],
        ["18100000000000001", "18100000000000003", "18100000000000005"],
        "by reach, highest first"
    );
    let first = browser.text("#content-list .content-item").await;
    assert!(
        first.contains("Reel") && first.contains("65") && first.contains("=post 1"),
        "{first}"
    );
    assert_eq!(
        browser
            .find("#content-list .content-item a")
            .await
            .attribute("href")
            .await
            .as_deref(),
        Some("https://www.instagram.com/p/code1/")
    );

    // Ranked by views instead: the post without views comes last.
    browser
        .execute(
            "const s = document.getElementById('content-sort'); s.value = 'views'; s.dispatchEvent(new Event('change'));",
            serde_json::json!([]),
        )
        .await;
    browser
        .wait_for(
            "document.querySelector('#content-list .content-score-label')?.textContent === 'Views' && document.getElementById('content-list').dataset.state === 'ready'",
            "the list ranked by views",
        )
        .await;
    assert_eq!(
        ranked(&browser).await.last().map(String::as_str),
        Some("18100000000000000")
    );

    // Selecting a reel draws its curve from its two snapshots.
    browser
        .click("#content-list .content-item[data-media='18100000000000001'] .content-select")
        .await;
    browser
        .wait_for(
            "document.getElementById('curve-body').dataset.state === 'ready'",
            "the curve",
        )
        .await;
    assert!(browser.text("#curve-title").await.contains("views"));
    let points = browser
        .execute(
            "return document.querySelectorAll('#curve-body circle.curve-point').length;",
            serde_json::json!([]),
        )
        .await;
    assert_eq!(points, 1, "one views snapshot of that reel");

    // The story, completed by the webhook, with Meta's -1 shown as words.
    wait_ready(&browser, "story-list").await;
    let story = browser.text("#story-list .story-item").await;
    assert!(story.contains("Final numbers from Instagram"), "{story}");
    assert!(
        story.contains("Reach 44") && story.contains("Replies fewer than 5"),
        "{story}"
    );

    assert_readable(&browser, "the content section").await;
    screenshots(&browser, "content").await;
    browser.quit().await;
}
