-- What the client writes (encrypted at rest) and their mood log.
CREATE TABLE journal (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,          -- reflection | note | thought
    prompt_id   TEXT,
    body        BLOB    NOT NULL,          -- Fernet token, never plaintext
    bring       INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL
);
CREATE INDEX idx_journal_user ON journal(user_id, created_at);

CREATE TABLE moods (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
    score       INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    checkin_id  INTEGER,
    created_at  INTEGER NOT NULL
);
CREATE INDEX idx_moods_user ON moods(user_id, created_at);
