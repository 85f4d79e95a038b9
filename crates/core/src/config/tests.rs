use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn production_names_the_missing_secret() {
    let err = Config::from_vars(&vars(&[("VERCEL_ENV", "production"), ("FB_APP_ID", "1")])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "FB_APP_SECRET is required on Vercel and with URLINSTA_ENV=production, but is not set"
    );
    let err = Config::from_vars(&vars(&[
        ("VERCEL_ENV", "production"),
        ("FB_APP_ID", "1"),
        ("FB_APP_SECRET", "s"),
        ("SESSION_SECRET", "x"),
        (
            "TOKEN_ENCRYPTION_KEY",
            "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
    ]))
    .unwrap_err();
    assert!(err.to_string().starts_with("CRON_SECRET"), "{err}");
}

/// Every secret, as a strict deployment must have them.
const ALL_SECRETS: [(&str, &str); 5] = [
    ("FB_APP_ID", "1"),
    ("FB_APP_SECRET", "s"),
    ("SESSION_SECRET", "x"),
    (
        "TOKEN_ENCRYPTION_KEY",
        "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ),
    ("CRON_SECRET", "c"),
];

#[test]
fn every_reachable_environment_is_strict_and_names_each_missing_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    let environments: [&[(&str, &str)]; 6] = [
        &[("VERCEL", "1"), ("VERCEL_ENV", "preview")],
        &[("VERCEL", "1"), ("VERCEL_ENV", "development")],
        &[("VERCEL", "1")],
        &[("VERCEL_ENV", "preview")],
        &[("VERCEL_ENV", "production")],
        &[("URLINSTA_ENV", "production")],
    ];
    for env in environments {
        for (missing, _) in ALL_SECRETS {
            let mut v = vars(env);
            v.insert("DATABASE_PATH".into(), db.to_str().unwrap().into());
            for (k, val) in ALL_SECRETS.iter().filter(|(k, _)| *k != missing) {
                v.insert(k.to_string(), val.to_string());
            }
            let err = Config::from_vars(&v).expect_err(&format!("{env:?} without {missing}"));
            assert!(err.to_string().starts_with(missing), "{env:?}: {err}");
        }
        let mut v = vars(env);
        v.extend(vars(&ALL_SECRETS));
        let config = Config::from_vars(&v).expect("every secret given");
        assert!(config.strict && !config.sandbox, "{env:?}");
    }
    // Nothing was generated: strict mode never falls back to local keys.
    assert!(!dir.path().join("u.keys").exists());
}

#[test]
fn local_development_alone_runs_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    for env in [&[][..], &[("URLINSTA_ENV", "development")][..]] {
        let mut v = vars(env);
        v.insert("DATABASE_PATH".into(), db.to_str().unwrap().into());
        let config = Config::from_vars(&v).expect("local config");
        assert!(!config.strict && config.sandbox, "{env:?}");
    }
}

#[test]
fn local_mode_generates_keys_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    let v = vars(&[("DATABASE_PATH", db.to_str().unwrap())]);
    let a = Config::from_vars(&v).unwrap();
    let b = Config::from_vars(&v).unwrap();
    assert!(a.sandbox);
    assert_eq!(a.session_secret, b.session_secret);
    assert_eq!(a.token_keys.current_key_id(), b.token_keys.current_key_id());
    assert_eq!(a.graph_version, "v26.0");
    assert_eq!(a.oauth_redirect_uri.as_str(), "http://localhost:3000/api/auth/callback");
    assert_eq!(a.error_redirect("no_pages"), "/?error=no_pages");
    let ig = a.instagram.expect("the sandbox offers Instagram Login too");
    assert_eq!(ig.app_id, SANDBOX_IG_APP_ID);
    assert_eq!(ig.redirect_uri, a.oauth_redirect_uri);
    assert_eq!(ig.graph_base_url.as_str(), "https://graph.instagram.com/");
}

#[test]
fn instagram_login_is_off_without_its_app_and_named_when_half_set() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    let db = db.to_str().unwrap();
    let with_meta_app = [("DATABASE_PATH", db), ("FB_APP_ID", "1"), ("FB_APP_SECRET", "s")];
    assert!(Config::from_vars(&vars(&with_meta_app)).unwrap().instagram.is_none());

    let mut half = with_meta_app.to_vec();
    half.push(("IG_APP_ID", "9"));
    let err = Config::from_vars(&vars(&half)).unwrap_err();
    assert!(err.to_string().starts_with("IG_APP_SECRET"), "{err}");
    let err = Config::from_vars(&vars(&[("DATABASE_PATH", db), ("IG_APP_SECRET", "x")])).unwrap_err();
    assert!(err.to_string().starts_with("IG_APP_ID"), "{err}");

    let production = [
        ("VERCEL_ENV", "production"),
        ("FB_APP_ID", "1"),
        ("FB_APP_SECRET", "s"),
        ("SESSION_SECRET", "x"),
        (
            "TOKEN_ENCRYPTION_KEY",
            "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ),
        ("CRON_SECRET", "c"),
        ("IG_APP_ID", "9"),
    ];
    let err = Config::from_vars(&vars(&production)).unwrap_err();
    assert!(err.to_string().starts_with("IG_APP_SECRET is required"), "{err}");

    let mut full = production.to_vec();
    full.extend([
        ("IG_APP_SECRET", "ig-secret-value"),
        ("IG_OAUTH_REDIRECT_URI", "https://example.com/api/auth/callback"),
        ("IG_GRAPH_BASE_URL", "http://127.0.0.1:9/ig/graph"),
    ]);
    let ig = Config::from_vars(&vars(&full)).unwrap().instagram.expect("on");
    assert_eq!(ig.app_id, "9");
    assert_eq!(ig.redirect_uri.as_str(), "https://example.com/api/auth/callback");
    assert_eq!(ig.graph_base_url.path(), "/ig/graph");
    assert_eq!(ig.api_base_url.as_str(), "https://api.instagram.com/");
    assert!(!format!("{ig:?}").contains("ig-secret-value"));
    assert_eq!(ig.renew_before_days, 30);
    full.push(("IG_RENEW_BEFORE_DAYS", "60"));
    let err = Config::from_vars(&vars(&full)).unwrap_err();
    assert!(err.to_string().starts_with("IG_RENEW_BEFORE_DAYS"), "{err}");
}

#[test]
fn bad_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("u.db");
    let err = Config::from_vars(&vars(&[
        ("DATABASE_PATH", db.to_str().unwrap()),
        ("RATE_LIMIT_PER_HOUR", "lots"),
    ]))
    .unwrap_err();
    assert!(err.to_string().starts_with("RATE_LIMIT_PER_HOUR"));
    let err = Config::from_vars(&vars(&[
        ("DATABASE_PATH", db.to_str().unwrap()),
        ("FB_GRAPH_VERSION", "latest"),
    ]))
    .unwrap_err();
    assert!(err.to_string().starts_with("FB_GRAPH_VERSION"));
    let err = Config::from_vars(&vars(&[
        ("DATABASE_PATH", db.to_str().unwrap()),
        ("BACKFILL_DAYS", "730"),
    ]))
    .unwrap_err();
    assert!(err.to_string().starts_with("BACKFILL_DAYS"), "{err}");
    let err = Config::from_vars(&vars(&[
        ("DATABASE_PATH", db.to_str().unwrap()),
        ("INSIGHT_METRICS", "reach, Views"),
    ]))
    .unwrap_err();
    assert!(err.to_string().starts_with("INSIGHT_METRICS"), "{err}");
    let ok = Config::from_vars(&vars(&[
        ("DATABASE_PATH", db.to_str().unwrap()),
        ("INSIGHT_METRICS", " reach,,views "),
    ]))
    .unwrap();
    assert_eq!(
        ok.insight_metrics.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        ["reach", "views"]
    );
}

#[test]
fn media_metrics_are_metric_names_or_the_setting_is_refused() {
    let config = Config::from_vars(&vars(&[("MEDIA_METRICS_REELS", " reach , views,,")])).unwrap();
    let reels: Vec<&str> = config.media_metrics[&ProductType::Reels]
        .iter()
        .map(MetricName::as_str)
        .collect();
    assert_eq!(reels, ["reach", "views"]);
    assert!(config.media_metrics[&ProductType::Feed].len() > 2, "the default stays");
    let err = Config::from_vars(&vars(&[("MEDIA_METRICS_STORY", "reach,Views")])).unwrap_err();
    assert!(
        err.to_string().contains("MEDIA_METRICS_STORY") && err.to_string().contains("`Views`"),
        "{err}"
    );
}
