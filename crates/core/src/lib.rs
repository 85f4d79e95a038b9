//! urlinsta's core: everything the Vercel functions, the local server and the
//! CLI share.
//!
//! Layers, each importing only those below it (`layers crates/core/src`
//! finds no circle). On top, `http`: handlers, HTTP in and JSON out. Then
//! `jobs`, the dispatcher: the scheduled jobs by name. Then the services,
//! which know the domain, each using only those after it: `collect` (which
//! judges a Graph error through `tokens` and sends an Instagram-login
//! account's calls through `instagram`), `tokens`, `instagram`, `oauth`; and
//! `media`, `meta_callbacks`, `notify`, which use no other service. Status
//! changes queue their webhook event in the store, in the same write;
//! `notify` delivers the queue, started by `jobs` and by the login callback.
//! Below the services `engine`, what every job shares, and `app`, the
//! process-wide state. Then `graph` (Meta's API, its errors) and `store`
//! (the database, the only place that writes SQL), on `config`, `crypto` and
//! `retry`. At the bottom, values that import nothing of the crate:
//! `domain`, `secret`, `clock`, `telemetry`.
//!
//! Words, each used for one thing:
//! - **account**: an Instagram Business or Creator account urlinsta collects
//!   for (a row of `users`; `instagram_user_id` is its id everywhere).
//! - **connection**: what links an account to urlinsta: the login that
//!   granted it, its tokens and their health (`active`, `reauth_required`,
//!   `invalid`). A database connection is a `Conn`.
//! - **job**: a kind of scheduled work over the accounts: refresh-tokens,
//!   collect-insights, collect-audience (`jobs::JobKind`, `engine::Job`).
//! - **run**: one execution of a job over one shard, under one lease, with
//!   an id in each of its log rows (`engine::Run`).
//! - **candidate**: one account's due work in a run, carrying everything
//!   that work needs (its tokens included), so that it reads nothing itself.
//! - **outcome**: how one candidate's work went; a run's **report** counts
//!   them (`engine::Report`, the cron answer).
//! - **lease**: the row that lets one run of a job and shard work at a time;
//!   renewed while the run lasts, it lapses when its holder is gone.
//! - **shard**: one of n slices of the accounts (a stable hash of the
//!   Instagram id), each run under a lease of its own.
//! - **budget**: the time a run may spend starting accounts
//!   (`JOB_TIME_BUDGET_SECS`). An account's Graph calls in an hour are its
//!   **allowance**, up to our ceiling (`RATE_LIMIT_PER_HOUR`).
//! - **halt**: a run starting no more accounts before its budget is spent
//!   (Meta's usage of the app, a database that stopped answering, a lost lease).
//! - **collection**: reading an account's insights or audience from Meta
//!   and storing them; `collection_log` has a row per account and run.
//! - **exchange**: one account's round trips with Meta in a collection,
//!   operation by operation as its **plan** says, until each is answered.
//! - **park**: leaving an account alone until Meta's throttle on it clears.
//! - **snapshot**: values as they stand at one moment rather than over a
//!   period: an account's hourly counts (followers, follows, media), a day's
//!   audience.
//! - **upkeep**: one connection's work in refresh-tokens: the daily check,
//!   the **refresh** of its user token when due (`fb_exchange_token`; for
//!   an Instagram login `refresh_access_token`, which Meta and
//!   `IG_RENEW_BEFORE_DAYS` call renewal), and the verdict on its status,
//!   all written at once. The route `POST /api/insights/:id/refresh` keeps
//!   its public name; it is a manual collection (`collect::collect_now`).

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
