//! Each account's hourly allowance of Graph calls, kept in the database so
//! that every process (function instances share no memory) spends one.

use std::collections::HashSet;

use libsql::params;

use super::{Result, Store};
use crate::domain::Timestamp;

impl Store {
    /// Takes `calls` from the account's hourly allowance of `limit`, or nothing
    /// when they do not fit. One statement, so concurrent processes (which
    /// share no memory) can never overspend it together. The hour is the
    /// one before `now`, as the run's clock has it.
    pub async fn reserve_calls(&self, account_id: i64, calls: u32, limit: u32, now: Timestamp) -> Result<bool> {
        Ok(self
            .reserve_calls_for(&[(account_id, calls)], limit, now)
            .await?
            .contains(&account_id))
    }

    /// [`Store::reserve_calls`] for many accounts in one statement (one
    /// round trip): `(account, calls)` pairs in, the accounts whose calls
    /// fitted out. Asking for no call always fits.
    pub async fn reserve_calls_for(&self, wanted: &[(i64, u32)], limit: u32, now: Timestamp) -> Result<HashSet<i64>> {
        let mut granted: HashSet<i64> = wanted.iter().filter(|(_, c)| *c == 0).map(|(id, _)| *id).collect();
        let values: Vec<String> = wanted
            .iter()
            .filter(|(_, calls)| *calls > 0 && *calls <= limit)
            .map(|(id, calls)| format!("({id}, ?1, {calls})"))
            .collect();
        if values.is_empty() {
            return Ok(granted);
        }
        let window_open_since = now - chrono::Duration::hours(1);
        let conn = self.writer().await?;
        // A new window starts from these calls; an open one takes them only if they fit.
        let mut rows = conn
            .query(
                &format!(
                    "INSERT INTO account_state (user_id, rate_window_start, rate_window_calls) VALUES {}
                     ON CONFLICT (user_id) DO UPDATE SET
                        rate_window_calls = CASE WHEN account_state.rate_window_start IS NULL OR account_state.rate_window_start <= ?2
                                                 THEN excluded.rate_window_calls
                                                 ELSE account_state.rate_window_calls + excluded.rate_window_calls END,
                        rate_window_start = CASE WHEN account_state.rate_window_start IS NULL OR account_state.rate_window_start <= ?2
                                                 THEN excluded.rate_window_start ELSE account_state.rate_window_start END
                     WHERE account_state.rate_window_start IS NULL OR account_state.rate_window_start <= ?2
                           OR account_state.rate_window_calls + excluded.rate_window_calls <= ?3
                     RETURNING user_id",
                    values.join(", ")
                ),
                params![now.to_string(), window_open_since.to_string(), i64::from(limit)],
            )
            .await?;
        while let Some(row) = rows.next().await? {
            granted.insert(row.get(0)?);
        }
        Ok(granted)
    }

    /// Calls left of the account's hourly ceiling of `limit` at `now` (see [`Store::reserve_calls`]).
    pub async fn calls_left(&self, account_id: i64, limit: u32, now: Timestamp) -> Result<u32> {
        let conn = self.conn().await?;
        let window_open_since = now - chrono::Duration::hours(1);
        let mut rows = conn
            .query(
                "SELECT rate_window_calls FROM account_state WHERE user_id = ?1 AND rate_window_start > ?2",
                params![account_id, window_open_since.to_string()],
            )
            .await?;
        let used: i64 = match rows.next().await? {
            Some(row) => row.get(0)?,
            None => 0,
        };
        Ok(u32::try_from(i64::from(limit) - used).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::super::accounts::tests::{connection, store};

    #[tokio::test]
    async fn calls_are_taken_for_many_accounts_at_once_and_only_where_they_fit() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir).await;
        let a = store.upsert_connection(&connection()).await.unwrap().account_id;
        let mut other = connection();
        other.instagram_user_id = crate::domain::InstagramUserId::parse("17841400000000002").expect("an id");
        let b = store.upsert_connection(&other).await.unwrap().account_id;

        // The window follows the time the caller's clock gives, never the wall clock.
        let now = crate::domain::Timestamp::parse("2031-05-01T10:00:00Z").expect("a time");
        assert!(store.reserve_calls(a, 8, 10, now).await.unwrap());
        let granted = store.reserve_calls_for(&[(a, 4), (b, 4)], 10, now).await.unwrap();
        assert_eq!(
            granted.into_iter().collect::<Vec<_>>(),
            vec![b],
            "a has 2 calls left, b all 10"
        );
        let granted = store.reserve_calls_for(&[(a, 0), (b, 11)], 10, now).await.unwrap();
        assert_eq!(
            granted.into_iter().collect::<Vec<_>>(),
            vec![a],
            "no call always fits, more than the ceiling never"
        );
        assert!(store.reserve_calls(a, 2, 10, now).await.unwrap());
        assert!(!store.reserve_calls(a, 1, 10, now).await.unwrap());
        let later = |minutes| now + chrono::Duration::minutes(minutes);
        assert!(
            !store.reserve_calls(a, 1, 10, later(59)).await.unwrap(),
            "the hour is not over"
        );
        assert!(
            store.reserve_calls(a, 10, 10, later(60)).await.unwrap(),
            "a new hour, a new window"
        );
        assert!(!store.reserve_calls(a, 1, 10, later(119)).await.unwrap());
        assert_eq!(store.calls_left(a, 10, later(119)).await.unwrap(), 0);
        assert_eq!(
            store.calls_left(a, 10, later(120)).await.unwrap(),
            10,
            "that hour is over"
        );
        assert_eq!(store.calls_left(b, 10, now).await.unwrap(), 6);
    }
}
