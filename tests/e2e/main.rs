//! End-to-end tests: the real app on a random port, a fresh embedded libSQL
//! file (or a fresh `sqld`, the hosted path) per test, and the sandbox Graph
//! API over real HTTP.

/// Runs each scenario once on an embedded libSQL file and once on a fresh
/// `sqld` (the hosted path), as `<name>::embedded_file` and `<name>::sqld`.
/// A scenario takes a whole app (`t: TestApp`) or just a migrated store
/// (`store: Store`).
macro_rules! on_both_databases {
    ($(async fn $name:ident($t:ident: TestApp) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($t: crate::harness::TestApp) $body

            #[tokio::test]
            async fn embedded_file() {
                run(crate::harness::spawn_app().await).await
            }

            #[tokio::test]
            async fn sqld() {
                run(crate::harness::spawn_app_on_sqld().await).await
            }
        }
    )*};
    ($(async fn $name:ident($store:ident: Store) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($store: urlinsta_core::store::Store) $body

            #[tokio::test]
            async fn embedded_file() {
                let db = crate::storage::TestDb::embedded_file().await;
                run(db.store.clone()).await
            }

            #[tokio::test]
            async fn sqld() {
                let db = crate::storage::TestDb::sqld().await;
                run(db.store.clone()).await
            }
        }
    )*};
}

mod attacks;
mod backfill;
mod backoff;
mod collect;
mod collect_media;
mod database;
mod deletion;
mod deploy;
mod engine;
mod extremes;
mod faults;
mod fuzz;
mod harness;
mod history;
mod hosted;
mod input;
mod instagram;
mod instagram_media;
mod instagram_renewal;
mod link;
mod load;
mod media_api;
mod media_store;
mod oauth;
mod older_media;
mod page;
mod page_content;
mod page_logins;
mod page_older;
mod receiver;
mod rekey;
mod security;
mod sessions;
mod slow_clients;
mod storage;
mod tokens;
mod trends_page;
mod webdriver;
mod webhooks;
mod writers;
