//! "Top content" in real headless Chromium: posts and reels ranked by the
//! chosen metric, a post's growth curve on selecting it, and the stories of
//! the last days with the ones Meta's webhook completed.

use chrono::{Duration, Utc};
use urlinsta_core::domain::{MediaId, MediaKind, ProductType};
use urlinsta_core::store::{MediaItem, MediaWrite};

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
    let account_id = seed_media(&t).await;
    // A story too few people saw for Meta to give numbers.
    let few = MediaId::parse("18100000000000010").unwrap();
    let write = MediaWrite {
        account_id,
        items: vec![MediaItem {
            media_id: few.clone(),
            parent: None,
            kind: MediaKind::Image,
            product: ProductType::Story,
            posted_at: Utc::now() - Duration::hours(20),
            permalink: None,
            caption: None,
            like_count: None,
            comments_count: None,
        }],
        not_enough_viewers: vec![few],
        ..MediaWrite::default()
    };
    t.app.store.save_media(&write, Utc::now()).await.unwrap();
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
    let story = browser
        .text("#story-list .story-item[data-media='18100000000000009']")
        .await;
    assert!(story.contains("Final numbers from Instagram"), "{story}");
    assert!(
        story.contains("Reach 44") && story.contains("Replies fewer than 5"),
        "{story}"
    );
    let few = browser
        .text("#story-list .story-item[data-media='18100000000000010']")
        .await;
    assert!(few.contains("Not enough viewers"), "{few}");

    // The list's CSV, as the page links it, parses: a header, then the
    // ranked media, the first ranked first.
    let csv = browser
        .execute(
            "return fetch(document.getElementById('content-csv').href, { credentials: 'same-origin' }).then(r => r.text());",
            serde_json::json!([]),
        )
        .await;
    let csv = csv.as_str().unwrap_or_default().to_string();
    let rows = parse_csv(&csv);
    assert_eq!(rows[0][..2], ["media_id", "product_type"], "{csv}");
    assert_eq!(rows[1][0], "18100000000000001", "ranked by reach: {csv}");
    assert!(rows.len() >= 7, "{csv}");
    assert!(rows.iter().all(|r| r.len() == rows[0].len()), "{csv}");
    assert!(
        rows.iter().any(|r| r.contains(&"'=post 1, with a comma".to_string())),
        "{csv}"
    );

    assert_readable(&browser, "the content section").await;
    screenshots(&browser, "content").await;
    browser.quit().await;
}

/// RFC 4180: fields split at commas outside quotes, `""` a quote inside them.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let (mut row, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut field)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}
