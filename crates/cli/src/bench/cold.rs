//! Cold start of a Vercel function: from spawning an api binary (built with
//! `cargo build --release --bins`) to its first answer. The binary listens
//! on VERCEL_DEV_PORT; its first request builds the App (configuration,
//! database handle, migrations check) and queries the database.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::read::{ms, percentile};

#[derive(Debug, Clone, Serialize)]
pub struct ColdFigures {
    pub db: String,
    pub binary: String,
    pub samples: usize,
    /// Process start to "listening".
    pub listening_p50_ms: f64,
    /// Process start to the first complete answer.
    pub first_answer_p50_ms: f64,
    pub first_answer_max_ms: f64,
    pub load: String,
}

/// Starts `binary` `samples` times with `env` and times its first answer to `GET path`.
pub async fn measure(
    binary: &Path,
    db: &str,
    env: &[(String, String)],
    path: &str,
    samples: usize,
) -> anyhow::Result<ColdFigures> {
    if !binary.is_file() {
        bail!(
            "{} is missing: build the functions first with `cargo build --release --bins`",
            binary.display()
        );
    }
    let dir = tempfile::tempdir()?;
    let (mut listening, mut answered) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        let port = super::free_port()?;
        let started = Instant::now();
        let mut child = tokio::process::Command::new(binary)
            .env_clear()
            .envs(env.iter().cloned())
            .env("VERCEL_DEV_PORT", port.to_string())
            // No stray .env is read from here.
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next_line().await? {
                Some(line) if line.contains("listening") => break,
                Some(_) => {}
                None => bail!("{} ended before it listened", binary.display()),
            }
        }
        listening.push(started.elapsed());
        let answer = get(port, path).await?;
        answered.push(started.elapsed());
        let _ = child.kill().await;
        if !answer.starts_with("HTTP/1.1 200") {
            bail!("{} answered: {}", binary.display(), answer.lines().next().unwrap_or(""));
        }
    }
    listening.sort();
    answered.sort();
    Ok(ColdFigures {
        db: db.to_string(),
        binary: binary.display().to_string(),
        samples,
        listening_p50_ms: ms(percentile(&listening, 50.0)),
        first_answer_p50_ms: ms(percentile(&answered, 50.0)),
        first_answer_max_ms: ms(answered.last().copied().unwrap_or_default()),
        load: super::probe::load_average(),
    })
}

/// One plain HTTP/1.1 request on a fresh connection; the whole answer.
async fn get(port: u16, path: &str) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer))
        .await
        .context("no answer within 30 s")??;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
