//! `urlinsta serve` faces its clients itself: half-sent requests, slow bodies,
//! slow answers and piles of idle connections are cut off by its limits
//! (`http::server::Limits`), and the server keeps answering everyone else.
//! The limits are shortened here so that each cut-off comes within a second.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use urlinsta_core::http::server::Limits;

use crate::harness::*;

/// Longer than any limit below: a read not ended by then was never cut off.
const BOUND: Duration = Duration::from_secs(20);

async fn app_with(limits: Limits) -> TestApp {
    spawn_app_with(Options {
        limits: Some(limits),
        ..Options::default()
    })
    .await
}

async fn open(t: &TestApp, head: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(t.url.trim_start_matches("http://"))
        .await
        .expect("connect");
    stream.write_all(head).await.expect("write");
    stream
}

/// Everything the server sends until it closes the connection; panics if it never does.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    match tokio::time::timeout(BOUND, stream.read_to_end(&mut bytes)).await {
        Ok(_) => bytes,
        Err(_) => panic!("the server kept the connection open for {BOUND:?}"),
    }
}

async fn health(t: &TestApp) -> u16 {
    let r = tokio::time::timeout(BOUND, reqwest::get(t.api("/api/health")))
        .await
        .expect("health answers in time")
        .expect("health answers");
    r.status().as_u16()
}

#[tokio::test]
async fn half_sent_requests_are_dropped_by_the_header_timeout_and_others_are_served_meanwhile() {
    assert_eq!(Limits::default().header_read, Duration::from_secs(30));
    let t = app_with(Limits {
        header_read: Duration::from_millis(500),
        ..Limits::default()
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..200 {
        slow.push(open(&t, b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Slow: ").await);
    }
    // An idle kept-alive connection, after one answered request, goes the same way.
    let mut idle = open(&t, b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(health(&t).await, 200, "served while 200 clients hold half a request");
    for stream in &mut slow {
        let answer = until_closed(stream).await;
        assert!(
            !answer.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&answer)
        );
    }
    let answer = until_closed(&mut idle).await;
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "the one whole request was answered first"
    );
    assert_eq!(health(&t).await, 200);
}

#[tokio::test]
async fn a_slow_body_or_a_slow_answer_ends_at_the_request_deadline() {
    let t = app_with(Limits {
        api_deadline: Duration::from_millis(500),
        ..Limits::default()
    })
    .await;
    // Ten bytes of a hundred promised, then nothing.
    let mut stream = open(
        &t,
        format!(
            "POST /api/auth/disconnect HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ADMIN_KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"instagr"
        )
        .as_bytes(),
    )
    .await;
    let answer = String::from_utf8_lossy(&until_closed(&mut stream).await).into_owned();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("took longer than"), "{answer}");

    // Meta answering slower than the deadline: the refresh is cut off with a 503, not left hanging.
    assert_eq!(location(&t.connect().await), "/?connected=true");
    t.control.set_latency(Duration::from_secs(2));
    let r = tokio::time::timeout(
        BOUND,
        browser()
            .post(t.api(&format!("/api/insights/{DEFAULT_IG}/refresh")))
            .bearer_auth(ADMIN_KEY)
            .send(),
    )
    .await
    .expect("an answer in time")
    .expect("an answer");
    assert_eq!(r.status(), 503);
    t.control.set_latency(Duration::ZERO);
    assert_eq!(health(&t).await, 200);
}

#[tokio::test]
async fn open_connections_are_capped_and_the_rest_wait_their_turn() {
    let cap = 8;
    let t = app_with(Limits {
        max_connections: cap,
        ..Limits::default()
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..3 * cap {
        idle.push(open(&t, b"").await);
    }
    // The server takes exactly `cap` of them; the rest wait in the backlog.
    for _ in 0..2000 {
        if t.open_connections() == cap {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(t.open_connections(), cap);
    // A request behind them is answered once they go.
    let waiting = tokio::spawn({
        let url = t.api("/api/health");
        async move { reqwest::get(url).await.map(|r| r.status().as_u16()) }
    });
    assert!(t.open_connections() <= cap);
    drop(idle);
    let status = tokio::time::timeout(BOUND, waiting)
        .await
        .expect("answered once the idle clients left")
        .expect("task")
        .expect("an answer");
    assert_eq!(status, 200);
    assert!(t.open_connections() <= cap);
}
