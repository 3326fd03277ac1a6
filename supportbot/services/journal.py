"""The client's own data: journal pages, notes, mood summaries, export, forgetting and retention.

No telegram here: handlers render what these functions return. Mood arithmetic is pure (`summarise`)
so it is tested with plain lists, from zero entries to thousands. Texts come from messages/ through
`Strings`; client text only ever passes through in memory, never into a log.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from supportbot.clock import Clock
from supportbot.content.library import Library
from supportbot.content.strings import Strings
from supportbot.services.profile import ProfileService
from supportbot.storage.base import (
    JournalEntry,
    JournalKind,
    MoodEntry,
    Storage,
    User,
    WeeklySessionRow,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 5
#: Telegram's message limit; a note longer than this cannot arrive in one message anyway.
MAX_NOTE = 4096
#: Mood entries within this long after a session's start count as "after a session".
AFTER_SESSION = timedelta(hours=48)
#: A bucket needs this many entries before it is compared with the other one.
MIN_BUCKET = 3
#: Differences smaller than these are called "about the same" (scores are 1..5).
MEAN_GAP = 0.5
SPREAD_GAP = 0.3
#: Change over the window (score points) that counts as rising or falling.
TREND_CHANGE = 0.5
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_EMPTY = "·"
EXPORT_FORMAT_VERSION = 1

Trend = Literal["up", "down", "flat", "unknown"]
Pattern = Literal[
    "none",
    "one",
    "few",
    "brighter_after",
    "heavier_after",
    "steadier_after",
    "shakier_after",
    "similar_after",
    "rising",
    "falling",
    "steady",
]
NoteOutcome = Literal["saved", "no_consent", "no_user", "empty"]


# -- mood arithmetic (pure) ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MoodPoint:
    at: datetime  # UTC
    score: int


@dataclass(frozen=True, slots=True)
class MoodSummary:
    """Everything /mood shows, for one window (4 or 12 weeks) ending `end`."""

    weeks: int
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    timezone: str
    count: int
    mean: float | None
    weekly: tuple[float | None, ...]  # one mean per week, oldest first (None: no entry that week)
    trend: Trend
    change: float | None  # fitted change over the window, score points
    sparkline: str
    pattern: Pattern
    after_mean: float | None
    other_mean: float | None
    points: tuple[MoodPoint, ...]
    session_starts: tuple[datetime, ...]  # UTC starts of weekly sessions inside the window


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def session_starts(
    session: WeeklySessionRow | None, start: datetime, end: datetime, zone: ZoneInfo
) -> tuple[datetime, ...]:
    """UTC start of every weekly session in [start - AFTER_SESSION, end), in the client's zone.

    Starts a little before the window so entries early in it can still count as "after a session".
    """
    if session is None:
        return ()
    first = (start - AFTER_SESSION).astimezone(zone).date()
    last = end.astimezone(zone).date()
    found: list[datetime] = []
    day = first + timedelta(days=(session.weekday - first.weekday()) % 7)
    at = time(session.at_minute // 60, session.at_minute % 60)
    while day <= last:
        local = datetime.combine(day, at, tzinfo=zone)
        utc = local.astimezone(UTC)
        if start - AFTER_SESSION <= utc < end:
            found.append(utc)
        day += timedelta(days=7)
    return tuple(found)


def sparkline(values: Sequence[float | None]) -> str:
    """One block per value on the fixed 1..5 scale (so two sparklines compare), `·` for gaps."""
    out = []
    for value in values:
        if value is None:
            out.append(SPARK_EMPTY)
            continue
        clamped = min(5.0, max(1.0, value))
        index = round((clamped - 1.0) / 4.0 * (len(SPARK_BLOCKS) - 1))
        out.append(SPARK_BLOCKS[index])
    return "".join(out)


def _fitted_change(weekly: Sequence[float | None]) -> float | None:
    """Least-squares slope of the weekly means times the span they cover; None with < 2 weeks."""
    pairs = [(i, v) for i, v in enumerate(weekly) if v is not None]
    if len(pairs) < 2:
        return None
    xs = [float(i) for i, _ in pairs]
    ys = [v for _, v in pairs]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    denom = sum((x - mx) ** 2 for x in xs)
    if denom == 0:
        return None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / denom
    return slope * (xs[-1] - xs[0])


def _after_session(at: datetime, starts: Sequence[datetime]) -> bool:
    return any(timedelta(0) <= at - s < AFTER_SESSION for s in starts)


def _pattern(
    scores: Sequence[int],
    after: Sequence[int],
    other: Sequence[int],
    trend: Trend,
) -> Pattern:
    if not scores:
        return "none"
    if len(scores) == 1:
        return "one"
    if len(after) >= MIN_BUCKET and len(other) >= MIN_BUCKET:
        gap = statistics.fmean(after) - statistics.fmean(other)
        if gap >= MEAN_GAP:
            return "brighter_after"
        if gap <= -MEAN_GAP:
            return "heavier_after"
        spread_after, spread_other = statistics.pstdev(after), statistics.pstdev(other)
        if spread_after + SPREAD_GAP <= spread_other:
            return "steadier_after"
        if spread_after >= spread_other + SPREAD_GAP:
            return "shakier_after"
        return "similar_after"
    if trend == "up":
        return "rising"
    if trend == "down":
        return "falling"
    if trend == "flat":
        return "steady"
    return "few"


def summarise(
    moods: Sequence[MoodEntry],
    *,
    now: datetime,
    weeks: int,
    session: WeeklySessionRow | None,
    timezone: str,
) -> MoodSummary:
    """Summarise the entries of the last `weeks` weeks (entries outside the window are ignored)."""
    end = now
    start = end - timedelta(weeks=weeks)
    zone = _zone(timezone)
    points = tuple(
        MoodPoint(m.created_at, m.score)
        for m in sorted(moods, key=lambda m: (m.created_at, m.id))
        if start <= m.created_at < end
    )
    buckets: list[list[int]] = [[] for _ in range(weeks)]
    for p in points:
        index = min(weeks - 1, int((p.at - start) / timedelta(weeks=1)))
        buckets[index].append(p.score)
    weekly = tuple(statistics.fmean(b) if b else None for b in buckets)
    change = _fitted_change(weekly)
    trend: Trend
    if change is None:
        trend = "unknown"
    elif change >= TREND_CHANGE:
        trend = "up"
    elif change <= -TREND_CHANGE:
        trend = "down"
    else:
        trend = "flat"
    starts = session_starts(session, start, end, zone)
    after = [p.score for p in points if _after_session(p.at, starts)]
    other = [p.score for p in points if not _after_session(p.at, starts)] if starts else []
    scores = [p.score for p in points]
    return MoodSummary(
        weeks=weeks,
        start=start,
        end=end,
        timezone=zone.key,
        count=len(points),
        mean=statistics.fmean(scores) if scores else None,
        weekly=weekly,
        trend=trend,
        change=change,
        sparkline=sparkline(weekly),
        pattern=_pattern(scores, after, other, trend),
        after_mean=statistics.fmean(after) if after else None,
        other_mean=statistics.fmean(other) if other else None,
        points=points,
        session_starts=tuple(s for s in starts if start <= s < end),
    )


# -- journal pages ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JournalPage:
    entries: tuple[JournalEntry, ...]
    page: int  # 0-based, clamped to the pages that exist
    pages: int  # at least 1
    total: int


@dataclass(frozen=True, slots=True)
class NoteResult:
    outcome: NoteOutcome
    entry_id: int | None = None


def clean_text(text: str, limit: int = MAX_NOTE) -> str:
    """Text as it will be stored: valid UTF-8 (lone surrogates replaced), no NULs, trimmed."""
    safe = text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")
    return safe.strip()[:limit]


# -- export -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportFiles:
    """Both documents /export sends; `stem` is the file name without extension (dated)."""

    stem: str
    markdown: str
    json: str


def _plain(value: Any) -> Any:
    """Dataclasses, datetimes and tuples as JSON-ready data (datetimes as ISO 8601 UTC)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return None  # never export ciphertext; the storage layer gives decrypted text
    return value


# -- the service --------------------------------------------------------------------------------


class JournalService:
    def __init__(
        self,
        storage: Storage,
        profile: ProfileService,
        clock: Clock,
        strings: Strings,
        *,
        retention_days: int | None = None,
        page_size: int = PAGE_SIZE,
        library: Library | None = None,
    ) -> None:
        self.storage = storage
        self.profile = profile
        self.clock = clock
        self.strings = strings
        self.library = library
        self.retention_days = retention_days
        self.page_size = page_size

    # journal

    async def page(self, user_id: int, page: int) -> JournalPage:
        total = await self.storage.count_entries(user_id)
        pages = max(1, math.ceil(total / self.page_size))
        page = min(max(0, page), pages - 1)
        entries = await self.storage.entries(user_id, self.page_size, page * self.page_size)
        return JournalPage(tuple(entries), page, pages, total)

    async def add_note(
        self, user_id: int, text: str, *, kind: JournalKind = "note", bring: bool = False
    ) -> NoteResult:
        """Store a note only with the client's consent; otherwise store nothing and say why."""
        user = await self.profile.get(user_id)
        if user is None:
            return NoteResult("no_user")
        if not user.consent:
            return NoteResult("no_consent")
        body = clean_text(text)
        if not body:
            return NoteResult("empty")
        entry_id = await self.storage.add_entry(user_id, kind, body, self.clock.now(), bring=bring)
        log.info("journal entry %s added (%d chars)", entry_id, len(body))
        return NoteResult("saved", entry_id)

    async def entry(self, user_id: int, entry_id: int) -> JournalEntry | None:
        return await self.storage.get_entry(user_id, entry_id)

    async def delete(self, user_id: int, entry_id: int) -> bool:
        deleted = await self.storage.delete_entry(user_id, entry_id)
        if deleted:
            log.info("journal entry %s deleted", entry_id)
        return deleted

    async def toggle_bring(self, user_id: int, entry_id: int) -> bool | None:
        """Flip "bring to therapy"; the new value, or None when the entry is not the client's."""
        found = await self.storage.get_entry(user_id, entry_id)
        if found is None:
            return None
        value = not found.bring
        if not await self.storage.set_bring(user_id, entry_id, value):
            return None
        return value

    # mood

    async def mood(self, user_id: int, weeks: int, user: User | None = None) -> MoodSummary:
        user = user or await self.profile.get(user_id)
        zone = user.timezone if user else self.profile.defaults.timezone
        now = self.clock.now()
        since = now - timedelta(weeks=weeks)
        moods = await self.storage.moods(user_id, since)
        session = await self.storage.get_session(user_id)
        return summarise(moods, now=now, weeks=weeks, session=session, timezone=zone)

    # export

    async def export(self, user_id: int, lang: str) -> ExportFiles | None:
        data = await self.storage.export_user(user_id)
        if not data:
            return None
        user: User = data["user"]
        now = self.clock.now()
        zone = _zone(user.timezone)
        stem = f"supportbot-export-{now.astimezone(zone).date().isoformat()}"
        document = self._json_document(data, now)
        markdown = self._markdown(data, lang, zone, now)
        return ExportFiles(
            stem=stem,
            markdown=markdown,
            json=json.dumps(document, ensure_ascii=False, indent=2),
        )

    def _json_document(self, data: dict[str, Any], now: datetime) -> dict[str, Any]:
        user: User = data["user"]
        session: WeeklySessionRow | None = data["session"]
        settings = _plain(user)
        return {
            "format": "supportbot-export",
            "version": EXPORT_FORMAT_VERSION,
            "exported_at": _plain(now),
            "settings": settings,
            "schedule": None
            if session is None
            else {
                "weekday": session.weekday,
                "time": _clock_time(session.at_minute),
                "timezone": user.timezone,
            },
            "checkins": [
                {k: v for k, v in _plain(c).items() if k != "user_id"} for c in data["checkins"]
            ],
            "moods": [
                {k: v for k, v in _plain(m).items() if k != "user_id"} for m in data["moods"]
            ],
            "journal": [
                {k: v for k, v in _plain(e).items() if k != "user_id"} for e in data["journal"]
            ],
        }

    def _markdown(
        self,
        data: dict[str, Any],
        lang: str,
        zone: ZoneInfo,
        now: datetime,
    ) -> str:
        s = self.strings

        def label(key: str, **values: object) -> str:
            # Markdown, not HTML: fill the raw template so client text is not HTML-escaped.
            template = s.raw(lang, f"journal.export.{key}")
            return (
                template.format_map({k: str(v) for k, v in values.items()}) if values else template
            )

        def when(value: datetime | None) -> str:
            if value is None:
                return "—"
            return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")

        user: User = data["user"]
        lines = [
            f"# {label('title')}",
            "",
            label("intro", date=when(now), zone=zone.key),
            "",
            f"## {label('settings')}",
            "",
        ]
        for key, value in _settings_rows(user):
            shown = value
            if isinstance(value, bool):
                shown = label("yes" if value else "no")
            elif isinstance(value, datetime):
                shown = when(value)
            elif value is None:
                shown = "—"
            lines.append(f"- **{label(f'field.{key}')}**: {shown}")
        lines += ["", f"## {label('schedule')}", ""]
        session: WeeklySessionRow | None = data["session"]
        if session is None:
            lines.append(label("no_schedule"))
        else:
            lines.append(
                label(
                    "weekly_session",
                    weekday=_weekday_name(session.weekday, lang),
                    time=_clock_time(session.at_minute),
                    zone=user.timezone,
                )
            )
        lines += ["", f"## {label('checkins')}", ""]
        checkins = data["checkins"]
        if not checkins:
            lines.append(label("none"))
        for c in checkins:
            lines.append(
                "- "
                + label(
                    "checkin_line",
                    due=when(c.due_at),
                    kind=label(f"checkin_kind.{c.kind}"),
                    state=label(f"state.{c.state}"),
                )
            )
        lines += ["", f"## {label('moods')}", ""]
        moods: list[MoodEntry] = data["moods"]
        if not moods:
            lines.append(label("none"))
        for m in moods:
            lines.append("- " + label("mood_line", date=when(m.created_at), score=m.score))
        lines += ["", f"## {label('journal')}", ""]
        entries: list[JournalEntry] = data["journal"]
        if not entries:
            lines.append(label("none"))
        for e in entries:
            heading = label(
                "entry_heading",
                date=when(e.created_at),
                kind=s.raw(lang, f"journal.kind.{e.kind}"),
            )
            if e.bring:
                heading += " — " + label("bring")
            lines += [f"### {heading}", ""]
            prompt = self.prompt_text(lang, e.prompt_id)
            if prompt:
                lines += [label("prompt_line", prompt=prompt), ""]
            lines += [f"> {line}" if line else ">" for line in e.text.splitlines() or [""]]
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    def prompt_text(self, lang: str, prompt_id: str | None) -> str | None:
        """The reflection question an entry answered, in the client's language (if still shipped)."""
        if not prompt_id or self.library is None:
            return None
        found = self.library.prompt(lang, prompt_id)
        return found.text if found else None

    # forgetting and retention

    async def forget_preview(self, user_id: int) -> dict[str, int] | None:
        """What /forget would delete (counts), or None when nothing is stored about the client."""
        counts = await self.storage.rows_for_user(user_id)
        if not any(counts.values()):
            return None
        pending = await self.storage.pending_checkins(user_id)
        return {**counts, "pending": len(pending)}

    async def forget(self, user_id: int) -> dict[str, int]:
        """Every row about the client, then the in-memory locale (the crisis path's cache)."""
        counts = await self.storage.forget_user(user_id)
        self.profile.cache.drop(user_id)
        log.info("client data deleted (%d rows)", sum(counts.values()))
        return counts

    async def apply_retention(self) -> int:
        """Delete entries older than the operator's retention period (None: keep everything)."""
        if not self.retention_days:
            return 0
        cutoff = self.clock.now() - timedelta(days=self.retention_days)
        deleted = await self.storage.delete_older_than(cutoff)
        log.info(
            "retention: %d old rows deleted (older than %d days)", deleted, self.retention_days
        )
        return deleted


def _clock_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _settings_rows(user: User) -> list[tuple[str, object]]:
    """The client's settings in reading order (labels live in messages/, under export.field)."""
    return [
        ("language", user.language),
        ("country", user.country),
        ("timezone", user.timezone),
        ("consent", user.consent),
        ("checkins_enabled", user.checkins_enabled),
        ("delay_minutes", user.delay_minutes),
        ("session_minutes", user.session_minutes),
        ("quiet_hours", f"{_clock_time(user.quiet_start)}–{_clock_time(user.quiet_end)}"),
        ("paused_until", user.paused_until),
        ("bring_reminder", user.bring_reminder),
        ("start_code", user.start_code),
        ("ignored_streak", user.ignored_streak),
        ("blocked", user.blocked),
        ("chat_id", user.chat_id),
        ("user_id", user.user_id),
        ("created_at", user.created_at),
    ]


def _weekday_name(weekday: int, lang: str) -> str:
    from babel.dates import format_date

    monday = date(2024, 1, 1)  # a Monday
    return str(format_date(monday + timedelta(days=weekday), "EEEE", locale=lang))
