//! Versioned migrations. Append new ones; never edit one that has shipped.
//!
//! The plan's tables (users, tokens, insights, audience_data, collection_log)
//! are kept; what the platform needs is added: who connected each account,
//! token health, per-account collection state, leases, notifications and
//! deletion requests. Timestamps are UTC text `YYYY-MM-DDTHH:MM:SSZ`, which
//! sorts like time.

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        sql: r#"
-- One connected Instagram account (the plan calls it a user).
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instagram_user_id TEXT NOT NULL UNIQUE,
    instagram_username TEXT,
    instagram_name TEXT,
    facebook_page_id TEXT,
    facebook_page_name TEXT,
    -- the app-scoped id of the Facebook user who connected it (deletion callbacks name it)
    facebook_user_id TEXT,
    followers_count INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_users_facebook_user ON users(facebook_user_id);

-- Both tokens, encrypted (v1:<key id>:<base64>), and the connection's health.
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
    user_access_token TEXT NOT NULL,
    user_token_expires_at TEXT,
    page_access_token TEXT NOT NULL,
    data_access_expires_at TEXT,
    granted_scopes TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'reauth_required', 'invalid')),
    status_code INTEGER,
    status_subcode INTEGER,
    status_reason TEXT,
    reconnect_by TEXT,
    status_changed_at TEXT,
    -- bumped by every token write; a refresh only writes over the generation it read
    generation INTEGER NOT NULL DEFAULT 1,
    last_refreshed_at TEXT,
    last_checked_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_tokens_expires_at ON tokens(user_token_expires_at);
CREATE INDEX idx_tokens_status ON tokens(status);

CREATE TABLE insights (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    metric_name TEXT NOT NULL,
    metric_value INTEGER,
    period TEXT NOT NULL,
    end_time TEXT NOT NULL,
    collected_at TEXT NOT NULL,
    UNIQUE (user_id, metric_name, period, end_time)
);
CREATE INDEX idx_insights_user_end ON insights(user_id, end_time);

-- Demographics: one dated snapshot per account, metric and day.
CREATE TABLE audience_data (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    metric TEXT NOT NULL DEFAULT 'follower_demographics',
    demographic_type TEXT NOT NULL,
    dimension_key TEXT NOT NULL,
    dimension_value INTEGER,
    snapshot_date TEXT NOT NULL,
    collected_at TEXT NOT NULL,
    UNIQUE (user_id, metric, demographic_type, dimension_key, snapshot_date)
);
CREATE TABLE audience_snapshots (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    snapshot_date TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'not_available')),
    detail TEXT,
    collected_at TEXT NOT NULL,
    PRIMARY KEY (user_id, metric, snapshot_date)
);

CREATE TABLE collection_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    run_id TEXT,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('success', 'failed', 'skipped')),
    error_code INTEGER,
    error_message TEXT,
    details TEXT,
    started_at TEXT NOT NULL,
    completed_at TEXT
);
CREATE INDEX idx_collection_log_status ON collection_log(job_type, status);
CREATE INDEX idx_collection_log_user ON collection_log(user_id, started_at);

-- Collection bookkeeping shared by every serverless process (they share no memory).
CREATE TABLE account_state (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    rate_window_start TEXT,
    rate_window_calls INTEGER NOT NULL DEFAULT 0,
    throttled_until TEXT,
    throttle_reason TEXT,
    last_insights_at TEXT,
    last_audience_at TEXT,
    last_success_at TEXT,
    last_error TEXT,
    last_error_at TEXT,
    rejected_metrics TEXT
);

CREATE TABLE job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

-- Outbox of webhook events: written with the status change, delivered later.
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER,
    instagram_user_id TEXT,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT
);
CREATE INDEX idx_notifications_pending ON notifications(delivered_at, next_attempt_at);

CREATE TABLE deletion_requests (
    confirmation_code TEXT PRIMARY KEY,
    facebook_user_id TEXT NOT NULL,
    source TEXT NOT NULL,
    accounts_deleted INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    completed_at TEXT
);
"#,
    },
    Migration {
        version: 2,
        name: "insights read in time order from the index",
        // The read API asks for one account's rows ordered by end_time, metric
        // and period: with these in the index, SQLite needs no sort (a year of
        // hourly data read back in a third of the time, BENCHMARKS.md).
        sql: r#"
CREATE INDEX idx_insights_user_time ON insights(user_id, end_time, metric_name, period);
DROP INDEX idx_insights_user_end;
"#,
    },
    Migration {
        version: 3,
        name: "content insights: media catalog, snapshots, stories' final numbers",
        sql: r#"
-- Every post, reel, carousel (and its children) and story of an account.
-- A media Meta no longer has keeps its row and history, with deleted_at.
CREATE TABLE media (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    media_id TEXT NOT NULL,
    parent_media_id TEXT,
    media_type TEXT NOT NULL,
    product_type TEXT NOT NULL CHECK (product_type IN ('FEED', 'REELS', 'STORY')),
    posted_at TEXT NOT NULL,
    permalink TEXT,
    caption TEXT,
    like_count INTEGER,
    comments_count INTEGER,
    insights_status TEXT NOT NULL DEFAULT 'pending' CHECK (insights_status IN ('pending', 'ok', 'not_enough_viewers')),
    last_insights_at TEXT,
    first_seen_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    PRIMARY KEY (user_id, media_id)
);
CREATE INDEX idx_media_user_posted ON media(user_id, posted_at);

-- Lifetime values as they grow: one per media, metric and hour.
CREATE TABLE media_insights (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    media_id TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    metric_value INTEGER NOT NULL,
    snapshot_at TEXT NOT NULL,
    PRIMARY KEY (user_id, media_id, snapshot_at, metric_name)
);

-- A story's final numbers from Meta's story_insights webhook, written once.
-- Meta's -1 means fewer than 5: no value, fewer_than_five = 1.
CREATE TABLE story_final_insights (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    media_id TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    metric_value INTEGER,
    fewer_than_five INTEGER NOT NULL DEFAULT 0,
    received_at TEXT NOT NULL,
    PRIMARY KEY (user_id, media_id, metric_name)
);

-- Media metrics Meta refused, per product type: never asked again for that type.
CREATE TABLE media_rejected_metrics (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    product_type TEXT NOT NULL,
    metric_name TEXT NOT NULL,
    reason TEXT NOT NULL,
    rejected_at TEXT NOT NULL,
    PRIMARY KEY (user_id, product_type, metric_name)
);
"#,
    },
    Migration {
        version: 4,
        name: "server-side sessions",
        // The cookie holds a random id; here is its SHA-256 (a dump of the
        // database opens no browser's session), its sliding expiry, and which
        // accounts it may see. Deleting an account deletes its grants, so a
        // disconnect ends every session's access, and a reconnect grants only
        // the browser that made it.
        sql: r#"
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX idx_sessions_expires ON sessions(expires_at);
CREATE TABLE session_accounts (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (session_id, user_id)
);
CREATE INDEX idx_session_accounts_user ON session_accounts(user_id);
"#,
    },
    Migration {
        version: 5,
        name: "Instagram Login connections",
        // The tokens row holds the token that collects, whichever login gave
        // it; instagram_logins keeps the Instagram-scoped id that Meta's
        // Instagram deauthorize and deletion callbacks name.
        sql: r#"
ALTER TABLE tokens ADD COLUMN login TEXT NOT NULL DEFAULT 'facebook' CHECK (login IN ('facebook', 'instagram'));
CREATE TABLE instagram_logins (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    instagram_scoped_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX idx_instagram_logins_scoped ON instagram_logins(instagram_scoped_id);
"#,
    },
    Migration {
        version: 6,
        name: "history: reconstructed values, and how far hourly counts are rolled up",
        // `reconstructed`: a value derived rather than measured (the follower
        // count of a day before connecting, from today's count and Meta's
        // daily changes); a measured value always replaces it.
        // `rolled_up_to`: hourly counts before this are one value per day.
        // `backfilled_at`: when the account's history was last found whole
        // (none: a backfill is due, for a new account or after a long gap).
        sql: r#"
ALTER TABLE insights ADD COLUMN reconstructed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE account_state ADD COLUMN rolled_up_to TEXT;
ALTER TABLE account_state ADD COLUMN backfilled_at TEXT;
"#,
    },
    Migration {
        version: 7,
        name: "media catalog: how far back it is complete",
        // `media_catalogued_until`: the account's media posted before this are
        // not catalogued yet; each hourly run lists one wide page further back
        // until the refresh horizon. None: its media were never listed.
        sql: r#"
ALTER TABLE account_state ADD COLUMN media_catalogued_until TEXT;
"#,
    },
    Migration {
        version: 8,
        name: "older media on request",
        // `media_history_since`: the account's owner asked for its media
        // back to this day, so the catalog's backlog walks on past the
        // refresh horizon to it (none: the horizon only); `..._requested_at`:
        // when that was last asked for further back.
        sql: r#"
ALTER TABLE account_state ADD COLUMN media_history_since TEXT;
ALTER TABLE account_state ADD COLUMN media_history_requested_at TEXT;
"#,
    },
];
