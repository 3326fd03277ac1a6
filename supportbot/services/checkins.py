"""Post-session check-ins: the use cases behind /session, /pause, /resume, /checkins and the
check-in buttons, and the planning the dispatcher asks for. No telegram import.

Rows in the `checkins` table are the plan. Weekly rows carry the UTC start of the session they
follow in `session_at`; one-off rows ("/session now") leave it empty, which is how the two are
told apart. The next weekly row is computed from the client's IANA zone by
`scheduling.rules` (DST-safe, quiet hours and pauses respected) whenever one is sent, skipped or
failed, when a setting changes, and at start for anyone missing one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_time, get_day_names
from babel.lists import format_list
from babel.units import format_unit

from supportbot.clock import Clock
from supportbot.content.strings import Strings
from supportbot.scheduling.rules import (
    NEXT_MORNING,
    CheckinPrefs,
    QuietHours,
    WeeklySession,
    day_before,
    is_valid_zone,
    next_checkin,
    next_session_start,
    one_off_checkin,
    out_of_quiet,
    to_local,
)
from supportbot.storage.base import (
    Checkin,
    CheckinKind,
    JournalEntry,
    Storage,
    User,
    WeeklySessionRow,
)

log = logging.getLogger(__name__)

#: After this many check-ins in a row go unanswered, the bot asks once whether to keep sending them.
MAX_IGNORED = 3
#: "Not now" asks once more this much later.
RETRY_DELAY = timedelta(hours=1)
#: A "/session now" replaces the weekly check-in of a session this close to it, and the next weekly
#: row is computed from at least this long after the one-off, so one session never gets two.
ONE_OFF_WINDOW = timedelta(hours=12)
#: Choices offered for the delay (minutes; NEXT_MORNING for "the next morning").
DELAY_CHOICES = (30, 60, 120, 180, 240, NEXT_MORNING)
MIN_DELAY, MAX_DELAY = 30, 12 * 60
SESSION_CHOICES = (45, 50, 60, 90)
MIN_SESSION, MAX_SESSION = 10, 4 * 60
PAUSE_CHOICES = (3, 7, 14)
MAX_PAUSE_DAYS = 365
#: Reminder entries shown at most (the rest are counted).
MAX_BRING_SHOWN = 10
_PAGE = 500

Action = Literal["checkin", "retry", "ask_continue", "reminder", "skip"]


def minute_of(at: time) -> int:
    return at.hour * 60 + at.minute


def time_of(minute: int) -> time:
    return time(minute // 60 % 24, minute % 60)


def zone_of(user: User) -> str:
    return user.timezone if is_valid_zone(user.timezone) else "UTC"


def prefs_of(user: User) -> CheckinPrefs:
    delay = user.delay_minutes
    if delay != NEXT_MORNING and not 0 <= delay <= 14 * 24 * 60:
        delay = 120
    return CheckinPrefs(
        delay_minutes=delay,
        session_minutes=min(max(user.session_minutes, 1), 24 * 60),
        quiet=QuietHours(time_of(user.quiet_start), time_of(user.quiet_end)),
        paused_until=user.paused_until,
    )


def weekly_of(user: User, row: WeeklySessionRow) -> WeeklySession:
    return WeeklySession(row.weekday, time_of(row.at_minute), zone_of(user))


def session_start_for(session: WeeklySession, due: datetime) -> datetime:
    """The session a weekly check-in due at `due` follows: the latest session start before it.

    Starts are a week apart give or take a DST hour, so the latest one at or before `due` is one
    of the first two after `due` - 7 days - 2 hours: two calls, no loop.
    """
    first = next_session_start(session, due - timedelta(days=7, hours=2))
    second = next_session_start(session, first)
    return second if second <= due else first


def next_weekly_row(
    user: User, row: WeeklySessionRow, after: datetime
) -> tuple[datetime, datetime]:
    """(due, session start) of the client's first weekly check-in strictly after `after`."""
    session = weekly_of(user, row)
    due = next_checkin(session, prefs_of(user), after)
    return due, session_start_for(session, due)


def next_reminder_row(
    user: User, row: WeeklySessionRow, after: datetime
) -> tuple[datetime, datetime]:
    """(due, session start) of the "bring to therapy" note before the next session."""
    session = weekly_of(user, row)
    prefs = prefs_of(user)
    start = next_session_start(session, after)
    for _ in range(60):
        due = day_before(start, session.tz, prefs.quiet)
        if due > after and not prefs.paused_at(due):
            return due, start
        start = next_session_start(session, start)
    raise ValueError("no reminder time found within a year")  # a pause longer than a year


# -- formatting (Babel, in the client's language and zone) ---------------------------------------


def format_when(strings: Strings, lang: str, instant: datetime, tz: str) -> str:
    """A local date and time, e.g. "Tuesday, January 13 at 7:50 PM" / "martes 13 de enero, 19:50"."""
    pattern = strings.raw(lang, "checkins.format.datetime")
    return str(format_datetime(instant, pattern, tzinfo=ZoneInfo(tz), locale=lang))


def format_clock(lang: str, at: time) -> str:
    return str(format_time(at, "short", locale=lang))


def weekday_name(lang: str, weekday: int, *, capital: bool = False) -> str:
    """The weekday as the language writes it mid-sentence ("Tuesday", "martes"), or capitalised."""
    name = str(get_day_names("wide", locale=lang)[weekday])
    return name[:1].upper() + name[1:] if capital else name


def format_minutes(lang: str, minutes: int) -> str:
    """90 -> "1 hour and 30 minutes" / "1 hora y 30 minutos"."""
    hours, rest = divmod(minutes, 60)
    parts = []
    if hours:
        parts.append(str(format_unit(hours, "duration-hour", length="long", locale=lang)))
    if rest or not hours:
        parts.append(str(format_unit(rest, "duration-minute", length="long", locale=lang)))
    return str(format_list(parts, locale=lang))


def format_quiet(strings: Strings, lang: str, user: User) -> str:
    if user.quiet_start == user.quiet_end:
        return strings.t(lang, "checkins.settings.quiet_none")
    return strings.t(
        lang,
        "checkins.settings.quiet_range",
        start=format_clock(lang, time_of(user.quiet_start)),
        end=format_clock(lang, time_of(user.quiet_end)),
    )


def format_delay(strings: Strings, lang: str, minutes: int) -> str:
    if minutes == NEXT_MORNING:
        return strings.t(lang, "checkins.settings.delay_morning")
    return strings.t(lang, "checkins.settings.delay_after", duration=format_minutes(lang, minutes))


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What the dispatcher should send for one claimed row (the handler layer renders it)."""

    checkin: Checkin
    action: Action
    user: User | None = None
    reason: str = ""
    #: Whether the session was today in the client's zone ("today's session" vs "your session").
    same_day: bool = True
    entries: tuple[JournalEntry, ...] = ()
    more_entries: int = 0


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A weekly session as set, with the next check-in it leads to (None when none is planned)."""

    weekday: int
    at: time
    next_due: datetime | None
    tz: str


@dataclass(frozen=True, slots=True)
class NotNowResult:
    status: Literal["ok", "already", "invalid"]
    #: When the one repeat goes out; None when none will (e.g. it would fall inside a pause).
    due: datetime | None = None


@dataclass(frozen=True, slots=True)
class AnswerResult:
    status: Literal["ok", "already", "invalid"]
    saved: bool = False
    score: int = 0

    @property
    def band(self) -> Literal["low", "mid", "good"]:
        return "low" if self.score <= 2 else "mid" if self.score == 3 else "good"


class CheckinService:
    def __init__(
        self,
        storage: Storage,
        strings: Strings,
        clock: Clock,
        *,
        max_ignored: int = MAX_IGNORED,
        retry_delay: timedelta = RETRY_DELAY,
    ) -> None:
        self.storage = storage
        self.strings = strings
        self.clock = clock
        self.max_ignored = max_ignored
        self.retry_delay = retry_delay

    # -- the weekly session --------------------------------------------------------------------

    async def set_weekly(self, user_id: int, weekday: int, at: time) -> Scheduled:
        """Set (or move) the weekly session; check-ins back on; the next rows computed afresh."""
        if not 0 <= weekday <= 6:
            raise ValueError("weekday is 0..6")
        await self.storage.set_session(user_id, weekday, minute_of(at))
        user = await self._activate(user_id)
        await self._cancel_weekly(user_id)
        await self.schedule_for([user_id], self.clock.now())
        return Scheduled(weekday, at, await self.next_due(user_id), zone_of(user))

    async def session_now(self, user_id: int) -> datetime:
        """ "I just finished a session": one check-in after the delay (instead of the weekly one
        for a session this close)."""
        now = self.clock.now()
        user = await self._activate(user_id)
        due = one_off_checkin(now, zone_of(user), prefs_of(user))
        duplicates = [
            c.id
            for c in await self.storage.pending_checkins(user_id)
            if c.kind == "checkin"
            and c.session_at is not None
            and abs(c.session_at - now) <= ONE_OFF_WINDOW
        ]
        if duplicates:
            await self.storage.cancel_checkins(user_id, duplicates)
        await self.storage.schedule_rows([(user_id, "checkin", due, None)])
        return due

    async def session_off(self, user_id: int) -> None:
        await self.storage.clear_session(user_id)
        await self._cancel_weekly(user_id)

    async def get_weekly(self, user_id: int) -> WeeklySessionRow | None:
        return await self.storage.get_session(user_id)

    async def next_due(self, user_id: int) -> datetime | None:
        """The next check-in (weekly, one-off or a "not now" repeat) the client will get."""
        pending = await self.storage.pending_checkins(user_id)
        dues = [c.due_at for c in pending if c.kind in ("checkin", "retry")]
        return min(dues) if dues else None

    # -- preferences ---------------------------------------------------------------------------

    async def set_delay(self, user_id: int, minutes: int) -> User:
        if minutes != NEXT_MORNING and not MIN_DELAY <= minutes <= MAX_DELAY:
            raise ValueError("delay out of range")
        return await self._change(user_id, delay_minutes=minutes)

    async def set_quiet(self, user_id: int, quiet: QuietHours | None) -> User:
        start = minute_of(quiet.start) if quiet else 0
        end = minute_of(quiet.end) if quiet else 0
        return await self._change(user_id, quiet_start=start, quiet_end=end)

    async def set_session_length(self, user_id: int, minutes: int) -> User:
        if not MIN_SESSION <= minutes <= MAX_SESSION:
            raise ValueError("session length out of range")
        return await self._change(user_id, session_minutes=minutes)

    async def set_bring_reminder(self, user_id: int, on: bool) -> User:
        return await self._change(user_id, bring_reminder=on)

    async def pause(self, user_id: int, days: int) -> datetime:
        """No check-ins for `days`: pending ones are cancelled, those inside the pause dropped."""
        if not 1 <= days <= MAX_PAUSE_DAYS:
            raise ValueError("pause is 1..365 days")
        until = self.clock.now() + timedelta(days=days)
        await self.storage.update_user(user_id, paused_until=until)
        await self.storage.cancel_pending(user_id)
        await self.schedule_for([user_id], self.clock.now())
        return until

    async def resume(self, user_id: int) -> datetime | None:
        """End a pause, and turn check-ins back on if they were stopped."""
        await self._change(
            user_id, paused_until=None, checkins_enabled=True, ignored_streak=0, blocked=False
        )
        return await self.next_due(user_id)

    async def on_timezone_changed(self, user_id: int) -> None:
        """Local times moved: recompute the client's upcoming weekly rows in the new zone."""
        if await self.storage.get_user(user_id) is None:
            return
        await self._cancel_weekly(user_id)
        await self.schedule_for([user_id], self.clock.now())

    async def _change(self, user_id: int, **fields: object) -> User:
        user = await self.storage.update_user(user_id, **fields)
        await self._cancel_weekly(user_id)
        await self.schedule_for([user_id], self.clock.now())
        return user

    async def _cancel_weekly(self, user_id: int) -> None:
        ids = [
            c.id
            for c in await self.storage.pending_checkins(user_id)
            if c.kind in ("checkin", "reminder") and c.session_at is not None
        ]
        if ids:
            await self.storage.cancel_checkins(user_id, ids)

    async def _activate(self, user_id: int) -> User:
        """The client asked for check-ins: on, streak reset, and not blocked (they are writing)."""
        user = await self._user(user_id)
        if not user.checkins_enabled or user.ignored_streak or user.blocked:
            user = await self.storage.update_user(
                user_id, checkins_enabled=True, ignored_streak=0, blocked=False
            )
        return user

    async def _user(self, user_id: int) -> User:
        user = await self.storage.get_user(user_id)
        if user is None:
            raise LookupError("no such client")
        return user

    # -- answers -------------------------------------------------------------------------------

    async def _sent_row(
        self, user_id: int, checkin_id: int, kinds: Iterable[str]
    ) -> Checkin | None:
        row = await self.storage.get_checkin(checkin_id)
        if row is None or row.user_id != user_id or row.kind not in kinds or row.state != "sent":
            return None
        return row

    async def answer(self, user_id: int, checkin_id: int, score: int) -> AnswerResult:
        """A 1-5 answer: saved as a mood entry when the client consented; streak reset."""
        if not 1 <= score <= 5:
            return AnswerResult("invalid")
        row = await self._sent_row(user_id, checkin_id, ("checkin", "retry"))
        if row is None:
            return AnswerResult("invalid")
        now = self.clock.now()
        if not await self.storage.mark_answered(row.id, now):
            return AnswerResult("already", score=score)
        user = await self._user(user_id)
        saved = False
        if user.consent:
            await self.storage.add_mood(user_id, score, now, checkin_id=row.id)
            saved = True
        if user.ignored_streak:
            await self.storage.update_user(user_id, ignored_streak=0)
        return AnswerResult("ok", saved=saved, score=score)

    async def not_now(self, user_id: int, checkin_id: int) -> NotNowResult:
        """Ask once more an hour later (out of quiet hours). Only for a first check-in, once."""
        row = await self._sent_row(user_id, checkin_id, ("checkin",))
        if row is None:
            return NotNowResult("invalid")
        now = self.clock.now()
        if not await self.storage.mark_answered(row.id, now):
            return NotNowResult("already")
        user = await self._user(user_id)
        if user.ignored_streak:
            await self.storage.update_user(user_id, ignored_streak=0)
        prefs = prefs_of(user)
        due = out_of_quiet(now + self.retry_delay, zone_of(user), prefs.quiet)
        if prefs.paused_at(due) or not user.checkins_enabled:
            return NotNowResult("ok")
        await self.storage.schedule_rows([(user_id, "retry", due, row.session_at)])
        return NotNowResult("ok", due)

    async def stop(self, user_id: int, checkin_id: int | None = None) -> None:
        """ "Stop these": no more check-ins or reminders until /session or /resume."""
        if checkin_id is not None:
            row = await self.storage.get_checkin(checkin_id)
            if row is not None and row.user_id == user_id:
                await self.storage.mark_answered(row.id, self.clock.now())
        await self.storage.update_user(user_id, checkins_enabled=False, ignored_streak=0)
        await self.storage.cancel_pending(user_id)

    async def keep_going(self, user_id: int, checkin_id: int) -> datetime | Literal[False] | None:
        """The answer "yes, keep them" to the ask-to-continue message; False for a stale button."""
        row = await self._sent_row(user_id, checkin_id, ("ask_continue",))
        if row is None:
            return False
        await self.storage.mark_answered(row.id, self.clock.now())
        await self._change(user_id, ignored_streak=0, checkins_enabled=True, blocked=False)
        return await self.next_due(user_id)

    async def valid_row(self, user_id: int, checkin_id: int, kinds: Iterable[str]) -> bool:
        return await self._sent_row(user_id, checkin_id, kinds) is not None

    async def save_thought(self, user_id: int, text: str) -> bool:
        """Keep a thought in the client's (encrypted) journal; only with consent."""
        user = await self.storage.get_user(user_id)
        if user is None or not user.consent:
            return False
        await self.storage.add_entry(user_id, "thought", text, self.clock.now())
        return True

    # -- planning for the dispatcher -----------------------------------------------------------

    async def plan(self, rows: Sequence[Checkin], now: datetime) -> list[Plan]:
        """Decide, per claimed row, what goes out (or why nothing does)."""
        users = await self.storage.get_users([r.user_id for r in rows])
        plans: list[Plan] = []
        asks: dict[int, datetime] = {}
        for row in rows:
            user = users.get(row.user_id)
            reason = self._skip_reason(row, user, now)
            if user is None or reason:
                plans.append(Plan(row, "skip", user, reason or "no client"))
                continue
            if row.kind == "checkin" and user.ignored_streak >= self.max_ignored:
                # Three in a row unanswered: ask once whether to keep going, instead of this one.
                if user.ignored_streak == self.max_ignored and user.user_id not in asks:
                    asks[user.user_id] = now
                plans.append(Plan(row, "skip", user, "ask to continue instead"))
                continue
            if row.kind == "reminder":
                plans.append(await self._plan_reminder(row, user))
                continue
            plans.append(Plan(row, row.kind, user, same_day=self._same_day(row, user, now)))
        if asks:
            await self.storage.schedule_rows(
                [(u, "ask_continue", at, None) for u, at in asks.items()]
            )
            await self.storage.add_ignored(list(asks))  # past the threshold: asked only once
        return plans

    def _skip_reason(self, row: Checkin, user: User | None, now: datetime) -> str:
        if user is None:
            return "no client"
        if user.blocked:
            return "blocked"
        if not user.checkins_enabled and row.kind != "ask_continue":
            return "stopped"
        if user.paused_until is not None and now < user.paused_until:
            return "paused"
        return ""

    def _same_day(self, row: Checkin, user: User, now: datetime) -> bool:
        tz = zone_of(user)
        if row.session_at is None:
            return user.delay_minutes != NEXT_MORNING
        return to_local(row.session_at, tz).date() == to_local(now, tz).date()

    async def _plan_reminder(self, row: Checkin, user: User) -> Plan:
        if not user.bring_reminder:
            return Plan(row, "skip", user, "reminder off")
        session_at = row.session_at or row.due_at
        entries = await self.storage.bring_entries(user.user_id, session_at - timedelta(days=7))
        if not entries:
            return Plan(row, "skip", user, "nothing to bring")
        shown = tuple(entries[:MAX_BRING_SHOWN])
        return Plan(row, "reminder", user, entries=shown, more_entries=len(entries) - len(shown))

    async def after_sent(self, rows: Sequence[Checkin], now: datetime) -> None:
        """A check-in went out: count it as unanswered until answered; plan the next ones."""
        checkins = [r for r in rows if r.kind == "checkin"]
        if checkins:
            await self.storage.add_ignored([r.user_id for r in checkins])
        await self._follow_up(rows, now)

    async def after_dropped(self, rows: Sequence[Checkin], now: datetime) -> None:
        await self._follow_up(rows, now)

    async def _follow_up(self, rows: Sequence[Checkin], now: datetime) -> None:
        floors: dict[int, datetime] = {}
        reminders: list[int] = []
        for row in rows:
            if row.kind == "checkin":
                # After a one-off, the weekly check-in of that same session is not sent as well.
                floor = now if row.session_at is not None else max(now, row.due_at + ONE_OFF_WINDOW)
                floors[row.user_id] = max(floors.get(row.user_id, floor), floor)
            elif row.kind == "reminder":
                reminders.append(row.user_id)
        if floors:
            await self._schedule("checkin", list(floors), now, floors)
        if reminders:
            await self._schedule("reminder", reminders, now)

    async def on_blocked(self, user_id: int, now: datetime) -> None:
        await self.storage.update_user(user_id, blocked=True)
        await self.storage.cancel_pending(user_id)

    async def schedule_for(self, user_ids: Sequence[int], now: datetime) -> int:
        """Give these clients their next weekly check-in and reminder rows, if they lack them."""
        return await self._schedule("checkin", user_ids, now) + await self._schedule(
            "reminder", user_ids, now
        )

    async def ensure_all(self, now: datetime) -> int:
        """Every client with a weekly session gets their next rows (at start, and hourly)."""
        total = 0
        kinds: tuple[CheckinKind, ...] = ("checkin", "reminder")
        for kind in kinds:
            after = -1
            while True:
                found = await self.storage.weekly_needing(
                    kind,
                    after_user_id=after,
                    limit=_PAGE * 4,
                    max_streak=self._streak_limit(kind),
                    bring_only=kind == "reminder",
                )
                if not found:
                    break
                total += await self._insert(kind, found, now, {})
                after = found[-1][0].user_id
        return total

    def _streak_limit(self, kind: CheckinKind) -> int | None:
        """Clients past this streak get no new check-in rows: with exactly `max_ignored` unanswered
        the next row is still planned (it becomes the one question), after that nothing."""
        return self.max_ignored + 1 if kind == "checkin" else None

    async def _schedule(
        self,
        kind: CheckinKind,
        user_ids: Sequence[int],
        now: datetime,
        floors: dict[int, datetime] | None = None,
    ) -> int:
        total = 0
        ids = list(dict.fromkeys(user_ids))
        for start in range(0, len(ids), _PAGE):
            found = await self.storage.weekly_needing(
                kind,
                user_ids=ids[start : start + _PAGE],
                limit=_PAGE,
                max_streak=self._streak_limit(kind),
                bring_only=kind == "reminder",
            )
            total += await self._insert(kind, found, now, floors or {})
        return total

    async def _insert(
        self,
        kind: CheckinKind,
        found: Sequence[tuple[User, WeeklySessionRow]],
        now: datetime,
        floors: dict[int, datetime],
    ) -> int:
        rows: list[tuple[int, CheckinKind, datetime, datetime | None]] = []
        for user, session in found:
            after = floors.get(user.user_id, now)
            try:
                if kind == "checkin":
                    due, start = next_weekly_row(user, session, after)
                else:
                    due, start = next_reminder_row(user, session, after)
            except ValueError as exc:
                log.warning("no next %s for client %d: %s", kind, user.user_id, exc)
                continue
            rows.append((user.user_id, kind, due, start))
        return await self.storage.schedule_rows(rows) if rows else 0

    # -- /settings -----------------------------------------------------------------------------

    async def settings_lines(self, user: User) -> list[str]:
        """The check-in part of /settings, in the client's language and zone."""
        s, lang, tz = self.strings, user.language, zone_of(user)
        session = await self.storage.get_session(user.user_id)
        lines = [""]
        if session is None:
            lines.append(s.t(lang, "checkins.settings.session_none"))
        else:
            lines.append(
                s.t(
                    lang,
                    "checkins.settings.session",
                    weekday=weekday_name(lang, session.weekday),
                    time=format_clock(lang, time_of(session.at_minute)),
                )
            )
        now = self.clock.now()
        if not user.checkins_enabled:
            lines.append(s.t(lang, "checkins.settings.state_off"))
        elif user.paused_until is not None and user.paused_until > now:
            lines.append(
                s.t(
                    lang,
                    "checkins.settings.state_paused",
                    until=format_when(s, lang, user.paused_until, tz),
                )
            )
        else:
            due = await self.next_due(user.user_id)
            if due is not None:
                lines.append(
                    s.t(lang, "checkins.settings.next", when=format_when(s, lang, due, tz))
                )
        lines.append(
            s.t(lang, "checkins.settings.delay", value=format_delay(s, lang, user.delay_minutes))
        )
        lines.append(s.t(lang, "checkins.settings.quiet", value=format_quiet(s, lang, user)))
        lines.append(
            s.t(
                lang,
                "checkins.settings.length",
                value=format_minutes(lang, user.session_minutes),
            )
        )
        lines.append(
            s.t(
                lang,
                "checkins.settings.reminder_on"
                if user.bring_reminder
                else "checkins.settings.reminder_off",
            )
        )
        lines.append(s.t(lang, "checkins.settings.change"))
        return lines
