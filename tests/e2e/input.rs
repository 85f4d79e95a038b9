//! Bad input on every endpoint: missing and malformed parameters, oversized
//! bodies, wrong methods, unicode, injection-shaped strings, path traversal.
//! Every answer is a clear 4xx (JSON for the API), never a 5xx.

use reqwest::Method;
use serde_json::{Value, json};
use urlinsta_core::http::Route;

use crate::harness::*;

const IG: &str = "17841400000000001";

/// A route's path with its parameters filled in.
pub fn concrete(pattern: &str, id: &str) -> String {
    pattern
        .split('/')
        .map(|s| if s.starts_with(':') { id } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// An API error answer: the status class, a JSON body naming the error, and a message.
async fn assert_json_error(r: reqwest::Response, status: u16, what: &str) -> Value {
    assert_eq!(r.status().as_u16(), status, "{what}");
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert_eq!(content_type, "application/json", "{what}");
    let body: Value = r.json().await.unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
    assert!(body["error"].is_string(), "{what}: {body}");
    assert!(!body["message"].as_str().unwrap_or("").is_empty(), "{what}: {body}");
    body
}

/// Not a server error; and a JSON body unless it is a redirect or a HEAD.
async fn assert_handled(r: reqwest::Response, what: &str) -> u16 {
    let status = r.status().as_u16();
    assert!(status < 500, "{what}: {status}");
    if status == 302 {
        assert!(r.headers().get("location").is_some(), "{what}: a redirect says where");
        return status;
    }
    let body = r.bytes().await.expect("body");
    if !body.is_empty() {
        serde_json::from_slice::<Value>(&body).unwrap_or_else(|e| panic!("{what}: {status} not JSON: {e}"));
    }
    status
}

#[tokio::test]
async fn every_route_refuses_other_methods_with_405_and_allow() {
    let t = spawn_app().await;
    let client = reqwest::Client::new();
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::from_bytes(b"PROPFIND").expect("method"),
    ];
    let mut tried = 0;
    for (route, pattern, allowed) in Route::TABLE {
        let mut allow: Vec<&str> = allowed.iter().map(Method::as_str).collect();
        if allowed.contains(&Method::GET) {
            allow.push("HEAD");
        }
        for method in methods.iter().filter(|m| !allowed.contains(m)) {
            let what = format!("{method} {pattern}");
            let r = client
                .request(method.clone(), t.api(&concrete(pattern, IG)))
                .bearer_auth(ADMIN_KEY)
                .send()
                .await
                .expect("answer");
            assert_eq!(
                r.headers().get("allow").and_then(|v| v.to_str().ok()),
                Some(allow.join(", ").as_str()),
                "{what}"
            );
            let body = assert_json_error(r, 405, &what).await;
            assert_eq!(body["error"], "method_not_allowed", "{route:?}");
            tried += 1;
        }
        if allowed.contains(&Method::GET) {
            // HEAD is GET without the body.
            let r = client.head(t.api(&concrete(pattern, IG))).send().await.expect("answer");
            assert_ne!(r.status(), 405, "HEAD {pattern}");
            assert!(r.bytes().await.expect("body").is_empty(), "HEAD {pattern}");
        }
    }
    println!("wrong methods: {tried} tried");
}

#[tokio::test]
async fn unknown_api_paths_are_json_404s() {
    let t = spawn_app().await;
    for path in [
        "/api",
        "/api/",
        "/api/nothing",
        "/api/auth",
        "/api/auth/status/extra",
        "/api/cron/drop-tables",
        "/api/%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/api/health/db/../../auth/status",
    ] {
        let r = reqwest::get(t.api(path)).await.expect("answer");
        let status = r.status().as_u16();
        if path.contains("..") {
            // The client resolves dot segments; whatever it asked for, no 5xx.
            assert_handled(r, path).await;
            continue;
        }
        let body = assert_json_error(r, 404, path).await;
        assert!(!body.to_string().contains("<script>"), "{path}: {body}");
        assert_eq!(status, 404);
    }
}

/// Hostile strings for any parameter: injection shapes, unicode, control
/// characters, traversal, impossible dates and numbers, and sheer length.
pub fn hostile_strings() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "' OR '1'='1",
        "1; DROP TABLE users; --",
        "17841400000000001' --",
        "\" onmouseover=\"alert(1)",
        "<script>alert(1)</script>",
        "{{7*7}}${7*7}",
        "../../../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%00",
        "\u{0}",
        "\r\nSet-Cookie: evil=1",
        "😀🇺🇦 Ünïcödé ١٢٣",
        "\u{202e}gpj.exe",
        "-1",
        "0",
        "18446744073709551616",
        "-9223372036854775809",
        "1e309",
        "NaN",
        "2026-02-30",
        "2026-13-01",
        "0000-00-00",
        "9999-12-31T25:61:61Z",
        "yesterday",
        "true",
        "null",
        "[]",
        "{\"$ne\":null}",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    v.push("9".repeat(1000));
    v.push("é".repeat(300));
    v
}

/// Query parameters every route reads, or might one day.
const PARAMS: &[&str] = &[
    "instagram_user_id",
    "userId",
    "code",
    "state",
    "error",
    "error_reason",
    "shard",
    "shards",
    "from",
    "to",
    "metric",
    "limit",
];

/// Sends `value` in every parameter, as anonymous, with the admin key, and
/// with a wrong key, to every route and method: never a 5xx.
#[tokio::test]
async fn hostile_query_parameters_never_cause_a_5xx() {
    let t = spawn_app().await;
    t.connect().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let mut tried = 0;
    for (route, pattern, methods) in Route::TABLE {
        // Running a job per hostile string proves nothing more than once does.
        let credentials: &[Option<&str>] = match route {
            Route::Cron(_) => &[None, Some("wrong")],
            _ => &[None, Some(ADMIN_KEY), Some("wrong")],
        };
        for method in methods.iter() {
            for value in hostile_strings() {
                for key in credentials {
                    let path = concrete(pattern, &value);
                    let mut url = url::Url::parse(&t.api("/")).expect("url");
                    url.set_path(&path);
                    url.query_pairs_mut()
                        .extend_pairs(PARAMS.iter().map(|p| (*p, value.as_str())));
                    let mut req = client.request(method.clone(), url);
                    if let Some(key) = key {
                        req = req.bearer_auth(key);
                    }
                    if *method == Method::POST {
                        req = req.json(&json!({ "instagram_user_id": value }));
                    }
                    let r = req.send().await.expect("answer");
                    assert_handled(r, &format!("{method} {pattern} {value:?} key={key:?}")).await;
                    tried += 1;
                }
            }
        }
    }
    println!("hostile query parameters: {tried} requests");
    assert_eq!(row_count(&t, "users").await, 1, "nothing was deleted or added");
}

#[tokio::test]
async fn disconnect_bodies_are_checked_with_clear_errors() {
    let t = spawn_app().await;
    t.connect().await;
    let admin = |body: reqwest::Body, content_type: &str| {
        reqwest::Client::new()
            .post(t.api("/api/auth/disconnect"))
            .bearer_auth(ADMIN_KEY)
            .header("content-type", content_type)
            .body(body)
    };
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("not JSON", b"instagram_user_id".to_vec()),
        ("cut JSON", br#"{"instagram_user_id": "1784"#.to_vec()),
        ("an array", b"[]".to_vec()),
        ("null", b"null".to_vec()),
        (
            "a number for the id",
            br#"{"instagram_user_id": 17841400000000001}"#.to_vec(),
        ),
        (
            "an object for the id",
            br#"{"instagram_user_id": {"$ne": null}}"#.to_vec(),
        ),
        ("no id", br#"{"id": "17841400000000001"}"#.to_vec()),
        ("an empty id", br#"{"instagram_user_id": "   "}"#.to_vec()),
        (
            "a very long id",
            format!(r#"{{"instagram_user_id": "{}"}}"#, "1".repeat(65)).into_bytes(),
        ),
        ("invalid UTF-8", b"{\"instagram_user_id\": \"\xff\xfe\"}".to_vec()),
        ("nested ten thousand deep", deep.into_bytes()),
    ];
    for (what, body) in bad {
        let r = admin(body.into(), "application/json").send().await.expect("answer");
        assert_json_error(r, 400, what).await;
    }
    // Injection-shaped and unicode ids are just ids nobody connected.
    for id in ["' OR 1=1 --", "😀", "17841400000000001%", "%"] {
        let r = admin(
            json!({ "instagram_user_id": id }).to_string().into(),
            "application/json",
        )
        .send()
        .await
        .expect("answer");
        assert_json_error(r, 404, id).await;
    }
    // A form body, which any site can make a browser send, is refused.
    for content_type in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
    ] {
        let r = admin("instagram_user_id=17841400000000001".into(), content_type)
            .send()
            .await
            .expect("answer");
        assert_json_error(r, 415, content_type).await;
    }
    assert_eq!(row_count(&t, "users").await, 1);
}

#[tokio::test]
async fn bodies_over_64_kib_are_refused_with_413_before_they_are_read() {
    let t = spawn_app().await;
    let limit = 64 * 1024;
    let post = |body: reqwest::Body| {
        reqwest::Client::new()
            .post(t.api("/api/auth/disconnect"))
            .bearer_auth(ADMIN_KEY)
            .header("content-type", "application/json")
            .body(body)
    };
    // Exactly at the limit: read, and refused as JSON that is not valid.
    let r = post(vec![b' '; limit].into()).send().await.expect("answer");
    assert_json_error(r, 400, "at the limit").await;
    let r = post(vec![b' '; limit + 1].into()).send().await.expect("answer");
    let body = assert_json_error(r, 413, "over the limit").await;
    assert_eq!(body["error"], "payload_too_large");
    // Declared larger than the limit, with no body sent at all.
    let r = raw_request(
        &t,
        b"POST /api/auth/disconnect HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 413);
    // Chunked, without a length, growing past the limit.
    let mut request = format!(
        "POST /api/auth/disconnect HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..100 {
        request.extend_from_slice(b"400\r\n");
        request.extend_from_slice(&[b' '; 1024]);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let r = raw_request(&t, &request).await;
    assert_eq!(r.status, 413, "chunked over the limit");
}

#[tokio::test]
async fn cron_shards_must_make_sense() {
    let t = spawn_app().await;
    let client = reqwest::Client::new();
    for query in [
        "shard=1",
        "shards=4",
        "shard=x&shards=4",
        "shard=4&shards=4",
        "shard=-1&shards=4",
        "shard=0&shards=0",
        "shard=0&shards=1025",
        "shard=0&shards=99999999999999999999",
        "shard=%F0%9F%98%80&shards=2",
    ] {
        let r = client
            .get(t.api(&format!("/api/cron/refresh-tokens?{query}")))
            .bearer_auth(CRON_SECRET)
            .send()
            .await
            .expect("answer");
        let body = assert_json_error(r, 400, query).await;
        assert!(
            body["message"].as_str().unwrap_or("").contains("shard"),
            "{query}: {body}"
        );
    }
}

#[tokio::test]
async fn a_hostile_callback_goes_to_the_error_page_and_stores_nothing() {
    let t = spawn_app().await;
    // A real state cookie in this browser, so only the hostile values differ.
    let callback = t.authorize(&t.browser, "allow").await;
    let real = url::Url::parse(&callback).expect("url");
    let state: String = real
        .query_pairs()
        .find(|(k, _)| k == "state")
        .expect("state")
        .1
        .into_owned();
    let mut queries: Vec<Vec<(&str, String)>> = vec![
        vec![],
        vec![("state", state.clone())],
        vec![("code", String::new()), ("state", state.clone())],
        vec![
            ("code", "AQ".into()),
            ("state", state.clone()),
            ("state", "other".into()),
        ],
        vec![
            ("state", state.clone()),
            ("error", "access_denied".into()),
            ("code", "AQ".into()),
        ],
    ];
    for value in hostile_strings() {
        queries.push(vec![("code", value.clone()), ("state", value.clone())]);
        queries.push(vec![("code", "AQ".into()), ("state", format!("{state}{value}"))]);
        queries.push(vec![
            ("error", value.clone()),
            ("error_reason", value.clone()),
            ("state", value),
        ]);
    }
    let mut tried = 0;
    for query in &queries {
        let mut url = url::Url::parse(&t.api("/api/auth/callback")).expect("url");
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let r = t.browser.get(url).send().await.expect("answer");
        assert_eq!(r.status(), 302, "{query:?}");
        let to = location(&r);
        assert!(to.starts_with("/?error="), "{query:?} -> {to}");
        tried += 1;
    }
    println!("hostile callbacks: {tried} tried");
    assert_eq!(row_count(&t, "users").await, 0);
}

#[tokio::test]
async fn hostile_headers_are_anonymous_or_401_never_5xx() {
    let t = spawn_app().await;
    t.connect().await;
    let heads: &[&[u8]] = &[
        b"Cookie: urlinsta_session=\r\n",
        b"Cookie: urlinsta_session\r\n",
        b"Cookie: ;;;=;=\r\n",
        b"Cookie: urlinsta_session=e30.\r\n",
        b"Cookie: urlinsta_session=\xff\xfe.\xff\r\n",
        b"Cookie: urlinsta_session=%%%.%%%; urlinsta_session=x.y\r\n",
        b"Authorization: Bearer\r\n",
        b"Authorization: Bearer \r\n",
        b"Authorization: bearer   spaced   key  \r\n",
        b"Authorization: Bearer \xc3\xa9\xff\r\n",
        b"Authorization: Basic dXNlcjpwYXNz\r\n",
        b"Authorization: \r\n",
        b"X-Forwarded-Proto: https, http\r\n",
        b"Content-Type: application/json; charset=\xff\r\n",
    ];
    let mut tried = 0;
    for (_, pattern, methods) in Route::TABLE {
        for method in methods.iter() {
            for head in heads {
                let mut request = format!(
                    "{method} {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n",
                    concrete(pattern, IG)
                )
                .into_bytes();
                request.extend_from_slice(head);
                request.extend_from_slice(b"\r\n");
                let r = raw_request(&t, &request).await;
                let what = format!("{method} {pattern} {}", String::from_utf8_lossy(head).trim());
                assert!(r.status < 500, "{what}: {}", r.status);
                if r.status != 302 && !r.body.is_empty() {
                    serde_json::from_slice::<Value>(&r.body).unwrap_or_else(|e| panic!("{what}: {e}"));
                }
                tried += 1;
            }
        }
    }
    println!("hostile headers: {tried} requests");
    assert_eq!(row_count(&t, "users").await, 1);
}

#[tokio::test]
async fn static_paths_cannot_leave_public() {
    // public/ inside a directory that holds a file nobody may read.
    let root = tempfile::tempdir().expect("dir");
    let public = root.path().join("public");
    std::fs::create_dir_all(public.join("css")).expect("mkdir");
    std::fs::write(public.join("index.html"), "<h1>urlinsta</h1>").expect("write");
    std::fs::write(public.join("css/site.css"), "body{}").expect("write");
    std::fs::write(public.join(".env"), "SECRET=inside").expect("write");
    std::fs::write(root.path().join("secret.txt"), "SECRET=outside").expect("write");
    let t = spawn_app_with(Options {
        public_dir: Some(public),
        ..Options::default()
    })
    .await;

    let ok = raw_request(
        &t,
        b"GET /css/site.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!((ok.status, ok.body.as_slice()), (200, b"body{}".as_slice()));
    assert_eq!(ok.header("content-type"), Some("text/css; charset=utf-8"));

    let attempts = [
        "/../secret.txt",
        "/css/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/css/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "/%252e%252e/secret.txt",
        "/.env",
        "/%2eenv",
        "/css/../.env",
        "/secret.txt%00.html",
        "//secret.txt",
        "/./../secret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/..;/secret.txt",
        &format!("{}/secret.txt", "/..".repeat(50)),
        "/.git/config",
    ];
    for path in attempts {
        let r = raw_request(
            &t,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains("SECRET="),
            "{path} served a file outside public/ or a dotfile"
        );
        assert!((400..500).contains(&r.status), "{path}: {}", r.status);
        assert!(serde_json::from_slice::<Value>(&r.body).is_ok(), "{path}: {body}");
    }
    // Static files are read-only.
    let r = raw_request(
        &t,
        b"POST /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn a_huge_request_line_or_header_is_refused_without_a_5xx() {
    let t = spawn_app().await;
    let long_path = format!(
        "GET /api/health?{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a=1&".repeat(30_000)
    );
    let r = raw_request(&t, long_path.as_bytes()).await;
    assert!((400..500).contains(&r.status) || r.status == 200, "{}", r.status);
    let long_cookie = format!(
        "GET /api/auth/status HTTP/1.1\r\nHost: x\r\nCookie: urlinsta_session={}\r\nConnection: close\r\n\r\n",
        "A".repeat(200_000)
    );
    let r = raw_request(&t, long_cookie.as_bytes()).await;
    assert!((400..500).contains(&r.status), "{}", r.status);
    // And the server goes on.
    let r = reqwest::get(t.api("/api/health")).await.expect("answer");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_read_api_refuses_impossible_dates_and_bad_metrics_clearly() {
    let t = spawn_app().await;
    t.connect().await;
    let read = |query: String| {
        reqwest::Client::new()
            .get(t.api(&format!("/api/insights/{IG}?{query}")))
            .bearer_auth(ADMIN_KEY)
            .send()
    };
    let many = vec!["reach"; 51].join(",");
    let refused = [
        ("from=2026-02-30", "from"),
        ("to=2026-13-01", "to"),
        ("from=2026-11-28T25:61:61Z", "from"),
        ("from=0000-00-00", "from"),
        ("from=yesterday", "from"),
        ("from=%E2%80%AE2026-11-01", "from"),
        ("from=", "from"),
        ("from=2026-11-05&to=2026-11-01", "after"),
        ("from=2026-11-05T10:00:00Z&to=2026-11-05T09:59:59Z", "after"),
        ("metric=Reach", "metric"),
        ("metric=reach,", "metric"),
        ("metric=reach;drop%20table%20insights", "metric"),
        ("metric=%F0%9F%98%80", "metric"),
        ("metric=' OR 1=1 --", "metric"),
        (&format!("metric={many}"), "metrics"),
        ("format=xml", "format"),
        ("format=", "format"),
    ];
    for (query, names) in refused {
        let r = read(query.to_string()).await.expect("answer");
        let body = assert_json_error(r, 400, query).await;
        assert!(
            body["message"].as_str().unwrap_or("").contains(names),
            "{query}: {body}"
        );
    }
    // Odd but valid: leap day, offsets, a far future, every metric the list can hold.
    for query in [
        "from=2028-02-29&to=2028-02-29",
        "from=2026-11-01T00:00:00%2B14:00",
        "to=9999-12-31",
        &format!("metric={}", vec!["reach"; 50].join(",")),
        "metric=",
        "format=csv",
    ] {
        let r = read(query.to_string()).await.expect("answer");
        assert_eq!(r.status(), 200, "{query}");
    }
    for path in [
        "/api/insights/abc",
        "/api/insights/1%27%20OR%201=1",
        "/api/insights/123456789012345678901234567890123",
    ] {
        let r = reqwest::Client::new()
            .get(t.api(path))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .expect("answer");
        assert_json_error(r, 400, path).await;
    }
}

#[tokio::test]
async fn meta_callbacks_refuse_hostile_signed_requests_without_a_5xx() {
    let t = spawn_app().await;
    let mut tried = 0;
    for route in ["/api/auth/deauthorize", "/api/auth/data-deletion"] {
        let mut bodies: Vec<String> = hostile_strings();
        bodies.extend(["a.b", ".", "..", "YQ.YQ", "e30.e30", "=.=", "x.e30.e30"].map(String::from));
        for value in bodies {
            let r = reqwest::Client::new()
                .post(t.api(route))
                .form(&[("signed_request", value.as_str())])
                .send()
                .await
                .expect("answer");
            let status = r.status().as_u16();
            assert!(status == 400 || status == 403, "{route} {value:?}: {status}");
            assert_json_error(r, status, &value).await;
            tried += 1;
        }
        let r = reqwest::Client::new().post(t.api(route)).send().await.expect("answer");
        assert_json_error(r, 400, "no body").await;
    }
    println!("hostile signed requests: {tried} tried");
    assert_eq!(row_count(&t, "deletion_requests").await, 0);
}
