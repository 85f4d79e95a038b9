//! Process-wide state, built once from the configuration and shared by every
//! request and job: the config, the libSQL `Database`, the Graph client, the clock.

use std::sync::Arc;

use tokio::sync::OnceCell;

use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::graph::{GraphClient, InstagramClients};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("HTTP client: {0}")]
    Http(String),
}

#[derive(Clone, Debug)]
pub struct App {
    pub config: Arc<Config>,
    pub store: Store,
    pub graph: GraphClient,
    /// The clock of leases; tests move one by hand.
    pub clock: Arc<dyn Clock>,
    /// Instagram Login's hosts, when that path is on.
    pub instagram: Option<InstagramClients>,
}

impl App {
    /// Opens the database, applies pending migrations and builds the Graph client.
    pub async fn build(config: Config) -> Result<App, StartupError> {
        let store = Store::open(&config.database, config.token_keys.clone()).await?;
        store.migrate().await?;
        let graph = GraphClient::new(&config).map_err(|e| StartupError::Http(e.without_url().to_string()))?;
        let instagram = match &config.instagram {
            Some(ig) => {
                Some(InstagramClients::new(&config, ig).map_err(|e| StartupError::Http(e.without_url().to_string()))?)
            }
            None => None,
        };
        Ok(App {
            config: Arc::new(config),
            store,
            graph,
            clock: Arc::new(SystemClock),
            instagram,
        })
    }

    /// The process's one App, for serverless functions: built on first use.
    /// A failed start is not cached, so the next request tries again.
    pub async fn global() -> Result<&'static App, Arc<StartupError>> {
        static APP: OnceCell<App> = OnceCell::const_new();
        APP.get_or_try_init(|| async {
            let config = Config::from_env().map_err(|e| Arc::new(StartupError::from(e)))?;
            crate::telemetry::init(&config.log_level);
            App::build(config).await.map_err(Arc::new)
        })
        .await
    }
}
