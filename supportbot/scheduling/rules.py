"""Pure schedule arithmetic: when a client's next check-in is due, in UTC.

Everything here is computed on the instant timeline (aware UTC datetimes) and only turned into
local wall-clock time where a human rule lives in local time: the session's weekday and hour, quiet
hours and "next morning". That split is what keeps DST days from skipping or doubling a check-in:

* a local time that does not exist (spring-forward gap) maps to the first instant after the gap;
* a local time that exists twice (fall-back) maps to the first occurrence (fold=0), never both;
* the next check-in is always strictly after the one before it.

No I/O, no clock reads: callers pass `now`. All functions take and return aware UTC datetimes and
raise ValueError for naive ones, because a naive datetime here is always a bug upstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: `CheckinPrefs.delay_minutes` value meaning "next morning" instead of a fixed delay.
NEXT_MORNING: Final = -1
#: Local hour of a "next morning" check-in (then moved out of quiet hours if they end later).
MORNING: Final = time(9, 0)
#: Local hour of the "note before your next session" reminder, the day before the session.
DAY_BEFORE_AT: Final = time(18, 0)

DEFAULT_DELAY_MINUTES: Final = 120
DEFAULT_SESSION_MINUTES: Final = 50
DEFAULT_GRACE: Final = timedelta(hours=6)
#: Longest delay accepted, so arithmetic stays far from datetime's limits.
MAX_DELAY_MINUTES: Final = 14 * 24 * 60
MAX_SESSION_MINUTES: Final = 24 * 60

_WEEK: Final = timedelta(days=7)
_DAY: Final = timedelta(days=1)


@lru_cache(maxsize=1024)
def zone(tz: str) -> ZoneInfo:
    """The ZoneInfo for an IANA key; ValueError (not a zoneinfo-specific error) when unknown."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def is_valid_zone(tz: str) -> bool:
    try:
        zone(tz)
    except ValueError:
        return False
    return True


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC)")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local wall-clock hours with no check-ins; may wrap midnight. start == end means none."""

    start: time = time(22, 0)
    end: time = time(8, 0)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("quiet hours are local wall-clock times (naive)")

    @property
    def enabled(self) -> bool:
        return self.start != self.end

    @property
    def wraps_midnight(self) -> bool:
        return self.start > self.end

    def contains(self, local_time: time) -> bool:
        """Whether a local wall-clock time is quiet; the start is quiet, the end is not."""
        t = local_time.replace(tzinfo=None, fold=0)
        if not self.enabled:
            return False
        if self.wraps_midnight:
            return t >= self.start or t < self.end
        return self.start <= t < self.end

    def end_after(self, local: datetime) -> datetime:
        """The naive local datetime at which the quiet period containing `local` ends."""
        day = local.date()
        if self.wraps_midnight and local.time().replace(fold=0) >= self.start:
            day += _DAY
        return datetime.combine(day, self.end)


@dataclass(frozen=True, slots=True)
class CheckinPrefs:
    """A client's check-in preferences; `paused_until` is an aware UTC instant or None."""

    delay_minutes: int = DEFAULT_DELAY_MINUTES
    session_minutes: int = DEFAULT_SESSION_MINUTES
    quiet: QuietHours = field(default_factory=QuietHours)
    paused_until: datetime | None = None

    def __post_init__(self) -> None:
        if self.delay_minutes != NEXT_MORNING and not 0 <= self.delay_minutes <= MAX_DELAY_MINUTES:
            raise ValueError(f"delay_minutes must be 0..{MAX_DELAY_MINUTES} or NEXT_MORNING")
        if not 0 < self.session_minutes <= MAX_SESSION_MINUTES:
            raise ValueError(f"session_minutes must be 1..{MAX_SESSION_MINUTES}")
        if self.paused_until is not None:
            object.__setattr__(self, "paused_until", _utc(self.paused_until, "paused_until"))

    @property
    def next_morning(self) -> bool:
        return self.delay_minutes == NEXT_MORNING

    def paused_at(self, instant_utc: datetime) -> bool:
        return self.paused_until is not None and instant_utc < self.paused_until


@dataclass(frozen=True, slots=True)
class WeeklySession:
    """A weekly therapy session: weekday (0 = Monday), local wall-clock time, IANA zone."""

    weekday: int
    at: time
    tz: str

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) .. 6 (Sunday)")
        if self.at.tzinfo is not None:
            raise ValueError("session time is a local wall-clock time (naive)")
        zone(self.tz)


# --- local <-> UTC -------------------------------------------------------------------------------


def to_local(instant_utc: datetime, tz: str) -> datetime:
    """The aware local datetime for an instant (`fold` tells the two passes of a fall-back hour)."""
    return _utc(instant_utc, "instant").astimezone(zone(tz))


def _wall(value: datetime) -> datetime:
    return value.replace(tzinfo=None, fold=0)


def resolve_local(local: datetime, tz: str, *, fold: int = 0) -> datetime:
    """The UTC instant for a naive local wall-clock time.

    Ambiguous (fall-back) times take the occurrence chosen by `fold` (0 = first). Times in a gap
    (spring-forward, or a zone skipping a day) map to the first valid instant after the gap, e.g.
    02:30 on Berlin's spring-forward day -> 03:00 CEST, so a check-in moves forward, never back.
    """
    zi = zone(tz)
    naive = local.replace(tzinfo=None, fold=0)
    candidate = naive.replace(tzinfo=zi, fold=fold).astimezone(UTC)
    if _wall(candidate.astimezone(zi)) == naive:
        return candidate
    # In a gap. fold=1 applies the offset after the transition (an instant before it), fold=0 the
    # offset before (an instant after it); the transition lies between. Bisect to the second.
    lo = naive.replace(tzinfo=zi, fold=1).astimezone(UTC)
    hi = naive.replace(tzinfo=zi, fold=0).astimezone(UTC)
    if lo > hi:
        lo, hi = hi, lo
    after_offset = hi.astimezone(zi).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid.astimezone(zi).utcoffset() == after_offset:
            hi = mid
        else:
            lo = mid
    return hi


def _first_after(local: datetime, tz: str, floor_utc: datetime) -> datetime:
    """resolve_local, but never at or before `floor_utc` (the second pass of a fall-back hour)."""
    first = resolve_local(local, tz, fold=0)
    if first > floor_utc:
        return first
    second = resolve_local(local, tz, fold=1)
    return second if second > floor_utc else floor_utc


def out_of_quiet(instant_utc: datetime, tz: str, quiet: QuietHours) -> datetime:
    """The instant itself, or the end of the quiet period (local time) that contains it."""
    instant_utc = _utc(instant_utc, "instant")
    local = to_local(instant_utc, tz)
    if not quiet.contains(local.time()):
        return instant_utc
    moved = _first_after(quiet.end_after(_wall(local)), tz, instant_utc)
    # A gap can only push the end further forward, so one more step is never needed in practice;
    # loop defensively in case a zone's transition lands inside quiet hours again.
    for _ in range(3):
        if not quiet.contains(to_local(moved, tz).time()):
            break
        moved = _first_after(quiet.end_after(_wall(to_local(moved, tz))), tz, moved)
    return moved


# --- sessions and check-ins ----------------------------------------------------------------------


def session_on(day: date, session: WeeklySession) -> datetime:
    """The UTC start of the session on a given local date (gap -> first instant after, fold=0)."""
    return resolve_local(datetime.combine(day, session.at), session.tz)


def next_session_start(session: WeeklySession, after_utc: datetime) -> datetime:
    """The next session start strictly after `after_utc`, as a UTC instant."""
    after_utc = _utc(after_utc, "after_utc")
    # Start a day back: a gap (Samoa skipped a whole day) can push yesterday's session into today.
    day = to_local(after_utc, session.tz).date() - _DAY
    day += timedelta(days=(session.weekday - day.weekday()) % 7)
    while True:
        start = session_on(day, session)
        if start > after_utc:
            return start
        day += _WEEK


def _raw_due(session_start_utc: datetime, tz: str, prefs: CheckinPrefs) -> datetime:
    if prefs.next_morning:
        local_day = to_local(session_start_utc, tz).date()
        end = session_start_utc + timedelta(minutes=prefs.session_minutes)
        return _first_after(datetime.combine(local_day + _DAY, MORNING), tz, end)
    return session_start_utc + timedelta(minutes=prefs.session_minutes + prefs.delay_minutes)


def _after_pause(due: datetime, tz: str, prefs: CheckinPrefs) -> datetime:
    if prefs.paused_until is not None and due < prefs.paused_until:
        due = out_of_quiet(prefs.paused_until, tz, prefs.quiet)
    return due


def checkin_due(session_start_utc: datetime, tz: str, prefs: CheckinPrefs) -> datetime:
    """When the check-in after one session goes out (UTC).

    start + session length + delay on the instant timeline (so a DST change during the wait neither
    shortens nor stretches it), or the next morning at 09:00 local; then moved out of quiet hours;
    then, if still inside a pause, to the pause's end (and out of quiet hours again).
    """
    start = _utc(session_start_utc, "session_start_utc")
    due = out_of_quiet(_raw_due(start, tz, prefs), tz, prefs.quiet)
    return _after_pause(due, tz, prefs)


def next_checkin(session: WeeklySession, prefs: CheckinPrefs, after_utc: datetime) -> datetime:
    """The due time of the first check-in strictly after `after_utc`.

    Sessions that started before `after_utc` still count, so a session that just ended gets its
    check-in. Calling again with the returned value walks the schedule: strictly increasing, one
    check-in per session, none twice. A pause drops (does not postpone) the check-ins that would
    have fallen inside it: a week-old "how was today's session?" would be worse than none.
    """
    after_utc = _utc(after_utc, "after_utc")
    # The longest a check-in can trail its session's start: length + delay, plus a day of quiet
    # hours (plus a gap), plus up to two days for "next morning". Earlier sessions cannot matter.
    lead = timedelta(minutes=prefs.session_minutes + max(prefs.delay_minutes, 0)) + _DAY
    lead += timedelta(hours=3) + (2 * _DAY if prefs.next_morning else timedelta(0))
    floor = after_utc
    if prefs.paused_until is not None and prefs.paused_until > floor:
        floor = prefs.paused_until
    start = next_session_start(session, floor - lead)
    while True:
        raw = _raw_due(start, session.tz, prefs)
        if not prefs.paused_at(raw):
            due = out_of_quiet(raw, session.tz, prefs.quiet)
            if due > after_utc:
                return due
        start = next_session_start(session, start)


def one_off_checkin(now_utc: datetime, tz: str, prefs: CheckinPrefs) -> datetime:
    """The check-in for "/session now" (the client just finished): now + delay, quiet hours kept.

    The session already ended, so its length is not added. With "next morning", the next 09:00 local
    on a later date. A pause postpones it to the pause's end (the client asked for this one).
    """
    now_utc = _utc(now_utc, "now_utc")
    if prefs.next_morning:
        local_day = to_local(now_utc, tz).date()
        raw = _first_after(datetime.combine(local_day + _DAY, MORNING), tz, now_utc)
    else:
        raw = now_utc + timedelta(minutes=prefs.delay_minutes)
    return _after_pause(out_of_quiet(raw, tz, prefs.quiet), tz, prefs)


def grace_decision(
    due_utc: datetime, now_utc: datetime, grace: timedelta = DEFAULT_GRACE
) -> Literal["send", "skip", "wait"]:
    """What the dispatcher does with a row: not yet due, due (at most `grace` late), or too late."""
    due_utc = _utc(due_utc, "due_utc")
    now_utc = _utc(now_utc, "now_utc")
    if now_utc < due_utc:
        return "wait"
    return "send" if now_utc - due_utc <= grace else "skip"


def day_before(
    session_start_utc: datetime,
    tz: str,
    quiet: QuietHours | None = None,
    at: time = DAY_BEFORE_AT,
) -> datetime:
    """The "note before your next session" reminder: `at` (18:00) local on the day before.

    If that falls in quiet hours it moves earlier, to an hour before they begin, so it still comes
    the evening before rather than after the session.
    """
    start = _utc(session_start_utc, "session_start_utc")
    day = to_local(start, tz).date() - _DAY
    quiet = quiet or QuietHours()
    when = at
    if quiet.contains(when):
        earlier = (datetime.combine(day, quiet.start) - timedelta(hours=1)).time()
        if not quiet.contains(earlier):
            when = earlier
    reminder = resolve_local(datetime.combine(day, when), tz)
    return min(reminder, start - timedelta(hours=1))
