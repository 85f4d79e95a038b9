//! What tests do to Instagram Login's side of the world.

use chrono::{DateTime, Utc};

use super::{AccountType, IgEndpoint};
use crate::control::{Control, IgSpec};
use crate::faults::Endpoint;
use crate::world::{IgAccount, World};

impl Control {
    /// Adds a professional Instagram account linked to no Facebook Page: it
    /// can connect through Instagram Login only. Returns its id.
    pub fn add_instagram_only(&self, spec: IgSpec) -> String {
        add(&mut self.world(), spec, AccountType::MediaCreator)
    }

    /// Adds a personal (not professional) Instagram account. Returns its id.
    pub fn add_personal_instagram(&self, spec: IgSpec) -> String {
        add(&mut self.world(), spec, AccountType::Personal)
    }

    /// Whom Instagram's authorize dialog logs in as from now on.
    pub fn set_instagram_dialog_account(&self, ig_id: &str) {
        self.world().ig_login.dialog_account = ig_id.to_string();
    }

    /// Scopes the account unticks in Instagram's authorize dialog.
    pub fn set_instagram_declined_scopes(&self, ig_id: &str, scopes: &[&str]) {
        let mut world = self.world();
        world.ig_profile(ig_id).declined = scopes.iter().map(|s| s.to_string()).collect();
    }

    /// The Instagram-scoped user id of an account: what Instagram Login's
    /// code exchange answers and its deauthorize and deletion callbacks name.
    pub fn instagram_scoped_id(&self, ig_id: &str) -> String {
        self.world().ig_profile(ig_id).scoped_id.clone()
    }

    /// A long-lived Instagram-login token with both scopes, as if the
    /// account had logged in: for tests that start from a connected account.
    pub fn grant_instagram_token(&self, ig_id: &str) -> String {
        let scopes = [super::BASIC_SCOPE, super::INSIGHTS_SCOPE].map(String::from).to_vec();
        self.world().issue_ig_token(ig_id, scopes, true)
    }

    /// Every Instagram-login token of the account answers 190 with `subcode`.
    pub fn invalidate_instagram_tokens(&self, ig_id: &str, subcode: i64) {
        for token in self.world().ig_login.tokens.values_mut() {
            if token.ig_id == ig_id {
                token.dead = Some(subcode);
            }
        }
    }

    /// When an Instagram-login token expires; `None` for a string never issued.
    pub fn instagram_token_expiry(&self, token: &str) -> Option<DateTime<Utc>> {
        self.world().ig_login.tokens.get(token).map(|t| t.expires_at)
    }

    /// Calls to `graph.instagram.com` and `api.instagram.com` since the last
    /// reset (the dialog is a page, not a call).
    pub fn instagram_calls(&self) -> u64 {
        self.world()
            .call_totals
            .iter()
            .filter(|(e, _)| matches!(e, Endpoint::Instagram(i) if *i != IgEndpoint::Dialog))
            .map(|(_, n)| n)
            .sum()
    }
}

pub(super) fn add(world: &mut World, spec: IgSpec, account_type: AccountType) -> String {
    let id = spec.id.clone();
    world.igs.insert(
        id.clone(),
        IgAccount {
            id: spec.id,
            username: spec.username,
            name: spec.name,
            followers_count: spec.followers_count,
            follows_count: spec.follows_count,
            media_count: spec.media_count,
        },
    );
    world.ig_profile(&id).account_type = account_type;
    id
}
