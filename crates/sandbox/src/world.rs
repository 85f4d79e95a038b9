//! The emulated Meta: users, Pages, Instagram accounts, issued tokens and
//! codes, the virtual clock, armed faults, usage and the call log.
//!
//! Everything lives in one [`World`] behind one mutex; handlers run against
//! it synchronously, so every request sees and leaves a consistent state.
//! A little over 400 lines: the world's records and the few operations on
//! users, tokens and codes that every handler shares, kept in one place.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rand::Rng;
use rand::distr::Alphanumeric;

use crate::SandboxConfig;
use crate::control::{CallRecord, ExchangePolicy, IgSpec, PageSpec, TokenKind, UserSpec};
use crate::errors::GraphError;
use crate::faults::FaultQueue;

pub(crate) const DEFAULT_USER_ID: &str = "100000000000001";
/// The default user's Instagram account, also the one Instagram's dialog logs in as.
pub(crate) const DEFAULT_IG_ID: &str = "17841400000000001";
pub(crate) const APP_NAME: &str = "Sandbox App";
/// About 60 days, the `expires_in` Meta gives long-lived user tokens.
pub(crate) const LONG_LIVED_SECS: i64 = 5_183_944;
pub(crate) const CODE_LIFETIME_MINUTES: i64 = 10;
pub(crate) const DATA_ACCESS_DAYS: i64 = 90;
/// Metrics Meta has removed by November 2026 (see platform-facts).
const REMOVED_METRICS: [&str; 5] = [
    "impressions",
    "audience_city",
    "audience_country",
    "audience_gender_age",
    "audience_locale",
];

pub(crate) struct World {
    pub app_id: String,
    pub app_secret: String,
    pub require_appsecret_proof: bool,
    pub latency: Duration,
    /// Where this server listens, for absolute `paging.next` links.
    pub base_url: String,
    clock_offset: chrono::Duration,
    pub users: BTreeMap<String, User>,
    pub pages: BTreeMap<String, Page>,
    pub igs: BTreeMap<String, IgAccount>,
    pub dialog_user: String,
    /// Empty means every redirect URI is accepted.
    pub allowed_redirect_uris: Vec<String>,
    pub codes: HashMap<String, Code>,
    pub tokens: HashMap<String, Token>,
    /// One page token per (user token, page), so repeated `/me/accounts`
    /// calls hand out the same strings.
    pub page_tokens: HashMap<(String, String), String>,
    pub issued: Vec<String>,
    pub exchange_policy: ExchangePolicy,
    pub faults: FaultQueue,
    pub usage: Usage,
    pub throttles: HashMap<String, AccountThrottle>,
    pub deprecated_metrics: BTreeSet<String>,
    pub metric_overrides: HashMap<(String, String, NaiveDate), i64>,
    pub calls: Vec<CallRecord>,
    pub http_requests: u64,
    /// Calls per endpoint since the last reset; unlike `calls`, never trimmed.
    pub call_totals: HashMap<crate::faults::Endpoint, u64>,
    /// Instagram Login's app, grants, codes and tokens.
    pub ig_login: crate::instagram::IgLogin,
    pub media: crate::media::MediaWorld,
    next_user: u64,
}

pub(crate) struct User {
    pub id: String,
    pub name: String,
    pub pages: Vec<String>,
    pub declined: BTreeSet<String>,
    /// What the user granted this app over all logins, before declines.
    pub granted: BTreeSet<String>,
    pub data_access_expires_at: Option<DateTime<Utc>>,
}

pub(crate) struct Page {
    pub id: String,
    pub name: String,
    pub category: String,
    pub instagram: Option<String>,
}

pub(crate) struct IgAccount {
    pub id: String,
    pub username: String,
    pub name: String,
    pub followers_count: i64,
    pub follows_count: i64,
    pub media_count: i64,
}

pub(crate) struct Code {
    pub user_id: String,
    pub redirect_uri: String,
    pub issued_at: DateTime<Utc>,
    pub used: bool,
}

pub(crate) struct Token {
    pub kind: TokenKind,
    pub user_id: String,
    pub page_id: Option<String>,
    pub issued_at: DateTime<Utc>,
    /// `None` never expires.
    pub expires_at: Option<DateTime<Utc>>,
    pub long_lived: bool,
    /// A page token got with a short-lived user token dies with it.
    pub expires_with: Option<String>,
    /// The 190 subcode this token answers once it has been killed.
    pub dead: Option<i64>,
}

pub(crate) struct Usage {
    pub app_pct: u32,
    pub buc_pct: u32,
    pub regain_minutes: u64,
}

pub(crate) struct AccountThrottle {
    pub code: i64,
    pub until: DateTime<Utc>,
}

impl World {
    pub fn new(config: &SandboxConfig) -> World {
        let mut world = World {
            app_id: config.app_id.clone(),
            app_secret: config.app_secret.clone(),
            require_appsecret_proof: config.require_appsecret_proof,
            latency: config.latency,
            base_url: String::new(),
            clock_offset: chrono::Duration::zero(),
            users: BTreeMap::new(),
            pages: BTreeMap::new(),
            igs: BTreeMap::new(),
            dialog_user: DEFAULT_USER_ID.to_string(),
            allowed_redirect_uris: Vec::new(),
            codes: HashMap::new(),
            tokens: HashMap::new(),
            page_tokens: HashMap::new(),
            issued: Vec::new(),
            exchange_policy: ExchangePolicy::SameToken,
            faults: FaultQueue::default(),
            usage: Usage {
                app_pct: 2,
                buc_pct: 1,
                regain_minutes: 0,
            },
            throttles: HashMap::new(),
            deprecated_metrics: REMOVED_METRICS.iter().map(|m| m.to_string()).collect(),
            metric_overrides: HashMap::new(),
            calls: Vec::new(),
            http_requests: 0,
            call_totals: HashMap::new(),
            ig_login: crate::instagram::IgLogin::new(&config.ig_app_id, &config.ig_app_secret, DEFAULT_IG_ID),
            media: Default::default(),
            next_user: 1,
        };
        let default_user = UserSpec {
            name: "Sandbox Influencer".to_string(),
            pages: vec![PageSpec {
                id: "200000000000001".to_string(),
                name: "Sandbox Studio".to_string(),
                instagram: Some(IgSpec {
                    id: DEFAULT_IG_ID.to_string(),
                    username: "sandbox.creator".to_string(),
                    name: "Sandbox Creator".to_string(),
                    followers_count: 12_345,
                    follows_count: 321,
                    media_count: 87,
                }),
            }],
            declined_scopes: Vec::new(),
        };
        world.add_user(default_user);
        crate::instagram::seed(&mut world);
        world
    }

    /// The virtual now: real time shifted by what tests set or advanced.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    pub fn set_now(&mut self, t: DateTime<Utc>) {
        self.clock_offset = t - Utc::now();
    }

    pub fn advance(&mut self, d: chrono::Duration) {
        self.clock_offset += d;
    }

    /// Adds a user; a Page that already exists gains this user as a second
    /// admin instead of being replaced.
    pub fn add_user(&mut self, spec: UserSpec) -> String {
        let id = format!("1{:014}", self.next_user);
        self.next_user += 1;
        let mut page_ids = Vec::new();
        for page in spec.pages {
            if let Some(ig) = page.instagram {
                self.igs.insert(
                    ig.id.clone(),
                    IgAccount {
                        id: ig.id.clone(),
                        username: ig.username,
                        name: ig.name,
                        followers_count: ig.followers_count,
                        follows_count: ig.follows_count,
                        media_count: ig.media_count,
                    },
                );
                let entry = self.pages.entry(page.id.clone()).or_insert_with(|| Page {
                    id: page.id.clone(),
                    name: page.name.clone(),
                    category: "Digital creator".to_string(),
                    instagram: None,
                });
                entry.instagram = Some(ig.id);
            } else {
                self.pages.entry(page.id.clone()).or_insert_with(|| Page {
                    id: page.id.clone(),
                    name: page.name.clone(),
                    category: "Digital creator".to_string(),
                    instagram: None,
                });
            }
            if !page_ids.contains(&page.id) {
                page_ids.push(page.id);
            }
        }
        self.users.insert(
            id.clone(),
            User {
                id: id.clone(),
                name: spec.name,
                pages: page_ids,
                declined: spec.declined_scopes.into_iter().collect(),
                granted: BTreeSet::new(),
                data_access_expires_at: None,
            },
        );
        id
    }

    pub fn ig_of_page(&self, page_id: &str) -> Option<&IgAccount> {
        let ig_id = self.pages.get(page_id)?.instagram.as_ref()?;
        self.igs.get(ig_id)
    }

    /// The Page an Instagram account is linked to.
    pub fn page_of_ig(&self, ig_id: &str) -> Option<&Page> {
        self.pages.values().find(|p| p.instagram.as_deref() == Some(ig_id))
    }

    /// What the user's tokens can do right now: granted minus declined.
    pub fn scopes_of(&self, user_id: &str) -> Vec<String> {
        match self.users.get(user_id) {
            Some(user) => user
                .granted
                .iter()
                .filter(|s| !user.declined.contains(*s))
                .cloned()
                .collect(),
            None => Vec::new(),
        }
    }

    pub fn has_scope(&self, user_id: &str, scope: &str) -> bool {
        self.scopes_of(user_id).iter().any(|s| s == scope)
    }

    pub fn data_access_expiry(&self, user_id: &str) -> Option<DateTime<Utc>> {
        self.users.get(user_id)?.data_access_expires_at
    }

    pub fn new_code(&mut self, user_id: &str, redirect_uri: &str) -> String {
        let value = format!("AQ{}", random_chars(200, true));
        self.codes.insert(
            value.clone(),
            Code {
                user_id: user_id.to_string(),
                redirect_uri: redirect_uri.to_string(),
                issued_at: self.now(),
                used: false,
            },
        );
        self.issued.push(value.clone());
        value
    }

    pub fn issue_user_token(&mut self, user_id: &str, long_lived: bool, lifetime_secs: i64) -> String {
        let now = self.now();
        let value = new_token_string();
        self.tokens.insert(
            value.clone(),
            Token {
                kind: TokenKind::User,
                user_id: user_id.to_string(),
                page_id: None,
                issued_at: now,
                expires_at: Some(now + chrono::Duration::seconds(lifetime_secs)),
                long_lived,
                expires_with: None,
                dead: None,
            },
        );
        self.issued.push(value.clone());
        value
    }

    /// The page token `user_token` gets for `page_id`: never expiring when
    /// the user token is long-lived, else dying with it.
    pub fn page_token_for(&mut self, user_token: &str, page_id: &str) -> String {
        let key = (user_token.to_string(), page_id.to_string());
        if let Some(existing) = self.page_tokens.get(&key) {
            return existing.clone();
        }
        let (user_id, long_lived) = match self.tokens.get(user_token) {
            Some(t) => (t.user_id.clone(), t.long_lived),
            None => (String::new(), false),
        };
        let value = new_token_string();
        self.tokens.insert(
            value.clone(),
            Token {
                kind: TokenKind::Page,
                user_id,
                page_id: Some(page_id.to_string()),
                issued_at: self.now(),
                expires_at: None,
                long_lived: true,
                expires_with: (!long_lived).then(|| user_token.to_string()),
                dead: None,
            },
        );
        self.issued.push(value.clone());
        self.page_tokens.insert(key, value.clone());
        value
    }

    /// When `token` stops working, following a page token to its parent.
    pub fn expiry_of(&self, token: &Token) -> Option<DateTime<Utc>> {
        match token.expires_with.as_ref().and_then(|p| self.tokens.get(p)) {
            Some(parent) => parent.expires_at,
            None => token.expires_at,
        }
    }

    /// The token if it still works, else the 190 Meta answers for it.
    pub fn live_token(&self, value: &str) -> Result<&Token, GraphError> {
        let token = self.tokens.get(value).ok_or_else(GraphError::unparsable_token)?;
        self.token_health(token)?;
        Ok(token)
    }

    pub fn token_health(&self, token: &Token) -> Result<(), GraphError> {
        if let Some(subcode) = token.dead {
            return Err(GraphError::dead_token(subcode, &self.app_id));
        }
        let parent_dead = token
            .expires_with
            .as_ref()
            .and_then(|p| self.tokens.get(p))
            .and_then(|p| p.dead);
        if let Some(subcode) = parent_dead {
            return Err(GraphError::dead_token(subcode, &self.app_id));
        }
        let now = self.now();
        match self.expiry_of(token) {
            Some(at) if at <= now => Err(GraphError::expired_token(at, now)),
            _ => Ok(()),
        }
    }

    /// Kills every token of the user, its page tokens included.
    pub fn kill_user_tokens(&mut self, user_id: &str, subcode: i64) {
        for token in self.tokens.values_mut() {
            if token.user_id == user_id {
                token.dead = Some(subcode);
            }
        }
    }

    pub fn is_app_token(&self, value: &str) -> bool {
        match value.split_once('|') {
            Some((app, _)) if app == self.app_id => {
                value == format!("{}|{}", self.app_id, self.app_secret)
                    || self.tokens.get(value).is_some_and(|t| t.kind == TokenKind::App)
            }
            _ => false,
        }
    }

    pub fn issue_app_token(&mut self) -> String {
        let value = format!("{}|{}", self.app_id, random_chars(27, true));
        let now = self.now();
        self.tokens.insert(
            value.clone(),
            Token {
                kind: TokenKind::App,
                user_id: String::new(),
                page_id: None,
                issued_at: now,
                expires_at: None,
                long_lived: true,
                expires_with: None,
                dead: None,
            },
        );
        self.issued.push(value.clone());
        value
    }

    pub fn token_kind(&self, value: &str) -> Option<TokenKind> {
        if self.is_app_token(value) {
            return Some(TokenKind::App);
        }
        self.tokens.get(value).map(|t| t.kind)
    }

    /// The throttle still holding `account`, if any.
    pub fn active_throttle(&self, account: &str) -> Option<&AccountThrottle> {
        self.throttles.get(account).filter(|t| t.until > self.now())
    }
}

/// Meta's user and page tokens: "EAA" plus opaque alphanumerics.
fn new_token_string() -> String {
    format!("EAAG{}", random_chars(120, false))
}

pub(crate) fn random_chars(n: usize, url_safe_extras: bool) -> String {
    const EXTRAS: &[u8] = b"-_";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| {
            if url_safe_extras && rng.random_ratio(1, 20) {
                char::from(EXTRAS[rng.random_range(0..EXTRAS.len())])
            } else {
                char::from(rng.sample(Alphanumeric))
            }
        })
        .collect()
}
