"""What the rest of the bot may ask of storage: row types and the Storage protocol.

Services depend on this module only; `sqlite.py` is the one place with SQL, so a PostgreSQL backend
can come later without touching services. All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

CheckinKind = Literal["checkin", "reminder", "ask_continue", "retry"]
CheckinState = Literal["scheduled", "sending", "sent", "skipped", "failed", "cancelled"]
JournalKind = Literal["reflection", "note", "thought"]


class StorageError(RuntimeError):
    """The database could not do what was asked (locked, read-only, disk full...)."""


@dataclass(frozen=True, slots=True)
class User:
    user_id: int
    chat_id: int
    language: str
    country: str | None
    timezone: str
    consent: bool
    start_code: str | None
    checkins_enabled: bool
    delay_minutes: int
    session_minutes: int
    quiet_start: int  # minutes after local midnight
    quiet_end: int
    paused_until: datetime | None
    ignored_streak: int
    bring_reminder: bool
    blocked: bool
    created_at: datetime


#: Columns `update_user` accepts: the settings a client may change.
USER_FIELDS = frozenset(
    {
        "chat_id",
        "language",
        "country",
        "timezone",
        "consent",
        "start_code",
        "checkins_enabled",
        "delay_minutes",
        "session_minutes",
        "quiet_start",
        "quiet_end",
        "paused_until",
        "ignored_streak",
        "bring_reminder",
        "blocked",
    }
)


@dataclass(frozen=True, slots=True)
class WeeklySessionRow:
    user_id: int
    weekday: int  # 0 = Monday
    at_minute: int  # local minutes after midnight


@dataclass(frozen=True, slots=True)
class Checkin:
    id: int
    user_id: int
    kind: CheckinKind
    due_at: datetime
    state: CheckinState
    attempts: int
    session_at: datetime | None
    sent_at: datetime | None
    message_id: int | None
    answered_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClaimResult:
    claimed: list[Checkin]
    skipped: int  # rows past the grace period, marked skipped in the same transaction


@dataclass(frozen=True, slots=True)
class MoodEntry:
    id: int
    user_id: int
    score: int
    checkin_id: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class JournalEntry:
    id: int
    user_id: int
    kind: JournalKind
    prompt_id: str | None
    text: str  # decrypted; only ever in memory
    bring: bool
    created_at: datetime


class Storage(Protocol):
    """The storage operations services use. Implementations: SqliteStorage."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...

    # clients
    async def get_user(self, user_id: int) -> User | None: ...
    async def ensure_user(
        self, user_id: int, chat_id: int, language: str, country: str | None, timezone: str
    ) -> tuple[User, bool]: ...
    async def update_user(self, user_id: int, **fields: Any) -> User: ...
    async def user_locales(self, limit: int) -> list[tuple[int, str, str | None]]: ...

    # weekly session
    async def get_session(self, user_id: int) -> WeeklySessionRow | None: ...
    async def set_session(self, user_id: int, weekday: int, at_minute: int) -> None: ...
    async def clear_session(self, user_id: int) -> None: ...

    # check-in queue
    async def schedule_checkin(
        self, user_id: int, kind: CheckinKind, due_at: datetime, session_at: datetime | None = None
    ) -> int | None: ...
    async def schedule_many(
        self, rows: Sequence[tuple[int, CheckinKind, datetime, datetime | None]]
    ) -> int: ...
    async def cancel_pending(
        self, user_id: int, kinds: Sequence[CheckinKind] | None = None
    ) -> int: ...
    async def pending_checkins(self, user_id: int) -> list[Checkin]: ...
    async def get_checkin(self, checkin_id: int) -> Checkin | None: ...
    async def claim_due(self, now: datetime, limit: int, grace: timedelta) -> ClaimResult: ...
    async def mark_sent(self, checkin_id: int, message_id: int | None, now: datetime) -> None: ...
    async def mark_failed(self, checkin_id: int, error: str, now: datetime) -> None: ...
    async def retry_later(self, checkin_id: int, due_at: datetime) -> None: ...
    async def mark_answered(self, checkin_id: int, now: datetime) -> bool: ...
    async def release_stale(self, older_than: datetime) -> int: ...
    async def last_sent(self, user_id: int, limit: int) -> list[Checkin]: ...

    # check-in dispatch in bulk (issue 4): one query or one transaction per batch, not per row
    async def get_users(self, user_ids: Sequence[int]) -> dict[int, User]: ...
    async def schedule_rows(
        self, rows: Sequence[tuple[int, CheckinKind, datetime, datetime | None]]
    ) -> int: ...
    async def next_due_at(self) -> datetime | None: ...
    async def mark_sent_many(
        self, sent: Sequence[tuple[int, int | None]], now: datetime
    ) -> int: ...
    async def skip_checkins(self, checkin_ids: Sequence[int], reason: str) -> int: ...
    async def cancel_checkins(self, user_id: int, checkin_ids: Sequence[int]) -> int: ...
    async def add_ignored(self, user_ids: Sequence[int]) -> None: ...
    async def weekly_needing(
        self,
        kind: CheckinKind,
        *,
        user_ids: Sequence[int] | None = None,
        after_user_id: int = -1,
        limit: int = 1000,
        max_streak: int | None = None,
        bring_only: bool = False,
    ) -> list[tuple[User, WeeklySessionRow]]: ...

    # mood and journal
    async def add_mood(
        self, user_id: int, score: int, now: datetime, checkin_id: int | None = None
    ) -> int: ...
    async def moods(self, user_id: int, since: datetime | None = None) -> list[MoodEntry]: ...
    async def add_entry(
        self,
        user_id: int,
        kind: JournalKind,
        text: str,
        now: datetime,
        prompt_id: str | None = None,
        bring: bool = False,
    ) -> int: ...
    async def entries(self, user_id: int, limit: int, offset: int = 0) -> list[JournalEntry]: ...
    async def count_entries(self, user_id: int) -> int: ...
    async def get_entry(self, user_id: int, entry_id: int) -> JournalEntry | None: ...
    async def delete_entry(self, user_id: int, entry_id: int) -> bool: ...
    async def set_bring(self, user_id: int, entry_id: int, bring: bool) -> bool: ...
    async def bring_entries(self, user_id: int, since: datetime) -> list[JournalEntry]: ...

    # ownership
    async def export_user(self, user_id: int) -> dict[str, Any]: ...
    async def forget_user(self, user_id: int) -> dict[str, int]: ...
    async def rows_for_user(self, user_id: int) -> dict[str, int]: ...
    async def delete_older_than(self, cutoff: datetime) -> int: ...
