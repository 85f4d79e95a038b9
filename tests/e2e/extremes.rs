//! Every route's parameters fed the extremes: years at the ends of chrono's
//! calendar, days that do not exist, 10,000-character values (2,000 of four
//! bytes, for the URL's 64 KB), invalid UTF-8
//! and a character of every Unicode plane. Nothing may panic a request: each
//! answer is a whole HTTP answer under 500, and out-of-range dates are a 400.

use reqwest::Method;
use serde_json::{Value, json};
use urlinsta_core::http::Route;

use crate::harness::*;

/// Values as they travel in a URL (already percent-encoded), and what they are.
fn extremes() -> Vec<(String, String)> {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut values: Vec<(String, String)> = [
        ("+262143-12-31", "the last year chrono parses"),
        ("+262142-12-31", "a day before chrono's last"),
        ("-262143-01-01", "the first year chrono parses"),
        ("+262142-12-31T23:59:59Z", "a time at the end of the calendar"),
        ("-262143-01-01T00:00:00Z", "a time at its start"),
        ("2026-02-30", "February 30"),
        ("2026-02-30T00:00:00Z", "a time on February 30"),
        ("9999-12-31", "the last four-digit year"),
        ("0000-01-01", "year zero"),
        ("99999999999999999999", "a number past i64"),
        ("-9223372036854775808", "i64::MIN"),
    ]
    .into_iter()
    .map(|(v, what)| (enc(v), what.to_string()))
    .collect();
    values.push(("A".repeat(10_000), "10,000 characters".into()));
    // 24 KB once percent-encoded: below the 64 KB a URL may have.
    values.push((enc(&"😀".repeat(2_000)), "2,000 four-byte characters".into()));
    values.push((
        enc(&format!("{}é", "a".repeat(31))),
        "a two-byte character at byte 31".into(),
    ));
    values.push(("%FF%FE%FD".into(), "invalid UTF-8".into()));
    values.push(("%C3".into(), "a cut UTF-8 sequence".into()));
    values.push(("%00".into(), "NUL".into()));
    for (plane, c) in [
        (0, '\u{FFFD}'),
        (1, '\u{1F600}'),
        (2, '\u{20000}'),
        (3, '\u{30000}'),
        (14, '\u{E0001}'),
        (15, '\u{F0000}'),
        (16, '\u{10FFFF}'),
    ] {
        values.push((enc(&c.to_string().repeat(3)), format!("plane {plane}")));
    }
    values
}

/// The path and query parameters the API document names for `method pattern`.
fn parameters(document: &Value, pattern: &str, method: &Method) -> Vec<(String, String)> {
    let path = pattern
        .split('/')
        .map(|s| match s.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/");
    let operation = &document["paths"][&path][method.as_str().to_lowercase()];
    let mut out = Vec::new();
    for p in operation["parameters"].as_array().into_iter().flatten() {
        let p = match p["$ref"].as_str() {
            Some(r) => &document["components"]["parameters"][r.rsplit('/').next().unwrap_or("")],
            None => p,
        };
        if let (Some(name), Some(place)) = (p["name"].as_str(), p["in"].as_str())
            && (place == "path" || place == "query")
        {
            out.push((name.to_string(), place.to_string()));
        }
    }
    out
}

/// The request with one parameter set to `value`, the others as a valid call has them.
fn url_with(t: &TestApp, pattern: &str, name: &str, place: &str, value: &str) -> String {
    let path = pattern
        .split('/')
        .map(|s| match s.strip_prefix(':') {
            Some(n) if place == "path" && n == name => value.to_string(),
            Some(_) => DEFAULT_IG.to_string(),
            None => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/");
    match place {
        "query" => t.api(&format!("{path}?{name}={value}")),
        _ => t.api(&path),
    }
}

#[tokio::test]
async fn every_parameter_at_its_extremes_is_answered_below_500_and_dates_out_of_range_are_400() {
    let t = spawn_app().await;
    assert_eq!(location(&t.connect().await), "/?connected=true");
    let document: Value = reqwest::get(t.api("/api/openapi.json"))
        .await
        .expect("document")
        .json()
        .await
        .expect("json");
    let values = extremes();
    let mut tried = 0;
    for (route, pattern, methods) in Route::TABLE {
        for method in methods.iter() {
            for (name, place) in parameters(&document, pattern, method) {
                for (value, what) in &values {
                    let url = url_with(&t, pattern, &name, &place, value);
                    // The owner's browser from the page's own origin and the
                    // admin key: every check passed but the one under test.
                    let mut req = t.browser.request(method.clone(), &url).header("origin", &t.url);
                    if matches!(route, Route::Insights | Route::InsightsAudience | Route::AdminAccounts) {
                        req = req.bearer_auth(ADMIN_KEY);
                    }
                    if matches!(route, Route::Cron(_)) {
                        req = req.bearer_auth(CRON_SECRET);
                    }
                    let r = req
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{method} {pattern} {name}={what}: no answer: {}", e.without_url()));
                    let status = r.status().as_u16();
                    let body = r.text().await.unwrap_or_default();
                    assert!(status < 500, "{method} {pattern} {name}={what}: {status} {body}");
                    if (name == "from" || name == "to") && !what.starts_with("the last four-digit") {
                        assert_eq!(status, 400, "{method} {pattern} {name}={what}: {body}");
                    }
                    tried += 1;
                }
            }
        }
    }
    println!("extreme parameters: {tried} requests");
    // The bodies' own fields, the same way.
    for (value, what) in &values {
        let decoded: String = url::form_urlencoded::parse(format!("v={value}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let r = t
            .post(&t.browser, "/api/auth/disconnect")
            .json(&json!({ "instagram_user_id": decoded }))
            .send()
            .await
            .unwrap_or_else(|e| panic!("disconnect {what}: no answer: {}", e.without_url()));
        assert!(
            (400..500).contains(&r.status().as_u16()),
            "disconnect {what}: {}",
            r.status()
        );
        for path in ["/api/auth/deauthorize", "/api/auth/data-deletion"] {
            let r = browser()
                .post(t.api(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("signed_request={value}"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path} {what}: no answer: {}", e.without_url()));
            assert!(
                (400..500).contains(&r.status().as_u16()),
                "{path} {what}: {}",
                r.status()
            );
        }
    }
    assert!(
        t.app
            .store
            .account(&instagram_id(DEFAULT_IG))
            .await
            .expect("read")
            .is_some(),
        "nothing was deleted"
    );
}

/// A `signed_request` signed with the app's secret, whose algorithm is `algorithm`.
fn signed_with_algorithm(algorithm: &str) -> String {
    let payload = meta_payload(algorithm, chrono::Utc::now().timestamp(), DEFAULT_FB_USER);
    signed_request(urlinsta_core::config::SANDBOX_APP_SECRET, &payload)
}

#[tokio::test]
async fn a_signed_request_whose_algorithm_has_a_multibyte_character_at_byte_32_is_a_400() {
    let t = spawn_app().await;
    for algorithm in [
        format!("{}é", "A".repeat(31)),
        format!("{}😀", "A".repeat(30)),
        "😀".repeat(100),
    ] {
        for path in ["/api/auth/deauthorize", "/api/auth/data-deletion"] {
            let r = browser()
                .post(t.api(path))
                .form(&[("signed_request", signed_with_algorithm(&algorithm))])
                .send()
                .await
                .unwrap_or_else(|e| panic!("{path}: no answer: {e}"));
            assert_eq!(r.status(), 400, "{path} {algorithm}");
            let body: Value = r.json().await.expect("a JSON error");
            assert!(
                body["message"].as_str().is_some_and(|m| m.contains("algorithm")),
                "{body}"
            );
        }
    }
}
