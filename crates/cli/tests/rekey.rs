//! `urlinsta rekey` as an operator runs it, on an embedded file: tokens
//! sealed with key `a`, the keys rotated to `b,a`; the dry run counts, the
//! run moves everything to `b`, a second run rewrites nothing, and a token
//! under a key nobody configures fails the command, named by account only.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use urlinsta_core::config::DatabaseConfig;
use urlinsta_core::crypto::Keyring;
use urlinsta_core::secret::{AccessToken, Secret};
use urlinsta_core::store::{NewConnection, Store};

const KEY_A: &str = "a:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "b:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const KEY_C: &str = "c:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=";

async fn store(path: &Path, keys: &str) -> Store {
    let config = DatabaseConfig::Local { path: path.into() };
    let store = Store::open(&config, Keyring::parse(&Secret::new(keys)).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

fn connection(ig: &str) -> NewConnection {
    NewConnection {
        instagram_user_id: urlinsta_core::domain::InstagramUserId::parse(ig).expect("an id"),
        username: None,
        name: None,
        facebook_page_id: format!("page-{ig}"),
        facebook_page_name: "A Page".into(),
        facebook_user_id: None,
        followers_count: None,
        user_token: AccessToken::new(format!("EAAsecretuser{ig}")),
        user_token_expires_at: None,
        page_token: AccessToken::new(format!("EAAsecretpage{ig}")),
        data_access_expires_at: None,
        granted_scopes: vec![],
    }
}

fn urlinsta_rekey(dir: &Path, keys: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_urlinsta"))
        .arg("rekey")
        .args(args)
        .current_dir(dir)
        .env_remove("TURSO_DATABASE_URL")
        .env_remove("TURSO_AUTH_TOKEN")
        .env_remove("VERCEL_ENV")
        .env("DATABASE_PATH", dir.join("urlinsta.db"))
        .env("TOKEN_ENCRYPTION_KEY", keys)
        .env("SESSION_SECRET", "rekey-cli-test-session-secret")
        .env("LOG_LEVEL", "debug")
        .output()
        .expect("urlinsta rekey runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Neither a token nor a stored ciphertext (not even the tail of one) is printed or logged.
fn assert_clean(out: &Output, sealed: &[String]) {
    for text in [&out.stdout, &out.stderr].map(|b| String::from_utf8_lossy(b)) {
        assert!(!text.contains("EAAsecret"), "a token in the output:\n{text}");
        for value in sealed {
            assert!(
                !text.contains(&value[value.len() - 16..]),
                "a stored value in the output:\n{text}"
            );
        }
    }
}

async fn sealed(store: &Store) -> Vec<String> {
    store
        .sealed_values(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|v| v.stored)
        .collect()
}

#[tokio::test]
async fn urlinsta_rekey_moves_tokens_to_the_new_key_and_fails_on_a_token_it_cannot_open() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("urlinsta.db");
    let under_a = store(&db, KEY_A).await;
    let first = under_a
        .upsert_connection(&connection("1784100001"))
        .await
        .unwrap()
        .account_id;
    under_a.upsert_connection(&connection("1784100002")).await.unwrap();
    let rotated = format!("{KEY_B},{KEY_A}");
    let before = sealed(&under_a).await;

    let dry = urlinsta_rekey(dir.path(), &rotated, &["--dry-run"]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let text = stdout(&dry);
    assert!(text.contains("values per key id before: a=4\n"), "{text}");
    assert!(text.contains("would rewrite: 4, skipped: 0"), "{text}");
    assert!(text.contains("old keys still in use, keep them: a"), "{text}");
    assert_eq!(sealed(&under_a).await, before, "a dry run writes nothing");

    let run = urlinsta_rekey(dir.path(), &rotated, &["--batch", "1", "--json"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let report: Value = serde_json::from_slice(&run.stdout).expect("JSON report");
    assert_eq!(report["before"], serde_json::json!({"a": 4}));
    assert_eq!(report["after"], serde_json::json!({"b": 4}));
    assert_eq!(report["rewritten"], 4);
    assert_eq!(report["old_keys"], serde_json::json!(["a"]));
    assert_eq!(report["old_keys_in_use"], serde_json::json!([]));
    let progress = String::from_utf8_lossy(&run.stderr);
    assert!(progress.contains("rekey: 2 values scanned, 2 rewritten"), "{progress}");
    assert!(progress.contains("rekey: 4 values scanned, 4 rewritten"), "{progress}");
    assert_clean(&run, &before);

    let again = urlinsta_rekey(dir.path(), &rotated, &[]);
    assert!(again.status.success());
    let text = stdout(&again);
    assert!(text.contains("rewritten: 0, skipped: 0"), "{text}");
    assert!(
        text.contains("no value is sealed with an old key: a can now be dropped"),
        "{text}"
    );

    // Key b alone opens every token.
    let b_only = store(&db, KEY_B).await;
    let tokens = b_only.tokens(first).await.unwrap().unwrap();
    assert_eq!(tokens.user_token.expose(), "EAAsecretuser1784100001");

    // A token under a key nobody configures: reported by account, left alone, and the command fails.
    let lost = store(&db, KEY_C)
        .await
        .upsert_connection(&connection("1784100003"))
        .await
        .unwrap()
        .account_id;
    let before = sealed(&b_only).await;
    let failed = urlinsta_rekey(dir.path(), KEY_B, &[]);
    assert!(!failed.status.success());
    let text = stdout(&failed);
    assert!(
        text.contains(&format!("unreadable: account {lost} user_access_token (key id c)")),
        "{text}"
    );
    assert!(
        text.contains("rewritten: 0, skipped: 2 (0 changed meanwhile, 2 unreadable)"),
        "{text}"
    );
    assert!(String::from_utf8_lossy(&failed.stderr).contains("2 stored token(s) cannot be decrypted"));
    assert!(text.contains("no old key is configured"), "{text}");
    assert_eq!(sealed(&b_only).await, before, "left alone");
    assert_clean(&failed, &before);
}
