//! The sandbox in a child process (`urlinsta bench-sandbox`), so that the
//! memory measured is the app's alone and the emulator's world of thousands
//! of users (and its call log) is not counted. The parent steers it with one
//! JSON line per command on the child's stdin; the child answers one line
//! on its stdout.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use urlinsta_sandbox::{ExchangePolicy, Sandbox, SandboxConfig, UserSpec};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Command {
    /// Adds `count` influencers and grants each the app's scopes. With
    /// `user_token_days`, their user tokens end that soon and a refresh
    /// extends them (`ExchangePolicy::Extend`).
    Setup {
        count: usize,
        user_token_days: Option<i64>,
    },
    Latency {
        ms: u64,
    },
    Reset,
    Counts,
}

/// One connected influencer, as a completed login would leave it.
#[derive(Clone, Serialize, Deserialize)]
pub struct Granted {
    pub facebook_user_id: String,
    pub page_id: String,
    pub page_name: String,
    pub instagram_user_id: String,
    pub username: String,
    pub name: String,
    pub followers_count: i64,
    pub user_token: String,
    pub user_token_expires_in: i64,
    pub page_token: String,
}

impl std::fmt::Debug for Granted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Granted")
            .field("instagram_user_id", &self.instagram_user_id)
            .finish_non_exhaustive()
    }
}

/// What the sandbox served since the last reset.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Graph calls as Meta counts them: each batch operation on its own.
    pub graph_calls: u64,
    /// Real HTTP requests: a batch is one.
    pub http_requests: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Answer {
    Accounts { accounts: Vec<Granted> },
    Counts(Counts),
    Done { done: bool },
    Failed { error: String },
}

/// The child side: serves a sandbox until its stdin closes.
pub async fn serve_child() -> anyhow::Result<()> {
    let sandbox = Sandbox::start(SandboxConfig::default()).await?;
    let control = sandbox.control();
    let mut out = tokio::io::stdout();
    let hello = serde_json::json!({ "base_url": sandbox.base_url() });
    out.write_all(format!("{hello}\n").as_bytes()).await?;
    out.flush().await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let answer = match serde_json::from_str::<Command>(&line) {
            Err(e) => Answer::Failed {
                error: format!("unreadable command: {e}"),
            },
            Ok(Command::Setup { count, user_token_days }) => {
                let mut accounts = Vec::with_capacity(count);
                if user_token_days.is_some() {
                    control.set_exchange_policy(ExchangePolicy::Extend);
                }
                for _ in 0..count {
                    match grant_one(&control, user_token_days) {
                        Some(g) => accounts.push(g),
                        None => break,
                    }
                }
                if accounts.len() == count {
                    Answer::Accounts { accounts }
                } else {
                    Answer::Failed {
                        error: "the sandbox granted no tokens".into(),
                    }
                }
            }
            Ok(Command::Latency { ms }) => {
                control.set_latency(Duration::from_millis(ms));
                Answer::Done { done: true }
            }
            Ok(Command::Reset) => {
                control.reset_calls();
                Answer::Done { done: true }
            }
            Ok(Command::Counts) => Answer::Counts(Counts {
                graph_calls: control.graph_calls(),
                http_requests: control.http_requests(),
            }),
        };
        let mut line = serde_json::to_string(&answer)?;
        line.push('\n');
        out.write_all(line.as_bytes()).await?;
        out.flush().await?;
    }
    Ok(())
}

fn grant_one(control: &urlinsta_sandbox::Control, user_token_days: Option<i64>) -> Option<Granted> {
    let spec = UserSpec::default_influencer();
    let page = spec.pages.first()?.clone();
    let ig = page.instagram.clone()?;
    let user_id = control.add_user(spec);
    let granted = control.grant_tokens(&user_id, urlinsta_core::oauth::SCOPES)?;
    let mut expires_in = granted.expires_in;
    if let Some(days) = user_token_days {
        control.set_token_expiry(&granted.user_token, control.now() + chrono::Duration::days(days));
        expires_in = days * 86_400;
    }
    let page_token = granted.pages.iter().find(|(id, _)| *id == page.id)?.1.clone();
    Some(Granted {
        facebook_user_id: user_id,
        page_id: page.id,
        page_name: page.name,
        instagram_user_id: ig.id,
        username: ig.username,
        name: ig.name,
        followers_count: ig.followers_count,
        user_token: granted.user_token,
        user_token_expires_in: expires_in,
        page_token,
    })
}

/// The parent side: a sandbox running in a child process of this binary.
pub struct SandboxChild {
    pub base_url: String,
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl SandboxChild {
    pub async fn start() -> anyhow::Result<SandboxChild> {
        let exe = std::env::current_exe().context("locating this binary")?;
        let mut child = tokio::process::Command::new(exe)
            .arg("bench-sandbox")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting the sandbox process")?;
        let stdin = child.stdin.take().context("sandbox stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().context("sandbox stdout")?).lines();
        let hello = stdout
            .next_line()
            .await?
            .context("the sandbox process ended at start")?;
        let hello: serde_json::Value = serde_json::from_str(&hello)?;
        let base_url = hello["base_url"]
            .as_str()
            .context("no base_url from the sandbox")?
            .to_string();
        Ok(SandboxChild {
            base_url,
            child,
            stdin,
            stdout,
        })
    }

    async fn ask(&mut self, command: &Command) -> anyhow::Result<Answer> {
        let mut line = serde_json::to_string(command)?;
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        let answer = self.stdout.next_line().await?.context("the sandbox process ended")?;
        match serde_json::from_str(&answer)? {
            Answer::Failed { error } => bail!("sandbox: {error}"),
            answer => Ok(answer),
        }
    }

    pub async fn setup(&mut self, count: usize, user_token_days: Option<i64>) -> anyhow::Result<Vec<Granted>> {
        match self.ask(&Command::Setup { count, user_token_days }).await? {
            Answer::Accounts { accounts } => Ok(accounts),
            other => bail!("sandbox: unexpected answer to setup: {other:?}"),
        }
    }

    pub async fn set_latency(&mut self, latency: Duration) -> anyhow::Result<()> {
        let ms = latency.as_millis() as u64;
        self.ask(&Command::Latency { ms }).await.map(drop)
    }

    pub async fn reset(&mut self) -> anyhow::Result<()> {
        self.ask(&Command::Reset).await.map(drop)
    }

    pub async fn counts(&mut self) -> anyhow::Result<Counts> {
        match self.ask(&Command::Counts).await? {
            Answer::Counts(c) => Ok(c),
            other => bail!("sandbox: unexpected answer to counts: {other:?}"),
        }
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
