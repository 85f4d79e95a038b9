//! Graph faults at every call site: each fault Meta or the network can
//! produce is classified once, changes only what it should, writes nothing
//! half way, is reported by the job and its log, and takes nothing down.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use urlinsta_core::App;
use urlinsta_core::graph::{ErrorKind, GraphClient, GraphError};
use urlinsta_core::jobs::JobKind;
use urlinsta_core::oauth::{self, ConnectError};
use urlinsta_core::secret::AuthorizationCode;
use urlinsta_core::store::TokenStatus;
use urlinsta_sandbox::{Endpoint, ExchangePolicy, Fault, Sandbox, SandboxConfig};

use crate::harness::*;

const IG: &str = "17841400000000001";

/// A fault, and what urlinsta must make of it.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub fault: Fault,
    pub kind: ErrorKind,
    /// Meta's error code and subcode, when the fault carries them.
    pub code: Option<i64>,
    pub subcode: Option<i64>,
}

fn case(name: impl Into<String>, fault: Fault, kind: ErrorKind, code: Option<i64>, subcode: Option<i64>) -> Case {
    Case {
        name: name.into(),
        fault,
        kind,
        code,
        subcode,
    }
}

/// Every fault the sandbox can answer with at a call site. Timeouts and
/// refused connections need their own configuration; they have their own tests.
pub fn cases() -> Vec<Case> {
    use ErrorKind::*;
    // A forward proxy's error page, printing the URL it could not fetch (with its query).
    let html = |status: u16| Fault::Http {
        status,
        content_type: "text/html; charset=utf-8".into(),
        body: format!(
            "<html><body><h1>{status} Service Unavailable</h1><p>The requested URL could not be retrieved: {{request_url}}</p></body></html>"
        ),
    };
    let mut cases = vec![
        case("HTTP 500 with an HTML body", html(500), Transient, None, None),
        case("HTTP 503 with an HTML body", html(503), Transient, None, None),
        case("truncated JSON", Fault::Truncated, Transient, None, None),
        case("connection dropped", Fault::Close, Transient, None, None),
        case(
            "429 with Retry-After",
            Fault::RetryAfter { secs: 1 },
            Throttled,
            Some(4),
            None,
        ),
    ];
    for code in [4, 17, 32, 613, 80001, 80002] {
        let fault = Fault::Throttle {
            code,
            minutes_to_regain: 7,
        };
        cases.push(case(format!("throttle {code}"), fault, Throttled, Some(code), None));
    }
    for subcode in [
        None,
        Some(458),
        Some(459),
        Some(460),
        Some(463),
        Some(464),
        Some(467),
        Some(492),
    ] {
        let name = format!("190/{}", subcode.map_or("-".into(), |s| s.to_string()));
        cases.push(case(name, Fault::graph(190, subcode), Auth, Some(190), subcode));
    }
    cases.extend([
        case("102 session", Fault::graph(102, None), Auth, Some(102), None),
        case("10 permission", Fault::graph(10, None), Permission, Some(10), None),
        case("200 permission", Fault::graph(200, None), Permission, Some(200), None),
        case(
            "100 invalid parameter",
            Fault::graph(100, None),
            InvalidParameter,
            Some(100),
            None,
        ),
        case("1 unknown", Fault::graph(1, None), Transient, Some(1), None),
        case("2 service", Fault::graph(2, None), Transient, Some(2), None),
    ]);
    cases
}

/// Every Graph call the OAuth callback makes.
const CONNECT_SITES: [Endpoint; 6] = [
    Endpoint::CodeExchange,
    Endpoint::LongLivedExchange,
    Endpoint::DebugToken,
    Endpoint::MeAccounts,
    Endpoint::PageInstagram,
    Endpoint::IgUser,
];

/// The error carries the classification, code and usage the fault implies.
fn assert_classified(e: &GraphError, case: &Case, site: Endpoint) {
    let what = format!("{site:?} / {}: {e}", case.name);
    assert_eq!(e.kind, case.kind, "{what}");
    if case.code.is_some() {
        assert_eq!((e.code, e.subcode), (case.code, case.subcode), "{what}");
    }
    match &case.fault {
        Fault::Throttle { code: 4, .. } => assert_eq!(e.usage.app_pct, Some(100), "{what}"),
        // Account-level throttles say when access comes back, on calls that touch an account.
        Fault::Throttle { .. } if matches!(site, Endpoint::PageInstagram | Endpoint::IgUser) => {
            assert_eq!(e.usage.buc_pct, Some(100), "{what}");
            assert_eq!(e.retry_after, Some(Duration::from_secs(7 * 60)), "{what}");
        }
        Fault::RetryAfter { secs } => assert_eq!(e.retry_after, Some(Duration::from_secs(*secs)), "{what}"),
        _ => {}
    }
}

/// The `code` the dialog hands back for a login in a fresh browser.
pub async fn code_from_dialog(t: &TestApp) -> AuthorizationCode {
    let callback = url::Url::parse(&t.authorize(&browser(), "allow").await).expect("callback url");
    let code = callback.query_pairs().find(|(k, _)| k == "code").expect("a code").1;
    AuthorizationCode::new(code.into_owned())
}

/// The callback in a fresh browser ends on the error page with `graph_error`,
/// without a session, and nothing is stored.
async fn assert_connect_fails_cleanly(t: &TestApp, what: &str) {
    let b = browser();
    let callback = t.authorize(&b, "allow").await;
    let r = b.get(callback).send().await.expect("callback answers");
    assert_eq!(location(&r), "/?error=graph_error", "{what}");
    let cookies: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
    assert!(
        cookies
            .iter()
            .all(|c| !c.to_str().unwrap_or("").starts_with("urlinsta_session=")),
        "{what}: no session"
    );
    assert_nothing_stored(t, what).await;
}

async fn assert_nothing_stored(t: &TestApp, what: &str) {
    for table in ["users", "tokens", "account_state", "insights", "audience_data"] {
        assert_eq!(row_count(t, table).await, 0, "{what}: {table} is empty");
    }
}

/// One connect through the service, expected to fail at Graph.
async fn connect_error(t: &TestApp, app: &App) -> GraphError {
    let code = code_from_dialog(t).await;
    match oauth::connect(app, &code).await {
        Err(ConnectError::Graph(e)) => e,
        other => panic!("expected a Graph error, got {other:?}"),
    }
}

fn assert_alive_and_discreet(t: &TestApp) {
    assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
    assert_no_secrets(&t.control, &t.db_bytes(), "the database file");
}

async fn assert_serving(t: &TestApp) {
    let r = reqwest::get(t.api("/api/health/db")).await.expect("the server answers");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn every_fault_at_every_connect_call_site_fails_the_connect_and_stores_nothing() {
    let t = spawn_app().await;
    let mut tried = 0;
    for site in CONNECT_SITES {
        for case in cases() {
            let what = format!("{site:?} / {}", case.name);
            // Until cleared: retries meet the fault again.
            let code = code_from_dialog(&t).await;
            t.control.inject(site, case.fault.clone(), None);
            match oauth::connect(&t.app, &code).await {
                Err(ConnectError::Graph(e)) => assert_classified(&e, &case, site),
                other => panic!("{what}: expected a Graph error, got {other:?}"),
            }
            assert_connect_fails_cleanly(&t, &what).await;
            t.control.clear_faults();
            tried += 1;
        }
    }
    println!("connect: {tried} faults tried");
    // Once Meta answers again, the same browser flow connects.
    assert_eq!(location(&t.connect().await), "/?connected=true");
    assert_serving(&t).await;
    assert_alive_and_discreet(&t);
}

#[tokio::test]
async fn one_transient_fault_at_a_connect_call_site_is_retried_and_the_connect_succeeds() {
    let t = spawn_app().await;
    for site in CONNECT_SITES {
        // Truncation consumes a code, so only faults that answer before Meta acts.
        for fault in [Fault::graph(2, None), Fault::Close] {
            t.control.inject(site, fault.clone(), Some(1));
            let r = t.login_with(&browser(), "allow").await;
            assert_eq!(location(&r), "/?connected=true", "{site:?} / {fault:?}");
        }
    }
    assert_eq!(row_count(&t, "users").await, 1, "one account, however often connected");
    assert_alive_and_discreet(&t);
}

/// The app with a Graph timeout of 200 ms, for faults slower than that.
async fn spawn_with_short_timeout() -> TestApp {
    spawn_app_with(Options {
        vars: vec![
            ("GRAPH_TIMEOUT_MS", "200".into()),
            ("RATE_LIMIT_PER_HOUR", "1000000".into()),
        ],
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn a_graph_call_slower_than_the_timeout_fails_the_connect_as_transient() {
    let t = spawn_with_short_timeout().await;
    for site in CONNECT_SITES {
        t.control.inject(site, Fault::Delay(Duration::from_secs(1)), None);
        let e = connect_error(&t, &t.app).await;
        assert_eq!(e.kind, ErrorKind::Transient, "{site:?}: {e}");
        assert!(e.message.contains("timed out"), "{site:?}: {e}");
        assert_connect_fails_cleanly(&t, &format!("{site:?} slow")).await;
        t.control.clear_faults();
    }
    assert_alive_and_discreet(&t);
}

/// A port nothing listens on.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// The same app (configuration and database) with Graph at an address that refuses connections.
fn with_graph_refused(app: &App) -> App {
    let mut config = (*app.config).clone();
    config.graph_base_url = closed_port_url().parse().expect("url");
    App {
        graph: GraphClient::new(&config).expect("client"),
        config: Arc::new(config),
        store: app.store.clone(),
        clock: app.clock.clone(),
        instagram: app.instagram.clone(),
    }
}

#[tokio::test]
async fn a_refused_graph_connection_fails_the_connect_as_transient() {
    // The dialog is the sandbox; every Graph call goes to a closed port.
    let t = spawn_app_with(Options {
        vars: vec![("FB_GRAPH_BASE_URL", closed_port_url())],
        ..Options::default()
    })
    .await;
    let e = connect_error(&t, &t.app).await;
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    assert!(e.message.contains("could not connect"), "{e}");
    assert_eq!(e.operation, "oauth/access_token");
    assert_connect_fails_cleanly(&t, "refused").await;
    assert_alive_and_discreet(&t);
}

// ---- the refresh job ----

/// Where in an account's upkeep a call is made.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RefreshSite {
    /// The daily `debug_token` health check.
    Check,
    /// `fb_exchange_token` on a login that ends soon.
    Exchange,
    /// `debug_token` on the new token, when the exchange named no expiry.
    NewExpiry,
    /// `me/accounts` for the Page's new token.
    PageToken,
}

const REFRESH_SITES: [RefreshSite; 4] = [
    RefreshSite::Check,
    RefreshSite::Exchange,
    RefreshSite::NewExpiry,
    RefreshSite::PageToken,
];

impl RefreshSite {
    fn endpoint(self) -> Endpoint {
        match self {
            RefreshSite::Check | RefreshSite::NewExpiry => Endpoint::DebugToken,
            RefreshSite::Exchange => Endpoint::LongLivedExchange,
            RefreshSite::PageToken => Endpoint::MeAccounts,
        }
    }

    fn job_type(self) -> &'static str {
        match self {
            RefreshSite::Check => "token_check",
            _ => "token_refresh",
        }
    }

    /// What an error of `kind` here does to the connection. `debug_token`
    /// runs on the app's own credentials, so its errors say nothing about
    /// the user's token; the exchange and `me/accounts` use the user's token.
    fn status_after(self, kind: ErrorKind) -> Option<TokenStatus> {
        let about_the_user = matches!(self, RefreshSite::Exchange | RefreshSite::PageToken);
        match kind {
            ErrorKind::Auth if about_the_user => Some(TokenStatus::Invalid),
            ErrorKind::Permission if about_the_user => Some(TokenStatus::ReauthRequired),
            _ => None,
        }
    }

    /// Brings the connection (reconnected: active, fresh tokens) to where
    /// the job makes this site's call and no earlier site's.
    async fn arrange(self, t: &TestApp) {
        assert_eq!(location(&t.connect().await), "/?connected=true");
        if self == RefreshSite::Check {
            as_if_checked_yesterday(t).await;
            return;
        }
        expire_in(t, IG, 5).await;
        t.control.set_exchange_policy(if self == RefreshSite::NewExpiry {
            ExchangePolicy::ExtendWithoutExpiresIn
        } else {
            ExchangePolicy::Extend
        });
    }
}

/// Runs refresh-tokens with `fault` at `site` and checks everything it left behind.
async fn refresh_under_fault(
    t: &TestApp,
    site: RefreshSite,
    fault: &Fault,
    kind: ErrorKind,
    what: &str,
) -> RefreshReport {
    site.arrange(t).await;
    let before = tokens(t, IG).await;
    let rows_before = row_count(t, "collection_log").await;
    t.control.inject(site.endpoint(), fault.clone(), None);
    let report = run_refresh(t).await;
    t.control.clear_faults();

    let status = site.status_after(kind);
    let counts = (
        report.counts.refreshed,
        report.counts.failed,
        report.counts.invalid,
        report.counts.reauth_required,
    );
    let expected = match status {
        None => (0, 1, 0, 0),
        Some(TokenStatus::Invalid) => (0, 0, 1, 0),
        Some(_) => (0, 0, 0, 1),
    };
    assert_eq!(counts, expected, "{what}: the job's answer {report:?}");

    let a = account(t, IG).await;
    assert_eq!(a.token.status, status.unwrap_or(TokenStatus::Active), "{what}");
    // Nothing half-written: the tokens are those from before the run.
    let after = tokens(t, IG).await;
    assert_eq!(after.generation, before.generation, "{what}");
    assert_eq!(after.user_token, before.user_token, "{what}");
    assert_eq!(after.page_token, before.page_token, "{what}");

    assert_eq!(
        row_count(t, "collection_log").await,
        rows_before + 1,
        "{what}: one log row"
    );
    let row = &log_rows(t, IG).await[0];
    assert_eq!(row["job_type"], site.job_type(), "{what}: {row}");
    assert_eq!(row["status"], "failed", "{what}: {row}");
    assert_eq!(row["details"]["kind"], kind.as_str(), "{what}: {row}");
    report
}

#[tokio::test]
async fn every_fault_at_every_refresh_call_site_is_reported_and_changes_only_what_it_should() {
    let t = spawn_app().await;
    let mut tried = 0;
    for site in REFRESH_SITES {
        for case in cases() {
            let what = format!("{site:?} / {}", case.name);
            refresh_under_fault(&t, site, &case.fault, case.kind, &what).await;
            let row = &log_rows(&t, IG).await[0];
            if case.code.is_some() {
                assert_eq!(row["error_code"], serde_json::json!(case.code), "{what}: {row}");
                assert_eq!(
                    row["details"]["subcode"],
                    serde_json::json!(case.subcode),
                    "{what}: {row}"
                );
            }
            let a = account(&t, IG).await;
            if a.token.status != TokenStatus::Active {
                assert_eq!((a.token.code, a.token.subcode), (case.code, case.subcode), "{what}");
                assert!(a.token.reason.is_some(), "{what}: a reason a person can act on");
            }
            tried += 1;
        }
    }
    println!("refresh: {tried} faults tried");
    assert_serving(&t).await;
    assert_alive_and_discreet(&t);
}

#[tokio::test]
async fn a_new_token_that_debug_token_calls_invalid_is_not_stored() {
    let t = spawn_app().await;
    let verdict = Fault::Http {
        status: 200,
        content_type: "application/json".into(),
        body: r#"{"data":{"is_valid":false,"scopes":[],"error":{"code":190,"message":"Invalid OAuth access token"}}}"#
            .into(),
    };
    refresh_under_fault(
        &t,
        RefreshSite::NewExpiry,
        &verdict,
        ErrorKind::Auth,
        "new token invalid",
    )
    .await;
    // Once Meta vouches for it, the next run stores it.
    let report = run_refresh(&t).await;
    assert_eq!(report.counts.refreshed, 1, "{report:?}");
}

#[tokio::test]
async fn a_graph_call_slower_than_the_timeout_fails_the_refresh_as_transient() {
    let t = spawn_with_short_timeout().await;
    for site in REFRESH_SITES {
        let slow = Fault::Delay(Duration::from_secs(1));
        refresh_under_fault(&t, site, &slow, ErrorKind::Transient, &format!("{site:?} slow")).await;
        let row = &log_rows(&t, IG).await[0];
        assert!(
            row["error_message"].as_str().unwrap_or("").contains("timed out"),
            "{row}"
        );
    }
    assert_alive_and_discreet(&t);
}

#[tokio::test]
async fn a_refused_graph_connection_fails_the_refresh_and_keeps_the_connection() {
    let t = spawn_app().await;
    assert_eq!(location(&t.connect().await), "/?connected=true");
    expire_in(&t, IG, 5).await;
    as_if_checked_yesterday(&t).await;
    let before = tokens(&t, IG).await;

    let report = refresh_on(&with_graph_refused(&t.app)).await;
    assert_eq!(
        (report.counts.failed, report.counts.refreshed, report.counts.invalid),
        (1, 0, 0),
        "{report:?}"
    );
    let rows = log_rows(&t, IG).await;
    let kinds: Vec<(&str, &str)> = rows
        .iter()
        .take(2)
        .map(|r| {
            (
                r["job_type"].as_str().unwrap_or(""),
                r["details"]["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(kinds, [("token_refresh", "transient"), ("token_check", "transient")]);
    assert!(
        rows[0]["error_message"]
            .as_str()
            .unwrap_or("")
            .contains("could not connect")
    );
    assert_eq!(account(&t, IG).await.token.status, TokenStatus::Active);
    assert_eq!(tokens(&t, IG).await.generation, before.generation);

    // Meta gone altogether (the sandbox shut down), through the cron route.
    as_if_checked_yesterday(&t).await;
    let mut t = t;
    let replacement = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
    std::mem::replace(&mut t.sandbox, replacement).shutdown().await;
    let r = reqwest::Client::new()
        .get(t.api("/api/cron/refresh-tokens"))
        .bearer_auth(CRON_SECRET)
        .send()
        .await
        .expect("cron answers");
    assert_eq!(r.status(), 200);
    let report: RefreshReport = r.json().await.expect("a refresh report");
    assert_eq!((report.counts.failed, report.counts.invalid), (1, 0), "{report:?}");
    assert_eq!(account(&t, IG).await.token.status, TokenStatus::Active);
    assert_serving(&t).await;
    assert_alive_and_discreet(&t);
}

#[tokio::test]
async fn every_fault_at_the_revoke_call_still_disconnects() {
    let t = spawn_app().await;
    for case in cases() {
        assert_eq!(location(&t.connect().await), "/?connected=true");
        t.control.inject(Endpoint::Revoke, case.fault.clone(), None);
        let r = t
            .post(&t.browser, "/api/auth/disconnect")
            .json(&serde_json::json!({ "instagram_user_id": IG }))
            .send()
            .await
            .expect("disconnect answers");
        t.control.clear_faults();
        assert_eq!(r.status(), 200, "{}", case.name);
        let body: Value = r.json().await.expect("json");
        assert_eq!(
            (body["success"].as_bool(), body["revoked"].as_bool()),
            (Some(true), Some(false)),
            "{}",
            case.name
        );
        assert_nothing_stored(&t, &case.name).await;
    }
    assert_alive_and_discreet(&t);
}

// ---- a collection racing a deletion ----

/// Waits (without a timer) until the sandbox has received `n` more HTTP requests.
async fn sandbox_reached(t: &TestApp, before: u64, n: u64) {
    while t.control.http_requests() < before + n {
        tokio::task::yield_now().await;
    }
}

on_both_databases! {
    async fn a_collection_racing_a_disconnect_writes_nothing_of_the_deleted_account(t: TestApp) {
        assert_eq!(location(&t.connect().await), "/?connected=true");
        // The collection's Graph call is held while the account is disconnected.
        t.control.inject(Endpoint::Batch, Fault::Delay(Duration::from_millis(500)), Some(1));
        let before = t.control.http_requests();
        let refresh = t.post(&t.browser, &format!("/api/insights/{IG}/refresh")).send();
        let disconnect = async {
            sandbox_reached(&t, before, 1).await;
            let r = t
                .post(&t.browser, "/api/auth/disconnect")
                .json(&serde_json::json!({ "instagram_user_id": IG }))
                .send()
                .await
                .expect("disconnect answers");
            assert_eq!(r.status(), 200);
        };
        let (refresh, ()) = tokio::join!(refresh, disconnect);
        let refresh = refresh.expect("refresh answers");
        assert_eq!(refresh.status(), 404, "the account is gone: {}", refresh.text().await.unwrap_or_default());
        for table in ["users", "tokens", "account_state", "insights", "audience_data", "audience_snapshots", "collection_log"] {
            assert_eq!(row_count(&t, table).await, 0, "{table}: nothing of the deleted account");
        }
        assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
    }
}

/// An auth error earned by tokens that a reconnect replaced while the call
/// was under way says nothing about the new connection.
#[tokio::test]
async fn an_auth_error_from_replaced_tokens_leaves_the_reconnected_account_active() {
    let t = spawn_app().await;
    assert_eq!(location(&t.connect().await), "/?connected=true");
    // The collection's batch is held; its insights operation then answers 190.
    t.control
        .inject(Endpoint::Batch, Fault::Delay(Duration::from_secs(2)), Some(1));
    t.control
        .inject(Endpoint::Insights, Fault::graph(190, Some(460)), Some(1));
    let before = t.control.http_requests();
    let collect = run_collect(&t.app, JobKind::CollectInsights);
    let reconnect = async {
        sandbox_reached(&t, before, 1).await;
        assert_eq!(location(&t.connect().await), "/?connected=true");
    };
    let (report, ()) = tokio::join!(collect, reconnect);
    assert_eq!(report.counts.failed, 1, "the old token's collection failed: {report:?}");
    let a = account(&t, IG).await;
    assert_eq!(a.token.status, TokenStatus::Active, "{:?}", a.token);
    // Never marked invalid in between: no event was queued for such a change.
    assert_eq!(row_count(&t, "notifications").await, 0);
}

// ---- the collections ----

/// Where a collection calls Meta: an operation inside its batch, or the batch itself.
const COLLECT_SITES: [(JobKind, Endpoint); 5] = [
    (JobKind::CollectInsights, Endpoint::Insights),
    (JobKind::CollectInsights, Endpoint::IgUser),
    (JobKind::CollectInsights, Endpoint::Batch),
    (JobKind::CollectAudience, Endpoint::Demographics),
    (JobKind::CollectAudience, Endpoint::Batch),
];

/// How one account's collection ends under a fault of this kind.
#[derive(Debug, PartialEq)]
enum Collected {
    /// Logged failed; the next run tries again.
    Failed,
    /// Parked until Meta's throttle clears (logged skipped).
    Parked,
}

fn collection_after(kind: ErrorKind) -> (Collected, TokenStatus) {
    match kind {
        ErrorKind::Auth => (Collected::Failed, TokenStatus::Invalid),
        ErrorKind::Permission => (Collected::Failed, TokenStatus::ReauthRequired),
        ErrorKind::Throttled => (Collected::Parked, TokenStatus::Active),
        _ => (Collected::Failed, TokenStatus::Active),
    }
}

/// The account active, never collected this hour or day, not parked, with its budget whole.
async fn ready_to_collect(t: &TestApp) {
    if account(t, IG).await.token.status != TokenStatus::Active {
        assert_eq!(location(&t.connect().await), "/?connected=true");
    }
    sql(
        t,
        "UPDATE account_state SET throttled_until = NULL, throttle_reason = NULL, last_insights_at = NULL,
                last_audience_at = NULL, rate_window_start = NULL, rate_window_calls = 0",
    )
    .await;
}

/// Runs `job` with `fault` at `site` and checks the report, the account and its log row.
async fn collect_under_fault(
    t: &TestApp,
    app: &App,
    job: JobKind,
    site: Endpoint,
    fault: Option<&Fault>,
    kind: ErrorKind,
    what: &str,
) -> CollectReport {
    ready_to_collect(t).await;
    let rows_before = row_count(t, "collection_log").await;
    if let Some(fault) = fault {
        t.control.inject(site, fault.clone(), None);
    }
    let report = run_collect(app, job).await;
    t.control.clear_faults();
    let (ended, status) = collection_after(kind);
    let counts = (report.counts.collected, report.counts.failed, report.counts.skipped);
    let expected = match ended {
        Collected::Failed => (0, 1, 0),
        Collected::Parked => (0, 0, 1),
    };
    assert_eq!(counts, expected, "{what}: the job's answer {report:?}");
    let a = account(t, IG).await;
    assert_eq!(a.token.status, status, "{what}");
    assert_eq!(
        row_count(t, "collection_log").await,
        rows_before + 1,
        "{what}: one log row"
    );
    let row = &log_rows(t, IG).await[0];
    let logged = if ended == Collected::Failed {
        "failed"
    } else {
        "skipped"
    };
    assert_eq!(row["status"], logged, "{what}: {row}");
    assert!(
        !row["error_message"].as_str().unwrap_or("").is_empty(),
        "{what}: the log says why: {row}"
    );
    if ended == Collected::Parked {
        let parked = sql_text(t, "SELECT throttled_until FROM account_state").await;
        assert!(
            parked.is_some_and(|until| until > ts(chrono::Utc::now())),
            "{what}: parked"
        );
    }
    report
}

/// The first column of the first row, as text.
async fn sql_text(t: &TestApp, query: &str) -> Option<String> {
    let conn = t.app.store.conn().await.expect("connection");
    let mut rows = conn.query(query, ()).await.expect("query");
    rows.next()
        .await
        .expect("row")
        .and_then(|r| r.get::<Option<String>>(0).ok().flatten())
}

#[tokio::test]
async fn every_fault_at_every_collection_call_site_is_reported_and_changes_only_what_it_should() {
    let t = spawn_app_with(Options {
        // The fault cases together use far more calls than one account's hourly ceiling.
        vars: vec![("RATE_LIMIT_PER_HOUR", "1000000".into())],
        ..Options::default()
    })
    .await;
    assert_eq!(location(&t.connect().await), "/?connected=true");
    let mut tried = 0;
    for (job, site) in COLLECT_SITES {
        for case in cases() {
            let what = format!("{} at {site:?} / {}", job.name(), case.name);
            collect_under_fault(&t, &t.app, job, site, Some(&case.fault), case.kind, &what).await;
            let row = &log_rows(&t, IG).await[0];
            let (ended, status) = collection_after(case.kind);
            if ended == Collected::Failed && case.code.is_some() {
                assert_eq!(row["error_code"], serde_json::json!(case.code), "{what}: {row}");
            }
            if status != TokenStatus::Active {
                let a = account(&t, IG).await;
                assert_eq!((a.token.code, a.token.subcode), (case.code, case.subcode), "{what}");
            }
            tried += 1;
        }
    }
    println!("collections: {tried} faults tried");
    // Once Meta answers again, both collections succeed.
    ready_to_collect(&t).await;
    for job in [JobKind::CollectInsights, JobKind::CollectAudience] {
        let report = run_collect(&t.app, job).await;
        assert_eq!(report.counts.collected, 1, "{report:?}");
    }
    assert_no_orphans(&t).await;
    assert_serving(&t).await;
    assert_alive_and_discreet(&t);
}

#[tokio::test]
async fn a_slow_or_refused_graph_fails_the_collections_as_transient() {
    let t = spawn_with_short_timeout().await;
    assert_eq!(location(&t.connect().await), "/?connected=true");
    let slow = Fault::Delay(Duration::from_secs(1));
    for job in [JobKind::CollectInsights, JobKind::CollectAudience] {
        let what = format!("{} slower than the timeout", job.name());
        collect_under_fault(
            &t,
            &t.app,
            job,
            Endpoint::Batch,
            Some(&slow),
            ErrorKind::Transient,
            &what,
        )
        .await;
        let row = &log_rows(&t, IG).await[0];
        assert!(
            row["error_message"].as_str().unwrap_or("").contains("timed out"),
            "{what}: {row}"
        );
        let what = format!("{} refused", job.name());
        collect_under_fault(
            &t,
            &with_graph_refused(&t.app),
            job,
            Endpoint::Batch,
            None,
            ErrorKind::Transient,
            &what,
        )
        .await;
        let row = &log_rows(&t, IG).await[0];
        assert!(
            row["error_message"]
                .as_str()
                .unwrap_or("")
                .contains("could not connect"),
            "{what}: {row}"
        );
    }
    assert_alive_and_discreet(&t);
}
