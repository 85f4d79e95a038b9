//! Which accounts a collection run works on: every connected account with
//! everything one account's work needs (its Page token, state, refused
//! metrics and, for collect-insights, its media basis), in one read.

use libsql::Value;

use super::collect::{CollectKind, RejectedMetric, parse_rejected};
use super::connections::PAGE_TOKEN;
use super::media_basis::{MediaBasis, MediaReach, media_basis, media_columns};
use super::values::{instagram_user_id, login, opt_timestamp, timestamp};
use super::{Login, Result, Store, TokenStatus};
use crate::domain::{InstagramUserId, Timestamp};
use crate::secret::{AccessToken, Secret};

/// An account as a collection run sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub id: i64,
    pub instagram_user_id: InstagramUserId,
    pub followers_count: Option<i64>,
    pub status: TokenStatus,
    pub throttled_until: Option<Timestamp>,
    /// The last successful collection of the kind asked for.
    pub last_collected_at: Option<Timestamp>,
    pub rejected_metrics: Vec<RejectedMetric>,
    /// Hourly counts before this are rolled up to one a day (none yet: `None`).
    pub rolled_up_to: Option<Timestamp>,
    /// When the account was connected: no count of it is older.
    pub connected_at: Timestamp,
    /// When its history was last found whole; none: a backfill is due.
    pub backfilled_at: Option<Timestamp>,
    /// The token generation the Page token belongs to: an error it earns
    /// must not mark a connection a reconnect has renewed meanwhile.
    pub token_generation: i64,
    /// Which login's token collects it, and so which host it is read from.
    pub login: Login,
    /// The Page token as stored (encrypted), read with the list so that an
    /// account costs no read of its own; [`Store::page_token`] opens it.
    sealed_page_token: Secret,
    /// What the media step starts from, when the query was given a reach.
    pub media: Option<MediaBasis>,
}

impl Store {
    /// Every connected account with what a run needs to decide, stalest
    /// first for `kind`, in one read; with a `media` reach, what the media
    /// step needs of each too (see `media_basis`).
    pub async fn collection_candidates(&self, kind: CollectKind, media: Option<&MediaReach>) -> Result<Vec<Candidate>> {
        self.candidates(kind, None, media).await
    }

    /// One connected account, as a collection run would see it.
    pub async fn candidate(
        &self,
        instagram_user_id: &InstagramUserId,
        kind: CollectKind,
        media: Option<&MediaReach>,
    ) -> Result<Option<Candidate>> {
        Ok(self.candidates(kind, Some(instagram_user_id), media).await?.pop())
    }

    async fn candidates(
        &self,
        kind: CollectKind,
        only: Option<&InstagramUserId>,
        media: Option<&MediaReach>,
    ) -> Result<Vec<Candidate>> {
        let conn = self.conn().await?;
        let last = kind.last_column();
        let (media_columns, media_params) = media_columns(media, 2);
        let params: Vec<Value> = std::iter::once(only.map_or(Value::Null, |id| Value::Text(id.to_string())))
            .chain(media_params)
            .collect();
        let mut rows = conn
            .query(
                &format!(
                    "SELECT u.id, u.instagram_user_id, u.followers_count, t.status, s.throttled_until, s.{last}, s.rejected_metrics,
                            t.page_access_token, t.generation, t.login, s.rolled_up_to, u.created_at, s.backfilled_at,
                            {media_columns}
                     FROM users u JOIN tokens t ON t.user_id = u.id LEFT JOIN account_state s ON s.user_id = u.id
                     WHERE ?1 IS NULL OR u.instagram_user_id = ?1
                     ORDER BY s.{last} IS NOT NULL, s.{last}, u.id"
                ),
                params,
            )
            .await?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().await? {
            out.push(Candidate {
                id: r.get(0)?,
                instagram_user_id: instagram_user_id(&r, 1)?,
                followers_count: r.get(2)?,
                status: TokenStatus::parse(&r.get::<String>(3)?)?,
                throttled_until: opt_timestamp(&r, 4)?,
                last_collected_at: opt_timestamp(&r, 5)?,
                rejected_metrics: parse_rejected(r.get(6)?),
                sealed_page_token: Secret::new(r.get::<String>(7)?),
                token_generation: r.get(8)?,
                login: login(&r, 9)?,
                rolled_up_to: opt_timestamp(&r, 10)?,
                connected_at: timestamp(&r, 11)?,
                backfilled_at: opt_timestamp(&r, 12)?,
                media: media_basis(&r, 13)?,
            });
        }
        Ok(out)
    }

    /// The Page token of a candidate, decrypted.
    pub fn page_token(&self, candidate: &Candidate) -> Result<AccessToken> {
        let token = self.keys.decrypt(candidate.sealed_page_token.expose(), PAGE_TOKEN)?;
        Ok(AccessToken::new(token))
    }
}
