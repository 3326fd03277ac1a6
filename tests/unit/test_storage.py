"""Storage: migrations, upgrades in place, WAL, encryption at rest, complete deletion, key rotation,
retention, and the `keygen` / `rotate-key` commands."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from supportbot import cli
from supportbot.storage.crypto import DataKeyError, TextCipher, load_or_create_key, new_key
from supportbot.storage.sqlite import USER_TABLES, SqliteStorage, migrations

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SECRET = "Ünïcode secret about my sister — PLUM-ZEBRA-4471 🌧️"
OTHER = 222


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
async def store(tmp_path: Path, key: str) -> AsyncIterator[SqliteStorage]:
    storage = SqliteStorage(tmp_path / "bot.db", TextCipher.from_keys(key))
    await storage.open()
    try:
        yield storage
    finally:
        await storage.close()


async def _client(store: SqliteStorage, user_id: int, *, text: str = SECRET) -> None:
    """A client with a row in every table: settings, session, check-ins, moods, journal."""
    await store.ensure_user(user_id, user_id, "en", "ES", "Europe/Madrid")
    await store.update_user(user_id, consent=True)
    await store.set_session(user_id, 2, 17 * 60)
    checkin = await store.schedule_checkin(user_id, "checkin", NOW + timedelta(hours=2), NOW)
    await store.schedule_checkin(user_id, "reminder", NOW + timedelta(days=1))
    await store.add_mood(user_id, 4, NOW, checkin)
    await store.add_mood(user_id, 2, NOW - timedelta(days=3))
    await store.add_entry(user_id, "note", text, NOW, bring=True)
    await store.add_entry(user_id, "reflection", text + " (2)", NOW, prompt_id="ac_body_now")


def _raw_bytes(path: Path) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            data += candidate.read_bytes()
    return data


def _exists(*paths: Path) -> bool:
    return any(p.exists() for p in paths)


def _tables_with_user_id(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return [
            t
            for t in tables
            if any(c[1] == "user_id" for c in db.execute(f"PRAGMA table_info({t})"))
        ]


# -- schema -------------------------------------------------------------------------------------


async def test_migrations_create_the_schema(store: SqliteStorage) -> None:
    latest = max(v for v, _, _ in migrations())
    assert await store.schema_version() == latest
    tables = set(await store.raw_tables())
    assert {"users", "weekly_sessions", "checkins", "journal", "moods"} <= tables


async def test_a_database_from_an_older_schema_upgrades_in_place(tmp_path: Path, key: str) -> None:
    path = tmp_path / "old.db"
    old = SqliteStorage(path, TextCipher.from_keys(key))
    await old.open(target_version=1)
    assert await old.schema_version() == 1
    assert "journal" not in await old.raw_tables()
    # The code of today reads columns v1 lacks, so the old row goes in the way v1 would write it.
    await old._write(
        "INSERT INTO users (user_id, chat_id, language, country, timezone, consent, created_at,"
        " updated_at) VALUES (7, 7, 'es', 'MX', 'America/Mexico_City', 1, ?, ?)",
        (int(NOW.timestamp()), int(NOW.timestamp())),
    )
    await old.close()

    upgraded = SqliteStorage(path, TextCipher.from_keys(key))
    await upgraded.open()
    try:
        assert await upgraded.schema_version() == max(v for v, _, _ in migrations())
        user = await upgraded.get_user(7)
        assert user is not None
        assert (user.language, user.country, user.timezone) == ("es", "MX", "America/Mexico_City")
        assert user.consent and user.created_at == NOW
        assert user.checkins_enabled and user.delay_minutes == 120  # new columns got defaults
        await upgraded.add_entry(7, "note", "after the upgrade", NOW)
        assert [e.text for e in await upgraded.entries(7, 10)] == ["after the upgrade"]
    finally:
        await upgraded.close()


async def test_wal_mode_is_on(store: SqliteStorage) -> None:
    row = await store._one("PRAGMA journal_mode")
    assert row is not None and str(row[0]).lower() == "wal"


# -- encryption at rest -------------------------------------------------------------------------


async def test_the_database_file_holds_no_plaintext(store: SqliteStorage) -> None:
    await _client(store, 101)
    marker = b"PLUM-ZEBRA-4471"
    # While open (the text may still sit in the WAL) and after close (checkpointed into the file).
    assert marker not in _raw_bytes(store.path)
    assert b"sister" not in _raw_bytes(store.path)
    await store.close()
    raw = _raw_bytes(store.path)
    assert len(raw) > 0
    assert marker not in raw
    assert SECRET.encode("utf-8") not in raw
    assert SECRET.encode("utf-16-le") not in raw


async def test_stored_text_reads_back_exactly(store: SqliteStorage) -> None:
    odd = "a\u200db\u202eRTL\u0301 e\u0301 👩‍👧 " + "ñ" * 4000
    await store.ensure_user(5, 5, "en", None, "UTC")
    entry_id = await store.add_entry(5, "note", odd, NOW)
    found = await store.get_entry(5, entry_id)
    assert found is not None and found.text == odd


async def test_a_wrong_key_cannot_read_the_journal(tmp_path: Path, key: str) -> None:
    path = tmp_path / "bot.db"
    store = SqliteStorage(path, TextCipher.from_keys(key))
    await store.open()
    await _client(store, 1)
    await store.close()
    wrong = SqliteStorage(path, TextCipher.from_keys(new_key()))
    await wrong.open()
    try:
        with pytest.raises(DataKeyError):
            await wrong.entries(1, 10)
    finally:
        await wrong.close()


# -- deletion -----------------------------------------------------------------------------------


async def test_forget_leaves_no_row_with_the_user_id_in_any_table(store: SqliteStorage) -> None:
    await _client(store, 101)
    await _client(store, OTHER, text="someone else's words")
    before = await store.rows_for_user(101)
    assert all(count > 0 for count in before.values()), before
    with sqlite3.connect(store.path) as db:
        tokens = [r[0] for r in db.execute("SELECT body FROM journal WHERE user_id = 101")]
    assert tokens

    counts = await store.forget_user(101)
    assert counts["journal"] == 2 and counts["users"] == 1

    tables = _tables_with_user_id(store.path)
    assert {"users", "weekly_sessions", "checkins", "journal", "moods"} <= set(tables)
    # A table keyed by client that forget_user does not know about would survive /forget.
    assert set(tables) <= set(USER_TABLES), set(tables) - set(USER_TABLES)
    with sqlite3.connect(store.path) as db:
        for table in tables:
            (left,) = db.execute(f"SELECT COUNT(*) FROM {table} WHERE user_id = 101").fetchone()
            assert left == 0, f"{table} still has {left} rows"
            (kept,) = db.execute(
                f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", (OTHER,)
            ).fetchone()
            assert kept > 0, f"{table} lost the other client's rows"
    assert await store.get_user(101) is None
    assert [e.text for e in await store.entries(OTHER, 10)][-1] == "someone else's words"
    # Deleted ciphertext is overwritten (secure_delete + checkpoint), not left in free pages.
    raw = _raw_bytes(store.path)
    for token in tokens:
        assert bytes(token) not in raw


async def test_forget_of_an_unknown_client_is_harmless(store: SqliteStorage) -> None:
    counts = await store.forget_user(999)
    assert sum(counts.values()) == 0


# -- key rotation -------------------------------------------------------------------------------


async def test_rotate_key_re_encrypts_and_old_data_reads_with_the_new_key(
    tmp_path: Path, key: str
) -> None:
    path = tmp_path / "bot.db"
    store = SqliteStorage(path, TextCipher.from_keys(key))
    await store.open()
    await _client(store, 1)
    await _client(store, 2, text="second client")
    with sqlite3.connect(path) as db:
        before = {r[0]: bytes(r[1]) for r in db.execute("SELECT id, body FROM journal")}
    fresh = new_key()
    assert await store.rotate_key(TextCipher.from_keys(fresh, key)) == 4
    await store.close()

    with sqlite3.connect(path) as db:
        after = {r[0]: bytes(r[1]) for r in db.execute("SELECT id, body FROM journal")}
    assert after.keys() == before.keys()
    for entry_id, token in after.items():
        assert token != before[entry_id]
        Fernet(fresh.encode()).decrypt(token)  # under the new key alone

    only_new = SqliteStorage(path, TextCipher.from_keys(fresh))
    await only_new.open()
    try:
        texts = sorted(e.text for e in await only_new.entries(1, 10))
        assert texts == sorted([SECRET, SECRET + " (2)"])
    finally:
        await only_new.close()
    only_old = SqliteStorage(path, TextCipher.from_keys(key))
    await only_old.open()
    try:
        with pytest.raises(DataKeyError):
            await only_old.entries(1, 10)
    finally:
        await only_old.close()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("DATA_KEY", raising=False)
    monkeypatch.delenv("BOT_TOKEN", raising=False)
    db = tmp_path / "data" / "bot.db"
    monkeypatch.setenv("DATABASE_PATH", str(db))
    return db


def test_keygen_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keygen"]) == 0
    printed = capsys.readouterr().out.strip()
    TextCipher.from_keys(printed)
    assert Fernet(printed.encode()).decrypt(Fernet(printed.encode()).encrypt(b"x")) == b"x"


async def _seed(db: Path, key: str) -> None:
    store = SqliteStorage(db, TextCipher.from_keys(key))
    await store.open()
    await _client(store, 1)
    await store.close()


async def _texts(db: Path, key: str) -> list[str]:
    store = SqliteStorage(db, TextCipher.from_keys(key))
    await store.open()
    try:
        return sorted(e.text for e in await store.entries(1, 10))
    finally:
        await store.close()


async def test_rotate_key_command_with_a_key_file(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = cli_env.with_name(cli_env.name + ".key")
    old, created = load_or_create_key(None, key_file)
    assert created and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    await _seed(cli_env, old)

    assert await _run_cli(["rotate-key"]) == 0
    assert "re-encrypted 2 entries" in capsys.readouterr().out
    fresh = key_file.read_text().strip()
    assert fresh != old
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert not key_file.with_name(key_file.name + ".new").exists()
    assert await _texts(cli_env, fresh) == sorted([SECRET, SECRET + " (2)"])


async def test_rotate_key_command_with_data_key_prints_the_new_key(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old = new_key()
    await _seed(cli_env, old)
    monkeypatch.setenv("DATA_KEY", old)
    chosen = new_key()
    assert await _run_cli(["rotate-key", f"--new-key={chosen}"]) == 0
    out = capsys.readouterr().out
    assert chosen in out and "DATA_KEY" in out
    assert not cli_env.with_name(
        cli_env.name + ".key"
    ).exists()  # no key file when DATA_KEY is used
    assert await _texts(cli_env, chosen) == sorted([SECRET, SECRET + " (2)"])


async def test_rotate_key_refuses_safely(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No database: nothing is created, no key file appears.
    assert await _run_cli(["rotate-key"]) == 1
    assert not _exists(cli_env, cli_env.with_name(cli_env.name + ".key"))
    # A wrong DATA_KEY: nothing changes, the data still opens with the right key.
    right = new_key()
    await _seed(cli_env, right)
    monkeypatch.setenv("DATA_KEY", new_key())
    assert await _run_cli(["rotate-key"]) == 2
    assert "cannot re-encrypt" in capsys.readouterr().err
    assert await _texts(cli_env, right) == sorted([SECRET, SECRET + " (2)"])
    # A malformed --new-key is refused before anything happens.
    monkeypatch.setenv("DATA_KEY", right)
    assert await _run_cli(["rotate-key", "--new-key", "not-a-key"]) == 2
    assert await _texts(cli_env, right) == sorted([SECRET, SECRET + " (2)"])


async def test_rotate_key_recovers_a_leftover_new_key(cli_env: Path) -> None:
    """A run that crashed after re-encrypting but before swapping the key file loses nothing."""
    key_file = cli_env.with_name(cli_env.name + ".key")
    old, _ = load_or_create_key(None, key_file)
    await _seed(cli_env, old)
    interrupted = new_key()
    store = SqliteStorage(cli_env, TextCipher.from_keys(old))
    await store.open()
    await store.rotate_key(TextCipher.from_keys(interrupted, old))
    await store.close()
    pending = key_file.with_name(key_file.name + ".new")
    pending.write_text(interrupted + "\n")
    os.chmod(pending, 0o600)

    assert await _run_cli(["rotate-key"]) == 0
    assert await _texts(cli_env, key_file.read_text().strip()) == sorted([SECRET, SECRET + " (2)"])


async def _run_cli(argv: list[str]) -> int:
    """`supportbot rotate-key` calls asyncio.run, so run it off this test's event loop."""
    import asyncio

    return await asyncio.to_thread(cli.main, argv)


# -- retention ----------------------------------------------------------------------------------


async def test_delete_older_than_keeps_recent_rows_and_pending_checkins(
    store: SqliteStorage,
) -> None:
    await store.ensure_user(1, 1, "en", None, "UTC")
    old, recent = NOW - timedelta(days=100), NOW - timedelta(days=5)
    await store.add_entry(1, "note", "old", old)
    await store.add_entry(1, "note", "recent", recent)
    await store.add_mood(1, 3, old)
    await store.add_mood(1, 4, recent)
    sent = await store.schedule_checkin(1, "checkin", old)
    assert sent is not None
    await store.mark_sent(sent, 10, old)
    await store.schedule_checkin(1, "reminder", old + timedelta(hours=1))  # still scheduled

    deleted = await store.delete_older_than(NOW - timedelta(days=30))
    assert deleted == 3
    assert [e.text for e in await store.entries(1, 10)] == ["recent"]
    assert [m.score for m in await store.moods(1)] == [4]
    assert [c.kind for c in await store.pending_checkins(1)] == ["reminder"]
    assert await store.get_user(1) is not None
