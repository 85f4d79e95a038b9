//! The deployment layout, read from the files Vercel reads: every `api/**/*.rs`
//! is a `[[bin]]` (Vercel's Rust builder finds a function's binary by that
//! exact path), every route of the table has its function at its plan path,
//! and `vercel.json` is in today's form with crons that reach functions.
//! These tests cover whatever routes and files exist when they run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use urlinsta_core::http::Route;
use urlinsta_core::http::server::PAGE_CSP;
use urlinsta_core::jobs::JobKind;
use urlinsta_core::jobs::schedule;

use crate::harness::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `api/**/*.rs`, relative to the repository, with `/` separators.
fn api_files() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("read api/") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(repo()).expect("under the repo");
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(&repo().join("api"), &mut out);
    out
}

/// `[[bin]]` name -> path, exactly as written in the root Cargo.toml.
fn bins() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("Cargo.toml")).expect("Cargo.toml");
    let manifest: toml::Table = text.parse().expect("Cargo.toml is TOML");
    manifest
        .get("bin")
        .and_then(|b| b.as_array())
        .expect("[[bin]] entries")
        .iter()
        .map(|b| {
            let field = |k: &str| {
                b.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_else(|| panic!("a [[bin]] without {k}"))
            };
            (field("name").to_string(), field("path").to_string())
        })
        .collect()
}

fn vercel_json() -> serde_json::Value {
    let text = std::fs::read_to_string(repo().join("vercel.json")).expect("vercel.json");
    serde_json::from_str(&text).expect("vercel.json is JSON")
}

/// The function file Vercel maps a route pattern to: `/api/insights/:userId` -> `api/insights/[userId].rs`.
fn file_of_pattern(pattern: &str) -> String {
    let segments: Vec<String> = pattern
        .trim_start_matches('/')
        .split('/')
        .map(|s| match s.strip_prefix(':') {
            Some(name) => format!("[{name}]"),
            None => s.to_string(),
        })
        .collect();
    format!("{}.rs", segments.join("/"))
}

/// The route an api file hands to `vercel::handle`, in the form `{:?}` prints it.
fn route_named_in(file: &str) -> String {
    let text = std::fs::read_to_string(repo().join(file)).expect("api file");
    let start = text
        .find("vercel::handle(req, ")
        .unwrap_or_else(|| panic!("{file} does not call vercel::handle(req, Route::..)"));
    let rest = &text[start + "vercel::handle(req, ".len()..];
    let mut depth = 0;
    let end = rest
        .char_indices()
        .find(|(_, c)| match c {
            '(' => {
                depth += 1;
                false
            }
            ')' if depth == 0 => true,
            ')' => {
                depth -= 1;
                false
            }
            _ => false,
        })
        .map(|(i, _)| i)
        .unwrap_or(rest.len());
    rest[..end]
        .replace("Route::", "")
        .replace("JobKind::", "")
        .replace(char::is_whitespace, "")
}

#[test]
fn every_api_file_is_a_bin_and_every_bin_an_api_file() {
    let files = api_files();
    let bins = bins();
    let paths: BTreeSet<String> = bins.iter().map(|(_, p)| p.clone()).collect();
    let names: BTreeSet<&String> = bins.iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), bins.len(), "bin names are unique: {bins:?}");
    assert_eq!(paths.len(), bins.len(), "bin paths are unique: {bins:?}");
    let without_bin: Vec<_> = files.difference(&paths).collect();
    assert!(
        without_bin.is_empty(),
        "api files without a [[bin]] (Vercel could not build them): {without_bin:?}"
    );
    let without_file: Vec<_> = paths.difference(&files).collect();
    assert!(
        without_file.is_empty(),
        "[[bin]] paths with no api file: {without_file:?}"
    );
}

#[test]
fn every_route_has_its_function_at_its_plan_path_and_back() {
    let files = api_files();
    let mut expected = BTreeMap::new();
    for (route, pattern, _) in Route::TABLE {
        let file = file_of_pattern(pattern);
        assert!(
            files.contains(&file),
            "{route:?} at {pattern} needs the function {file}"
        );
        assert_eq!(
            route_named_in(&file),
            format!("{route:?}"),
            "{file} must serve {route:?}"
        );
        expected.insert(file, *route);
    }
    let orphans: Vec<_> = files.iter().filter(|f| !expected.contains_key(*f)).collect();
    assert!(
        orphans.is_empty(),
        "api files whose path is no route of Route::TABLE: {orphans:?}"
    );
}

#[test]
fn vercel_json_is_in_todays_form_with_the_plans_crons() {
    let v = vercel_json();
    for legacy in ["builds", "routes"] {
        assert!(
            v.get(legacy).is_none(),
            "`{legacy}` is legacy and cannot be combined with functions/headers"
        );
    }
    let files = api_files();
    let mut schedules = BTreeMap::new();
    for cron in v["crons"].as_array().expect("crons") {
        let path = cron["path"].as_str().expect("cron path");
        let (route, _) = Route::resolve(path).unwrap_or_else(|| panic!("cron {path} is no route"));
        let Route::Cron(job) = route else {
            panic!("cron {path} is routed to {route:?}, not a job")
        };
        assert_eq!(job.cron_path(), path);
        let file = file_of_pattern(route.pattern());
        assert!(files.contains(&file), "cron {path} has no function {file}");
        schedules.insert(job.name(), cron["schedule"].as_str().expect("schedule").to_string());
    }
    let plan: BTreeMap<&str, String> = [
        (JobKind::RefreshTokens.name(), "0 */6 * * *".to_string()),
        (JobKind::CollectInsights.name(), "15 * * * *".to_string()),
        (JobKind::CollectAudience.name(), "0 3 * * *".to_string()),
    ]
    .into();
    assert_eq!(schedules, plan, "the plan's schedules, one per job");
    // The local scheduler reads the same file.
    let local = schedule::from_vercel_json(&v.to_string()).expect("the local scheduler reads vercel.json");
    assert_eq!(local.len(), JobKind::ALL.len());
}

/// A glob as Vercel's `functions` keys use it: `**` any number of segments, `*` within one.
fn glob_matches(pattern: &str, path: &str) -> bool {
    fn segments(p: &[&str], s: &[&str]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(&"**"), _) => segments(&p[1..], s) || (!s.is_empty() && segments(p, &s[1..])),
            (Some(pp), Some(ss)) => segment(pp.as_bytes(), ss.as_bytes()) && segments(&p[1..], &s[1..]),
            _ => false,
        }
    }
    fn segment(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => segment(&p[1..], s) || (!s.is_empty() && segment(p, &s[1..])),
            (Some(a), Some(b)) if a == b => segment(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let p: Vec<&str> = pattern.split('/').collect();
    let s: Vec<&str> = path.split('/').collect();
    segments(&p, &s)
}

#[test]
fn function_settings_reach_every_function_and_let_jobs_finish() {
    assert!(
        glob_matches("api/**/*.rs", "api/health.rs")
            && glob_matches("api/**/*.rs", "api/insights/[userId]/audience.rs")
    );
    assert!(
        glob_matches("api/cron/*.rs", "api/cron/collect-insights.rs")
            && !glob_matches("api/cron/*.rs", "api/health.rs")
    );

    let v = vercel_json();
    // In the file's order, which decides (serde_json's map sorts its keys).
    let text = std::fs::read_to_string(repo().join("vercel.json")).unwrap();
    let mut functions: Vec<(String, serde_json::Value)> = v["functions"]
        .as_object()
        .expect("functions")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    functions.sort_by_key(|(pattern, _)| text.find(&format!("\"{pattern}\"")));
    let files = api_files();
    // Vercel gives each function the FIRST pattern that matches it, and fails
    // the build on a pattern that no function takes.
    let setting_of = |file: &str| {
        functions
            .iter()
            .find(|(p, _)| glob_matches(p, file))
            .map(|(p, s)| (p.clone(), s.clone()))
    };
    let used: BTreeSet<String> = files.iter().filter_map(|f| setting_of(f).map(|(p, _)| p)).collect();
    for (pattern, _) in &functions {
        assert!(
            used.contains(pattern),
            "functions[\"{pattern}\"] takes no function: Vercel refuses to build"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let vars = [(
        "DATABASE_PATH".to_string(),
        dir.path().join("x.db").display().to_string(),
    )]
    .into();
    let budget = urlinsta_core::Config::from_vars(&vars)
        .unwrap()
        .job_time_budget
        .as_secs();
    for file in &files {
        let (pattern, setting) = setting_of(file).unwrap_or_else(|| panic!("{file} has no functions setting"));
        let max = setting["maxDuration"]
            .as_u64()
            .unwrap_or_else(|| panic!("functions[\"{pattern}\"] has no maxDuration"));
        assert!(max <= 300, "{file}: maxDuration {max} exceeds the Hobby plan's 300 s");
        if file.starts_with("api/cron/") {
            // The job stops starting accounts at the budget; the ones in flight need time to finish.
            assert!(
                max >= budget + 30,
                "{file}: maxDuration {max} s leaves no room after JOB_TIME_BUDGET_SECS={budget}"
            );
        }
    }
}

#[test]
fn page_headers_on_vercel_are_the_local_servers() {
    let v = vercel_json();
    let rule = v["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .find(|h| h["source"] == "/(.*)")
        .expect("a header rule for every path");
    let headers: BTreeMap<String, String> = rule["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["key"].as_str().unwrap().to_ascii_lowercase(),
                h["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        headers["content-security-policy"], PAGE_CSP,
        "vercel.json and the local server send one CSP"
    );
    assert!(PAGE_CSP.contains("frame-ancestors 'none'"));
    assert!(
        !PAGE_CSP.contains("http") && !PAGE_CSP.contains('*'),
        "nothing from other hosts"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn every_route_answers_at_its_plan_path() {
    let t = spawn_app().await;
    let client = browser();
    for (route, pattern, methods) in Route::TABLE {
        let path: Vec<String> = pattern
            .split('/')
            .map(|s| {
                if s.starts_with(':') {
                    "17841400000000001".to_string()
                } else {
                    s.to_string()
                }
            })
            .collect();
        let url = t.api(&path.join("/"));
        let method = methods[0].clone();
        let r = client
            .request(method.clone(), &url)
            .bearer_auth(CRON_SECRET)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("no API route"),
            "{route:?}: {method} {url} found no route"
        );
        assert_ne!(status, 405, "{route:?}: {method} {url} refused its own method");
    }
}

/// The deploy guide's Facebook Login for Business configuration reaches the dialog.
#[tokio::test]
async fn a_login_for_business_configuration_reaches_the_dialog() {
    let t = spawn_app_with(Options {
        vars: vec![("FB_LOGIN_CONFIG_ID", "987654321012345".into())],
        ..Default::default()
    })
    .await;
    let r = t.browser.get(t.api("/api/auth/login")).send().await.unwrap();
    let dialog = url::Url::parse(location(&r)).unwrap();
    let q: BTreeMap<String, String> = dialog.query_pairs().into_owned().collect();
    assert_eq!(q["config_id"], "987654321012345");
    assert!(
        q["scope"].contains("instagram_manage_insights"),
        "the classic scope stays for apps without one"
    );
    assert_eq!(location(&t.connect().await), "/?connected=true");
}

/// Vercel serves `public/` as the site; without that directory it serves the
/// repository root instead (sources and all: seen with `vercel build`). Local
/// state never goes up with `vercel deploy`.
#[test]
fn only_public_is_served_and_local_state_stays_local() {
    assert!(
        repo().join("public").is_dir(),
        "public/ must exist, or Vercel serves the repository root"
    );
    assert!(
        vercel_json().get("outputDirectory").is_none(),
        "the static site is public/, Vercel's default"
    );
    let ignore = std::fs::read_to_string(repo().join(".vercelignore")).expect(".vercelignore");
    let lines: BTreeSet<&str> = ignore.lines().map(str::trim).collect();
    for entry in [".env", "/data", "/target", "/.tools", "*.db", "*.keys"] {
        assert!(lines.contains(entry), ".vercelignore must list {entry}");
    }
}
