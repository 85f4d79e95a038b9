//! Media on `graph.instagram.com`: lists, stories, children and media
//! insights for the account's own Instagram-login token, counted per path;
//! other accounts, the other token family and a declined insights scope refused.

use chrono::Duration;

use crate::helpers::*;
use urlinsta_sandbox::{Endpoint, IgEndpoint, MediaSpec};

const SOLO: &str = "17841400000000901";

async fn ig_get(env: &Env, path: &str, token: &str, params: &[(&str, &str)]) -> Answer {
    let mut all = params.to_vec();
    all.push(("access_token", token));
    env.get(&format!("/ig/graph/{V}/{path}"), &all).await
}

#[tokio::test]
async fn an_instagram_login_token_reads_its_accounts_media_stories_and_their_insights() {
    let env = start().await;
    let now = env.control.now();
    let reel = env
        .control
        .add_media(SOLO, MediaSpec::reel().posted_at(now - Duration::hours(2)));
    let carousel = env
        .control
        .add_media(SOLO, MediaSpec::carousel(2).posted_at(now - Duration::hours(1)));
    let story = env.control.add_media(
        SOLO,
        MediaSpec::story().reaching(200).posted_at(now - Duration::hours(3)),
    );
    let token = env.control.grant_instagram_token(SOLO);

    let list = ig_get(
        &env,
        "me/media",
        &token,
        &[("fields", "id,media_product_type,children{id},insights.metric(reach)")],
    )
    .await;
    assert_eq!(list.status, 200, "{}", list.text);
    let body = list.json();
    assert_eq!(body["data"][0]["id"], carousel.as_str(), "newest first, no stories");
    assert_eq!(body["data"][1]["id"], reel.as_str());
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        body["data"][1]["insights"]["data"][0]["values"][0]["value"].as_i64(),
        env.control.media_value(&reel, "reach")
    );
    assert_eq!(body["data"][0]["children"]["data"].as_array().map(Vec::len), Some(2));
    // Meta's usage header names the account, as on Facebook Login's host.
    assert!(
        list.header("X-Business-Use-Case-Usage")
            .is_some_and(|h| h.contains(SOLO))
    );

    let stories = ig_get(&env, &format!("{SOLO}/stories"), &token, &[("fields", "id")]).await;
    assert_eq!(stories.json()["data"][0]["id"], story.as_str());
    let insights = ig_get(&env, &format!("{reel}/insights"), &token, &[("metric", "reach,saved")]).await;
    assert_eq!(insights.status, 200, "{}", insights.text);
    assert_eq!(insights.json()["data"].as_array().map(Vec::len), Some(2));
    let children = ig_get(&env, &format!("{carousel}/children"), &token, &[]).await;
    assert_eq!(children.json()["data"].as_array().map(Vec::len), Some(2));
    // The metrics that count ads too are Facebook Login's only.
    let total = ig_get(
        &env,
        &format!("{reel}/insights"),
        &token,
        &[("metric", "reach,total_views")],
    )
    .await;
    assert_eq!(total.error().0, 100);
    assert!(total.text.contains("metric[1]"), "{}", total.text);
    let expanded = ig_get(
        &env,
        "me/media",
        &token,
        &[("fields", "id,insights.metric(total_likes)")],
    )
    .await;
    assert_eq!(expanded.error().0, 100);
    let node = ig_get(&env, &reel, &token, &[("fields", "media_type")]).await;
    assert_eq!(node.json()["media_type"], "VIDEO");

    for (endpoint, n) in [
        (IgEndpoint::MediaList, 2),
        (IgEndpoint::Stories, 1),
        (IgEndpoint::MediaInsights, 2),
        (IgEndpoint::MediaNode, 2),
    ] {
        assert_eq!(env.control.count(Endpoint::Instagram(endpoint)), n, "{endpoint:?}");
    }
    for endpoint in [Endpoint::MediaList, Endpoint::Stories, Endpoint::MediaInsights] {
        assert_eq!(env.control.count(endpoint), 0, "counted per path: {endpoint:?}");
    }
}

#[tokio::test]
async fn media_are_refused_to_other_accounts_the_other_family_and_without_the_insights_scope() {
    let env = start().await;
    let now = env.control.now();
    let theirs = env
        .control
        .add_media(IG_ID, MediaSpec::post().posted_at(now - Duration::hours(1)));
    let mine = env
        .control
        .add_media(SOLO, MediaSpec::post().posted_at(now - Duration::hours(1)));
    let solo = env.control.grant_instagram_token(SOLO);
    assert_eq!(ig_get(&env, &format!("{IG_ID}/media"), &solo, &[]).await.error().0, 100);
    assert_eq!(
        ig_get(&env, &format!("{theirs}/insights"), &solo, &[("metric", "reach")])
            .await
            .error()
            .0,
        100
    );

    // Each family's tokens are refused by the other's host.
    let facebook = env.page_token(&env.long_token().await).await;
    assert_eq!(
        ig_get(&env, &format!("{theirs}/insights"), &facebook, &[("metric", "reach")])
            .await
            .error(),
        (190, None)
    );
    let own = env.control.grant_instagram_token(IG_ID);
    assert_eq!(
        env.graph(&format!("/{theirs}/insights"), &own, &[("metric", "reach")])
            .await
            .error(),
        (190, None)
    );
    assert_eq!(
        env.graph(&format!("/{IG_ID}/media"), &own, &[]).await.error(),
        (190, None)
    );

    // The media without their insights when the insights scope was declined.
    env.control.set_instagram_dialog_account(SOLO);
    env.control
        .set_instagram_declined_scopes(SOLO, &["instagram_business_manage_insights"]);
    let basic = env.ig_short_token().await;
    assert_eq!(ig_get(&env, "me/media", &basic, &[]).await.status, 200);
    assert_eq!(
        ig_get(&env, &format!("{mine}/insights"), &basic, &[("metric", "reach")])
            .await
            .error()
            .0,
        10
    );
}
