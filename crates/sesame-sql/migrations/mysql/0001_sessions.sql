-- Sessions and tombstones, keyed by SHA-256 of the token (never the token).
-- end_reason IS NULL marks a live session; otherwise the row is a tombstone.
-- `deadline` is when cleanup must next look at the row: min(idle, absolute)
-- expiry for a live session, the purge time for a tombstone.
-- user_id is binary-collated: user ids are compared byte for byte.
CREATE TABLE IF NOT EXISTS {sessions} (
    id                  BINARY(32) NOT NULL PRIMARY KEY,
    user_id             VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    data                LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    version             BIGINT NOT NULL,
    created_at          BIGINT NOT NULL,
    token_issued_at     BIGINT NOT NULL,
    last_accessed       BIGINT NOT NULL,
    idle_expires_at     BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    deadline            BIGINT NOT NULL,
    device              TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    end_reason          VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
    ended_at            BIGINT NULL,
    successor_id        BINARY(32) NULL,
    grace_until         BIGINT NULL,
    -- A user's sessions, oldest first (list, cap, revoke).
    INDEX {prefix}sessions_user (user_id, created_at),
    -- Cleanup reads only the rows that are due.
    INDEX {prefix}sessions_deadline (deadline)
) ENGINE = InnoDB;
-- One row per user: `SELECT ... FOR UPDATE` on it serializes the user's cap.
CREATE TABLE IF NOT EXISTS {users} (
    user_id VARCHAR(256) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY
) ENGINE = InnoDB;
