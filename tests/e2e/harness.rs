//! Spawns the real app the way production runs it, wired to a sandbox by configuration.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::redirect::Policy;
use tempfile::TempDir;
use url::Url;
use urlinsta_core::http::server::{ServerHandle, spawn};
use urlinsta_core::{App, Config};
use urlinsta_sandbox::{Control, Sandbox, SandboxConfig};

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";
pub const CRON_SECRET: &str = "test-cron-secret-0123456789";

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
        ("OAUTH_REDIRECT_URI", format!("{url}/api/auth/callback")),
        ("ADMIN_API_KEY", ADMIN_KEY.to_string()),
        ("CRON_SECRET", CRON_SECRET.to_string()),
        ("GRAPH_RETRY_BASE_MS", "1".to_string()),
        ("GRAPH_TIMEOUT_MS", "3000".to_string()),
        ("LOG_LEVEL", "debug".to_string()),
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
    let public = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("public");
    let server = spawn(listener, app.clone(), public).expect("server");
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

// ---- a real libSQL server (sqld) per test ----

/// A fresh `sqld` on a free loopback port, its data in a temporary directory;
/// killed when dropped. The binary comes from `SQLD_BIN` or `.tools/sqld/sqld`
/// (`./scripts/test` installs it there, checksum-verified).
pub struct Sqld {
    pub url: String,
    child: std::process::Child,
    _dir: TempDir,
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

    /// The whole login as a browser does it, ending at the callback's redirect.
    /// `decision` is "allow" or "cancel".
    pub async fn login_with(&self, browser: &reqwest::Client, decision: &str) -> reqwest::Response {
        let login = browser.get(self.api("/api/auth/login")).send().await.expect("login");
        assert_eq!(login.status(), 302, "login redirects to the dialog");
        let dialog = Url::parse(location(&login)).expect("dialog url");
        let page = browser.get(dialog.clone()).send().await.expect("dialog");
        assert_eq!(page.status(), 200, "dialog page");
        let mut form: Vec<(String, String)> = dialog.query_pairs().into_owned().collect();
        form.push(("decision".into(), decision.into()));
        let mut confirm = dialog.clone();
        confirm.set_query(None);
        confirm.set_path(&format!("{}/confirm", dialog.path()));
        let back = browser.post(confirm).form(&form).send().await.expect("confirm");
        assert_eq!(back.status(), 302, "dialog redirects back");
        let callback = location(&back).to_string();
        browser.get(callback).send().await.expect("callback")
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

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
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

/// Asserts that no token or code the sandbox ever issued appears in `haystack`.
pub fn assert_no_secrets(control: &Control, haystack: &[u8], what: &str) {
    let text = String::from_utf8_lossy(haystack);
    for secret in control.issued_tokens() {
        assert!(
            !text.contains(&secret),
            "{what} contains an issued token or code in plain text"
        );
    }
    assert!(!text.contains("sandbox-secret"), "{what} contains the app secret");
}
