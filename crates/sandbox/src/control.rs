//! The test-facing handle onto the world: set it up, bend it, watch it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::faults::{Endpoint, Fault};
pub use crate::spec::{IgSpec, PageSpec, UserSpec};
use crate::world::{AccountThrottle, World};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    User,
    Page,
    App,
}

/// What `fb_exchange_token` does with a token that is already long-lived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExchangePolicy {
    /// Like Meta today: the same token back, with its remaining lifetime.
    #[default]
    SameToken,
    /// A new token with a fresh ~60 days.
    Extend,
    /// A new token with a fresh ~60 days, `expires_in` left out; the expiry
    /// is visible through `debug_token` only.
    ExtendWithoutExpiresIn,
}

/// One Graph call as the emulator saw it. Secret values are redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub endpoint: Endpoint,
    pub method: String,
    pub path: String,
    /// The Instagram account or Page the call touched.
    pub account: Option<String>,
    pub token_kind: Option<TokenKind>,
    pub had_appsecret_proof: bool,
    pub in_batch: bool,
    /// Query and form parameters; `access_token`, `client_secret`, `code`,
    /// `fb_exchange_token`, `appsecret_proof` and `input_token` values read
    /// `[redacted]`.
    pub params: Vec<(String, String)>,
    /// The status answered; 0 when the connection was dropped or a batch
    /// operation timed out.
    pub status: u16,
    pub at: DateTime<Utc>,
}

/// A cheap, cloneable handle onto the sandbox's world. Every method is
/// synchronous and takes effect for the next request.
/// Tokens from [`Control::grant_tokens`].
#[derive(Clone)]
pub struct GrantedTokens {
    pub user_token: String,
    pub expires_in: i64,
    /// `(page id, page token)` for each of the user's Pages.
    pub pages: Vec<(String, String)>,
}

impl std::fmt::Debug for GrantedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GrantedTokens([redacted])")
    }
}

#[derive(Clone)]
pub struct Control {
    world: Arc<Mutex<World>>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The world holds tokens: never print it.
        f.debug_struct("Control").finish_non_exhaustive()
    }
}

impl Control {
    pub(crate) fn new(world: Arc<Mutex<World>>) -> Control {
        Control { world }
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    // --- World setup ---

    /// Adds a user and returns its Facebook user id.
    pub fn add_user(&self, spec: UserSpec) -> String {
        self.world().add_user(spec)
    }

    /// Whom the login dialog logs in as from now on.
    pub fn set_dialog_user(&self, user_id: &str) {
        self.world().dialog_user = user_id.to_string();
    }

    pub fn dialog_user(&self) -> String {
        self.world().dialog_user.clone()
    }

    /// Scopes the user declines in the dialog; also withdraws them from a
    /// grant already made (like unticking them in Facebook's settings).
    pub fn set_declined_scopes(&self, user_id: &str, scopes: &[&str]) {
        if let Some(user) = self.world().users.get_mut(user_id) {
            user.declined = scopes.iter().map(|s| s.to_string()).collect();
        }
    }

    /// Restricts the dialog to these redirect URIs (Meta's "Valid OAuth
    /// Redirect URIs"); empty accepts any.
    pub fn set_allowed_redirect_uris(&self, uris: &[&str]) {
        self.world().allowed_redirect_uris = uris.iter().map(|s| s.to_string()).collect();
    }

    /// Sets the follower count of an Instagram account.
    pub fn set_followers(&self, ig_id: &str, followers: i64) {
        if let Some(ig) = self.world().igs.get_mut(ig_id) {
            ig.followers_count = followers;
        }
    }

    /// Links (or with `None` unlinks) an Instagram account to a Page.
    pub fn link_instagram(&self, page_id: &str, instagram: Option<IgSpec>) {
        let mut world = self.world();
        let ig_id = instagram.map(|ig| {
            let id = ig.id.clone();
            world.igs.insert(
                id.clone(),
                crate::world::IgAccount {
                    id: ig.id,
                    username: ig.username,
                    name: ig.name,
                    followers_count: ig.followers_count,
                    follows_count: ig.follows_count,
                    media_count: ig.media_count,
                },
            );
            id
        });
        if let Some(page) = world.pages.get_mut(page_id) {
            page.instagram = ig_id;
        }
    }

    /// What a completed login would hand an app, without the dialog: grants
    /// `scopes` (minus the user's declines), issues a long-lived user token and
    /// the never-expiring Page tokens. For setting up many accounts at once
    /// (benchmarks); tests of the login itself go through the dialog.
    pub fn grant_tokens(&self, user_id: &str, scopes: &[&str]) -> Option<GrantedTokens> {
        let mut world = self.world();
        let now = world.now();
        let user = world.users.get_mut(user_id)?;
        user.granted.extend(scopes.iter().map(|s| s.to_string()));
        user.data_access_expires_at = Some(now + chrono::Duration::days(crate::world::DATA_ACCESS_DAYS));
        let pages = user.pages.clone();
        let user_token = world.issue_user_token(user_id, true, crate::world::LONG_LIVED_SECS);
        let pages = pages
            .into_iter()
            .map(|p| (p.clone(), world.page_token_for(&user_token, &p)))
            .collect();
        Some(GrantedTokens {
            user_token,
            expires_in: crate::world::LONG_LIVED_SECS,
            pages,
        })
    }

    // --- Tokens ---

    /// Every access token and code ever issued, to scan databases and logs for.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.world().issued.clone()
    }

    /// Every existing token of the user and its Pages answers 190 with this
    /// subcode (458 app removed, 460 password changed, 463 expired, 467
    /// invalid, 492 no Page role). Tokens from a later login work again.
    pub fn invalidate_user_tokens(&self, user_id: &str, subcode: i64) {
        self.world().kill_user_tokens(user_id, subcode);
    }

    pub fn set_token_expiry(&self, token: &str, expires_at: DateTime<Utc>) {
        if let Some(t) = self.world().tokens.get_mut(token) {
            t.expires_at = Some(expires_at);
            t.expires_with = None;
        }
    }

    pub fn set_data_access_expiry(&self, user_id: &str, at: DateTime<Utc>) {
        if let Some(user) = self.world().users.get_mut(user_id) {
            user.data_access_expires_at = Some(at);
        }
    }

    pub fn set_exchange_policy(&self, policy: ExchangePolicy) {
        self.world().exchange_policy = policy;
    }

    pub fn set_require_appsecret_proof(&self, required: bool) {
        self.world().require_appsecret_proof = required;
    }

    // --- Time ---

    /// The virtual now.
    pub fn now(&self) -> DateTime<Utc> {
        self.world().now()
    }

    pub fn set_now(&self, t: DateTime<Utc>) {
        self.world().set_now(t);
    }

    pub fn advance(&self, d: chrono::Duration) {
        self.world().advance(d);
    }

    // --- Faults, latency, usage ---

    /// Arms `fault` for the next `times` calls to `endpoint` (`None`: until
    /// [`Control::clear_faults`]). Faults for one endpoint fire in the order
    /// armed.
    pub fn inject(&self, endpoint: Endpoint, fault: Fault, times: Option<u32>) {
        self.world().faults.arm(endpoint, fault, times);
    }

    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    pub fn set_latency(&self, d: Duration) {
        self.world().latency = d;
    }

    /// The percentages every response reports in `X-App-Usage` and
    /// `X-Business-Use-Case-Usage`.
    pub fn set_usage(&self, app_pct: u32, buc_pct: u32, regain_minutes: u64) {
        let mut world = self.world();
        world.usage.app_pct = app_pct;
        world.usage.buc_pct = buc_pct;
        world.usage.regain_minutes = regain_minutes;
    }

    /// Calls for this account (Instagram or Page id) answer the throttling
    /// error `code` for `minutes` of virtual time; other accounts go on.
    pub fn throttle_account(&self, account_id: &str, code: i64, minutes: u64) {
        let mut world = self.world();
        let span = i64::try_from(minutes)
            .ok()
            .and_then(chrono::Duration::try_minutes)
            .unwrap_or(chrono::Duration::MAX);
        let now = world.now();
        let until = now.checked_add_signed(span).unwrap_or(DateTime::<Utc>::MAX_UTC);
        world
            .throttles
            .insert(account_id.to_string(), AccountThrottle { code, until });
    }

    pub fn clear_throttles(&self) {
        self.world().throttles.clear();
    }

    // --- Metrics ---

    /// From now on, asking for `name` fails the whole insights request with
    /// error 100, the way Meta retired `impressions`.
    pub fn deprecate_metric(&self, name: &str) {
        self.world().deprecated_metrics.insert(name.to_string());
    }

    /// Overrides one daily value (e.g. Meta correcting late data). `day` is
    /// the (Pacific) day the value belongs to; its `end_time` is [`crate::day_end`].
    pub fn set_metric_value(&self, ig_id: &str, metric: &str, day: NaiveDate, value: i64) {
        self.world()
            .metric_overrides
            .insert((ig_id.to_string(), metric.to_string(), day), value);
    }

    /// The truth behind Meta's daily follower changes: the follower count
    /// at the end of (Pacific) `day`, before today. Today's changes count
    /// from tomorrow on, as Meta reports a day's `follower_count` once it ends.
    pub fn followers_at_end_of(&self, ig_id: &str, day: NaiveDate) -> Option<i64> {
        let world = self.world();
        let ig = world.igs.get(ig_id)?;
        Some(crate::insights::followers_at_end_of(&world, ig, day))
    }

    // --- Observability ---

    pub fn calls(&self) -> Vec<CallRecord> {
        self.world().calls.clone()
    }

    /// Real HTTP requests served; a batch is one.
    pub fn http_requests(&self) -> u64 {
        self.world().http_requests
    }

    pub fn reset_calls(&self) {
        let mut world = self.world();
        world.calls.clear();
        world.call_totals.clear();
        world.http_requests = 0;
    }

    /// Calls to `endpoint` since the last reset (not limited like [`Control::calls`]).
    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.world().call_totals.get(&endpoint).copied().unwrap_or(0) as usize
    }

    /// Graph calls since the last reset, as Meta counts them against its
    /// limits: every batch operation on its own, the batch request itself
    /// not. Unlike [`Control::calls`], never trimmed: for runs of thousands.
    pub fn graph_calls(&self) -> u64 {
        self.world()
            .call_totals
            .iter()
            .filter(|(endpoint, _)| {
                !matches!(
                    endpoint,
                    Endpoint::Batch | Endpoint::Dialog | Endpoint::Instagram(crate::IgEndpoint::Dialog)
                )
            })
            .map(|(_, n)| n)
            .sum()
    }
}
