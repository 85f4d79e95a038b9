//! Round trips per account by login: the same accounts' collection through
//! Facebook Login (`graph.facebook.com`, one batch request per round) and
//! through Instagram Login (`graph.instagram.com`, which serves no batch
//! requests: one request per call). In process, on an embedded database,
//! against an in-process sandbox at the run's latency.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;
use urlinsta_core::engine::RunOptions;
use urlinsta_core::jobs::{self, JobKind};
use urlinsta_core::secret::AccessToken;
use urlinsta_core::store::{NewConnection, NewInstagramLogin, sql::ts};
use urlinsta_core::{App, Config};
use urlinsta_sandbox::{IgSpec, Sandbox, SandboxConfig, UserSpec};

use super::Settings;

/// One job's figures on one path.
#[derive(Debug, Clone, Serialize)]
pub struct PathFigures {
    pub login: &'static str,
    pub job: &'static str,
    pub accounts: usize,
    pub http_requests_per_account: f64,
    pub graph_calls_per_account: f64,
    pub seconds: f64,
}

#[derive(Clone, Copy)]
enum Login {
    Facebook,
    Instagram,
}

/// Both paths, collect-insights then collect-audience, `accounts` each.
pub async fn measure(settings: &Settings, accounts: usize) -> anyhow::Result<Vec<PathFigures>> {
    let mut out = Vec::new();
    for login in [Login::Facebook, Login::Instagram] {
        out.extend(one_path(settings, accounts, login).await?);
    }
    Ok(out)
}

async fn one_path(settings: &Settings, accounts: usize, login: Login) -> anyhow::Result<Vec<PathFigures>> {
    let sandbox = Sandbox::start(SandboxConfig {
        latency: settings.latency(),
        ..SandboxConfig::default()
    })
    .await?;
    let control = sandbox.control();
    let dir = tempfile::tempdir()?;
    let base = sandbox.base_url();
    let vars: HashMap<String, String> = [
        ("DATABASE_PATH", dir.path().join("paths.db").display().to_string()),
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
                let spec = UserSpec::default_influencer();
                let page = spec.pages[0].clone();
                let ig = page.instagram.clone().expect("an influencer has an Instagram account");
                let user = control.add_user(spec);
                let granted = control
                    .grant_tokens(&user, urlinsta_core::oauth::SCOPES)
                    .expect("the user exists");
                let page_token = granted.pages[0].1.clone();
                app.store
                    .upsert_connection(&NewConnection {
                        instagram_user_id: super::env::sandbox_id(&ig.id),
                        username: Some(ig.username),
                        name: Some(ig.name),
                        facebook_page_id: page.id,
                        facebook_page_name: page.name,
                        facebook_user_id: Some(user),
                        followers_count: Some(ig.followers_count),
                        user_token: AccessToken::new(granted.user_token),
                        user_token_expires_at: Some(ts(now + chrono::Duration::days(50))),
                        page_token: AccessToken::new(page_token),
                        data_access_expires_at: Some(ts(now + chrono::Duration::days(90))),
                        granted_scopes: urlinsta_core::oauth::SCOPES.iter().map(|s| s.to_string()).collect(),
                    })
                    .await?;
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
                let token = control.grant_instagram_token(&id);
                app.store
                    .upsert_instagram_login(&NewInstagramLogin {
                        instagram_scoped_id: control.instagram_scoped_id(&id),
                        instagram_user_id: super::env::sandbox_id(&id),
                        username: None,
                        name: None,
                        followers_count: Some(12_345),
                        token: AccessToken::new(token),
                        token_expires_at: Some(ts(now + chrono::Duration::days(50))),
                        granted_scopes: urlinsta_core::instagram::SCOPES.iter().map(|s| s.to_string()).collect(),
                    })
                    .await?;
            }
        }
    }
    let mut out = Vec::new();
    for job in [JobKind::CollectInsights, JobKind::CollectAudience] {
        control.reset_calls();
        let started = Instant::now();
        jobs::run(&app, job, RunOptions::default()).await?;
        let per = |n: u64| n as f64 / accounts.max(1) as f64;
        out.push(PathFigures {
            login: match login {
                Login::Facebook => "facebook",
                Login::Instagram => "instagram",
            },
            job: job.name(),
            accounts,
            http_requests_per_account: per(control.http_requests()),
            graph_calls_per_account: per(control.graph_calls()),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    sandbox.shutdown().await;
    Ok(out)
}

/// The figures as a Markdown table.
pub fn to_markdown(figures: &[PathFigures], latency_ms: u64) -> String {
    let mut md = format!(
        "\n### Round trips per account by login\n\nThe same collection through each login ({} accounts each, sandbox latency {latency_ms} ms, embedded database). Facebook Login's calls travel in one batch request per round; `graph.instagram.com` serves no batch requests, so every call is a request of its own.\n\n| login | job | HTTP requests / account | Graph calls / account | seconds |\n|---|---|---:|---:|---:|\n",
        figures.first().map_or(0, |f| f.accounts)
    );
    for f in figures {
        md.push_str(&format!(
            "| {} | {} | {:.1} | {:.1} | {:.2} |\n",
            f.login, f.job, f.http_requests_per_account, f.graph_calls_per_account, f.seconds
        ));
    }
    md
}
