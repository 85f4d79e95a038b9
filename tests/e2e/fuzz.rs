//! Schema-driven fuzzing: schemathesis reads `/api/openapi.json` from the
//! running app and throws generated requests, valid and invalid, at every
//! operation, as nobody, as a connected browser, with the admin key and with
//! the cron secret. Every check it has must pass: no 5xx, every status,
//! content type, header and body as documented, invalid data refused,
//! valid data accepted, auth never ignored.

use std::process::Stdio;

use urlinsta_core::jobs::JobKind;

use crate::harness::*;

/// Test cases per operation and identity; the coverage phase adds its own
/// boundary cases on top.
const MAX_EXAMPLES: &str = "20";

/// `SCHEMATHESIS` (a command, e.g. `python3 -m schemathesis.cli`), else the
/// pinned one `./scripts/test` installs under `.tools/schemathesis`.
fn schemathesis() -> Vec<String> {
    let command = std::env::var("SCHEMATHESIS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.tools/schemathesis/bin/schemathesis").into());
    let parts: Vec<String> = command.split_whitespace().map(String::from).collect();
    let found = std::process::Command::new(&parts[0])
        .args(&parts[1..])
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "the fuzz test needs schemathesis, which is not at {command}: run ./scripts/test tools (it installs the \
         pinned version into .tools/schemathesis/) or set SCHEMATHESIS"
    );
    parts
}

/// The figures of one run, read from its summary.
#[derive(Debug, Default)]
struct Run {
    generated: u64,
    passed: u64,
}

fn summary(output: &str) -> Run {
    // "Test cases:\n  415 generated, 415 passed, 6 skipped"
    let line = output
        .lines()
        .skip_while(|l| !l.starts_with("Test cases:"))
        .nth(1)
        .unwrap_or("");
    let number = |word: &str| {
        line.split(',')
            .find(|part| part.trim().ends_with(word))
            .and_then(|part| part.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Run {
        generated: number("generated"),
        passed: number("passed"),
    }
}

#[tokio::test]
async fn schemathesis_finds_no_5xx_and_every_answer_matches_the_document() {
    let command = schemathesis();
    let t = spawn_app().await;
    let callback = t.connect().await;
    let session = callback
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("urlinsta_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    // Stored rows for the read routes to answer with.
    run_collect(&t.app, JobKind::CollectInsights).await;
    run_collect(&t.app, JobKind::CollectAudience).await;
    assert!(row_count(&t, "insights").await > 0);
    crate::media_api::seed_media(&t).await;
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fuzz/schemathesis.toml");
    // A session is a credential, just not the operator's, so the admin view
    // answers it 403 (RFC 9110); schemathesis's missing_required_header
    // insists on 401 whenever Authorization is absent, and no per-operation
    // setting turns it off, so the browser's run goes without that one check.
    // The browser's requests come from the site itself (`Origin`), as the
    // page's do: the cross-site refusal is tested in attacks.rs.
    // The admin key goes in by `-H`, which schemathesis does not know for the
    // credential: its ignored_auth check "invalidates" the session cookie
    // alone, and the valid key rightly still gets in, so that run goes
    // without ignored_auth (the other three runs keep it).
    let cookie = format!("Cookie: urlinsta_session={session}");
    let origin = format!("Origin: {}", t.url);
    let admin = format!("Authorization: Bearer {ADMIN_KEY}");
    let cron = format!("Authorization: Bearer {CRON_SECRET}");
    let identities: [(&str, Vec<&str>, &[&str]); 4] = [
        ("nobody", vec![], &[]),
        (
            "a connected browser",
            vec![&cookie, &origin],
            &["--exclude-checks", "missing_required_header"],
        ),
        ("the admin key", vec![&admin], &["--exclude-checks", "ignored_auth"]),
        ("the cron secret", vec![&cron], &[]),
    ];
    let mut total = Run::default();
    for (who, headers, extra) in identities {
        let mut run = tokio::process::Command::new(&command[0]);
        run.args(&command[1..])
            .args(["--config-file", config, "run"])
            .arg(t.api("/api/openapi.json"))
            .args([
                "--checks",
                "all",
                "--max-examples",
                MAX_EXAMPLES,
                "--workers",
                "2",
                "--no-color",
            ])
            .args(["--report-dir", &t.dir.path().join("schemathesis").display().to_string()])
            // One worker: schemathesis 4.32 trips over its own caches with two.
            // Hypothesis keeps its files in the working directory.
            .current_dir(t.dir.path())
            .kill_on_drop(true);
        for h in &headers {
            run.args(["-H", h]);
        }
        run.args(extra);
        let out = run.output().await.expect("schemathesis runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis as {who} found problems:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let figures = summary(&text);
        assert!(figures.generated > 0, "as {who}: nothing was generated:\n{text}");
        println!(
            "schemathesis as {who}: {} inputs generated, {} passed",
            figures.generated, figures.passed
        );
        total.generated += figures.generated;
        total.passed += figures.passed;
    }
    println!(
        "schemathesis: {} inputs tried, {} requests served",
        total.generated,
        t.requests_served()
    );
    // Schemathesis learns the account's id from answers and may well
    // disconnect it (as its browser or the admin, rightly): nothing of it stays.
    assert_no_orphans(&t).await;
    assert_no_secrets(&t.control, captured_logs().as_bytes(), "the logs");
}
