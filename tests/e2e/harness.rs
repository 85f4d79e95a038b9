//! Spawns the real app the way production runs it, wired to a sandbox by configuration.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use reqwest::redirect::Policy;
use serde_json::Value;
use tempfile::TempDir;
use url::Url;
use urlinsta_core::clock::ManualClock;
use urlinsta_core::collect::CollectCounts;
pub use urlinsta_core::domain::InstagramUserId;
use urlinsta_core::engine::{Report, RunOptions};
use urlinsta_core::http::server::{Limits, ServerHandle, spawn_with};
use urlinsta_core::jobs::{self, JobKind, JobReport};
use urlinsta_core::retry::{Backoff, Retry};
use urlinsta_core::store::{Account, AccountTokens};
use urlinsta_core::tokens::UpkeepCounts;
use urlinsta_core::{App, Config};
use urlinsta_sandbox::{Control, Sandbox, SandboxConfig, UserSpec};

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";
pub const CRON_SECRET: &str = "test-cron-secret-0123456789";
/// The sandbox's default world: this Facebook user connects this Instagram account.
pub const DEFAULT_FB_USER: &str = "100000000000001";
pub const DEFAULT_IG: &str = "17841400000000001";

pub struct TestApp {
    pub url: String,
    pub app: App,
    pub sandbox: Sandbox,
    pub control: Control,
    /// A browser: keeps cookies, does not follow redirects (tests look at each hop).
    pub browser: reqwest::Client,
    pub dir: TempDir,
    /// The hosted database of [`spawn_app_on_sqld`]; stopped when the app is dropped.
    pub sqld: Option<Sqld>,
    server: Option<ServerHandle>,
}

#[derive(Default)]
pub struct Options {
    pub vars: Vec<(&'static str, String)>,
    /// Use this hosted libSQL URL instead of an embedded file.
    pub remote_db: Option<String>,
    /// Serve static files from here instead of the repository's `public/`.
    pub public_dir: Option<std::path::PathBuf>,
    /// The server's limits, when a test needs them shorter than `urlinsta serve`'s.
    pub limits: Option<Limits>,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    capture_logs();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let mut vars: HashMap<String, String> = [
        ("DATABASE_PATH", dir.path().join("urlinsta.db").display().to_string()),
        ("FB_GRAPH_BASE_URL", sandbox.base_url()),
        ("FB_DIALOG_BASE_URL", sandbox.base_url()),
        ("IG_DIALOG_BASE_URL", format!("{}/ig/www", sandbox.base_url())),
        ("IG_API_BASE_URL", format!("{}/ig/api", sandbox.base_url())),
        ("IG_GRAPH_BASE_URL", format!("{}/ig/graph", sandbox.base_url())),
        ("OAUTH_REDIRECT_URI", format!("{url}/api/auth/callback")),
        ("ADMIN_API_KEY", ADMIN_KEY.to_string()),
        ("CRON_SECRET", CRON_SECRET.to_string()),
        ("GRAPH_RETRY_BASE_MS", "1".to_string()),
        ("GRAPH_TIMEOUT_MS", "3000".to_string()),
        ("LOG_LEVEL", "debug".to_string()),
        // No backfill unless a test asks for it (`BACKFILL_DAYS`): the
        // collection tests count the calls and rows of an hourly run.
        ("BACKFILL_DAYS", "0".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(db) = &options.remote_db {
        vars.insert("TURSO_DATABASE_URL".into(), db.clone());
    }
    for (k, v) in options.vars {
        vars.insert(k.to_string(), v);
    }
    let config = Config::from_vars(&vars).expect("config");
    let app = App::build(config).await.expect("app builds");
    let public = options
        .public_dir
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("public"));
    let server = spawn_with(listener, app.clone(), public, options.limits.unwrap_or_default()).expect("server");
    TestApp {
        url,
        app,
        control: sandbox.control(),
        sandbox,
        browser: browser(),
        dir,
        sqld: None,
        server: Some(server),
    }
}

/// The app with all its storage on a fresh `sqld` (the hosted libSQL path).
pub async fn spawn_app_on_sqld() -> TestApp {
    let sqld = Sqld::start().await;
    let mut t = spawn_app_with(Options {
        remote_db: Some(sqld.url.clone()),
        vars: fixed_keys(),
        ..Options::default()
    })
    .await;
    t.sqld = Some(sqld);
    t
}

/// Keys given explicitly, as in production: with a hosted database no local key file is written.
pub fn fixed_keys() -> Vec<(&'static str, String)> {
    vec![
        ("SESSION_SECRET", "test-session-secret-0123456789abcdef".to_string()),
        (
            "TOKEN_ENCRYPTION_KEY",
            "t1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_string(),
        ),
    ]
}

/// Starts a real function binary the way `vercel dev` does and waits until it answers.
pub async fn start_function(bin: &str, env: &[(&str, String)]) -> (tokio::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut command = tokio::process::Command::new(bin);
    command
        .env("VERCEL_DEV_PORT", port.to_string())
        .env_remove("TURSO_DATABASE_URL")
        .env_remove("DATABASE_PATH")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        command.env(k, v);
    }
    let child = command.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..400 {
        if reqwest::get(format!("{base}/api/health")).await.is_ok() {
            return (child, base);
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("{bin} did not answer");
}

// ---- a real libSQL server (sqld) per test ----

/// A fresh `sqld` on a free loopback port, its data in a temporary directory;
/// killed when dropped. The binary comes from `SQLD_BIN` or `.tools/sqld/sqld`
/// (`./scripts/test` installs it there, checksum-verified).
pub struct Sqld {
    pub url: String,
    child: std::process::Child,
    _dir: TempDir,
}

impl Sqld {
    /// Where this sqld keeps its files.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }
}

pub fn sqld_binary() -> std::path::PathBuf {
    let bin = std::env::var_os("SQLD_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/sqld/sqld"));
    assert!(
        bin.is_file(),
        "the hosted-database tests need sqld, which is not at {}: run ./scripts/test (it installs the pinned, \
         checksum-verified sqld into .tools/sqld/) or set SQLD_BIN",
        bin.display()
    );
    bin
}

impl Sqld {
    pub async fn start() -> Sqld {
        Sqld::start_with(&[]).await
    }

    /// With more command-line options, e.g. `--max-concurrent-connections`.
    pub async fn start_with(options: &[&str]) -> Sqld {
        let bin = sqld_binary();
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = std::fs::File::create(dir.path().join("sqld.log")).expect("log file");
        let mut child = std::process::Command::new(&bin)
            .arg("--db-path")
            .arg(dir.path().join("data.sqld"))
            .args(["--http-listen-addr", &format!("127.0.0.1:{port}"), "--no-welcome"])
            .args(options)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let url = format!("http://127.0.0.1:{port}");
        let health = format!("{url}/health");
        let client = reqwest::Client::new();
        // Readiness, not timing: poll until it answers, fail if it exits.
        for _ in 0..2000 {
            if let Ok(r) = client.get(&health).send().await
                && r.status() == 200
            {
                return Sqld { url, child, _dir: dir };
            }
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(dir.path().join("sqld.log")).unwrap_or_default();
                panic!("sqld exited with {status} before it was ready:\n{log}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let _ = child.kill();
        panic!("sqld did not answer GET /health within 20 s");
    }
}

impl Drop for Sqld {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .expect("client")
}

impl TestApp {
    pub fn api(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// A POST as the page sends it: from the app's own origin.
    pub fn post(&self, client: &reqwest::Client, path: &str) -> reqwest::RequestBuilder {
        client.post(self.api(path)).header("origin", &self.url)
    }

    /// The whole login as a browser does it, ending at the callback's redirect.
    /// `decision` is "allow" or "cancel".
    pub async fn login_with(&self, browser: &reqwest::Client, decision: &str) -> reqwest::Response {
        let callback = self.authorize(browser, decision).await;
        browser.get(callback).send().await.expect("callback")
    }

    /// The login up to the dialog's answer: the callback URL (with `code` or
    /// `error`, and `state`) that the browser would open next.
    pub async fn authorize(&self, browser: &reqwest::Client, decision: &str) -> String {
        let login = browser.get(self.api("/api/auth/login")).send().await.expect("login");
        self.decide(browser, &login, decision).await
    }

    /// The dialog that `login` redirected to, answered with `decision`: the callback URL.
    pub async fn decide(&self, browser: &reqwest::Client, login: &reqwest::Response, decision: &str) -> String {
        assert_eq!(login.status(), 302, "login redirects to the dialog");
        let dialog = Url::parse(location(login)).expect("dialog url");
        let page = browser.get(dialog.clone()).send().await.expect("dialog");
        assert_eq!(page.status(), 200, "dialog page");
        let mut form: Vec<(String, String)> = dialog.query_pairs().into_owned().collect();
        form.push(("decision".into(), decision.into()));
        let mut confirm = dialog.clone();
        confirm.set_query(None);
        confirm.set_path(&format!("{}/confirm", dialog.path()));
        let back = browser.post(confirm).form(&form).send().await.expect("confirm");
        assert_eq!(back.status(), 302, "dialog redirects back");
        location(&back).to_string()
    }

    pub async fn connect(&self) -> reqwest::Response {
        self.login_with(&self.browser, "allow").await
    }

    pub async fn status(&self, browser: &reqwest::Client) -> serde_json::Value {
        browser
            .get(self.api("/api/auth/status"))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("json")
    }

    pub fn db_path(&self) -> std::path::PathBuf {
        self.dir.path().join("urlinsta.db")
    }

    /// Every byte of the embedded database (file and WAL).
    pub fn db_bytes(&self) -> Vec<u8> {
        let mut bytes = std::fs::read(self.db_path()).unwrap_or_default();
        bytes.extend(std::fs::read(self.dir.path().join("urlinsta.db-wal")).unwrap_or_default());
        bytes
    }

    /// Connections the app's server has open now.
    pub fn open_connections(&self) -> usize {
        self.server.as_ref().map_or(0, ServerHandle::open_connections)
    }

    /// Requests the app's server has answered so far.
    pub fn requests_served(&self) -> u64 {
        self.server.as_ref().map_or(0, ServerHandle::requests_served)
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }
}

/// Connects one more influencer (a new Facebook user with one Page and one
/// Instagram account) from a browser of its own; the dialog then logs in as
/// the default user again. Its Instagram id and its browser.
pub async fn connect_another(t: &TestApp) -> (String, reqwest::Client) {
    let spec = UserSpec::default_influencer();
    let ig = spec.pages[0]
        .instagram
        .as_ref()
        .expect("an Instagram account")
        .id
        .clone();
    let user = t.control.add_user(spec);
    t.control.set_dialog_user(&user);
    let b = browser();
    assert_eq!(
        location(&t.login_with(&b, "allow").await),
        "/?connected=true",
        "connect {ig}"
    );
    t.control.set_dialog_user(DEFAULT_FB_USER);
    (ig, b)
}

/// The default influencer (in the test's own browser) and `n` more; their Instagram ids.
pub async fn connect_influencers(t: &TestApp, n: usize) -> Vec<String> {
    assert_eq!(location(&t.connect().await), "/?connected=true");
    let mut ids = vec![DEFAULT_IG.to_string()];
    for _ in 0..n {
        ids.push(connect_another(t).await.0);
    }
    ids
}

// ---- jobs and stored state ----

pub type CollectReport = Report<CollectCounts>;
pub type RefreshReport = Report<UpkeepCounts>;

/// One run of refresh-tokens, the way `urlinsta run refresh-tokens` and the scheduler start it.
pub async fn run_refresh(t: &TestApp) -> RefreshReport {
    refresh_on(&t.app).await
}

/// [`run_refresh`] with another App over the same database.
pub async fn refresh_on(app: &App) -> RefreshReport {
    match run_job(app, JobKind::RefreshTokens).await {
        JobReport::RefreshTokens(report) => report,
        other => panic!("refresh-tokens reported {other:?}"),
    }
}

/// One run of collect-insights or collect-audience over all accounts.
pub async fn run_collect(app: &App, job: JobKind) -> CollectReport {
    match run_job(app, job).await {
        JobReport::Collect(report) => report,
        other => panic!("{} reported {other:?}", job.name()),
    }
}

/// One run of any job over all accounts.
pub async fn run_job(app: &App, job: JobKind) -> JobReport {
    jobs::run(app, job, RunOptions::default()).await.expect("job runs")
}

/// `app` with its Graph retries on a clock that moves only when slept on
/// (every sleep returns at once, and is noted) and dice of `seed`: what a
/// run waits, and any time it computes from its clock, is the same every run.
pub fn on_a_manual_clock(app: &App, backoff: Backoff, seed: u64) -> (App, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let app = App {
        graph: app.graph.with_retry(Retry::fixed(backoff, clock.clone(), seed)),
        ..app.clone()
    };
    (app, clock)
}

/// An Instagram user id a test names (the sandbox hands out only valid ones).
pub fn instagram_id(raw: &str) -> InstagramUserId {
    InstagramUserId::parse(raw).expect("an Instagram user id")
}

pub async fn account(t: &TestApp, ig: &str) -> Account {
    t.app
        .store
        .account(&instagram_id(ig))
        .await
        .unwrap()
        .expect("account stored")
}

pub async fn tokens(t: &TestApp, ig: &str) -> AccountTokens {
    let id = account(t, ig).await.id;
    t.app.store.tokens(id).await.unwrap().expect("tokens stored")
}

/// Makes the account's user token end `days` from now, at Facebook and in
/// what urlinsta last learned (as a health check would have recorded it).
pub async fn expire_in(t: &TestApp, ig: &str, days: i64) -> DateTime<Utc> {
    let at = (Utc::now() + Duration::days(days)).trunc_subsecs(0);
    let a = account(t, ig).await;
    let tok = tokens(t, ig).await;
    t.control.set_token_expiry(tok.user_token.expose(), at);
    let stored = t
        .app
        .store
        .record_token_check(
            a.id,
            tok.generation,
            Some(at.into()),
            a.token.data_access_expires_at,
            &a.token.granted_scopes,
        )
        .await
        .unwrap();
    assert!(stored);
    at
}

pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Raw SQL on the test's database (its file, or its `sqld`), for states only time would produce.
pub async fn sql(t: &TestApp, statement: &str) {
    let conn = match &t.sqld {
        Some(server) => {
            let db = libsql::Builder::new_remote(server.url.clone(), String::new())
                .build()
                .await
                .unwrap();
            db.connect().unwrap()
        }
        None => {
            let db = libsql::Builder::new_local(t.db_path()).build().await.unwrap();
            let conn = db.connect().unwrap();
            conn.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
            conn
        }
    };
    conn.execute(statement, ()).await.unwrap();
}

/// As if the last health check was a day ago.
pub async fn as_if_checked_yesterday(t: &TestApp) {
    sql(
        t,
        &format!(
            "UPDATE tokens SET last_checked_at = '{}'",
            ts(Utc::now() - Duration::hours(25))
        ),
    )
    .await;
}

/// The number of rows in a table of the test's database.
pub async fn row_count(t: &TestApp, table: &str) -> i64 {
    let conn = t.app.store.conn().await.expect("connection");
    let mut rows = conn
        .query(&format!("SELECT COUNT(*) FROM {table}"), ())
        .await
        .expect("count");
    let row = rows.next().await.expect("row").expect("one row");
    row.get(0).expect("a number")
}

/// Nothing is left of an account that is gone: every row that names an
/// account names one that exists.
pub async fn assert_no_orphans(t: &TestApp) {
    let conn = t.app.store.conn().await.expect("connection");
    for table in [
        "tokens",
        "insights",
        "audience_data",
        "audience_snapshots",
        "collection_log",
        "account_state",
        "notifications",
        "media",
        "media_insights",
        "story_final_insights",
        "media_rejected_metrics",
        "session_accounts",
    ] {
        let mut rows = conn
            .query(
                &format!(
                    "SELECT COUNT(*) FROM {table} WHERE user_id IS NOT NULL AND user_id NOT IN (SELECT id FROM users)"
                ),
                (),
            )
            .await
            .expect("count");
        let orphans: i64 = rows
            .next()
            .await
            .expect("row")
            .expect("one row")
            .get(0)
            .expect("a number");
        assert_eq!(orphans, 0, "{table} holds rows of an account that is gone");
    }
}

pub async fn log_rows(t: &TestApp, ig: &str) -> Vec<Value> {
    let id = account(t, ig).await.id;
    t.app.store.recent_log(id, 50).await.unwrap()
}

/// Meta's `signed_request` (Deauthorize and Data Deletion callbacks):
/// `base64url(HMAC-SHA256 of the payload segment under secret).base64url(payload)`.
pub fn signed_request(secret: &str, payload: &Value) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{Hmac, Mac};
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(payload.as_bytes());
    format!("{}.{payload}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// What Meta sends now about the Facebook user `user_id`, signed under `secret`.
pub fn signed_request_for(secret: &str, user_id: &str) -> String {
    signed_request(secret, &meta_payload("HMAC-SHA256", Utc::now().timestamp(), user_id))
}

/// The payload of a `signed_request`.
pub fn meta_payload(algorithm: &str, issued_at: i64, user_id: &str) -> Value {
    serde_json::json!({ "algorithm": algorithm, "issued_at": issued_at, "user_id": user_id })
}

/// A response read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Sends `request` byte for byte (paths no client would normalise, broken
/// headers) on a fresh connection and reads the answer until the server closes.
pub async fn raw_request(t: &TestApp, request: &[u8]) -> RawResponse {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = t.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.expect("read");
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    RawResponse {
        status,
        headers,
        body: bytes[split + 4..].to_vec(),
    }
}

pub fn location(r: &reqwest::Response) -> &str {
    r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("")
}

// ---- log capture: every test's logs, in one buffer a test can scan ----

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buffer.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug,hyper=info,reqwest=info,h2=info,libsql=info,rustls=info")
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init();
        buffer
    });
}

/// Everything logged so far by any test in this process.
pub fn captured_logs() -> String {
    LOGS.get()
        .map(|b| String::from_utf8_lossy(&b.lock().unwrap_or_else(|e| e.into_inner())).into_owned())
        .unwrap_or_default()
}

/// Asserts that no token or code the sandbox ever issued appears in
/// `haystack`, not even in part (any 16 characters of one in a row), and
/// neither does the app secret.
pub fn assert_no_secrets(control: &Control, haystack: &[u8], what: &str) {
    const WINDOW: usize = 16;
    let secrets = control.issued_tokens();
    let windows: std::collections::HashSet<&[u8]> = secrets.iter().flat_map(|s| s.as_bytes().windows(WINDOW)).collect();
    // Tokens and codes are made of these; only runs of them can hold a piece of one.
    let token_char = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
    for run in haystack.split(|b| !token_char(b)).filter(|r| r.len() >= WINDOW) {
        if let Some(piece) = run.windows(WINDOW).find(|w| windows.contains(w)) {
            panic!(
                "{what} contains an issued token or code, or a piece of one ({}...)",
                String::from_utf8_lossy(&piece[..6])
            );
        }
    }
    let text = String::from_utf8_lossy(haystack);
    assert!(
        !text.contains("sandbox-sec"),
        "{what} contains the app secret, or a piece of it"
    );
}
