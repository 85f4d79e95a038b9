//! Media, media insights, stories and the `story_insights` webhook.

use std::sync::{Arc, Mutex};

use chrono::Duration;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::Value;

use crate::helpers::*;
use urlinsta_sandbox::{DeliveryOptions, Endpoint, MediaSpec, ProductType, Via, sign_delivery};

async fn connected() -> (Env, String) {
    let env = start().await;
    let token = env.long_token().await;
    let page = env.page_token(&token).await;
    (env, page)
}

fn ids(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|m| m["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn media_lists_newest_first_in_pages_without_stories() {
    let (env, page) = connected().await;
    let start = env.control.now();
    let mut posted = Vec::new();
    for i in 0..5 {
        let spec = if i % 2 == 0 {
            MediaSpec::post()
        } else {
            MediaSpec::reel()
        };
        posted.push(
            env.control
                .add_media(IG_ID, spec.posted_at(start - Duration::hours(10 - i))),
        );
    }
    env.control.add_media(IG_ID, MediaSpec::story());
    posted.reverse();

    let first = env
        .graph(
            &format!("/{IG_ID}/media"),
            &page,
            &[("limit", "2"), ("fields", "id,media_product_type")],
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let body = first.json();
    assert_eq!(ids(&body), posted[..2]);
    let after = body["paging"]["cursors"]["after"]
        .as_str()
        .expect("a cursor")
        .to_string();
    assert!(body["paging"]["next"].as_str().is_some_and(|n| n.contains("after=")));

    let rest = env
        .graph(&format!("/{IG_ID}/media"), &page, &[("limit", "10"), ("after", &after)])
        .await
        .json();
    assert_eq!(ids(&rest), posted[2..]);
    assert!(rest["paging"]["next"].is_null(), "the last page has no next");
    let types: Vec<&str> = body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["media_product_type"].as_str())
        .collect();
    assert!(!types.contains(&"STORY"));
}

#[tokio::test]
async fn older_media_list_by_time_with_insights_for_two_years_and_the_10k_newest_only() {
    let (env, page) = connected().await;
    let now = env.control.now();
    let old = env
        .control
        .add_media(IG_ID, MediaSpec::post().posted_at(now - Duration::days(400)));
    let ancient = env
        .control
        .add_media(IG_ID, MediaSpec::post().posted_at(now - Duration::days(800)));
    let fields = "id,timestamp,like_count,insights.metric(reach,likes)";
    let until = (now - Duration::days(300)).timestamp().to_string();
    let answer = env
        .graph(
            &format!("/{IG_ID}/media"),
            &page,
            &[("fields", fields), ("until", &until)],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let body = answer.json();
    assert_eq!(ids(&body), [old.clone(), ancient.clone()]);
    let reach = &body["data"][0]["insights"]["data"];
    assert_eq!(reach[0]["name"], "reach");
    assert_eq!(
        reach[0]["values"][0]["value"].as_i64(),
        env.control.media_value(&old, "reach")
    );
    // Past two years: an empty set of insights, its like count as ever.
    assert_eq!(body["data"][1]["insights"]["data"], serde_json::json!([]));
    assert!(body["data"][1]["like_count"].as_i64().is_some_and(|n| n > 0));
    let edge = env
        .graph(&format!("/{ancient}/insights"), &page, &[("metric", "reach")])
        .await;
    assert_eq!(edge.status, 200, "{}", edge.text);
    assert_eq!(edge.json()["data"], serde_json::json!([]));

    // Only the 10,000 newest are listed: with 9,999 newer ones, the oldest falls out.
    for i in 0..9_999 {
        env.control
            .add_media(IG_ID, MediaSpec::post().posted_at(now - Duration::minutes(i + 1)));
    }
    let since = (now - Duration::days(1_000)).timestamp().to_string();
    let until = (now - Duration::days(100)).timestamp().to_string();
    let old_ones = env
        .graph(
            &format!("/{IG_ID}/media"),
            &page,
            &[("since", &since), ("until", &until)],
        )
        .await
        .json();
    assert_eq!(ids(&old_ones), [old]);
}

#[tokio::test]
async fn fields_expand_children_and_insights_by_product_type() {
    let (env, page) = connected().await;
    let carousel = env
        .control
        .add_media(IG_ID, MediaSpec::carousel(3).caption("three, #one"));
    env.control.advance(Duration::hours(6));
    let fields = "id,media_type,media_product_type,timestamp,permalink,caption,like_count,comments_count,children{id,media_type},insights.metric(reach,saved,follows)";
    let answer = env
        .graph(&format!("/{IG_ID}/media"), &page, &[("fields", fields)])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let item = &answer.json()["data"][0];
    assert_eq!(item["id"], carousel.as_str());
    assert_eq!(item["media_type"], "CAROUSEL_ALBUM");
    assert_eq!(item["caption"], "three, #one");
    assert!(
        item["permalink"]
            .as_str()
            .is_some_and(|p| p.starts_with("https://www.instagram.com/p/"))
    );
    assert_eq!(item["children"]["data"].as_array().map(Vec::len), Some(3));
    let reach = &item["insights"]["data"][0];
    assert_eq!(reach["name"], "reach");
    assert_eq!(
        reach["values"][0]["value"].as_i64(),
        env.control.media_value(&carousel, "reach")
    );
    assert!(
        env.control
            .media_metric_sets()
            .iter()
            .any(|s| s.product == ProductType::Feed
                && s.via == Via::Expansion
                && s.metrics == ["follows", "reach", "saved"])
    );
}

#[tokio::test]
async fn one_metric_a_type_lacks_fails_the_whole_request() {
    let (env, page) = connected().await;
    env.control.add_media(IG_ID, MediaSpec::post());
    let reel = env.control.add_media(IG_ID, MediaSpec::reel());
    env.control.advance(Duration::hours(2));
    // A page mixing a post and a reel, asked for a reels-only metric.
    let mixed = env
        .graph(
            &format!("/{IG_ID}/media"),
            &page,
            &[("fields", "id,insights.metric(reach,ig_reels_avg_watch_time)")],
        )
        .await;
    assert_eq!(mixed.error(), (100, None));
    assert!(
        mixed
            .text
            .contains("does not support the ig_reels_avg_watch_time metric"),
        "{}",
        mixed.text
    );

    let ok = env
        .graph(
            &format!("/{reel}/insights"),
            &page,
            &[("metric", "reach,views,ig_reels_avg_watch_time,reels_skip_rate")],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.json()["data"].as_array().map(Vec::len), Some(4));
    let removed = env
        .graph(&format!("/{reel}/insights"), &page, &[("metric", "reach,plays")])
        .await;
    assert_eq!(removed.error(), (100, None));
    assert!(removed.text.contains("metric[1]"), "{}", removed.text);

    // Meta stops accepting a metric for reels only.
    env.control.reject_media_metric(ProductType::Reels, "reposts");
    let reel_reposts = env
        .graph(&format!("/{reel}/insights"), &page, &[("metric", "reach,reposts")])
        .await;
    assert_eq!(reel_reposts.error(), (100, None));
    assert_eq!(env.control.incompatible_media_requests(), 2);
    assert_eq!(env.control.count(Endpoint::MediaInsights), 3);
}

#[tokio::test]
async fn numbers_grow_with_the_clock_then_settle() {
    let (env, page) = connected().await;
    let post = env.control.add_media(IG_ID, MediaSpec::post().reaching(2_000));
    let mut reach = Vec::new();
    for hours in [1, 5, 24, 72, 24] {
        env.control.advance(Duration::hours(hours));
        let answer = env
            .graph(&format!("/{post}/insights"), &page, &[("metric", "reach")])
            .await;
        reach.push(answer.json()["data"][0]["values"][0]["value"].as_i64().unwrap_or(-1));
    }
    assert!(reach.windows(2).all(|w| w[0] < w[1] || w[1] == 2_000), "{reach:?}");
    assert_eq!(reach[3..], [2_000, 2_000], "{reach:?}");
}

#[tokio::test]
async fn children_have_no_insights_and_deleted_media_vanish() {
    let (env, page) = connected().await;
    let carousel = env.control.add_media(IG_ID, MediaSpec::carousel(2));
    let child = env.control.media_children(&carousel)[0].clone();
    let answer = env
        .graph(&format!("/{child}/insights"), &page, &[("metric", "reach")])
        .await;
    assert_eq!(answer.error(), (100, None));
    let kids = env.graph(&format!("/{carousel}/children"), &page, &[]).await.json();
    assert_eq!(ids(&kids).len(), 2);

    env.control.delete_media(&carousel);
    assert_eq!(
        env.graph(&format!("/{carousel}"), &page, &[]).await.error(),
        (100, Some(33))
    );
    assert!(ids(&env.graph(&format!("/{IG_ID}/media"), &page, &[]).await.json()).is_empty());
}

#[tokio::test]
async fn stories_are_listed_and_measured_only_while_live() {
    let (env, page) = connected().await;
    let story = env.control.add_media(IG_ID, MediaSpec::story().reaching(300));
    let few = env.control.add_media(IG_ID, MediaSpec::story().reaching(3));
    env.control.advance(Duration::hours(4));
    let live = env.graph(&format!("/{IG_ID}/stories"), &page, &[]).await.json();
    assert_eq!(ids(&live).len(), 2);
    let answer = env
        .graph(
            &format!("/{story}/insights"),
            &page,
            &[("metric", "reach,navigation,replies")],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let below = env
        .graph(&format!("/{few}/insights"), &page, &[("metric", "reach")])
        .await;
    assert_eq!(below.error(), (10, None));
    assert!(below.text.contains("Not enough viewers"));
    let feed_only = env
        .graph(&format!("/{story}/insights"), &page, &[("metric", "saved")])
        .await;
    assert_eq!(feed_only.error(), (100, None));

    env.control.advance(Duration::hours(21));
    assert!(ids(&env.graph(&format!("/{IG_ID}/stories"), &page, &[]).await.json()).is_empty());
    let gone = env
        .graph(&format!("/{story}/insights"), &page, &[("metric", "reach")])
        .await;
    assert_eq!(gone.error(), (100, Some(33)));
}

#[tokio::test]
async fn media_calls_work_in_a_batch() {
    let (env, page) = connected().await;
    let post = env.control.add_media(IG_ID, MediaSpec::post());
    let reel = env.control.add_media(IG_ID, MediaSpec::reel());
    env.control.advance(Duration::hours(3));
    env.control.reset_calls();
    let batch = serde_json::json!([
        { "method": "GET", "relative_url": format!("{post}/insights?metric=reach,saved") },
        { "method": "GET", "relative_url": format!("{reel}/insights?metric=reach,reels_skip_rate") },
        { "method": "GET", "relative_url": format!("{reel}/insights?metric=follows") },
    ])
    .to_string();
    let proof = proof(&page);
    let form = [
        ("access_token", page.as_str()),
        ("appsecret_proof", proof.as_str()),
        ("batch", &batch),
    ];
    let answer = env.send(env.http.post(env.url(&format!("/{V}/"))).form(&form)).await;
    let items = answer.json();
    let codes: Vec<i64> = items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["code"].as_i64())
        .collect();
    assert_eq!(codes, [200, 200, 400]);
    assert_eq!(env.control.count(Endpoint::MediaInsights), 3);
    assert_eq!(env.control.http_requests(), 1);
}

/// Everything POSTed to it: (signature header, body).
type Received = Arc<Mutex<Vec<(String, String)>>>;

async fn receiver() -> (String, Received) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    let received: Received = Arc::default();
    let store = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                    let store = store.clone();
                    async move {
                        let signature = req
                            .headers()
                            .get("x-hub-signature-256")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        store
                            .lock()
                            .expect("not poisoned")
                            .push((signature, String::from_utf8_lossy(&body).into_owned()));
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(bytes::Bytes::new())))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    (url, received)
}

#[tokio::test]
async fn expired_stories_send_signed_final_numbers_an_hour_later() {
    let (env, _page) = connected().await;
    let (url, received) = receiver().await;
    env.control.set_story_webhook_url(&url);
    let first = env.control.add_media(IG_ID, MediaSpec::story().reaching(400));
    env.control.advance(Duration::hours(1));
    let second = env.control.add_media(IG_ID, MediaSpec::story().reaching(2));
    env.control.advance(Duration::hours(24));
    assert_eq!(
        env.control.due_story_deliveries().len(),
        1,
        "only the first is an hour past expiry"
    );
    env.control.advance(Duration::hours(1));
    let options = DeliveryOptions {
        times: 2,
        reverse: true,
    };
    assert_eq!(env.control.deliver_story_insights(options).await, [200; 4]);
    assert!(env.control.due_story_deliveries().is_empty(), "each goes out once");

    let got = received.lock().expect("not poisoned").clone();
    assert_eq!(got.len(), 4);
    let order: Vec<String> = got
        .iter()
        .map(|(_, body)| serde_json::from_str::<Value>(body).expect("JSON"))
        .map(|v| {
            v["entry"][0]["changes"][0]["value"]["media_id"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(order, [second.clone(), second, first.clone(), first]);
    for (signature, body) in &got {
        assert_eq!(*signature, sign_delivery(SECRET, body.as_bytes()));
        let value: Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(value["object"], "instagram");
        assert_eq!(value["entry"][0]["id"], IG_ID);
        assert_eq!(value["entry"][0]["changes"][0]["field"], "story_insights");
    }
    let small: Value = serde_json::from_str(&got[0].1).expect("JSON");
    assert_eq!(small["entry"][0]["changes"][0]["value"]["reach"], -1, "under 5 is -1");
}
