-- Sessions and tombstones, keyed by SHA-256 of the token (never the token).
-- end_reason IS NULL marks a live session; otherwise the row is a tombstone.
-- `deadline` is when cleanup must next look at the row: min(idle, absolute)
-- expiry for a live session, the purge time for a tombstone.
CREATE TABLE IF NOT EXISTS {sessions} (
    id                  BYTEA PRIMARY KEY,
    user_id             TEXT,
    data                TEXT NOT NULL,
    version             BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    token_issued_at     BIGINT NOT NULL,
    last_accessed       BIGINT NOT NULL,
    idle_expires_at     BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    deadline            BIGINT NOT NULL,
    device              TEXT,
    end_reason          TEXT,
    ended_at            BIGINT,
    successor_id        BYTEA,
    grace_until         BIGINT
);
-- A user's live sessions, oldest first (list, cap, revoke).
CREATE INDEX IF NOT EXISTS {prefix}sessions_user
    ON {sessions} (user_id, created_at) WHERE end_reason IS NULL;
-- Cleanup reads only the rows that are due.
CREATE INDEX IF NOT EXISTS {prefix}sessions_deadline ON {sessions} (deadline);
-- One row per user: `SELECT ... FOR UPDATE` on it serializes the user's cap.
CREATE TABLE IF NOT EXISTS {users} (
    user_id TEXT PRIMARY KEY
);
