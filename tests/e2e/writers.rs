//! Writers in several processes on one hosted database: two function
//! instances write to the same `sqld` at once (a cron run and disconnects),
//! and every write of each lands, however often they meet the other's lock.

use urlinsta_core::jobs::JobKind;
use urlinsta_core::store::InsightsFilter;

use crate::harness::*;

#[tokio::test]
async fn two_function_processes_writing_to_one_sqld_both_land_every_write() {
    let sqld = Sqld::start().await;
    let limit = ("RATE_LIMIT_PER_HOUR", "1000000".to_string());
    let mut t = spawn_app_with(Options {
        vars: fixed_keys().into_iter().chain([limit.clone()]).collect(),
        remote_db: Some(sqld.url.clone()),
        ..Options::default()
    })
    .await;
    let ids = connect_influencers(&t, 15).await;
    let env: Vec<(&str, String)> = fixed_keys()
        .into_iter()
        .chain([
            ("TURSO_DATABASE_URL", sqld.url.clone()),
            ("FB_GRAPH_BASE_URL", t.sandbox.base_url()),
            ("CRON_SECRET", CRON_SECRET.to_string()),
            ("ADMIN_API_KEY", ADMIN_KEY.to_string()),
            ("GRAPH_RETRY_BASE_MS", "1".to_string()),
            limit,
        ])
        .collect();
    t.sqld = Some(sqld);
    let (_collector, collector) = start_function(env!("CARGO_BIN_EXE_cron-collect-insights"), &env).await;
    let (_disconnector, disconnector) = start_function(env!("CARGO_BIN_EXE_auth-disconnect"), &env).await;
    let (kept, gone) = ids.split_at(ids.len() / 2);

    // At once: one process collects every account, the other disconnects
    // half of them one after another, and this process collects audiences.
    let client = reqwest::Client::new();
    let collect = async {
        let r = client
            .get(format!("{collector}/api/cron/collect-insights"))
            .bearer_auth(CRON_SECRET)
            .send()
            .await
            .expect("the collector answers");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    };
    let disconnect = async {
        let mut answers = Vec::new();
        for ig in gone {
            let r = client
                .post(format!("{disconnector}/api/auth/disconnect"))
                .bearer_auth(ADMIN_KEY)
                .json(&serde_json::json!({ "instagram_user_id": ig }))
                .send()
                .await
                .expect("the disconnector answers");
            answers.push((ig.clone(), r.status().as_u16(), r.text().await.unwrap_or_default()));
        }
        answers
    };
    let ((status, body), disconnected, audience) =
        tokio::join!(collect, disconnect, run_collect(&t.app, JobKind::CollectAudience));

    assert_eq!(status, 200, "{body}");
    let report: CollectReport = serde_json::from_str(&body).expect("a collection report");
    assert_eq!(report.counts.failed, 0, "{report:?}");
    assert_eq!(audience.counts.failed, 0, "{audience:?}");
    for (ig, status, body) in &disconnected {
        assert_eq!(*status, 200, "disconnecting {ig}: {body}");
    }
    // Every write landed: the disconnected accounts are gone with all of
    // theirs, and every other one was collected this hour.
    for ig in gone {
        assert!(
            t.app.store.account(&instagram_id(ig)).await.expect("read").is_none(),
            "{ig} is deleted"
        );
    }
    for ig in kept {
        let a = account(&t, ig).await;
        let rows = t
            .app
            .store
            .stored_insights(a.id, &InsightsFilter::default())
            .await
            .expect("read");
        assert!(!rows.is_empty(), "{ig} was collected");
    }
    assert_no_orphans(&t).await;
    assert!(
        !captured_logs().contains("database is locked"),
        "a write failed on the lock"
    );
}
