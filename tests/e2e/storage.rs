//! The store on both of its databases: every test here runs once on an
//! embedded libSQL file and once on a real `sqld` (the hosted path Turso
//! serves), as `storage::<test>::embedded_file` and `storage::<test>::sqld`.

use tempfile::TempDir;
use urlinsta_core::config::DatabaseConfig;
use urlinsta_core::crypto::Keyring;
use urlinsta_core::domain::{LeaseName, Timestamp};
use urlinsta_core::secret::{AccessToken, Secret};
use urlinsta_core::store::{
    CheckedToken, CollectKind, LogEntry, LogJob, LogStatus, Login, NewConnection, RenewedTokens, StatusChange,
    StatusUpdate, Store, TokenStatus, UpkeepCandidate, UpkeepRecord, Upkept,
};

use crate::harness::{Sqld, instagram_id};

/// A migrated store and what keeps its database alive.
pub struct TestDb {
    pub store: Store,
    _keep: (Option<TempDir>, Option<Sqld>),
}

fn now() -> Timestamp {
    Timestamp::from(chrono::Utc::now())
}

fn at(raw: &str) -> Timestamp {
    Timestamp::parse(raw).expect("a time")
}

fn keys() -> Keyring {
    Keyring::parse(&Keyring::generate_spec()).expect("key")
}

impl TestDb {
    pub async fn embedded_file() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = DatabaseConfig::Local {
            path: dir.path().join("store.db"),
        };
        TestDb {
            store: open(&config).await,
            _keep: (Some(dir), None),
        }
    }

    pub async fn sqld() -> TestDb {
        let sqld = Sqld::start().await;
        TestDb {
            store: open(&on_sqld(&sqld.url)).await,
            _keep: (None, Some(sqld)),
        }
    }
}

/// The hosted database at `url`, with the usual deadline.
fn on_sqld(url: &str) -> DatabaseConfig {
    DatabaseConfig::Remote {
        url: url.to_string(),
        auth_token: Secret::new(""),
        timeout: std::time::Duration::from_secs(10),
    }
}

/// Creates the schema on the sqld at `url` ahead of an app that will find it there.
pub async fn migrate_sqld(url: &str) {
    open(&on_sqld(url)).await;
}

async fn open(config: &DatabaseConfig) -> Store {
    let store = Store::open(config, keys()).await.expect("open");
    store.migrate().await.expect("migrate");
    store
}

pub fn connection(ig: &str, facebook_user: &str) -> NewConnection {
    NewConnection {
        instagram_user_id: instagram_id(ig),
        username: Some(format!("user.{ig}")),
        name: None,
        facebook_page_id: format!("page-{ig}"),
        facebook_page_name: "A Page".into(),
        facebook_user_id: Some(facebook_user.into()),
        followers_count: Some(1234),
        user_token: AccessToken::new(format!("EAAuser-{ig}")),
        user_token_expires_at: Some(at("2027-01-27T00:00:00Z")),
        page_token: AccessToken::new(format!("EAApage-{ig}")),
        data_access_expires_at: Some(at("2027-02-26T00:00:00Z")),
        granted_scopes: vec!["instagram_basic".into(), "instagram_manage_insights".into()],
    }
}

/// The one connection of the store, as refresh-tokens would read it.
async fn due_for_upkeep(store: &Store) -> UpkeepCandidate {
    let mut due = store
        .upkeep_candidates(Login::Facebook, at("2099-01-01T00:00:00Z"), at("2000-01-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    due.pop().unwrap()
}

fn upkeep_log(account_id: i64, job_type: LogJob) -> LogEntry<'static> {
    LogEntry {
        account_id: Some(account_id),
        run_id: "test-run",
        job_type,
        status: LogStatus::Success,
        error_code: None,
        error_message: None,
        details: None,
        started_at: at("2026-12-06T00:00:00Z"),
    }
}

async fn count(store: &Store, sql: &str) -> i64 {
    let conn = store.conn().await.unwrap();
    let mut rows = conn.query(sql, ()).await.unwrap();
    rows.next().await.unwrap().unwrap().get(0).unwrap()
}

/// Rows of `account_id` in `users` and in every table with a `user_id` column,
/// found in the schema itself, so a table added later is covered too.
pub async fn rows_of(store: &Store, account_id: i64) -> Vec<(String, i64)> {
    let conn = store.conn().await.unwrap();
    let mut rows = conn
        .query(
            "SELECT m.name FROM sqlite_master m WHERE m.type = 'table'
               AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'user_id') ORDER BY m.name",
            (),
        )
        .await
        .unwrap();
    let mut tables = vec![("users".to_string(), "id")];
    while let Some(row) = rows.next().await.unwrap() {
        tables.push((row.get::<String>(0).unwrap(), "user_id"));
    }
    drop(rows);
    let mut out = Vec::new();
    for (table, column) in tables {
        let n = count(
            store,
            &format!("SELECT COUNT(*) FROM {table} WHERE {column} = {account_id}"),
        )
        .await;
        out.push((table, n));
    }
    out
}

/// Puts a row in every table of an account's data (insights and audience are
/// written by SQL here so that this test does not depend on the collectors).
pub async fn fill_account(store: &Store, account_id: i64) {
    let conn = store.conn().await.unwrap();
    conn.execute_batch(&format!(
        "INSERT INTO insights (user_id, metric_name, metric_value, period, end_time, collected_at)
             VALUES ({account_id}, 'reach', 10, 'day', '2026-11-27T08:00:00Z', '2026-11-28T08:00:00Z');
         INSERT INTO audience_data (user_id, demographic_type, dimension_key, dimension_value, snapshot_date, collected_at)
             VALUES ({account_id}, 'country', 'US', 7, '2026-11-28', '2026-11-28T08:00:00Z');
         INSERT INTO audience_snapshots (user_id, metric, snapshot_date, status, collected_at)
             VALUES ({account_id}, 'follower_demographics', '2026-11-28', 'ok', '2026-11-28T08:00:00Z');
         INSERT INTO media (user_id, media_id, media_type, product_type, posted_at, first_seen_at, updated_at)
             VALUES ({account_id}, '18000000000000001', 'IMAGE', 'STORY', '2026-11-27T08:00:00Z', '2026-11-27T09:00:00Z', '2026-11-27T09:00:00Z');
         INSERT INTO media_insights (user_id, media_id, metric_name, metric_value, snapshot_at)
             VALUES ({account_id}, '18000000000000001', 'reach', 40, '2026-11-27T09:00:00Z');
         INSERT INTO story_final_insights (user_id, media_id, metric_name, metric_value, received_at)
             VALUES ({account_id}, '18000000000000001', 'reach', 41, '2026-11-28T09:00:00Z');
         INSERT INTO media_rejected_metrics (user_id, product_type, metric_name, reason, rejected_at)
             VALUES ({account_id}, 'REELS', 'reposts', 'not supported', '2026-11-28T09:00:00Z');
         INSERT INTO instagram_logins (user_id, instagram_scoped_id, created_at, updated_at)
             VALUES ({account_id}, '2600000000000{account_id}', '2026-11-28T09:00:00Z', '2026-11-28T09:00:00Z');"
    ))
    .await
    .unwrap();
    store
        .log_run(&LogEntry {
            account_id: Some(account_id),
            run_id: "run-1",
            job_type: LogJob::Collect(CollectKind::Insights),
            status: LogStatus::Success,
            error_code: None,
            error_message: None,
            details: None,
            started_at: at("2026-11-28T08:00:00Z"),
        })
        .await
        .unwrap();
    // A browser session that may see it.
    let ig = store
        .account_by_id(account_id)
        .await
        .unwrap()
        .expect("the account")
        .instagram_user_id;
    store
        .open_session(
            &urlinsta_core::secret::SessionId::random(),
            None,
            &[ig],
            chrono::Utc::now() + chrono::Duration::days(1),
        )
        .await
        .unwrap();
    let change = StatusChange {
        status: TokenStatus::ReauthRequired,
        code: Some(190),
        subcode: Some(460),
        reason: Some("password changed".into()),
        reconnect_by: None,
    };
    store.set_status(account_id, &change).await.unwrap();
}

on_both_databases! {
    async fn migrations_apply_once_even_when_raced(store: Store) {
        let latest = store.schema_version().await.unwrap();
        assert!(latest >= 1);
        assert_eq!(store.migrate().await.unwrap(), 0, "nothing left to apply");
        // Two more processes start at once: both succeed, the schema is applied once.
        let (a, b) = tokio::join!(store.migrate(), store.migrate());
        assert_eq!((a.unwrap(), b.unwrap()), (0, 0));
        assert_eq!(count(&store, "SELECT COUNT(*) FROM schema_migrations").await, latest);
    }

    async fn a_connection_is_stored_encrypted_and_updated_in_place(store: Store) {
        let first = store.upsert_connection(&connection("1784100001", "fb-1")).await.unwrap();
        assert_eq!(first.previous_status, None);
        let again = store.upsert_connection(&connection("1784100001", "fb-1")).await.unwrap();
        assert_eq!(again.account_id, first.account_id, "no duplicate");
        assert_eq!(again.previous_status, Some(TokenStatus::Active));
        assert_eq!(store.users_count().await.unwrap(), 1);

        let tokens = store.tokens(first.account_id).await.unwrap().unwrap();
        assert_eq!(tokens.user_token.expose(), "EAAuser-1784100001");
        assert_eq!(tokens.page_token.expose(), "EAApage-1784100001");
        assert_eq!(tokens.generation, 2);
        let conn = store.conn().await.unwrap();
        let mut rows = conn.query("SELECT user_access_token || page_access_token FROM tokens", ()).await.unwrap();
        let stored: String = rows.next().await.unwrap().unwrap().get(0).unwrap();
        // The sealed values are base64, which holds "EAA" now and then by
        // chance (seen once in CI-like runs): look for the tokens themselves.
        assert!(
            !stored.contains("user-1784100001") && !stored.contains("page-1784100001"),
            "tokens are encrypted at rest"
        );
        assert!(stored.starts_with("v1:"), "stored sealed");

        let account = store.account(&instagram_id("1784100001")).await.unwrap().unwrap();
        assert_eq!(account.token.granted_scopes, vec!["instagram_basic", "instagram_manage_insights"]);
        assert_eq!(account.facebook_user_id.as_deref(), Some("fb-1"));
    }

    async fn a_refresh_writes_only_over_the_generation_it_read(store: Store) {
        let id = store.upsert_connection(&connection("1784100002", "fb-1")).await.unwrap().account_id;
        let read = store.tokens(id).await.unwrap().unwrap();
        let new_user = AccessToken::new("EAAnew-user");
        let new_page = AccessToken::new("EAAnew-page");
        assert!(store.replace_tokens(id, read.generation, &new_user, Some(at("2027-03-01T00:00:00Z")), &new_page).await.unwrap());
        // A second writer that read the same generation loses.
        assert!(!store.replace_tokens(id, read.generation, &new_user, None, &new_page).await.unwrap());
        let now = store.tokens(id).await.unwrap().unwrap();
        assert_eq!(now.user_token.expose(), "EAAnew-user");
        assert_eq!(now.generation, read.generation + 1);
    }

    async fn a_status_change_queues_one_event_per_transition(store: Store) {
        let id = store.upsert_connection(&connection("1784100003", "fb-1")).await.unwrap().account_id;
        let change = StatusChange { status: TokenStatus::Invalid, code: Some(190), subcode: Some(458), reason: None, reconnect_by: None };
        assert!(store.set_status(id, &change).await.unwrap());
        assert!(!store.set_status(id, &change).await.unwrap(), "same status: no transition");
        assert_eq!(count(&store, "SELECT COUNT(*) FROM notifications WHERE event = 'connection.invalid'").await, 1);
        // Reconnecting restores it, with its own event, in the same transaction.
        let again = store.upsert_connection(&connection("1784100003", "fb-1")).await.unwrap();
        assert_eq!(again.previous_status, Some(TokenStatus::Invalid));
        assert_eq!(count(&store, "SELECT COUNT(*) FROM notifications WHERE event = 'connection.restored'").await, 1);
        assert_eq!(store.account_by_id(id).await.unwrap().unwrap().token.status, TokenStatus::Active);
    }

    async fn an_upkeep_is_written_at_once_over_the_connection_as_it_was_read(store: Store) {
        let id = store.upsert_connection(&connection("1784100006", "fb-1")).await.unwrap().account_id;
        let candidate = due_for_upkeep(&store).await;
        assert_eq!(store.open_tokens(&candidate).unwrap().user_token.expose(), "EAAuser-1784100006");
        let generation = candidate.account.token.generation;
        let reauth = StatusChange {
            status: TokenStatus::ReauthRequired,
            code: None,
            subcode: None,
            reason: Some("data access ends soon".into()),
            reconnect_by: Some(at("2027-02-26T00:00:00Z")),
        };
        let record = UpkeepRecord {
            checked: Some(CheckedToken {
                user_token_expires_at: Some(at("2027-02-01T00:00:00Z")),
                data_access_expires_at: Some(at("2027-02-26T00:00:00Z")),
                granted_scopes: vec!["instagram_basic".into()],
            }),
            renewed: Some(RenewedTokens {
                user_token: AccessToken::new("EAAnew-user"),
                user_token_expires_at: Some(at("2027-04-01T00:00:00Z")),
                page_token: AccessToken::new("EAAnew-page"),
            }),
            status: Some(reauth.clone()),
            log: vec![upkeep_log(id, LogJob::TokenCheck), upkeep_log(id, LogJob::TokenRefresh)],
        };
        let written = store.finish_upkeep(&candidate, &record, now()).await.unwrap();
        assert_eq!(written, Upkept::Written(Some(StatusUpdate::Changed)));
        let tokens = store.tokens(id).await.unwrap().unwrap();
        assert_eq!((tokens.user_token.expose(), tokens.page_token.expose()), ("EAAnew-user", "EAAnew-page"));
        assert_eq!(tokens.generation, generation + 1);
        let health = store.account_by_id(id).await.unwrap().unwrap().token;
        assert_eq!(health.status, TokenStatus::ReauthRequired);
        assert_eq!(health.user_token_expires_at, Some(at("2027-04-01T00:00:00Z")), "the refresh's expiry");
        assert_eq!(health.granted_scopes, ["instagram_basic"]);
        let events = "SELECT COUNT(*) FROM notifications WHERE event = 'connection.reauth_required'";
        assert_eq!(count(&store, events).await, 1);
        let log_rows = format!("SELECT COUNT(*) FROM collection_log WHERE user_id = {id}");
        assert_eq!(count(&store, &log_rows).await, 2);

        // The same upkeep over the row as it was before (as if a reconnect
        // had written since): nothing at all is written.
        assert_eq!(store.finish_upkeep(&candidate, &record, now()).await.unwrap(), Upkept::Superseded);
        assert_eq!(store.tokens(id).await.unwrap().unwrap().generation, generation + 1);
        assert_eq!((count(&store, events).await, count(&store, &log_rows).await), (1, 2));

        // A status a Graph error set meanwhile is decided on as it now is: a
        // verdict without a code does not undo it, and the rest is written.
        let fresh = due_for_upkeep(&store).await;
        let permission = StatusChange {
            code: Some(10),
            reason: Some("permission lost".into()),
            ..reauth
        };
        store.set_status(id, &permission).await.unwrap();
        let healthy = UpkeepRecord {
            status: Some(StatusChange::active()),
            log: vec![upkeep_log(id, LogJob::TokenCheck)],
            ..UpkeepRecord::default()
        };
        let kept = Upkept::Written(Some(StatusUpdate::Unchanged(TokenStatus::ReauthRequired)));
        assert_eq!(store.finish_upkeep(&fresh, &healthy, now()).await.unwrap(), kept);
        let health = store.account_by_id(id).await.unwrap().unwrap().token;
        assert_eq!((health.status, health.code), (TokenStatus::ReauthRequired, Some(10)));
        assert_eq!((count(&store, events).await, count(&store, &log_rows).await), (1, 3));

        // An account deleted meanwhile gets nothing.
        assert!(store.delete_account(&instagram_id("1784100006")).await.unwrap());
        assert_eq!(store.finish_upkeep(&fresh, &healthy, now()).await.unwrap(), Upkept::Superseded);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM collection_log").await, 0);
    }

    async fn leases_exclude_a_second_holder(store: Store) {
        let ttl = std::time::Duration::from_secs(60);
        assert!(store.try_lease(&LeaseName::of("collect-insights"), "run-a", chrono::Utc::now(), ttl).await.unwrap());
        assert!(!store.try_lease(&LeaseName::of("collect-insights"), "run-b", chrono::Utc::now(), ttl).await.unwrap());
        assert!(store.try_lease(&LeaseName::of("collect-insights"), "run-a", chrono::Utc::now(), ttl).await.unwrap(), "the holder may renew");
        store.release_lease(&LeaseName::of("collect-insights"), "run-a").await.unwrap();
        assert!(store.try_lease(&LeaseName::of("collect-insights"), "run-b", chrono::Utc::now(), ttl).await.unwrap());
    }

    async fn deleting_an_account_leaves_nothing_of_it_and_all_of_the_others(store: Store) {
        let gone = store.upsert_connection(&connection("1784100004", "fb-1")).await.unwrap().account_id;
        let kept = store.upsert_connection(&connection("1784100005", "fb-2")).await.unwrap().account_id;
        fill_account(&store, gone).await;
        fill_account(&store, kept).await;
        let before = rows_of(&store, kept).await;
        let tables: Vec<&str> = before.iter().map(|(t, _)| t.as_str()).collect();
        for known in ["tokens", "insights", "audience_data", "collection_log", "notifications"] {
            assert!(tables.contains(&known), "{known} is among {tables:?}");
        }
        assert!(
            before.iter().all(|(_, n)| *n >= 1),
            "fill_account puts a row in every table of an account's data (a new table? fill it here): {before:?}"
        );

        assert!(store.delete_account(&instagram_id("1784100004")).await.unwrap());
        assert!(rows_of(&store, gone).await.iter().all(|(_, n)| *n == 0), "{:?}", rows_of(&store, gone).await);
        assert_eq!(rows_of(&store, kept).await, before);
        assert!(!store.delete_account(&instagram_id("1784100004")).await.unwrap(), "already gone");
    }

    async fn a_facebook_users_deletion_takes_all_their_accounts_in_one_transaction(store: Store) {
        let a1 = store.upsert_connection(&connection("1784100006", "fb-a")).await.unwrap().account_id;
        let a2 = store.upsert_connection(&connection("1784100007", "fb-a")).await.unwrap().account_id;
        let b = store.upsert_connection(&connection("1784100008", "fb-b")).await.unwrap().account_id;
        for id in [a1, a2, b] {
            fill_account(&store, id).await;
        }
        let b_before = rows_of(&store, b).await;

        assert_eq!(store.delete_facebook_user("fb-a", "code-0000000001", "data_deletion").await.unwrap(), 2);
        for id in [a1, a2] {
            assert!(rows_of(&store, id).await.iter().all(|(_, n)| *n == 0));
        }
        assert_eq!(rows_of(&store, b).await, b_before);
        let receipt = store.deletion_request("code-0000000001").await.unwrap().unwrap();
        assert_eq!((receipt.status.as_str(), receipt.accounts_deleted, receipt.source.as_str()), ("completed", 2, "data_deletion"));
        assert!(store.deletion_request("code-unknown-00").await.unwrap().is_none());

        // A failure inside the transaction (here: a reused code) deletes nothing,
        // and is recognised as a constraint violation on both databases.
        let err = store.delete_facebook_user("fb-b", "code-0000000001", "deauthorize").await.unwrap_err();
        assert!(err.is_constraint(), "{err}");
        assert_eq!(rows_of(&store, b).await, b_before, "rolled back");
    }

    async fn a_transactional_batch_is_all_or_nothing(store: Store) {
        let conn = store.conn().await.unwrap();
        conn.execute_transactional_batch(
            "INSERT INTO job_leases (name, holder, acquired_at, expires_at) VALUES ('a', 'h', 't', 't');
             INSERT INTO job_leases (name, holder, acquired_at, expires_at) VALUES ('b', 'h', 't', 't');",
        )
        .await
        .unwrap();
        let failed = conn
            .execute_transactional_batch(
                "INSERT INTO job_leases (name, holder, acquired_at, expires_at) VALUES ('c', 'h', 't', 't');
                 INSERT INTO no_such_table VALUES (1);",
            )
            .await;
        assert!(failed.is_err());
        drop(conn);
        assert_eq!(count(&store, "SELECT COUNT(*) FROM job_leases").await, 2, "the failed batch left nothing");
    }
}
