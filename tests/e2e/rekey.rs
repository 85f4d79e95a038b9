//! Re-encryption after a key rotation (`Store::rekey`, behind `urlinsta
//! rekey`), on an embedded file and on a real `sqld`: accounts connect under
//! key `a`, the keys become `b,a`, the rekey moves every token to `b`, and
//! the app then works with `b` alone.

use std::sync::Mutex;

use urlinsta_core::crypto::Keyring;
use urlinsta_core::jobs::JobKind;
use urlinsta_core::secret::{AccessToken, Secret};
use urlinsta_core::store::{RekeyReport, Reseal, SealedValue};
use urlinsta_core::{App, Config};

use crate::harness::*;

const KEY_A: &str = "a:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_B: &str = "b:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const KEY_C: &str = "c:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=";

/// Runs each scenario on an app whose tokens are sealed with key `a`, once on
/// an embedded file and once on a fresh `sqld`.
macro_rules! with_key_a_on_both_databases {
    ($(async fn $name:ident($t:ident: TestApp) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($t: TestApp) $body

            #[tokio::test]
            async fn embedded_file() {
                run(app_with_key_a(false).await).await
            }

            #[tokio::test]
            async fn sqld() {
                run(app_with_key_a(true).await).await
            }
        }
    )*};
}

async fn app_with_key_a(on_sqld: bool) -> TestApp {
    let sqld = match on_sqld {
        true => Some(Sqld::start().await),
        false => None,
    };
    let mut t = spawn_app_with(Options {
        vars: vec![
            ("TOKEN_ENCRYPTION_KEY", KEY_A.to_string()),
            ("SESSION_SECRET", "rekey-test-session-secret-0123456789".to_string()),
        ],
        remote_db: sqld.as_ref().map(|s| s.url.clone()),
        ..Options::default()
    })
    .await;
    t.sqld = sqld;
    t
}

/// The same database and Meta, with other keys (as after a deploy with a new TOKEN_ENCRYPTION_KEY).
async fn with_keys(t: &TestApp, spec: &str) -> App {
    let mut config: Config = (*t.app.config).clone();
    config.token_keys = Keyring::parse(&Secret::new(spec)).expect("keys");
    App::build(config).await.expect("app")
}

async fn rekey(app: &App, chunk: u32, dry_run: bool) -> RekeyReport {
    app.store.rekey(chunk, dry_run, &|_| {}).await.expect("rekey runs")
}

fn counts(pairs: &[(&str, u64)]) -> std::collections::BTreeMap<String, u64> {
    pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

async fn stored(app: &App) -> Vec<SealedValue> {
    app.store.sealed_values(0, 1000).await.expect("read")
}

/// Checks that a report, printed as the CLI prints it, holds no token and no stored ciphertext.
fn assert_report_is_clean(t: &TestApp, report: &RekeyReport, sealed: &[SealedValue]) {
    let json = serde_json::to_string(report).expect("json");
    assert_no_secrets(&t.control, json.as_bytes(), "the rekey report");
    assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
    for v in sealed {
        assert!(!json.contains(&v.stored), "the report holds a stored value");
    }
}

with_key_a_on_both_databases! {
    async fn after_a_rotation_every_token_moves_to_the_new_key_and_the_old_key_can_go(t: TestApp) {
        let ids = connect_influencers(&t, 1).await;
        let (mut issued_before, mut generations) = (Vec::new(), Vec::new());
        for ig in &ids {
            let tok = tokens(&t, ig).await;
            issued_before.extend([tok.user_token.expose().to_string(), tok.page_token.expose().to_string()]);
            generations.push(tok.generation);
        }
        let rotated = with_keys(&t, &format!("{KEY_B},{KEY_A}")).await;

        // A dry run counts and writes nothing.
        let before = stored(&rotated).await;
        let dry = rekey(&rotated, 1, true).await;
        assert_eq!(dry.before, counts(&[("a", 4)]), "{dry:?}");
        assert_eq!((dry.rewritten, dry.skipped()), (4, 0), "would rewrite all: {dry:?}");
        assert_eq!(dry.old_keys_in_use, ["a"]);
        assert!(!dry.old_keys_droppable());
        assert_eq!(stored(&rotated).await, before, "a dry run writes nothing");

        // The run, one account per chunk, reports progress after each.
        let seen = Mutex::new(Vec::new());
        let report = rotated
            .store
            .rekey(1, false, &|p| seen.lock().unwrap().push((p.scanned, p.rewritten)))
            .await
            .expect("rekey runs");
        assert_eq!(*seen.lock().unwrap(), [(2, 2), (4, 4)]);
        assert_eq!(report.before, counts(&[("a", 4)]));
        assert_eq!(report.after, counts(&[("b", 4)]));
        assert_eq!((report.rewritten, report.changed_meanwhile), (4, 0));
        assert!(report.unreadable.is_empty());
        assert!(report.old_keys_droppable(), "{report:?}");
        assert_report_is_clean(&t, &report, &before);

        // Idempotent.
        let again = rekey(&rotated, 100, false).await;
        assert_eq!((again.rewritten, again.skipped()), (0, 0), "{again:?}");
        assert_eq!(again.before, counts(&[("b", 4)]));

        // Key b alone opens every token: the same tokens, the same generation (a refresh in flight may still write).
        let b_only = with_keys(&t, KEY_B).await;
        let mut issued_after = Vec::new();
        for (ig, generation) in ids.iter().zip(generations) {
            let id = account(&t, ig).await.id;
            let tok = b_only.store.tokens(id).await.expect("b opens them").expect("stored");
            assert_eq!(tok.generation, generation);
            issued_after.extend([tok.user_token.expose().to_string(), tok.page_token.expose().to_string()]);
        }
        assert_eq!(issued_after, issued_before);
        let collected = run_collect(&b_only, JobKind::CollectInsights).await;
        assert_eq!(collected.counts.collected, 2, "{collected:?}");
        assert_eq!(collected.counts.failed, 0, "{collected:?}");
    }

    async fn a_value_under_an_unknown_key_is_reported_by_account_and_left_alone(t: TestApp) {
        let ids = connect_influencers(&t, 1).await;
        // One account's tokens were written by a process with a key nobody configures any more.
        let lost = account(&t, &ids[1]).await.id;
        let under_c = with_keys(&t, KEY_C).await;
        let generation = tokens(&t, &ids[1]).await.generation;
        let written = under_c
            .store
            .replace_tokens(lost, generation, &AccessToken::new("EAAlost-user"), None, &AccessToken::new("EAAlost-page"))
            .await
            .expect("write");
        assert!(written);
        let rotated = with_keys(&t, &format!("{KEY_B},{KEY_A}")).await;
        let before = stored(&rotated).await;

        let report = rekey(&rotated, 100, false).await;
        assert_eq!(report.before, counts(&[("a", 2), ("c", 2)]));
        assert_eq!(report.after, counts(&[("b", 2), ("c", 2)]));
        assert_eq!(report.rewritten, 2);
        let unreadable: Vec<_> = report.unreadable.iter().map(|u| (u.account_id, u.column, u.key_id.as_deref())).collect();
        assert_eq!(
            unreadable,
            [(lost, "user_access_token", Some("c")), (lost, "page_access_token", Some("c"))]
        );
        assert_eq!(report.skipped(), 2);
        // Key a seals nothing any more; the lost values were never a's.
        assert!(report.old_keys_droppable());
        let after = stored(&rotated).await;
        let of_lost = |vs: &[SealedValue]| vs.iter().filter(|v| v.account_id == lost).cloned().collect::<Vec<_>>();
        assert_eq!(of_lost(&after), of_lost(&before), "left alone, byte for byte");
        assert_report_is_clean(&t, &report, &before);
        let json = serde_json::to_string(&report).expect("json");
        assert!(!json.contains("EAAlost"), "the report names accounts, never tokens");
    }

    async fn a_row_rewritten_between_read_and_write_is_not_clobbered(t: TestApp) {
        connect_influencers(&t, 0).await;
        let rotated = with_keys(&t, &format!("{KEY_B},{KEY_A}")).await;
        // What a rekey reads and would write...
        let read = stored(&rotated).await;
        let reseals: Vec<Reseal> = read
            .iter()
            .map(|v| Reseal {
                account_id: v.account_id,
                column: v.column,
                expected: v.stored.clone(),
                replacement: rotated.store.keys().encrypt("EAAstale", "unused"),
            })
            .collect();
        // ...and meanwhile the influencer reconnects (through a process not yet deployed with key b).
        assert_eq!(location(&t.connect().await), "/?connected=true");
        let reconnected = stored(&rotated).await;
        assert_ne!(reconnected, read);

        assert_eq!(rotated.store.reseal(&reseals).await.expect("write"), 0, "nothing written over the reconnect");
        assert_eq!(stored(&rotated).await, reconnected);
        let tok = tokens(&t, DEFAULT_IG).await;
        assert!(t.control.issued_tokens().contains(&tok.user_token.expose().to_string()));

        // The next run picks the reconnect's values up.
        let report = rekey(&rotated, 100, false).await;
        assert_eq!((report.rewritten, report.changed_meanwhile), (2, 0));
        assert_eq!(report.after, counts(&[("b", 2)]));
    }
}
