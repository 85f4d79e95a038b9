//! `urlinsta rekey`: after a key rotation, seal every stored token with the
//! current key, so that the old keys can be dropped (README, "Rotating the
//! token key"). The work is `Store::rekey`; this prints it.

use std::collections::BTreeMap;

use urlinsta_core::store::{RekeyProgress, RekeyReport};
use urlinsta_core::{App, Config};

#[derive(clap::Args)]
pub struct RekeyArgs {
    /// Only count values per key id and say whether the old keys can be dropped; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Accounts per chunk (one read and one transactional write each).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    batch: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn rekey(args: RekeyArgs) -> anyhow::Result<()> {
    let config = Config::from_env()?;
    urlinsta_core::telemetry::init(&config.log_level);
    let app = App::build(config).await?;
    let progress = |p: RekeyProgress| {
        eprintln!("rekey: {} values scanned, {} rewritten", p.scanned, p.rewritten);
    };
    let report = app.store.rekey(args.batch, args.dry_run, &progress).await?;
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&report)?),
        false => print!("{}", summary(&report)),
    }
    if !report.unreadable.is_empty() {
        anyhow::bail!(
            "{} stored token(s) cannot be decrypted with any configured key and were left alone",
            report.unreadable.len()
        );
    }
    Ok(())
}

/// The report for a person: counts, what was skipped and why, and the verdict on the old keys.
fn summary(r: &RekeyReport) -> String {
    let mut out = String::new();
    if r.dry_run {
        out.push_str("dry run: nothing was written\n");
    }
    out.push_str(&format!("current key: {}\n", r.current_key));
    out.push_str(&format!("values per key id before: {}\n", per_key(&r.before)));
    let verb = if r.dry_run { "would rewrite" } else { "rewritten" };
    out.push_str(&format!(
        "{verb}: {}, skipped: {} ({} changed meanwhile, {} unreadable)\n",
        r.rewritten,
        r.skipped(),
        r.changed_meanwhile,
        r.unreadable.len()
    ));
    if !r.dry_run {
        out.push_str(&format!("values per key id after: {}\n", per_key(&r.after)));
    }
    for u in &r.unreadable {
        out.push_str(&format!(
            "unreadable: account {} {} (key id {}): {}\n",
            u.account_id,
            u.column,
            u.key_id.as_deref().unwrap_or("none"),
            u.reason
        ));
    }
    match (r.old_keys.is_empty(), r.old_keys_droppable()) {
        (true, _) => out.push_str("no old key is configured: nothing to drop\n"),
        (false, true) => out.push_str(&format!(
            "no value is sealed with an old key: {} can now be dropped from TOKEN_ENCRYPTION_KEY\n",
            r.old_keys.join(", ")
        )),
        (false, false) => out.push_str(&format!(
            "old keys still in use, keep them: {} (run `urlinsta rekey`)\n",
            r.old_keys_in_use.join(", ")
        )),
    }
    out
}

fn per_key(counts: &BTreeMap<String, u64>) -> String {
    match counts.is_empty() {
        true => "none".into(),
        false => counts
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect::<Vec<_>>()
            .join(" "),
    }
}
