//! urlinsta's core: everything the Vercel functions, the local server and the
//! CLI share. Data flows one way: http handler -> service (oauth, tokens,
//! collect) -> graph client / store.

pub mod app;
pub mod clock;
pub mod collect;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod engine;
pub mod graph;
pub mod http;
pub mod instagram;
pub mod jobs;
pub mod media;
pub mod meta_callbacks;
pub mod notify;
pub mod oauth;
pub mod retry;
pub mod secret;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod trends;

pub use app::App;
pub use config::Config;
