//! Shards: one slice of the accounts per invocation, so that a job too big
//! for one function runs as several, side by side, each under its own lease.

use serde::{Deserialize, Serialize};

use crate::domain::{InstagramUserId, LeaseName};

/// One slice of the accounts: those whose stable hash falls in `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid shard: {0}")]
pub struct ShardError(String);

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, count: 1 }
    }
}

impl Shard {
    /// `shard` and `shards` as a request or the command line gives them: both or neither.
    pub fn parse(index: Option<&str>, count: Option<&str>) -> Result<Shard, ShardError> {
        let (index, count) = match (index, count) {
            (None, None) => return Ok(Shard::default()),
            (Some(i), Some(n)) => (i, n),
            _ => return Err(ShardError("give both shard and shards".into())),
        };
        let index: u32 = index
            .trim()
            .parse()
            .map_err(|_| ShardError(format!("shard `{index}` is not a whole number")))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| ShardError(format!("shards `{count}` is not a whole number")))?;
        if count == 0 || count > 1024 || index >= count {
            return Err(ShardError(format!(
                "need 0 <= shard < shards <= 1024, got {index} of {count}"
            )));
        }
        Ok(Shard { index, count })
    }

    /// Stable across processes and releases (FNV-1a, not std's seeded hasher).
    pub fn includes(&self, instagram_user_id: &InstagramUserId) -> bool {
        let mut h: u64 = 0xcbf29ce484222325;
        for b in instagram_user_id.as_str().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
        h % u64::from(self.count) == u64::from(self.index)
    }

    /// The lease name: shards of one job run side by side, never twice each.
    pub fn lease_name(&self, job: &'static str) -> LeaseName {
        LeaseName::of_shard(job, self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_accounts() {
        let shards: Vec<Shard> = (0..4).map(|i| Shard { index: i, count: 4 }).collect();
        for n in 0..200 {
            let id = InstagramUserId::parse(&format!("178414{n:011}")).expect("an id");
            assert_eq!(shards.iter().filter(|s| s.includes(&id)).count(), 1);
        }
        assert!(Shard::parse(Some("4"), Some("4")).is_err());
        assert!(Shard::parse(Some("x"), Some("4")).is_err());
        assert!(Shard::parse(Some("1"), None).is_err());
        assert_eq!(Shard::parse(None, None).unwrap(), Shard::default());
    }
}
