//! A small WebDriver client: Debian's headless Chromium driven through
//! chromedriver over HTTP, enough for the page tests (navigate, find, click,
//! type, read, run a script, wait for a condition in the page, screenshot).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use tempfile::TempDir;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key under which an element reference travels.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long finding an element or waiting for a condition may take before the test fails.
const WAIT_MS: u64 = 60_000;

/// One browser at a time: Chromium is the heaviest thing in the suite, and on
/// a 2-core machine several at once starve each other past any sane wait.
static ONE_BROWSER: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// A browser session; `quit` ends it, and dropping it ends it too (best effort).
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver_addr: String,
    // Dropped after `Browser::drop` has closed the session.
    _driver: Driver,
    _profile: TempDir,
    // Released last, once this browser is gone.
    _turn: tokio::sync::SemaphorePermit<'static>,
}

/// The chromedriver process, stopped when dropped, even when starting Chromium failed.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An element of the current page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

/// Where a binary is: `$VAR` when set, else Debian's path; a missing one fails the test
/// with what to install, so that a machine without a browser never passes silently.
fn binary(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default));
    assert!(
        path.is_file(),
        "the page tests need headless Chromium and chromedriver, but {} is missing \
         (set {var} to another path, or install them: `apt-get install -y chromium chromium-driver`; \
         scripts/test does this for you)",
        path.display()
    );
    path
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium with a
    /// fresh profile and a window of `width` x `height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> Browser {
        let turn = ONE_BROWSER
            .acquire()
            .await
            .expect("the browser semaphore is never closed");
        let chromium = binary("CHROMIUM", CHROMIUM);
        let chromedriver = binary("CHROMEDRIVER", CHROMEDRIVER);
        let child = Command::new(&chromedriver)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let mut driver = Driver(child);
        let port = read_driver_port(&mut driver.0);
        let driver_addr = format!("127.0.0.1:{port}");
        let profile = tempfile::tempdir().expect("profile dir");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("client");
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "timeouts": { "implicit": WAIT_MS, "pageLoad": WAIT_MS, "script": WAIT_MS },
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage", "--lang=en-US", "--hide-scrollbars",
                        format!("--user-data-dir={}", profile.path().display()),
                        format!("--window-size={width},{height}"),
                    ]
                }
            }}
        });
        let reply = http
            .post(format!("http://{driver_addr}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers");
        let body: Value = reply.json().await.expect("session json");
        let session = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver could not start Chromium: {}", body["value"]["message"]))
            .to_string();
        let browser = Browser {
            http,
            session,
            driver_addr,
            _driver: driver,
            _profile: profile,
            _turn: turn,
        };
        browser.set_viewport(width, height).await;
        browser
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("http://{}/session/{}{path}", self.driver_addr, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.map_err(|e| format!("chromedriver: {e}"))?;
        let ok = reply.status().is_success();
        let body: Value = reply.json().await.map_err(|e| format!("chromedriver reply: {e}"))?;
        if ok {
            Ok(body["value"].clone())
        } else {
            Err(format!("{}: {}", body["value"]["error"], body["value"]["message"]))
        }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(reqwest::Method::POST, path, Some(body))
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    async fn get(&self, path: &str) -> Value {
        self.command(reqwest::Method::GET, path, None)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn current_url(&self) -> String {
        self.get("/url").await.as_str().unwrap_or_default().to_string()
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element<'_> {
        let found = match self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await
        {
            Ok(found) => found,
            Err(e) => panic!("no element `{css}` on {}: {e}", self.url_for_errors().await),
        };
        Element {
            browser: self,
            id: found[ELEMENT_KEY].as_str().expect("element id").to_string(),
        }
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await;
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Waits, inside the page, until the JavaScript expression `condition` is
    /// truthy, and fails the test with `what` when it does not become so.
    /// Survives a navigation that happens meanwhile (the check starts again).
    pub async fn wait_for(&self, condition: &str, what: &str) {
        let script = format!(
            "const done = arguments[arguments.length - 1];
             const deadline = Date.now() + {WAIT_MS};
             const check = () => {{
               let ok = false;
               try {{ ok = !!({condition}); }} catch (e) {{ ok = false; }}
               if (ok) return done(true);
               if (Date.now() > deadline) return done(false);
               setTimeout(check, 25);
             }};
             check();"
        );
        let deadline = std::time::Instant::now() + Duration::from_millis(WAIT_MS);
        while std::time::Instant::now() < deadline {
            match self
                .command(
                    reqwest::Method::POST,
                    "/execute/async",
                    Some(json!({ "script": script, "args": [] })),
                )
                .await
            {
                Ok(Value::Bool(true)) => return,
                Ok(_) => break,
                // The page navigated away under the script: check again on the
                // new page. ChromeDriver 156 also says "script timeout" then,
                // long before the script's timeout (seen after 158 ms).
                Err(e)
                    if e.contains("unloaded")
                        || e.contains("context")
                        || e.contains("navigat")
                        || e.contains("timeout") => {}
                Err(e) => panic!("waiting for {what}: {e}"),
            }
        }
        let url = self.url_for_errors().await;
        let body = self
            .execute("return document.body ? document.body.innerText : ''", json!([]))
            .await;
        panic!(
            "timed out waiting for {what} on {url}; the page says:\n{}",
            body.as_str().unwrap_or_default()
        );
    }

    async fn url_for_errors(&self) -> String {
        self.command(reqwest::Method::GET, "/url", None)
            .await
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    }

    /// A Chrome DevTools command, through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.post("/goog/cdp/execute", json!({ "cmd": cmd, "params": params }))
            .await
    }

    /// Lays the page out as on a screen `width` CSS pixels wide (a phone below 600).
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600 }),
        )
        .await;
    }

    /// Saves a PNG of the whole page, `width` wide, as `target/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str, width: u32) -> PathBuf {
        let height = self
            .execute("return Math.ceil(document.documentElement.scrollHeight)", json!([]))
            .await;
        let height = height.as_u64().unwrap_or(900).clamp(300, 8000) as u32;
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600 }),
        )
        .await;
        let shot = self.cdp("Page.captureScreenshot", json!({ "format": "png" })).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("png data"))
            .expect("base64 png");
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).expect("screenshots dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Makes requests whose URL matches one of `patterns` (`*` wildcards) fail, as a broken network would.
    pub async fn block_urls(&self, patterns: &[&str]) {
        self.cdp("Network.enable", json!({})).await;
        self.cdp("Network.setBlockedURLs", json!({ "urls": patterns })).await;
    }

    /// Delays every request by `latency_ms`, as a slow network would (0 to stop).
    pub async fn set_latency(&self, latency_ms: u64) {
        self.cdp("Network.enable", json!({})).await;
        let conditions =
            json!({ "offline": false, "latency": latency_ms, "downloadThroughput": -1, "uploadThroughput": -1 });
        self.cdp("Network.emulateNetworkConditions", conditions).await;
    }

    pub async fn quit(mut self) {
        let _ = self.command(reqwest::Method::DELETE, "", None).await;
        self.session.clear();
    }
}

impl Element<'_> {
    pub async fn click(&self) {
        self.browser
            .post(&format!("/element/{}/click", self.id), json!({}))
            .await;
    }

    pub async fn text(&self) -> String {
        self.browser
            .get(&format!("/element/{}/text", self.id))
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Types `keys`; WebDriver's private-use characters are keys such as `\u{E012}` (left arrow).
    pub async fn send_keys(&self, keys: &str) {
        self.browser
            .post(&format!("/element/{}/value", self.id), json!({ "text": keys }))
            .await;
    }

    /// Moves the mouse over the element's centre, `dx` CSS pixels to the right.
    pub async fn hover(&self, dx: i64) {
        let actions = json!({ "actions": [{
            "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" },
            "actions": [{ "type": "pointerMove", "duration": 0, "origin": { ELEMENT_KEY: self.id }, "x": dx, "y": 0 }]
        }]});
        self.browser.post("/actions", actions).await;
    }

    pub async fn attribute(&self, name: &str) -> Option<String> {
        self.browser
            .get(&format!("/element/{}/attribute/{name}", self.id))
            .await
            .as_str()
            .map(String::from)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that failed midway never reached `quit`: close Chromium
        // through chromedriver (plain HTTP, no runtime needed); `Driver` then stops it.
        if !self.session.is_empty() {
            let _ = delete_session_blocking(&self.driver_addr, &self.session);
        }
    }
}

/// `ChromeDriver was started successfully on port N.`: its port, once it listens.
fn read_driver_port(driver: &mut Child) -> u16 {
    let stdout = driver.stdout.take().expect("driver stdout");
    let mut lines = BufReader::new(stdout);
    let mut line = String::new();
    loop {
        line.clear();
        let n = lines.read_line(&mut line).expect("read chromedriver output");
        assert!(n > 0, "chromedriver exited before it started listening");
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            let port = rest.trim().trim_end_matches('.').parse().expect("chromedriver port");
            // Keep draining its output so that it never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
            return port;
        }
    }
}

fn delete_session_blocking(addr: &str, session: &str) -> std::io::Result<()> {
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut sink = Vec::new();
    stream.read_to_end(&mut sink)?;
    Ok(())
}

pub fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("screenshots")
}
