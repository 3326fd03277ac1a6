"""SQLite storage through aiosqlite: the only module with SQL.

One connection is the single writer (aiosqlite serialises it on its own thread); WAL lets readers of
other processes (backups, `supportbot export`) see a consistent file; read-then-write goes through
`BEGIN IMMEDIATE` so two coroutines never interleave inside one transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, cast

import aiosqlite

from supportbot.storage.base import (
    USER_FIELDS,
    Checkin,
    CheckinKind,
    ClaimResult,
    JournalEntry,
    JournalKind,
    MoodEntry,
    StorageError,
    User,
    WeeklySessionRow,
)
from supportbot.storage.crypto import TextCipher

#: Tables holding rows about a client, each with a `user_id` column (forget/export walk this list).
USER_TABLES = ("checkins", "journal", "moods", "weekly_sessions", "users")


def describe(exc: BaseException) -> str:
    """SQLite's own name and message for an error (e.g. "SQLITE_FULL: database or disk is full").

    SQLite's messages name files, tables and columns, never the values written, so they are safe to
    log and tell the operator what is wrong (disk full, read-only, locked).
    """
    name = getattr(exc, "sqlite_errorname", None) or exc.__class__.__name__
    return f"{name}: {exc}"


def _ts(dt: datetime | None) -> int | None:
    return None if dt is None else int(dt.timestamp())


def _dt(ts: int | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _now() -> datetime:
    return datetime.now(UTC)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every file in migrations/, in order."""
    folder = resources.files("supportbot.storage").joinpath("migrations")
    found = []
    for item in folder.iterdir():
        name = item.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), name, item.read_text(encoding="utf-8")))
    return sorted(found)


class SqliteStorage:
    def __init__(
        self, path: Path | str, cipher: TextCipher, *, busy_timeout_ms: int = 5000
    ) -> None:
        self.path = Path(path)
        self.cipher = cipher
        self.busy_timeout_ms = busy_timeout_ms
        self._db: aiosqlite.Connection | None = None
        self._tx_lock = asyncio.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self, *, target_version: int | None = None) -> None:
        """Open, tune and migrate. `target_version` exists so tests can build an older schema."""
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = await aiosqlite.connect(self.path, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open database {self.path}: {exc}") from exc
        db.row_factory = sqlite3.Row
        self._db = db
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            await db.execute(
                "PRAGMA secure_delete = ON"
            )  # deleted rows are zeroed, not left behind
            await self._migrate(target_version)
            # A file SQLite can open but not write (mode 0444, immutable, read-only mount) must
            # fail here, clearly, not later inside a client's request.
            await db.execute("BEGIN IMMEDIATE")
            await db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            await db.close()
            self._db = None
            hint = " (the database is read-only)" if "READONLY" in describe(exc) else ""
            raise StorageError(
                f"cannot prepare database {self.path}{hint}: {describe(exc)}"
            ) from exc

    async def _migrate(self, target_version: int | None) -> None:
        db = self.db
        async with db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        for version, _name, sql in migrations():
            if version <= current or (target_version is not None and version > target_version):
                continue
            await db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(sql):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version = {version}")
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise

    async def schema_version(self) -> int:
        async with self.db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def close(self) -> None:
        if self._db is not None:
            try:
                await self._db.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StorageError("storage is not open")
        return self._db

    async def ping(self) -> bool:
        try:
            async with self.db.execute("SELECT 1") as cur:
                return (await cur.fetchone()) is not None
        except (sqlite3.Error, StorageError, ValueError):
            return False

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time; BEGIN IMMEDIATE takes the write lock up front."""
        async with self._tx_lock:
            db = self.db
            try:
                await db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"database unavailable ({describe(exc)})") from exc
            try:
                yield db
            except BaseException:
                try:
                    await db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise
            else:
                try:
                    await db.execute("COMMIT")
                except sqlite3.Error as exc:
                    if db.in_transaction:  # SQLite may already have rolled back (e.g. disk full)
                        try:
                            await db.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass
                    raise StorageError(f"commit failed ({describe(exc)})") from exc

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        try:
            async with self.db.execute(sql, params) as cur:
                row: sqlite3.Row | None = await cur.fetchone()
                return row
        except sqlite3.Error as exc:
            raise StorageError(f"query failed ({describe(exc)})") from exc

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            async with self.db.execute(sql, params) as cur:
                return cast("list[sqlite3.Row]", list(await cur.fetchall()))
        except sqlite3.Error as exc:
            raise StorageError(f"query failed ({describe(exc)})") from exc

    async def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """A single-statement write; returns lastrowid or rowcount (whichever the caller needs)."""
        try:
            async with self._tx() as db, db.execute(sql, params) as cur:
                if sql.lstrip().upper().startswith("INSERT"):
                    return cur.lastrowid or 0
                return cur.rowcount
        except sqlite3.Error as exc:
            raise StorageError(f"write failed ({describe(exc)})") from exc

    async def _write_many(self, sql: str, params: Sequence[Sequence[Any]]) -> int:
        """One statement over many rows in one transaction; returns how many rows changed."""
        try:
            async with self._tx() as db:
                before = db.total_changes
                await db.executemany(sql, params)
                return db.total_changes - before
        except sqlite3.Error as exc:
            raise StorageError(f"write failed ({describe(exc)})") from exc

    # -- clients -------------------------------------------------------------------------------

    @staticmethod
    def _user(row: sqlite3.Row) -> User:
        return User(
            user_id=row["user_id"],
            chat_id=row["chat_id"],
            language=row["language"],
            country=row["country"],
            timezone=row["timezone"],
            consent=bool(row["consent"]),
            start_code=row["start_code"],
            checkins_enabled=bool(row["checkins_enabled"]),
            delay_minutes=row["delay_minutes"],
            session_minutes=row["session_minutes"],
            quiet_start=row["quiet_start"],
            quiet_end=row["quiet_end"],
            paused_until=_dt(row["paused_until"]),
            ignored_streak=row["ignored_streak"],
            bring_reminder=bool(row["bring_reminder"]),
            blocked=bool(row["blocked"]),
            created_at=cast(datetime, _dt(row["created_at"])),
        )

    async def get_user(self, user_id: int) -> User | None:
        row = await self._one("SELECT * FROM users WHERE user_id = ?", (user_id,))
        return None if row is None else self._user(row)

    async def ensure_user(
        self, user_id: int, chat_id: int, language: str, country: str | None, timezone: str
    ) -> tuple[User, bool]:
        now = _ts(_now())
        try:
            async with (
                self._tx() as db,
                db.execute(
                    "INSERT INTO users (user_id, chat_id, language, country, timezone, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(user_id) DO NOTHING",
                    (user_id, chat_id, language, country, timezone, now, now),
                ) as cur,
            ):
                created = cur.rowcount == 1
        except sqlite3.Error as exc:
            raise StorageError(f"write failed ({describe(exc)})") from exc
        user = await self.get_user(user_id)
        assert user is not None
        return user, created

    async def update_user(self, user_id: int, **fields: Any) -> User:
        unknown = set(fields) - USER_FIELDS
        if unknown:
            raise ValueError(f"not a user setting: {sorted(unknown)}")
        if fields:
            values = [
                _ts(v) if isinstance(v, datetime) else int(v) if isinstance(v, bool) else v
                for v in fields.values()
            ]
            assignments = ", ".join(f"{name} = ?" for name in fields)
            await self._write(
                f"UPDATE users SET {assignments}, updated_at = ? WHERE user_id = ?",
                (*values, _ts(_now()), user_id),
            )
        user = await self.get_user(user_id)
        if user is None:
            raise StorageError("no such user")
        return user

    async def user_locales(self, limit: int) -> list[tuple[int, str, str | None]]:
        rows = await self._all(
            "SELECT user_id, language, country FROM users ORDER BY updated_at DESC LIMIT ?",
            (limit,),
        )
        return [(r["user_id"], r["language"], r["country"]) for r in rows]

    # -- weekly session ------------------------------------------------------------------------

    async def get_session(self, user_id: int) -> WeeklySessionRow | None:
        row = await self._one("SELECT * FROM weekly_sessions WHERE user_id = ?", (user_id,))
        if row is None:
            return None
        return WeeklySessionRow(row["user_id"], row["weekday"], row["at_minute"])

    async def set_session(self, user_id: int, weekday: int, at_minute: int) -> None:
        await self._write(
            "INSERT INTO weekly_sessions (user_id, weekday, at_minute, updated_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(user_id) DO UPDATE SET weekday = excluded.weekday,"
            " at_minute = excluded.at_minute, updated_at = excluded.updated_at",
            (user_id, weekday, at_minute, _ts(_now())),
        )

    async def clear_session(self, user_id: int) -> None:
        await self._write("DELETE FROM weekly_sessions WHERE user_id = ?", (user_id,))

    # -- check-in queue ------------------------------------------------------------------------

    @staticmethod
    def _checkin(row: sqlite3.Row) -> Checkin:
        return Checkin(
            id=row["id"],
            user_id=row["user_id"],
            kind=row["kind"],
            due_at=cast(datetime, _dt(row["due_at"])),
            state=row["state"],
            attempts=row["attempts"],
            session_at=_dt(row["session_at"]),
            sent_at=_dt(row["sent_at"]),
            message_id=row["message_id"],
            answered_at=_dt(row["answered_at"]),
        )

    async def schedule_checkin(
        self, user_id: int, kind: CheckinKind, due_at: datetime, session_at: datetime | None = None
    ) -> int | None:
        """Insert a scheduled row; the same (user, kind, due_at) twice is one row, never two."""
        try:
            async with (
                self._tx() as db,
                db.execute(
                    "INSERT INTO checkins (user_id, kind, due_at, session_at, created_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_id, kind, due_at) DO NOTHING",
                    (user_id, kind, _ts(due_at), _ts(session_at), _ts(_now())),
                ) as cur,
            ):
                return cur.lastrowid if cur.rowcount == 1 else None
        except sqlite3.Error as exc:
            raise StorageError(f"write failed ({describe(exc)})") from exc

    async def schedule_many(
        self, rows: Sequence[tuple[int, CheckinKind, datetime, datetime | None]]
    ) -> int:
        now = _ts(_now())
        params = [(u, k, _ts(d), _ts(s), now) for u, k, d, s in rows]
        return await self._write_many(
            "INSERT INTO checkins (user_id, kind, due_at, session_at, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_id, kind, due_at) DO NOTHING",
            params,
        )

    async def cancel_pending(self, user_id: int, kinds: Sequence[CheckinKind] | None = None) -> int:
        sql = "UPDATE checkins SET state = 'cancelled' WHERE user_id = ? AND state = 'scheduled'"
        params: list[Any] = [user_id]
        if kinds:
            sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
            params.extend(kinds)
        return await self._write(sql, params)

    async def pending_checkins(self, user_id: int) -> list[Checkin]:
        rows = await self._all(
            "SELECT * FROM checkins WHERE user_id = ? AND state = 'scheduled' ORDER BY due_at",
            (user_id,),
        )
        return [self._checkin(r) for r in rows]

    async def get_checkin(self, checkin_id: int) -> Checkin | None:
        row = await self._one("SELECT * FROM checkins WHERE id = ?", (checkin_id,))
        return None if row is None else self._checkin(row)

    async def claim_due(self, now: datetime, limit: int, grace: timedelta) -> ClaimResult:
        """Skip rows past the grace period, then move up to `limit` due rows to `sending`.

        Both steps use idx_checkins_due(state, due_at) and run in one IMMEDIATE transaction, so two
        dispatchers (or a restart racing a tick) can never claim the same row.
        """
        now_ts = cast(int, _ts(now))
        cutoff = cast(int, _ts(now - grace))
        try:
            async with self._tx() as db:
                async with db.execute(
                    "UPDATE checkins SET state = 'skipped', error = 'past grace'"
                    " WHERE state = 'scheduled' AND due_at < ?",
                    (cutoff,),
                ) as cur:
                    skipped = cur.rowcount
                async with db.execute(
                    "UPDATE checkins SET state = 'sending', claimed_at = ?, attempts = attempts + 1"
                    " WHERE id IN (SELECT id FROM checkins WHERE state = 'scheduled' AND due_at <= ?"
                    " ORDER BY due_at LIMIT ?) RETURNING *",
                    (now_ts, now_ts, limit),
                ) as cur:
                    rows = await cur.fetchall()
        except sqlite3.Error as exc:
            raise StorageError(f"claim failed ({describe(exc)})") from exc
        claimed = sorted((self._checkin(r) for r in rows), key=lambda c: (c.due_at, c.id))
        return ClaimResult(claimed=claimed, skipped=skipped)

    async def mark_sent(self, checkin_id: int, message_id: int | None, now: datetime) -> None:
        await self._write(
            "UPDATE checkins SET state = 'sent', sent_at = ?, message_id = ?, error = NULL WHERE id = ?",
            (_ts(now), message_id, checkin_id),
        )

    async def mark_failed(self, checkin_id: int, error: str, now: datetime) -> None:
        await self._write(
            "UPDATE checkins SET state = 'failed', error = ?, sent_at = NULL, claimed_at = ? WHERE id = ?",
            (error[:200], _ts(now), checkin_id),
        )

    async def retry_later(self, checkin_id: int, due_at: datetime) -> None:
        """Back to `scheduled` at a later time; the row (and its place in the queue) is never lost."""
        await self._write(
            "UPDATE checkins SET state = 'scheduled', due_at = ?, claimed_at = NULL"
            " WHERE id = ? AND state = 'sending'",
            (_ts(due_at), checkin_id),
        )

    async def mark_answered(self, checkin_id: int, now: datetime) -> bool:
        changed = await self._write(
            "UPDATE checkins SET answered_at = ? WHERE id = ? AND answered_at IS NULL",
            (_ts(now), checkin_id),
        )
        return changed == 1

    async def release_stale(self, older_than: datetime) -> int:
        """After a crash: rows left in `sending` go back to `scheduled` (at most one repeat each)."""
        return await self._write(
            "UPDATE checkins SET state = 'scheduled', claimed_at = NULL"
            " WHERE state = 'sending' AND (claimed_at IS NULL OR claimed_at <= ?)",
            (_ts(older_than),),
        )

    async def last_sent(self, user_id: int, limit: int) -> list[Checkin]:
        rows = await self._all(
            "SELECT * FROM checkins WHERE user_id = ? AND state = 'sent' AND kind = 'checkin'"
            " ORDER BY sent_at DESC LIMIT ?",
            (user_id, limit),
        )
        return [self._checkin(r) for r in rows]

    # -- check-in dispatch in bulk (issue 4) ---------------------------------------------------
    # The dispatcher sends thousands of rows a second; a transaction per row costs ~0.4 ms through
    # aiosqlite's thread, so outcomes are written per batch (group commit) and users read per batch.

    async def get_users(self, user_ids: Sequence[int]) -> dict[int, User]:
        found: dict[int, User] = {}
        ids = list(dict.fromkeys(user_ids))
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            rows = await self._all(f"SELECT * FROM users WHERE user_id IN ({_marks(chunk)})", chunk)
            found.update((r["user_id"], self._user(r)) for r in rows)
        return found

    async def schedule_rows(
        self, rows: Sequence[tuple[int, CheckinKind, datetime, datetime | None]]
    ) -> int:
        """Like schedule_many, but a row the client's own change cancelled comes back when the
        same (user, kind, due_at) is planned again (e.g. a pause undone). Rows that were sent,
        skipped or failed are never revived: nothing goes out twice."""
        now = _ts(_now())
        params = [(u, k, _ts(d), _ts(s), now) for u, k, d, s in rows]
        return await self._write_many(
            "INSERT INTO checkins (user_id, kind, due_at, session_at, created_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_id, kind, due_at) DO UPDATE SET"
            " state = 'scheduled', session_at = excluded.session_at, attempts = 0,"
            " claimed_at = NULL, error = NULL, created_at = excluded.created_at"
            " WHERE checkins.state = 'cancelled'",
            params,
        )

    async def next_due_at(self) -> datetime | None:
        """The earliest scheduled row's due time: one indexed read, no write lock, so an idle tick
        never opens a write transaction."""
        row = await self._one("SELECT MIN(due_at) FROM checkins WHERE state = 'scheduled'")
        return _dt(row[0]) if row is not None and row[0] is not None else None

    async def mark_sent_many(self, sent: Sequence[tuple[int, int | None]], now: datetime) -> int:
        """Mark rows sent in one transaction. A row released to `scheduled` (never to `sent` twice)
        is still marked, so a send that did happen is never repeated."""
        if not sent:
            return 0
        params = [(_ts(now), message_id, checkin_id) for checkin_id, message_id in sent]
        return await self._write_many(
            "UPDATE checkins SET state = 'sent', sent_at = ?, message_id = ?, error = NULL"
            " WHERE id = ? AND state IN ('sending', 'scheduled')",
            params,
        )

    async def skip_checkins(self, checkin_ids: Sequence[int], reason: str) -> int:
        """Rows that will not be sent (client paused, stopped, nothing to bring...)."""
        return await self._update_ids(
            "UPDATE checkins SET state = 'skipped', error = ?, claimed_at = NULL"
            " WHERE state IN ('scheduled', 'sending') AND id IN ({ids})",
            [reason[:200]],
            checkin_ids,
        )

    async def cancel_checkins(self, user_id: int, checkin_ids: Sequence[int]) -> int:
        return await self._update_ids(
            "UPDATE checkins SET state = 'cancelled'"
            " WHERE state = 'scheduled' AND user_id = ? AND id IN ({ids})",
            [user_id],
            checkin_ids,
        )

    async def add_ignored(self, user_ids: Sequence[int]) -> None:
        await self._update_ids(
            "UPDATE users SET ignored_streak = ignored_streak + 1 WHERE user_id IN ({ids})",
            [],
            user_ids,
        )

    async def _update_ids(self, sql: str, head: list[Any], ids: Sequence[int]) -> int:
        total = 0
        unique = list(dict.fromkeys(ids))
        if not unique:
            return 0
        try:
            async with self._tx() as db:
                for start in range(0, len(unique), _IN_CHUNK):
                    chunk = unique[start : start + _IN_CHUNK]
                    async with db.execute(sql.format(ids=_marks(chunk)), [*head, *chunk]) as cur:
                        total += cur.rowcount
        except sqlite3.Error as exc:
            raise StorageError(f"write failed ({describe(exc)})") from exc
        return total

    async def weekly_needing(
        self,
        kind: CheckinKind,
        *,
        user_ids: Sequence[int] | None = None,
        after_user_id: int = -1,
        limit: int = 1000,
        max_streak: int | None = None,
        bring_only: bool = False,
    ) -> list[tuple[User, WeeklySessionRow]]:
        """Clients with a weekly session, check-ins on, not blocked, and no pending row of `kind`
        tied to a session (`session_at` set): those whose next row must be computed. Paged by
        user id (`after_user_id`), or restricted to `user_ids`."""
        sql = (
            "SELECT u.*, ws.weekday AS ws_weekday, ws.at_minute AS ws_at_minute"
            " FROM weekly_sessions ws JOIN users u ON u.user_id = ws.user_id"
            " WHERE ws.user_id > ? AND u.checkins_enabled = 1 AND u.blocked = 0"
        )
        params: list[Any] = [after_user_id]
        if max_streak is not None:
            sql += " AND u.ignored_streak < ?"
            params.append(max_streak)
        if bring_only:
            sql += " AND u.bring_reminder = 1"
        if user_ids is not None:
            ids = list(dict.fromkeys(user_ids))[:_IN_CHUNK]
            if not ids:
                return []
            sql += f" AND ws.user_id IN ({_marks(ids)})"
            params.extend(ids)
        sql += (
            " AND NOT EXISTS (SELECT 1 FROM checkins c WHERE c.user_id = ws.user_id AND c.kind = ?"
            " AND c.state IN ('scheduled', 'sending') AND c.session_at IS NOT NULL)"
            " ORDER BY ws.user_id LIMIT ?"
        )
        params.extend([kind, limit])
        rows = await self._all(sql, params)
        return [
            (self._user(r), WeeklySessionRow(r["user_id"], r["ws_weekday"], r["ws_at_minute"]))
            for r in rows
        ]

    # -- mood and journal ----------------------------------------------------------------------

    async def add_mood(
        self, user_id: int, score: int, now: datetime, checkin_id: int | None = None
    ) -> int:
        if not 1 <= score <= 5:
            raise ValueError("mood score is 1..5")
        return await self._write(
            "INSERT INTO moods (user_id, score, checkin_id, created_at) VALUES (?, ?, ?, ?)",
            (user_id, score, checkin_id, _ts(now)),
        )

    async def moods(self, user_id: int, since: datetime | None = None) -> list[MoodEntry]:
        rows = await self._all(
            "SELECT * FROM moods WHERE user_id = ? AND created_at >= ? ORDER BY created_at, id",
            (user_id, _ts(since) if since else 0),
        )
        return [
            MoodEntry(
                r["id"],
                r["user_id"],
                r["score"],
                r["checkin_id"],
                cast(datetime, _dt(r["created_at"])),
            )
            for r in rows
        ]

    def _entry(self, row: sqlite3.Row) -> JournalEntry:
        return JournalEntry(
            id=row["id"],
            user_id=row["user_id"],
            kind=row["kind"],
            prompt_id=row["prompt_id"],
            text=self.cipher.decrypt(row["body"]),
            bring=bool(row["bring"]),
            created_at=cast(datetime, _dt(row["created_at"])),
        )

    async def add_entry(
        self,
        user_id: int,
        kind: JournalKind,
        text: str,
        now: datetime,
        prompt_id: str | None = None,
        bring: bool = False,
    ) -> int:
        return await self._write(
            "INSERT INTO journal (user_id, kind, prompt_id, body, bring, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (user_id, kind, prompt_id, self.cipher.encrypt(text), int(bring), _ts(now)),
        )

    async def entries(self, user_id: int, limit: int, offset: int = 0) -> list[JournalEntry]:
        rows = await self._all(
            "SELECT * FROM journal WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            (user_id, limit, offset),
        )
        return [self._entry(r) for r in rows]

    async def count_entries(self, user_id: int) -> int:
        row = await self._one("SELECT COUNT(*) FROM journal WHERE user_id = ?", (user_id,))
        return int(row[0]) if row else 0

    async def get_entry(self, user_id: int, entry_id: int) -> JournalEntry | None:
        row = await self._one(
            "SELECT * FROM journal WHERE id = ? AND user_id = ?", (entry_id, user_id)
        )
        return None if row is None else self._entry(row)

    async def delete_entry(self, user_id: int, entry_id: int) -> bool:
        return (
            await self._write(
                "DELETE FROM journal WHERE id = ? AND user_id = ?", (entry_id, user_id)
            )
            == 1
        )

    async def set_bring(self, user_id: int, entry_id: int, bring: bool) -> bool:
        return (
            await self._write(
                "UPDATE journal SET bring = ? WHERE id = ? AND user_id = ?",
                (int(bring), entry_id, user_id),
            )
            == 1
        )

    async def bring_entries(self, user_id: int, since: datetime) -> list[JournalEntry]:
        rows = await self._all(
            "SELECT * FROM journal WHERE user_id = ? AND bring = 1 AND created_at >= ?"
            " ORDER BY created_at",
            (user_id, _ts(since)),
        )
        return [self._entry(r) for r in rows]

    # -- ownership -----------------------------------------------------------------------------

    async def export_user(self, user_id: int) -> dict[str, Any]:
        """Everything stored about one client, decrypted, as plain data."""
        user = await self.get_user(user_id)
        if user is None:
            return {}
        session = await self.get_session(user_id)
        checkins = await self._all(
            "SELECT * FROM checkins WHERE user_id = ? ORDER BY due_at", (user_id,)
        )
        entries = await self._all(
            "SELECT * FROM journal WHERE user_id = ? ORDER BY created_at, id", (user_id,)
        )
        return {
            "user": user,
            "session": session,
            "checkins": [self._checkin(r) for r in checkins],
            "moods": await self.moods(user_id),
            "journal": [self._entry(r) for r in entries],
        }

    async def forget_user(self, user_id: int) -> dict[str, int]:
        """Delete every row about the client in one transaction, then reclaim the freed pages."""
        counts: dict[str, int] = {}
        try:
            async with self._tx() as db:
                for table in USER_TABLES:
                    async with db.execute(
                        f"DELETE FROM {table} WHERE user_id = ?", (user_id,)
                    ) as cur:
                        counts[table] = cur.rowcount
        except sqlite3.Error as exc:
            raise StorageError(f"delete failed ({describe(exc)})") from exc
        try:
            # Overwrite freed pages so deleted ciphertext does not linger in the file or the WAL.
            await self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        return counts

    async def rows_for_user(self, user_id: int) -> dict[str, int]:
        out = {}
        for table in USER_TABLES:
            row = await self._one(f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", (user_id,))
            out[table] = int(row[0]) if row else 0
        return out

    async def delete_older_than(self, cutoff: datetime) -> int:
        """Retention: journal and mood entries older than `cutoff`, and finished check-in rows."""
        ts = _ts(cutoff)
        total = 0
        try:
            async with self._tx() as db:
                for sql in (
                    "DELETE FROM journal WHERE created_at < ?",
                    "DELETE FROM moods WHERE created_at < ?",
                    "DELETE FROM checkins WHERE due_at < ? AND state != 'scheduled'",
                ):
                    async with db.execute(sql, (ts,)) as cur:
                        total += cur.rowcount
        except sqlite3.Error as exc:
            raise StorageError(f"delete failed ({describe(exc)})") from exc
        return total

    async def rotate_key(self, new_cipher: TextCipher) -> int:
        """Re-encrypt every journal body under `new_cipher`'s first key, in one transaction."""
        rows = await self._all("SELECT id, body FROM journal")
        rotated = [(new_cipher.encrypt(self.cipher.decrypt(r["body"])), r["id"]) for r in rows]
        async with self._tx() as db:
            await db.executemany("UPDATE journal SET body = ? WHERE id = ?", rotated)
        self.cipher = new_cipher
        return len(rotated)

    async def raw_tables(self) -> list[str]:
        rows = await self._all("SELECT name FROM sqlite_master WHERE type = 'table'")
        return [r["name"] for r in rows]


#: Ids per `IN (...)` list: well under SQLite's default limit of 32766 host parameters.
_IN_CHUNK = 500


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" for _ in values)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (our migrations hold no semicolons inside literals)."""
    lines = [line.split("--", 1)[0] for line in script.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
