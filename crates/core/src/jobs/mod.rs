//! The three scheduled jobs and what they share: a lease against overlapping
//! runs, a time budget, shards, and progress. Each job is callable from its
//! cron function, from `urlinsta run`, and from the local scheduler.

pub mod schedule;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::app::App;
use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Job {
    RefreshTokens,
    CollectInsights,
    CollectAudience,
}

impl Job {
    pub const ALL: [Job; 3] = [Job::RefreshTokens, Job::CollectInsights, Job::CollectAudience];

    pub fn name(self) -> &'static str {
        match self {
            Job::RefreshTokens => "refresh-tokens",
            Job::CollectInsights => "collect-insights",
            Job::CollectAudience => "collect-audience",
        }
    }

    /// The cron function's path, as in `vercel.json`.
    pub fn cron_path(self) -> String {
        format!("/api/cron/{}", self.name())
    }

    pub fn parse(name: &str) -> Option<Job> {
        Self::ALL.into_iter().find(|j| j.name() == name)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid shard: {0}")]
    BadShard(String),
}

/// One slice of the accounts: those whose stable hash falls in `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    pub fn parse(index: Option<&str>, count: Option<&str>) -> Result<Shard, JobError> {
        let (index, count) = match (index, count) {
            (None, None) => return Ok(Shard::default()),
            (Some(i), Some(n)) => (i, n),
            _ => return Err(JobError::BadShard("give both shard and shards".into())),
        };
        let index: u32 = index
            .trim()
            .parse()
            .map_err(|_| JobError::BadShard(format!("shard `{index}` is not a whole number")))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| JobError::BadShard(format!("shards `{count}` is not a whole number")))?;
        if count == 0 || count > 1024 || index >= count {
            return Err(JobError::BadShard(format!(
                "need 0 <= shard < shards <= 1024, got {index} of {count}"
            )));
        }
        Ok(Shard { index, count })
    }

    /// Stable across processes and releases (FNV-1a, not std's seeded hasher).
    pub fn includes(&self, instagram_user_id: &str) -> bool {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in instagram_user_id.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        h % u64::from(self.count) == u64::from(self.index)
    }

    /// The lease name: shards of one job run side by side, never twice each.
    pub fn lease_name(&self, job: Job) -> String {
        if self.count == 1 {
            job.name().to_string()
        } else {
            format!("{}:{}/{}", job.name(), self.index, self.count)
        }
    }
}

/// Progress of a run, for terminals and logs.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub failed: usize,
}

pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// What one run of a job works with.
#[derive(Clone)]
pub struct JobContext {
    pub job: Job,
    pub run_id: String,
    pub started: Instant,
    /// No new account is started after this.
    pub deadline: Instant,
    pub shard: Shard,
    pub progress: Option<ProgressFn>,
}

impl JobContext {
    pub fn new(app: &App, job: Job, shard: Shard) -> Self {
        let started = Instant::now();
        JobContext {
            job,
            run_id: format!(
                "{}-{}",
                chrono::Utc::now().format("%Y%m%dT%H%M%S"),
                crate::crypto::random_token(4)
            ),
            started,
            deadline: started + app.config.job_time_budget,
            shard,
            progress: None,
        }
    }

    pub fn with_progress(mut self, f: ProgressFn) -> Self {
        self.progress = Some(f);
        self
    }

    pub fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    pub fn report(&self, p: Progress) {
        if let Some(f) = &self.progress {
            f(p);
        }
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

/// Holds a job's lease for the length of a run. Release is explicit (async);
/// a crashed holder's lease simply expires.
pub struct LeaseGuard {
    name: String,
    holder: String,
}

impl LeaseGuard {
    /// None when another run holds the lease.
    pub async fn acquire(app: &App, name: &str, ttl: Duration) -> Result<Option<LeaseGuard>, StoreError> {
        let holder = crate::crypto::random_token(9);
        Ok(app.store.try_lease(name, &holder, ttl).await?.then(|| LeaseGuard {
            name: name.to_string(),
            holder,
        }))
    }

    pub async fn release(self, app: &App) {
        if let Err(e) = app.store.release_lease(&self.name, &self.holder).await {
            tracing::warn!(lease = %self.name, error = %e, "lease release failed; it will expire");
        }
    }
}

/// A lease outlives the run's budget a little, so a crashed run frees it soon.
pub fn lease_ttl(app: &App) -> Duration {
    app.config.job_time_budget + Duration::from_secs(120)
}

/// How long a job may spend delivering webhook events after its work.
const NOTIFY_BUDGET: Duration = Duration::from_secs(15);

/// Runs one job to the end of its slice and returns its report (the cron
/// JSON). Every job ends by delivering the webhook events queued so far, its
/// own status changes included, whether its work succeeded or not.
pub async fn run(app: &App, ctx: &JobContext) -> Result<serde_json::Value, JobError> {
    let report = match ctx.job {
        Job::RefreshTokens => crate::tokens::run(app, ctx).await.map(serde_json::to_value),
        Job::CollectInsights => crate::collect::run_insights(app, ctx).await.map(serde_json::to_value),
        Job::CollectAudience => crate::collect::run_audience(app, ctx).await.map(serde_json::to_value),
    };
    crate::notify::deliver_pending(app, NOTIFY_BUDGET).await;
    Ok(report?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_accounts() {
        let shards: Vec<Shard> = (0..4).map(|i| Shard { index: i, count: 4 }).collect();
        for n in 0..200 {
            let id = format!("178414{n:011}");
            assert_eq!(shards.iter().filter(|s| s.includes(&id)).count(), 1);
        }
        assert!(Shard::parse(Some("4"), Some("4")).is_err());
        assert!(Shard::parse(Some("x"), Some("4")).is_err());
        assert!(Shard::parse(Some("1"), None).is_err());
        assert_eq!(Shard::parse(None, None).unwrap(), Shard::default());
    }
}
