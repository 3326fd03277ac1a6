-- Clients and their preferences. Everything a client owns is keyed by their Telegram user id.
CREATE TABLE users (
    user_id         INTEGER PRIMARY KEY,
    chat_id         INTEGER NOT NULL,
    language        TEXT    NOT NULL,
    country         TEXT,
    timezone        TEXT    NOT NULL,
    consent         INTEGER NOT NULL DEFAULT 0,
    consent_at      INTEGER,
    start_code      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE weekly_sessions (
    user_id     INTEGER PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    weekday     INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
    at_minute   INTEGER NOT NULL CHECK (at_minute BETWEEN 0 AND 1439),
    updated_at  INTEGER NOT NULL
);
