-- Check-in preferences and the durable queue of scheduled messages (the database is the source of
-- truth; the dispatcher claims due rows through idx_checkins_due).
ALTER TABLE users ADD COLUMN checkins_enabled INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN delay_minutes    INTEGER NOT NULL DEFAULT 120;
ALTER TABLE users ADD COLUMN session_minutes  INTEGER NOT NULL DEFAULT 50;
ALTER TABLE users ADD COLUMN quiet_start      INTEGER NOT NULL DEFAULT 1320;  -- minutes after midnight
ALTER TABLE users ADD COLUMN quiet_end        INTEGER NOT NULL DEFAULT 480;
ALTER TABLE users ADD COLUMN paused_until     INTEGER;
ALTER TABLE users ADD COLUMN ignored_streak   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN bring_reminder   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN blocked          INTEGER NOT NULL DEFAULT 0;

CREATE TABLE checkins (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,          -- checkin | reminder | ask_continue | retry
    due_at       INTEGER NOT NULL,          -- UTC epoch seconds
    state        TEXT    NOT NULL DEFAULT 'scheduled',  -- scheduled | sending | sent | skipped | failed | cancelled
    attempts     INTEGER NOT NULL DEFAULT 0,
    session_at   INTEGER,                   -- the session this check-in follows (UTC), if any
    claimed_at   INTEGER,
    sent_at      INTEGER,
    message_id   INTEGER,
    answered_at  INTEGER,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    UNIQUE (user_id, kind, due_at)
);
CREATE INDEX idx_checkins_due ON checkins(state, due_at);
CREATE INDEX idx_checkins_user ON checkins(user_id, state);
