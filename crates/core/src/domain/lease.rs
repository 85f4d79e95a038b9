//! The names leases are held under.

use std::fmt;

/// What one lease guards: a job (`collect-insights`), one shard of it
/// (`collect-insights:0/4`, so shards run side by side, never twice each),
/// or another single worker (`notify`). Made only from the code's own
/// names, never from input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaseName(String);

impl LeaseName {
    /// The lease of a worker that runs once at a time.
    pub fn of(worker: &'static str) -> LeaseName {
        LeaseName(worker.to_string())
    }

    /// The lease of shard `index` of `count` of a job (the job's own when it is not sharded).
    pub fn of_shard(job: &'static str, index: u32, count: u32) -> LeaseName {
        match count {
            0 | 1 => LeaseName::of(job),
            _ => LeaseName(format!("{job}:{index}/{count}")),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LeaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
