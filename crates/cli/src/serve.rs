//! `urlinsta serve`: the local server and scheduler.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use urlinsta_core::engine::Shard;
use urlinsta_core::http::server::Limits;
use urlinsta_core::jobs::schedule::{self, CronExpr};
use urlinsta_core::{App, Config};
use urlinsta_sandbox::{Sandbox, SandboxConfig};

#[derive(Args)]
pub struct ServeArgs {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    port: u16,
    /// Address to bind (0.0.0.0 to serve other machines).
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1")]
    bind: String,
    /// The static page directory.
    #[arg(long, default_value = "public")]
    public: PathBuf,
    /// Where the job schedules are read from.
    #[arg(long, default_value = "vercel.json")]
    vercel_json: PathBuf,
    /// Serve only; run no scheduled jobs.
    #[arg(long)]
    no_scheduler: bool,
    /// Open client connections at most; more wait until one closes.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = Limits::default().max_connections)]
    max_connections: usize,
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = Config::from_env()?;
    urlinsta_core::telemetry::init(&config.log_level);
    if std::env::var_os("OAUTH_REDIRECT_URI").is_none() && !config.strict {
        config.oauth_redirect_uri = format!("http://localhost:{}/api/auth/callback", args.port).parse()?;
        if let Some(ig) = config
            .instagram
            .as_mut()
            .filter(|_| std::env::var_os("IG_OAUTH_REDIRECT_URI").is_none())
        {
            ig.redirect_uri = config.oauth_redirect_uri.clone();
        }
    }

    // Without a Meta app the sandbox stands in for Facebook, in this process.
    let _sandbox = if config.sandbox {
        let sandbox = Sandbox::start(SandboxConfig {
            app_id: config.app_id.clone(),
            app_secret: config.app_secret.expose().to_string(),
            ..SandboxConfig::default()
        })
        .await
        .context("starting the sandbox Graph API")?;
        let base: url::Url = sandbox.base_url().parse()?;
        config.graph_base_url = base.clone();
        config.dialog_base_url = base.clone();
        // Instagram Login's three hosts are the same emulator under /ig/...
        if let Some(ig) = config.instagram.as_mut() {
            ig.dialog_base_url = base.join("ig/www")?;
            ig.api_base_url = base.join("ig/api")?;
            ig.graph_base_url = base.join("ig/graph")?;
        }
        Some(sandbox)
    } else {
        None
    };

    let sandbox_note = config.sandbox.then(|| config.graph_base_url.to_string());
    let app = App::build(config).await?;
    let listener = tokio::net::TcpListener::bind((args.bind.as_str(), args.port))
        .await
        .with_context(|| format!("binding {}:{}", args.bind, args.port))?;
    let public = if args.public.is_dir() {
        args.public.clone()
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../public")
    };
    let limits = Limits {
        max_connections: args.max_connections,
        ..Limits::default()
    };
    let server = urlinsta_core::http::server::spawn_with(listener, app.clone(), public, limits)?;

    println!("urlinsta is serving http://localhost:{}", args.port);
    if let Some(url) = sandbox_note {
        println!(
            "SANDBOX MODE (local development only): FB_APP_ID is not set, so Facebook's login dialog and the Graph API are emulated at {url}.\n\
             Open http://localhost:{} and click Connect; nothing leaves this machine.",
            args.port
        );
    }

    if !args.no_scheduler {
        let text = std::fs::read_to_string(&args.vercel_json)
            .with_context(|| format!("reading {}", args.vercel_json.display()))?;
        let jobs = schedule::from_vercel_json(&text).map_err(anyhow::Error::msg)?;
        for (job, expr) in &jobs {
            println!("scheduled {} at `{}` (UTC)", job.name(), expr.as_str());
        }
        tokio::spawn(scheduler(app.clone(), jobs));
    }

    shutdown_signal().await?;
    println!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// Ctrl-C, or SIGTERM as systemd, a container runtime or `kill` sends it.
async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await
}

/// Wakes at every minute boundary and starts the jobs due then, each in its own task.
async fn scheduler(app: App, jobs: Vec<(urlinsta_core::jobs::JobKind, CronExpr)>) {
    loop {
        let now = chrono::Utc::now();
        let into_minute = u64::from(chrono::Timelike::second(&now)) * 1000 + u64::from(now.timestamp_subsec_millis());
        tokio::time::sleep(std::time::Duration::from_millis(60_000 - into_minute.min(59_999))).await;
        let minute = chrono::Utc::now();
        for (job, expr) in &jobs {
            if expr.matches(minute) {
                let app = app.clone();
                let job = *job;
                tokio::spawn(async move {
                    match crate::run_job(&app, job, Shard::default()).await {
                        Ok(report) => tracing::info!(job = job.name(), ?report, "scheduled job finished"),
                        Err(e) => tracing::error!(job = job.name(), error = %e, "scheduled job failed"),
                    }
                });
            }
        }
    }
}
