//! When an Instagram-login token's renewal fails: Meta's passing trouble
//! leaves the connection active and the next run renews it; a withdrawn
//! permission needs the person (`reauth_required`); a 190 is `invalid`.

use urlinsta_core::store::TokenStatus;
use urlinsta_sandbox::{Endpoint, Fault, IgEndpoint};

use crate::harness::*;
use crate::instagram::{SOLO, connect_solo, sql_on};

/// Due for renewal: 20 days left, issued two days ago.
async fn due_for_renewal(t: &TestApp) {
    let now = chrono::Utc::now();
    sql_on(
        t,
        &format!(
            "UPDATE tokens SET user_token_expires_at = '{}', last_refreshed_at = '{}'",
            ts(now + chrono::Duration::days(20)),
            ts(now - chrono::Duration::days(2)),
        ),
    )
    .await;
}

fn days_left(a: &urlinsta_core::store::Account) -> i64 {
    let at = a.token.user_token_expires_at.expect("an expiry");
    (at.to_datetime() - chrono::Utc::now()).num_days()
}

on_both_databases! {
    async fn a_renewal_meta_fails_for_a_while_is_tried_again_and_the_connection_stays_active(t: TestApp) {
        connect_solo(&t).await;
        t.control.advance(chrono::Duration::days(2));
        due_for_renewal(&t).await;
        let first = tokens(&t, SOLO).await.user_token;
        // Meta's passing trouble, on every try of this run.
        t.control.inject(Endpoint::Instagram(IgEndpoint::Refresh), Fault::graph(2, None), Some(3));
        let report = run_refresh(&t).await;
        assert_eq!(report.counts.failed, 1, "{report:?}");
        let a = account(&t, SOLO).await;
        assert_eq!(a.token.status, TokenStatus::Active, "nothing the person must do");
        assert_eq!(days_left(&a), 19, "the old expiry stays");
        assert_eq!(tokens(&t, SOLO).await.user_token, first);

        let report = run_refresh(&t).await;
        assert_eq!(report.counts.refreshed, 1, "{report:?}");
        let a = account(&t, SOLO).await;
        assert_eq!(a.token.status, TokenStatus::Active);
        assert!(days_left(&a) >= 59, "renewed for 60 days");
        assert_ne!(tokens(&t, SOLO).await.user_token, first);
    }
}

#[tokio::test]
async fn a_renewal_refused_for_a_permission_needs_the_person_and_a_190_is_invalid() {
    let t = spawn_app().await;
    connect_solo(&t).await;
    t.control.advance(chrono::Duration::days(2));
    due_for_renewal(&t).await;
    t.control.inject(
        Endpoint::Instagram(IgEndpoint::Refresh),
        Fault::graph(10, None),
        Some(1),
    );
    run_refresh(&t).await;
    let a = account(&t, SOLO).await;
    assert_eq!(a.token.status, TokenStatus::ReauthRequired);
    assert_eq!(a.token.code, Some(10));
    assert_eq!(a.login, urlinsta_core::store::Login::Instagram);

    // Connecting again restores it; a dead token at renewal time is invalid.
    connect_solo(&t).await;
    assert_eq!(account(&t, SOLO).await.token.status, TokenStatus::Active);
    t.control.advance(chrono::Duration::days(2));
    due_for_renewal(&t).await;
    t.control.invalidate_instagram_tokens(SOLO, 458);
    run_refresh(&t).await;
    let a = account(&t, SOLO).await;
    assert_eq!(a.token.status, TokenStatus::Invalid);
    assert_eq!(
        a.token.reason.as_deref(),
        Some("the app was removed from the Instagram account")
    );
}
