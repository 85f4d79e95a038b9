//! Meta's Instagram webhook: the subscription check, and `story_insights`
//! deliveries sent by the sandbox as Meta sends them (signed, repeated, out
//! of order), next to forged, unsigned and malformed ones that write nothing.

use chrono::Duration;
use serde_json::Value;
use urlinsta_sandbox::{DeliveryOptions, MediaSpec, sign_delivery};

use crate::harness::*;

const IG: &str = "17841400000000001";
const SECRET: &str = "sandbox-secret";

async fn deliver(t: &TestApp, signature: Option<&str>, body: &str) -> reqwest::Response {
    let mut request = browser()
        .post(t.api("/api/webhooks/instagram"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("x-hub-signature-256", signature);
    }
    request.send().await.unwrap()
}

/// `(media, metric, value, fewer_than_five)` of every stored final number.
async fn finals(t: &TestApp) -> Vec<(String, String, Option<i64>, i64)> {
    let conn = t.app.store.conn().await.unwrap();
    let mut rows = conn
        .query(
            "SELECT media_id, metric_name, metric_value, fewer_than_five FROM story_final_insights
             ORDER BY media_id, metric_name",
            (),
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(r) = rows.next().await.unwrap() {
        out.push((
            r.get(0).unwrap(),
            r.get(1).unwrap(),
            r.get(2).unwrap(),
            r.get(3).unwrap(),
        ));
    }
    out
}

/// Two stories of the connected account, expired an hour ago: one seen by
/// many, one by 3 accounts (Meta sends -1 for its numbers).
async fn expired_stories(t: &TestApp) -> (String, String) {
    assert_eq!(t.connect().await.status(), 302);
    let seen = t.control.add_media(IG, MediaSpec::story().reaching(800));
    let few = t.control.add_media(IG, MediaSpec::story().reaching(3));
    t.control.advance(Duration::hours(25));
    t.control.set_story_webhook_url(&t.api("/api/webhooks/instagram"));
    (seen, few)
}

#[tokio::test]
async fn meta_verifies_the_subscription_with_the_token() {
    let t = spawn_app_with(Options {
        vars: vec![("META_WEBHOOK_VERIFY_TOKEN", "verify-me-123".into())],
        ..Options::default()
    })
    .await;
    let check = |token: &str, challenge: &str| {
        browser()
            .get(t.api("/api/webhooks/instagram"))
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.verify_token", token),
                ("hub.challenge", challenge),
            ])
            .send()
    };
    let ok = check("verify-me-123", "1158201444").await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    assert_eq!(check("wrong", "1158201444").await.unwrap().status(), 403);
    assert_eq!(check("verify-me-123", "<b>hi</b>").await.unwrap().status(), 400);

    // Without the variable no subscription can be verified.
    let unset = spawn_app().await;
    let r = browser()
        .get(unset.api("/api/webhooks/instagram"))
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", ""),
            ("hub.challenge", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

on_both_databases! {
    async fn a_story_gets_its_final_numbers_once_from_signed_deliveries(t: TestApp) {
        let (seen, few) = expired_stories(&t).await;
        // Each delivery twice, newest story first: repeated and out of order.
        let statuses = t.control.deliver_story_insights(DeliveryOptions { times: 2, reverse: true }).await;
        assert_eq!(statuses, [200, 200, 200, 200]);
        let stored = finals(&t).await;
        let reach = |media: &str| stored.iter().find(|(m, n, ..)| m == media && n == "reach").cloned();
        let expected = t.control.media_value(&seen, "reach");
        assert_eq!(reach(&seen).map(|r| r.2), Some(expected));
        assert_eq!(reach(&few).map(|r| (r.2, r.3)), Some((None, 1)), "-1 is fewer than 5, not a count");
        assert_eq!(stored.len(), 12, "six numbers per story, each once: {stored:?}");
    }

    async fn forged_unsigned_malformed_and_foreign_deliveries_write_nothing(t: TestApp) {
        expired_stories(&t).await;
        let genuine = t.control.due_story_deliveries().remove(0);

        let forged = genuine.body.replace("\"reach\":", "\"reach\":1");
        let r = deliver(&t, Some(&genuine.signature), &forged).await;
        assert_eq!(r.status(), 403);
        assert_eq!(deliver(&t, None, &genuine.body).await.status(), 401);
        assert_eq!(deliver(&t, Some("sha256=00"), &genuine.body).await.status(), 403);
        let other_key = sign_delivery("another-app", genuine.body.as_bytes());
        assert_eq!(deliver(&t, Some(&other_key), &genuine.body).await.status(), 403);
        let malformed = r#"{"object":"instagram","entry":[{"id":"17841400000000001","changes":[{"field":"story_insights","value":{"media_id":"1","reach":"many"}}]}]}"#;
        let r = deliver(&t, Some(&sign_delivery(SECRET, malformed.as_bytes())), malformed).await;
        assert_eq!(r.status(), 400);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "bad_request");
        let foreign = genuine.body.replace(IG, "17841499999999999");
        let r = deliver(&t, Some(&sign_delivery(SECRET, foreign.as_bytes())), &foreign).await;
        assert_eq!(r.status(), 200, "an unknown account is ignored, not refused");
        assert!(finals(&t).await.is_empty(), "nothing was written");

        let r = deliver(&t, Some(&genuine.signature), &genuine.body).await;
        assert_eq!(r.status(), 200);
        let once = finals(&t).await;
        assert_eq!(once.len(), 6);
        // A replay of the same delivery changes nothing.
        assert_eq!(deliver(&t, Some(&genuine.signature), &genuine.body).await.status(), 200);
        assert_eq!(finals(&t).await, once);
    }
}
