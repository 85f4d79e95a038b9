//! Leases: one holder of a name at a time, across processes that share
//! nothing but the database. A lease is taken for a short time and renewed
//! while its holder works, so that a run may last as long as its budget
//! while a holder that is gone (crashed, killed, or whose release was lost)
//! blocks the next one for at most [`LEASE_TTL`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::app::App;
use crate::clock::Clock;
use crate::domain::LeaseName;
use crate::store::{Store, StoreError};

/// How long a lease holds without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(60);
/// Renewals per TTL: two may fail (a slow database) before the lease lapses.
const RENEWALS_PER_TTL: u32 = 3;

/// A held lease. Give it back with [`Lease::release`]; dropped without
/// that (the holder crashed or was cancelled), it stops being renewed and
/// expires.
pub struct Lease {
    name: LeaseName,
    holder: String,
    store: Store,
    lost: Arc<AtomicBool>,
    renewing: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Takes `name` for `ttl` and keeps renewing it; None when someone else holds it.
    pub async fn take(app: &App, name: &LeaseName, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let holder = crate::crypto::random_token(9);
        if !app.store.try_lease(name, &holder, app.clock.utc_now(), ttl).await? {
            return Ok(None);
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewing = tokio::spawn(renew(
            app.store.clone(),
            app.clock.clone(),
            (name.clone(), holder.clone()),
            ttl,
            lost.clone(),
        ));
        Ok(Some(Lease {
            name: name.clone(),
            holder,
            store: app.store.clone(),
            lost,
            renewing,
        }))
    }

    /// Set when someone else took the lease after it lapsed (no renewal got
    /// through for a whole TTL): its holder should start nothing more.
    pub fn lost(&self) -> Arc<AtomicBool> {
        self.lost.clone()
    }

    pub async fn release(self) {
        self.renewing.abort();
        if let Err(e) = self.store.release_lease(&self.name, &self.holder).await {
            tracing::warn!(lease = %self.name, error = %e, "lease release failed; it will expire");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewing.abort();
    }
}

async fn renew(
    store: Store,
    clock: Arc<dyn Clock>,
    (name, holder): (LeaseName, String),
    ttl: Duration,
    lost: Arc<AtomicBool>,
) {
    loop {
        clock.sleep(ttl / RENEWALS_PER_TTL).await;
        match store.renew_lease(&name, &holder, clock.utc_now(), ttl).await {
            Ok(true) => tracing::debug!(lease = %name, "lease renewed"),
            Ok(false) => {
                tracing::warn!(lease = %name, "the lease lapsed and another holder took it");
                lost.store(true, Ordering::Relaxed);
                return;
            }
            // The next renewal may get through before the lease lapses.
            Err(e) => tracing::warn!(lease = %name, error = %e, "lease renewal failed"),
        }
    }
}
