//! For the Graph client's own tests: a stand-in for Meta that gives one
//! fixed answer to every request, and a client pointed at it.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::GraphClient;

/// Serves `status`, one header and `body` to every request; returns its base URL.
pub async fn meta_answering(status: u16, header: (&str, &str), body: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{}: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        header.0,
        header.1,
        body.len()
    );
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            read_request(&mut socket).await;
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    url
}

/// The whole request (head, then its declared body), so that the client sees no reset.
async fn read_request(socket: &mut tokio::net::TcpStream) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = socket.read(&mut buf).await {
        request.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if request.len() >= head_end + 4 + length {
                return;
            }
        }
    }
}

/// A client of Meta at `base_url`, with real-looking credentials.
pub fn client(base_url: &str) -> GraphClient {
    let vars: std::collections::HashMap<String, String> = [
        ("FB_APP_ID", "1234"),
        ("FB_APP_SECRET", "the-app-secret"),
        ("SESSION_SECRET", "s"),
        (
            "TOKEN_ENCRYPTION_KEY",
            "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
        ("CRON_SECRET", "c"),
        ("TURSO_DATABASE_URL", "http://127.0.0.1:9"),
        ("FB_GRAPH_BASE_URL", base_url),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    GraphClient::new(&crate::Config::from_vars(&vars).expect("config")).expect("client")
}
