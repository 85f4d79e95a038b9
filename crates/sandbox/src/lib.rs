//! An in-process emulator of the Meta Graph API endpoints urlinsta uses:
//! Facebook Login (dialog, code, long-lived tokens), `debug_token`,
//! `me/accounts`, Page and Instagram nodes, Instagram insights, media
//! (posts, reels, stories) with their insights and the `story_insights`
//! webhook, batch requests and permission revocation, with Meta's shapes and
//! errors as of December 2026; and Instagram Login (its dialog, code
//! exchange, token renewal and `graph.instagram.com` reads) under `/ig/...`
//! (`instagram/`).
//!
//! Tests start a [`Sandbox`], point the Graph and dialog base URLs at
//! [`Sandbox::base_url`], and steer the world through [`Control`]: users and
//! accounts, the virtual clock, token deaths, faults, throttles, usage.
//!
//! ```no_run
//! use urlinsta_sandbox::{Endpoint, Fault, PageSpec, Sandbox, SandboxConfig, UserSpec};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let control = sandbox.control();
//! // A second influencer, logged in by the dialog from now on.
//! let user = control.add_user(UserSpec {
//!     name: "Ana".into(),
//!     pages: vec![PageSpec::with_instagram("200000000000002", "Ana Studio", "17841400000000002", "ana", 5_000)],
//!     declined_scopes: vec![],
//! });
//! control.set_dialog_user(&user);
//! // The next insights call fails like a Meta outage.
//! control.inject(Endpoint::Insights, Fault::graph(2, None), Some(1));
//! // Point FB_GRAPH_BASE_URL and FB_DIALOG_BASE_URL at this:
//! let _base = sandbox.base_url();
//! # Ok(())
//! # }
//! ```
//!
//! Where Meta's behaviour is not documented the choice is marked
//! "unverified" where it lives, so it can change in one place: the error for
//! too few followers (`errors.rs`) and lapsed data access (`errors.rs`,
//! `oauth.rs`). The insights day ends at 08:00 UTC all year (`insights.rs`),
//! ignoring daylight saving time.

mod auth;
mod batch;
mod control;
mod demographics;
mod dialog;
mod errors;
mod faults;
mod fields;
mod graph;
mod insights;
mod instagram;
mod media;
mod media_api;
mod media_control;
mod oauth;
mod request;
mod route;
mod server;
mod spec;
mod story_webhook;
mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use control::{CallRecord, Control, ExchangePolicy, GrantedTokens, IgSpec, PageSpec, TokenKind, UserSpec};
pub use faults::{Endpoint, Fault};
pub use insights::{day_end, meta_day};
pub use instagram::IgEndpoint;
pub use media::{MediaKind, MediaSpec, MetricSetCount, ProductType, Via};
pub use story_webhook::{DeliveryOptions, StoryDelivery, sign as sign_delivery};

/// How the emulated Meta app is set up.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    pub app_id: String,
    pub app_secret: String,
    /// Added before every response.
    pub latency: Duration,
    /// Calls with a user or page token must carry `appsecret_proof`.
    pub require_appsecret_proof: bool,
    /// The Instagram product's own app id and secret (Instagram Login).
    pub ig_app_id: String,
    pub ig_app_secret: String,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            app_id: "sandbox-app".to_string(),
            app_secret: "sandbox-secret".to_string(),
            latency: Duration::ZERO,
            require_appsecret_proof: true,
            ig_app_id: "sandbox-ig-app".to_string(),
            ig_app_secret: "sandbox-ig-secret".to_string(),
        }
    }
}

/// A running emulator. Dropping it stops the server and every open
/// connection.
pub struct Sandbox {
    addr: SocketAddr,
    control: Control,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Starts on 127.0.0.1 with a free port.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Sandbox> {
        Sandbox::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(config: SandboxConfig, addr: SocketAddr) -> std::io::Result<Sandbox> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let mut world = world::World::new(&config);
        world.base_url = format!("http://{addr}");
        let world = Arc::new(Mutex::new(world));
        let (shutdown, signal) = oneshot::channel();
        let task = tokio::spawn(server::accept_loop(listener, world.clone(), signal));
        Ok(Sandbox {
            addr,
            control: Control::new(world),
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, serving both the Graph API and the dialog.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn control(&self) -> Control {
        self.control.clone()
    }

    /// Stops accepting and closes open connections; the port is refused
    /// once this returns.
    pub async fn shutdown(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
