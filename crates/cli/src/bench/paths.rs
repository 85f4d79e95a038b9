//! Round trips per account by login: the same accounts' collection (account
//! metrics, audience, and a few days of posts, a reel and a story) and
//! token upkeep through Facebook Login (`graph.facebook.com`, one batch
//! request per round) and through Instagram Login (`graph.instagram.com`,
//! which serves no batch requests: one request per call). In process,
//! against an in-process sandbox at the run's latency, on `sqld` behind the
//! counting proxy (database round trips and writes counted) when the
//! invocation measures `sqld`, else on an embedded file.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Serialize;
use urlinsta_core::domain::Timestamp;
use urlinsta_core::engine::RunOptions;
use urlinsta_core::jobs::{self, JobKind, JobReport};
use urlinsta_core::secret::AccessToken;
use urlinsta_core::store::{NewInstagramLogin, sql::ts};
use urlinsta_core::{App, Config};
use urlinsta_sandbox::{Control, IgSpec, MediaSpec, Sandbox, SandboxConfig};

use super::Settings;
use super::sqld::{CountingProxy, Sqld};

/// One job's figures on one path.
#[derive(Debug, Clone, Serialize)]
pub struct PathFigures {
    pub login: &'static str,
    pub job: &'static str,
    pub accounts: usize,
    /// Accounts the run collected, refreshed or checked.
    pub done: usize,
    pub http_requests_per_account: f64,
    pub graph_calls_per_account: f64,
    /// On `sqld` only.
    pub db_round_trips_per_account: Option<f64>,
    pub db_writes_per_account: Option<f64>,
    pub seconds: f64,
}

#[derive(Clone, Copy)]
enum Login {
    Facebook,
    Instagram,
}

/// Both paths, `accounts` each: collect-insights twice (the media are
/// catalogued in the first hour and measured in the next), collect-audience,
/// then refresh-tokens twice, with every token due for its daily check, then
/// with every token due for renewal. On `sqld` when `sqld_bin` is given.
pub async fn measure(
    settings: &Settings,
    accounts: usize,
    sqld_bin: Option<&Path>,
) -> anyhow::Result<Vec<PathFigures>> {
    let mut out = Vec::new();
    for login in [Login::Facebook, Login::Instagram] {
        out.extend(one_path(settings, accounts, login, sqld_bin).await?);
    }
    Ok(out)
}

/// What is made due before a run: the next hour's collection, or the
/// tokens' daily check or renewal.
#[derive(Clone, Copy)]
enum Due {
    NextHour,
    Check,
    Renewal,
}

impl Due {
    fn label(self) -> &'static str {
        match self {
            Due::NextHour => "collect-insights (next hour: media measured)",
            Due::Check => "refresh-tokens (daily check)",
            Due::Renewal => "refresh-tokens (renewal)",
        }
    }

    /// Every account due again with a fresh hourly budget; every token
    /// checked two days ago, and (for a renewal) ending in five days, issued
    /// two days ago: due on both logins.
    fn sql(self, now: chrono::DateTime<chrono::Utc>) -> String {
        let ago = ts(now - chrono::Duration::days(2));
        match self {
            Due::NextHour => {
                "UPDATE account_state SET last_insights_at = NULL, rate_window_calls = 0, rate_window_start = NULL"
                    .to_string()
            }
            Due::Check => format!("UPDATE tokens SET last_checked_at = '{ago}'"),
            Due::Renewal => format!(
                "UPDATE tokens SET last_checked_at = '{ago}', last_refreshed_at = '{ago}', user_token_expires_at = '{}'",
                ts(now + chrono::Duration::days(5))
            ),
        }
    }
}

async fn one_path(
    settings: &Settings,
    accounts: usize,
    login: Login,
    sqld_bin: Option<&Path>,
) -> anyhow::Result<Vec<PathFigures>> {
    let sandbox = Sandbox::start(SandboxConfig {
        latency: settings.latency(),
        ..SandboxConfig::default()
    })
    .await?;
    let control = sandbox.control();
    let dir = tempfile::tempdir()?;
    let hosted = match sqld_bin {
        Some(bin) => {
            let sqld = Sqld::start(bin).await?;
            let proxy = CountingProxy::start(&sqld.url, Duration::from_millis(settings.db_latency_ms)).await?;
            Some((sqld, proxy))
        }
        None => None,
    };
    let database = match &hosted {
        Some((_, proxy)) => ("TURSO_DATABASE_URL", proxy.url.clone()),
        None => ("DATABASE_PATH", dir.path().join("paths.db").display().to_string()),
    };
    let base = sandbox.base_url();
    let vars: HashMap<String, String> = [
        database,
        ("FB_GRAPH_BASE_URL", base.clone()),
        ("FB_DIALOG_BASE_URL", base.clone()),
        ("IG_DIALOG_BASE_URL", format!("{base}/ig/www")),
        ("IG_API_BASE_URL", format!("{base}/ig/api")),
        ("IG_GRAPH_BASE_URL", format!("{base}/ig/graph")),
        ("COLLECT_CONCURRENCY", settings.concurrency.to_string()),
        ("RATE_LIMIT_PER_HOUR", "10000".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let app = App::build(Config::from_vars(&vars)?).await?;
    let now = chrono::Utc::now();
    for n in 0..accounts {
        match login {
            Login::Facebook => {
                let ig = super::env::connect_influencer(&app, &control, now).await?;
                post_media(&control, &ig);
            }
            Login::Instagram => {
                let id = format!("178414{:011}", 50_000 + n);
                control.add_instagram_only(IgSpec {
                    id: id.clone(),
                    username: format!("solo.{n}"),
                    name: format!("Solo {n}"),
                    followers_count: 12_345,
                    follows_count: 300,
                    media_count: 40,
                });
                post_media(&control, &id);
                let token = control.grant_instagram_token(&id);
                app.store
                    .upsert_instagram_login(&NewInstagramLogin {
                        instagram_scoped_id: control.instagram_scoped_id(&id),
                        instagram_user_id: super::env::sandbox_id(&id),
                        username: None,
                        name: None,
                        followers_count: Some(12_345),
                        token: AccessToken::new(token),
                        token_expires_at: Some(Timestamp::from(now + chrono::Duration::days(50))),
                        granted_scopes: urlinsta_core::graph::INSTAGRAM_SCOPES
                            .iter()
                            .map(|s| s.to_string())
                            .collect(),
                    })
                    .await?;
            }
        }
    }
    let runs = [
        (JobKind::CollectInsights, None),
        (JobKind::CollectInsights, Some(Due::NextHour)),
        (JobKind::CollectAudience, None),
        (JobKind::RefreshTokens, Some(Due::Check)),
        (JobKind::RefreshTokens, Some(Due::Renewal)),
    ];
    let mut out = Vec::new();
    for (job, due) in runs {
        if let Some(due) = due {
            if matches!(due, Due::Renewal) {
                // Meta renews only tokens a day old: two days pass at Meta too.
                control.advance(chrono::Duration::days(2));
            }
            app.store
                .conn()
                .await?
                .execute(&due.sql(chrono::Utc::now()), ())
                .await?;
        }
        control.reset_calls();
        let before = hosted.as_ref().map(|(_, proxy)| proxy.round_trips());
        let started = Instant::now();
        let report = jobs::run(&app, job, RunOptions::default()).await?;
        let seconds = started.elapsed().as_secs_f64();
        let db = hosted
            .as_ref()
            .zip(before)
            .map(|((_, proxy), before)| proxy.round_trips() - before);
        let per = |n: u64| n as f64 / accounts.max(1) as f64;
        out.push(PathFigures {
            login: match login {
                Login::Facebook => "facebook",
                Login::Instagram => "instagram",
            },
            job: due.map_or(job.name(), Due::label),
            accounts,
            done: match (&report, due) {
                (JobReport::Collect(r), _) => r.counts.collected,
                (JobReport::RefreshTokens(r), Some(Due::Renewal)) => r.counts.refreshed,
                (JobReport::RefreshTokens(r), _) => r.counts.checked,
            },
            http_requests_per_account: per(control.http_requests()),
            graph_calls_per_account: per(control.graph_calls()),
            db_round_trips_per_account: db.map(|d| per(d.requests)),
            db_writes_per_account: db.map(|d| per(d.writes)),
            seconds,
        });
    }
    sandbox.shutdown().await;
    if let Some((sqld, _proxy)) = hosted {
        sqld.stop().await;
    }
    Ok(out)
}

/// A creator's last days: three posts, a reel and a live story.
fn post_media(control: &Control, ig_id: &str) {
    let now = control.now();
    for hours in [50, 30, 10] {
        control.add_media(ig_id, MediaSpec::post().posted_at(now - chrono::Duration::hours(hours)));
    }
    control.add_media(ig_id, MediaSpec::reel().posted_at(now - chrono::Duration::hours(5)));
    control.add_media(
        ig_id,
        MediaSpec::story()
            .reaching(200)
            .posted_at(now - chrono::Duration::hours(2)),
    );
}

/// The figures as a Markdown table.
pub fn to_markdown(figures: &[PathFigures], latency_ms: u64) -> String {
    let on = match figures.first().is_some_and(|f| f.db_round_trips_per_account.is_some()) {
        true => "`sqld` through the counting proxy",
        false => "embedded database",
    };
    let mut md = format!(
        "\n### Round trips per account by login\n\nThe same collection and token upkeep through each login ({} accounts each, every one with three posts, a reel and a live story; sandbox latency {latency_ms} ms, {on}). collect-insights runs twice: the first hour catalogues the media, the next measures them by type. Facebook Login's calls travel in one batch request per round; `graph.instagram.com` serves no batch requests, so every call is a request of its own. refresh-tokens runs once with every token due for its daily check, then once with every token due for renewal; done counts the accounts collected, checked or renewed. Database round trips and writes are per account of the run, its lease and candidate query included.\n\n| login | job | done | HTTP requests / account | Graph calls / account | DB round trips / account | DB writes / account | seconds |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
        figures.first().map_or(0, |f| f.accounts)
    );
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    for f in figures {
        md.push_str(&format!(
            "| {} | {} | {} | {:.1} | {:.1} | {} | {} | {:.2} |\n",
            f.login,
            f.job,
            f.done,
            f.http_requests_per_account,
            f.graph_calls_per_account,
            opt(f.db_round_trips_per_account),
            opt(f.db_writes_per_account),
            f.seconds
        ));
    }
    md
}
