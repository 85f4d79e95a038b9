//! Each account's hourly allowance of Graph calls, kept in the database so
//! that every process (function instances share no memory) spends one.

use std::collections::HashSet;

use libsql::params;

use super::sql::ts;
use super::{Result, Store};

impl Store {
    /// Takes `calls` from the account's hourly allowance of `limit`, or nothing
    /// when they do not fit. One statement, so concurrent processes (which
    /// share no memory) can never overspend it together.
    pub async fn reserve_calls(&self, account_id: i64, calls: u32, limit: u32) -> Result<bool> {
        Ok(self
            .reserve_calls_for(&[(account_id, calls)], limit)
            .await?
            .contains(&account_id))
    }

    /// [`Store::reserve_calls`] for many accounts in one statement (one
    /// round trip): `(account, calls)` pairs in, the accounts whose calls
    /// fitted out. Asking for no call always fits.
    pub async fn reserve_calls_for(&self, wanted: &[(i64, u32)], limit: u32) -> Result<HashSet<i64>> {
        let mut granted: HashSet<i64> = wanted.iter().filter(|(_, c)| *c == 0).map(|(id, _)| *id).collect();
        let values: Vec<String> = wanted
            .iter()
            .filter(|(_, calls)| *calls > 0 && *calls <= limit)
            .map(|(id, calls)| format!("({id}, ?1, {calls})"))
            .collect();
        if values.is_empty() {
            return Ok(granted);
        }
        let now_t = chrono::Utc::now();
        let window_open_since = ts(now_t - chrono::Duration::hours(1));
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
                params![ts(now_t), window_open_since, i64::from(limit)],
            )
            .await?;
        while let Some(row) = rows.next().await? {
            granted.insert(row.get(0)?);
        }
        Ok(granted)
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

        assert!(store.reserve_calls(a, 8, 10).await.unwrap());
        let granted = store.reserve_calls_for(&[(a, 4), (b, 4)], 10).await.unwrap();
        assert_eq!(
            granted.into_iter().collect::<Vec<_>>(),
            vec![b],
            "a has 2 calls left, b all 10"
        );
        let granted = store.reserve_calls_for(&[(a, 0), (b, 11)], 10).await.unwrap();
        assert_eq!(
            granted.into_iter().collect::<Vec<_>>(),
            vec![a],
            "no call always fits, more than the ceiling never"
        );
        assert!(store.reserve_calls(a, 2, 10).await.unwrap());
        assert!(!store.reserve_calls(a, 1, 10).await.unwrap());
    }
}
