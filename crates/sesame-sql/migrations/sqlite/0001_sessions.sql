-- Sessions and tombstones, keyed by SHA-256 of the token (never the token).
-- end_reason IS NULL marks a live session; otherwise the row is a tombstone.
-- `deadline` is when cleanup must next look at the row: min(idle, absolute)
-- expiry for a live session, the purge time for a tombstone.
CREATE TABLE IF NOT EXISTS {sessions} (
    id                  BLOB PRIMARY KEY NOT NULL,
    user_id             TEXT,
    data                TEXT NOT NULL,
    version             INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    token_issued_at     INTEGER NOT NULL,
    last_accessed       INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    deadline            INTEGER NOT NULL,
    device              TEXT,
    end_reason          TEXT,
    ended_at            INTEGER,
    successor_id        BLOB,
    grace_until         INTEGER
);
-- A user's live sessions, oldest first (list, cap, revoke).
CREATE INDEX IF NOT EXISTS {prefix}sessions_user
    ON {sessions} (user_id, created_at) WHERE end_reason IS NULL;
-- Cleanup reads only the rows that are due.
CREATE INDEX IF NOT EXISTS {prefix}sessions_deadline ON {sessions} (deadline);
-- One row per user: the lock that serializes a user's cap (PostgreSQL, MySQL;
-- SQLite serializes writers with BEGIN IMMEDIATE instead).
CREATE TABLE IF NOT EXISTS {users} (
    user_id TEXT PRIMARY KEY NOT NULL
);
