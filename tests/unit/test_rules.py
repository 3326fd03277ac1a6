"""Schedule arithmetic on a fake clock: DST days in four zones (two southern), quiet hours, pauses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportbot.scheduling.rules import (
    MORNING,
    NEXT_MORNING,
    CheckinPrefs,
    QuietHours,
    WeeklySession,
    checkin_due,
    day_before,
    grace_decision,
    is_valid_zone,
    next_checkin,
    next_session_start,
    one_off_checkin,
    out_of_quiet,
    resolve_local,
    to_local,
)

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
SYDNEY = "Australia/Sydney"
SANTIAGO = "America/Santiago"

NO_QUIET = QuietHours(time(0, 0), time(0, 0))
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def local(tz: str, y: int, mo: int, d: int, h: int, mi: int = 0, fold: int = 0) -> datetime:
    """A local wall-clock time as a UTC instant (fold picks the pass of a fall-back hour)."""
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)


def wall(instant: datetime, tz: str) -> tuple[date, time]:
    loc = instant.astimezone(ZoneInfo(tz))
    return loc.date(), loc.time().replace(tzinfo=None)


# 2025 transitions: (zone, gap day, first instant after the gap as local wall time, a time inside
# the gap, ambiguous day, a time inside the repeated hour, its UTC offsets first/second pass).
SPRING = [
    (BERLIN, date(2025, 3, 30), time(3, 0), time(2, 30)),
    (NEW_YORK, date(2025, 3, 9), time(3, 0), time(2, 30)),
    (SYDNEY, date(2025, 10, 5), time(3, 0), time(2, 30)),
    (SANTIAGO, date(2025, 9, 7), time(1, 0), time(0, 30)),
]
FALL = [
    (BERLIN, date(2025, 10, 26), time(2, 30), timedelta(hours=2), timedelta(hours=1)),
    (NEW_YORK, date(2025, 11, 2), time(1, 30), timedelta(hours=-4), timedelta(hours=-5)),
    (SYDNEY, date(2025, 4, 6), time(2, 30), timedelta(hours=11), timedelta(hours=10)),
    (SANTIAGO, date(2025, 4, 5), time(23, 30), timedelta(hours=-3), timedelta(hours=-4)),
]


# --- local time resolution -----------------------------------------------------------------------


@pytest.mark.parametrize(("tz", "day", "after_gap", "inside"), SPRING)
def test_time_in_spring_forward_gap_maps_to_first_instant_after_it(
    tz: str, day: date, after_gap: time, inside: time
) -> None:
    got = resolve_local(datetime.combine(day, inside), tz)
    assert wall(got, tz) == (day, after_gap)
    # And it really is the transition: one second earlier is still the old offset, before the gap.
    before = (got - timedelta(seconds=1)).astimezone(ZoneInfo(tz))
    assert before.utcoffset() != got.astimezone(ZoneInfo(tz)).utcoffset()


@pytest.mark.parametrize(("tz", "day", "inside", "first", "second"), FALL)
def test_ambiguous_time_takes_first_occurrence(
    tz: str, day: date, inside: time, first: timedelta, second: timedelta
) -> None:
    naive = datetime.combine(day, inside)
    got = resolve_local(naive, tz)
    assert got == (naive - first).replace(tzinfo=UTC)
    assert resolve_local(naive, tz, fold=1) == (naive - second).replace(tzinfo=UTC)


def test_zone_that_skipped_a_whole_day_maps_to_the_next_day() -> None:
    # Samoa moved across the date line: 2011-12-30 never happened in Pacific/Apia.
    got = resolve_local(datetime(2011, 12, 30, 17, 0), "Pacific/Apia")
    assert wall(got, "Pacific/Apia") == (date(2011, 12, 31), time(0, 0))


def test_two_hour_dst_jump_maps_to_end_of_gap() -> None:
    # Antarctica/Troll jumps from +00 to +02 at 01:00 UTC.
    got = resolve_local(datetime(2025, 3, 30, 2, 0), "Antarctica/Troll")
    assert got == utc(2025, 3, 30, 1, 0)


# --- weekly sessions -----------------------------------------------------------------------------


@pytest.mark.parametrize(("tz", "day", "after_gap", "inside"), SPRING)
def test_session_inside_gap_happens_once_at_gap_end(
    tz: str, day: date, after_gap: time, inside: time
) -> None:
    session = WeeklySession(day.weekday(), inside, tz)
    eight_days_before = datetime.combine(day - timedelta(days=8), time(12)).replace(tzinfo=UTC)
    week_before = next_session_start(session, eight_days_before)
    on_day = next_session_start(session, week_before)
    assert wall(on_day, tz) == (day, after_gap)
    week_after = next_session_start(session, on_day)
    assert wall(week_after, tz) == (day + timedelta(days=7), inside)
    assert wall(week_before, tz) == (day - timedelta(days=7), inside)


@pytest.mark.parametrize(("tz", "day", "inside", "first", "second"), FALL)
def test_session_inside_repeated_hour_happens_once(
    tz: str, day: date, inside: time, first: timedelta, second: timedelta
) -> None:
    session = WeeklySession(day.weekday(), inside, tz)
    starts = [next_session_start(session, utc(day.year, day.month, day.day) - timedelta(days=2))]
    starts.append(next_session_start(session, starts[0]))
    naive = datetime.combine(day, inside)
    assert starts[0] == (naive - first).replace(tzinfo=UTC)
    # Not the second pass an hour later: the next one is a week on.
    assert starts[1] == (naive + timedelta(days=7) - second).replace(tzinfo=UTC)


@pytest.mark.parametrize("tz", [BERLIN, NEW_YORK, SYDNEY, SANTIAGO])
def test_session_keeps_its_local_time_all_year(tz: str) -> None:
    session = WeeklySession(WED, time(18, 15), tz)
    start = next_session_start(session, utc(2025, 1, 1))
    offsets = set()
    for _ in range(53):
        day, at = wall(start, tz)
        assert (day.weekday(), at) == (WED, time(18, 15))
        offsets.add(start.astimezone(ZoneInfo(tz)).utcoffset())
        nxt = next_session_start(session, start)
        assert (nxt - start) in (
            timedelta(days=7),
            timedelta(days=7, hours=1),
            timedelta(days=7, hours=-1),
        )
        start = nxt
    assert len(offsets) == 2  # the year crossed both transitions


def test_next_session_start_is_strictly_after() -> None:
    session = WeeklySession(TUE, time(17, 0), BERLIN)
    exact = local(BERLIN, 2025, 6, 3, 17, 0)
    assert next_session_start(session, exact - timedelta(seconds=1)) == exact
    assert next_session_start(session, exact) == exact + timedelta(days=7)


# --- check-in due times --------------------------------------------------------------------------


def test_checkin_due_is_session_length_plus_delay() -> None:
    start = local(BERLIN, 2025, 6, 3, 17, 0)
    due = checkin_due(start, BERLIN, CheckinPrefs())
    assert due - start == timedelta(minutes=50 + 120)
    assert wall(due, BERLIN) == (date(2025, 6, 3), time(19, 50))


@pytest.mark.parametrize(("tz", "day", "inside", "first", "second"), FALL)
def test_delay_over_fall_back_is_real_elapsed_time(
    tz: str, day: date, inside: time, first: timedelta, second: timedelta
) -> None:
    start = local(tz, day.year, day.month, day.day, inside.hour, inside.minute) - timedelta(hours=2)
    due = checkin_due(start, tz, CheckinPrefs(quiet=NO_QUIET))
    assert due - start == timedelta(minutes=170)


@pytest.mark.parametrize(("tz", "day", "after_gap", "inside"), SPRING)
def test_delay_over_spring_forward_is_real_elapsed_time(
    tz: str, day: date, after_gap: time, inside: time
) -> None:
    start = resolve_local(datetime.combine(day, after_gap), tz) - timedelta(hours=1)
    due = checkin_due(start, tz, CheckinPrefs(quiet=NO_QUIET))
    assert due - start == timedelta(minutes=170)


def test_checkin_in_quiet_hours_moves_to_their_end_next_morning() -> None:
    start = local(BERLIN, 2025, 6, 3, 20, 30)  # ends 21:20, +2h = 23:20: quiet
    due = checkin_due(start, BERLIN, CheckinPrefs())
    assert wall(due, BERLIN) == (date(2025, 6, 4), time(8, 0))


def test_checkin_after_midnight_in_quiet_hours_moves_to_same_morning() -> None:
    start = local(BERLIN, 2025, 6, 3, 23, 0)  # due 01:50 on the 4th
    due = checkin_due(start, BERLIN, CheckinPrefs())
    assert wall(due, BERLIN) == (date(2025, 6, 4), time(8, 0))


def test_quiet_hours_not_wrapping_midnight() -> None:
    prefs = CheckinPrefs(quiet=QuietHours(time(13, 0), time(15, 30)))
    start = local(NEW_YORK, 2025, 6, 3, 11, 0)  # due 13:50
    assert wall(checkin_due(start, NEW_YORK, prefs), NEW_YORK) == (date(2025, 6, 3), time(15, 30))
    start = local(NEW_YORK, 2025, 6, 3, 9, 0)  # due 11:50, not quiet
    assert wall(checkin_due(start, NEW_YORK, prefs), NEW_YORK) == (date(2025, 6, 3), time(11, 50))


def test_quiet_hours_ending_inside_a_gap_end_at_the_gap_end() -> None:
    quiet = QuietHours(time(22, 0), time(2, 30))
    got = out_of_quiet(local(BERLIN, 2025, 3, 30, 1, 0), BERLIN, quiet)
    assert wall(got, BERLIN) == (date(2025, 3, 30), time(3, 0))


def test_quiet_end_inside_repeated_hour_never_moves_back_in_time() -> None:
    quiet = QuietHours(time(1, 0), time(2, 30))
    # 02:15 on the second pass of Berlin's repeated hour: quiet until 02:30 of that same pass.
    second_pass = local(BERLIN, 2025, 10, 26, 2, 15, fold=1)
    got = out_of_quiet(second_pass, BERLIN, quiet)
    assert got > second_pass
    assert got == local(BERLIN, 2025, 10, 26, 2, 30, fold=1)


def test_next_morning_delay() -> None:
    prefs = CheckinPrefs(delay_minutes=NEXT_MORNING)
    start = local(SANTIAGO, 2025, 6, 3, 17, 0)
    assert wall(checkin_due(start, SANTIAGO, prefs), SANTIAGO) == (date(2025, 6, 4), MORNING)
    late = local(SANTIAGO, 2025, 6, 3, 23, 30)  # ends after midnight; still "the next morning"
    assert wall(checkin_due(late, SANTIAGO, prefs), SANTIAGO) == (date(2025, 6, 4), MORNING)
    sleepy = CheckinPrefs(delay_minutes=NEXT_MORNING, quiet=QuietHours(time(23, 0), time(10, 0)))
    assert wall(checkin_due(start, SANTIAGO, sleepy), SANTIAGO) == (date(2025, 6, 4), time(10, 0))


def test_next_morning_across_spring_forward() -> None:
    prefs = CheckinPrefs(delay_minutes=NEXT_MORNING)
    start = local(NEW_YORK, 2025, 3, 8, 17, 0)  # Saturday; clocks change overnight
    due = checkin_due(start, NEW_YORK, prefs)
    assert wall(due, NEW_YORK) == (date(2025, 3, 9), MORNING)
    assert due == utc(2025, 3, 9, 13, 0)  # EDT now


def test_pause_postpones_a_direct_checkin_to_its_end_out_of_quiet_hours() -> None:
    start = local(BERLIN, 2025, 6, 3, 10, 0)
    prefs = CheckinPrefs(paused_until=local(BERLIN, 2025, 6, 3, 15, 0))
    assert wall(checkin_due(start, BERLIN, prefs), BERLIN) == (date(2025, 6, 3), time(15, 0))
    prefs = CheckinPrefs(paused_until=local(BERLIN, 2025, 6, 3, 23, 0))
    assert wall(checkin_due(start, BERLIN, prefs), BERLIN) == (date(2025, 6, 4), time(8, 0))
    expired = CheckinPrefs(paused_until=local(BERLIN, 2025, 6, 3, 9, 0))
    assert wall(checkin_due(start, BERLIN, expired), BERLIN) == (date(2025, 6, 3), time(12, 50))


def test_next_checkin_for_a_session_that_just_ended() -> None:
    session = WeeklySession(TUE, time(17, 0), BERLIN)
    ended = local(BERLIN, 2025, 6, 3, 17, 50)
    due = next_checkin(session, CheckinPrefs(), ended)
    assert wall(due, BERLIN) == (date(2025, 6, 3), time(19, 50))
    assert next_checkin(session, CheckinPrefs(), due) == due + timedelta(days=7)


def test_next_checkin_skips_sessions_inside_a_pause() -> None:
    session = WeeklySession(TUE, time(17, 0), BERLIN)
    now = local(BERLIN, 2025, 6, 2, 12, 0)
    paused = CheckinPrefs(paused_until=now + timedelta(days=10))  # to Thu 12 June
    due = next_checkin(session, paused, now)
    assert wall(due, BERLIN) == (date(2025, 6, 17), time(19, 50))
    # A pause ending before the check-in but after the session start does not drop it.
    short = CheckinPrefs(paused_until=local(BERLIN, 2025, 6, 3, 18, 0))
    assert wall(next_checkin(session, short, now), BERLIN) == (date(2025, 6, 3), time(19, 50))


def test_next_checkin_never_fires_twice_on_a_fall_back_day() -> None:
    # Session in the repeated hour with no delay and quiet hours off: the check-in lands in the
    # repeated hour too, and must come once.
    session = WeeklySession(SUN, time(1, 0), BERLIN)
    prefs = CheckinPrefs(delay_minutes=0, session_minutes=60, quiet=NO_QUIET)
    first = next_checkin(session, prefs, utc(2025, 10, 25))
    assert first == local(BERLIN, 2025, 10, 26, 2, 0)  # 01:00 CEST + 60 min = 02:00 CEST
    second = next_checkin(session, prefs, first)
    assert second == local(BERLIN, 2025, 11, 2, 2, 0)


def test_one_off_checkin() -> None:
    now = local(SYDNEY, 2025, 6, 3, 15, 0)
    assert one_off_checkin(now, SYDNEY, CheckinPrefs()) == now + timedelta(hours=2)
    late = local(SYDNEY, 2025, 6, 3, 21, 0)
    assert wall(one_off_checkin(late, SYDNEY, CheckinPrefs()), SYDNEY) == (
        date(2025, 6, 4),
        time(8),
    )
    morning = CheckinPrefs(delay_minutes=NEXT_MORNING)
    assert wall(one_off_checkin(now, SYDNEY, morning), SYDNEY) == (date(2025, 6, 4), MORNING)
    paused = CheckinPrefs(paused_until=now + timedelta(hours=3))
    assert one_off_checkin(now, SYDNEY, paused) == now + timedelta(hours=3)


def test_grace_decision() -> None:
    due = utc(2025, 6, 3, 12)
    grace = timedelta(hours=6)
    assert grace_decision(due, due - timedelta(seconds=1), grace) == "wait"
    assert grace_decision(due, due, grace) == "send"
    assert grace_decision(due, due + grace, grace) == "send"
    assert grace_decision(due, due + grace + timedelta(seconds=1), grace) == "skip"
    assert grace_decision(due, due + timedelta(hours=5)) == "send"  # default grace is 6 h


def test_day_before_reminder() -> None:
    start = local(NEW_YORK, 2025, 3, 10, 9, 0)  # Monday after spring-forward
    got = day_before(start, NEW_YORK)
    assert wall(got, NEW_YORK) == (date(2025, 3, 9), time(18, 0))
    early_sleeper = QuietHours(time(17, 0), time(7, 0))
    got = day_before(start, NEW_YORK, early_sleeper)
    assert wall(got, NEW_YORK) == (date(2025, 3, 9), time(16, 0))
    assert got < start


def test_quiet_hours_contains() -> None:
    q = QuietHours()
    assert q.contains(time(22, 0)) and q.contains(time(23, 59)) and q.contains(time(0, 0))
    assert q.contains(time(7, 59, 59))
    assert not q.contains(time(8, 0)) and not q.contains(time(21, 59)) and not q.contains(time(12))
    day = QuietHours(time(13, 0), time(15, 0))
    assert day.contains(time(13, 0)) and not day.contains(time(15, 0)) and not day.contains(time(3))
    assert not NO_QUIET.contains(time(3, 0))


@pytest.mark.parametrize(
    "call",
    [
        lambda: next_session_start(WeeklySession(MON, time(9), BERLIN), datetime(2025, 1, 1)),
        lambda: checkin_due(datetime(2025, 1, 1), BERLIN, CheckinPrefs()),
        lambda: grace_decision(datetime(2025, 1, 1), utc(2025, 1, 1)),
        lambda: WeeklySession(7, time(9), BERLIN),
        lambda: WeeklySession(MON, time(9), "Mars/Olympus_Mons"),
        lambda: WeeklySession(MON, time(9, tzinfo=UTC), BERLIN),
        lambda: CheckinPrefs(delay_minutes=-5),
        lambda: CheckinPrefs(session_minutes=0),
        lambda: CheckinPrefs(paused_until=datetime(2025, 1, 1)),
    ],
)
def test_bad_inputs_raise_value_error(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]


def test_is_valid_zone() -> None:
    assert is_valid_zone(BERLIN)
    assert not is_valid_zone("Europe/Atlantis")
    assert not is_valid_zone("../../etc/passwd")


def test_aware_non_utc_inputs_are_accepted_and_results_are_utc() -> None:
    session = WeeklySession(TUE, time(17, 0), BERLIN)
    after = datetime(2025, 6, 2, 12, 0, tzinfo=ZoneInfo(SYDNEY))
    got = next_session_start(session, after)
    assert got.tzinfo is UTC
    assert got == local(BERLIN, 2025, 6, 3, 17, 0)


# --- properties: a whole year, week by week ------------------------------------------------------

TRICKY_ZONES = [
    BERLIN,
    NEW_YORK,
    SYDNEY,
    SANTIAGO,
    "Australia/Lord_Howe",  # 30-minute DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "Europe/Dublin",  # negative DST in tzdata
    "Africa/Casablanca",  # DST suspended for Ramadan
    "America/St_Johns",
    "America/Havana",  # transitions at midnight
    "America/Asuncion",
    "Asia/Beirut",  # transitions at midnight
    "Atlantic/Azores",
    "Antarctica/Troll",  # two-hour DST
    "Asia/Kathmandu",
    "Asia/Gaza",
    "Pacific/Apia",
    "UTC",
]
ALL_ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith("posix"))

zones = st.one_of(st.sampled_from(TRICKY_ZONES), st.sampled_from(ALL_ZONES))
times = st.builds(time, st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 45, 59]))
quiet_hours = st.one_of(
    st.just(QuietHours()),
    st.just(NO_QUIET),
    st.builds(QuietHours, times, times),
)
prefs_strategy = st.builds(
    CheckinPrefs,
    delay_minutes=st.one_of(
        st.sampled_from([0, 30, 120, 600, 1440, NEXT_MORNING]), st.integers(0, 3000)
    ),
    session_minutes=st.integers(1, 180),
    quiet=quiet_hours,
)
starts = st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)


def _session_wall_ok(start: datetime, session: WeeklySession) -> bool:
    """The session is at its local time, or at the first instant after a gap that swallowed it."""
    loc = to_local(start, session.tz)
    if loc.time().replace(tzinfo=None, fold=0) == session.at and loc.weekday() == session.weekday:
        return True
    naive = datetime.combine(loc.date(), session.at)
    intended = naive.replace(tzinfo=ZoneInfo(session.tz))
    in_gap = intended.astimezone(UTC).astimezone(ZoneInfo(session.tz)).replace(tzinfo=None) != naive
    earlier_day = datetime.combine(loc.date() - timedelta(days=1), session.at)
    in_gap_before = (
        earlier_day.replace(tzinfo=ZoneInfo(session.tz))
        .astimezone(UTC)
        .astimezone(ZoneInfo(session.tz))
        .replace(tzinfo=None)
        != earlier_day
    )
    return in_gap or in_gap_before


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(zones, st.integers(0, 6), times, prefs_strategy, starts)
def test_a_year_of_checkins_one_per_session_never_twice(
    tz: str, weekday: int, at: time, prefs: CheckinPrefs, begin: datetime
) -> None:
    session = WeeklySession(weekday, at, tz)
    dues = []
    previous = begin
    for _ in range(53):
        due = next_checkin(session, prefs, previous)
        assert due > previous
        dues.append(due)
        previous = due
    # The sessions behind them, consecutive: each session has exactly one check-in.
    first_start = next_session_start(session, begin - timedelta(days=21))
    while checkin_due(first_start, tz, prefs) <= begin:
        first_start = next_session_start(session, first_start)
    start = first_start
    for due in dues:
        assert _session_wall_ok(start, session)
        assert checkin_due(start, tz, prefs) == due
        assert not prefs.quiet.contains(to_local(due, tz).time())
        earliest = start + timedelta(minutes=prefs.session_minutes + max(prefs.delay_minutes, 0))
        assert due >= earliest
        # Quiet hours add under a day; "next morning" up to ~34 h more before them.
        slack = timedelta(days=1, hours=3)
        if prefs.next_morning:
            slack += timedelta(hours=34)
        assert due - earliest <= slack
        nxt = next_session_start(session, start)
        assert timedelta(days=6) <= nxt - start <= timedelta(days=8)
        start = nxt
    assert timedelta(days=7 * 52 - 2) <= dues[-1] - dues[0] <= timedelta(days=7 * 52 + 2)


@settings(max_examples=150, deadline=None)
@given(zones, st.integers(0, 6), times, prefs_strategy, starts, st.integers(1, 10**6))
def test_next_checkin_is_monotonic_in_its_argument(
    tz: str, weekday: int, at: time, prefs: CheckinPrefs, t1: datetime, gap_seconds: int
) -> None:
    session = WeeklySession(weekday, at, tz)
    t2 = t1 + timedelta(seconds=gap_seconds)
    d1, d2 = next_checkin(session, prefs, t1), next_checkin(session, prefs, t2)
    assert t1 < d1 <= d2
    if d1 > t2:
        assert d1 == d2  # nothing between t1 and d1, so the first one after t2 is d1 itself


@settings(max_examples=300, deadline=None)
@given(zones, starts, quiet_hours)
def test_out_of_quiet_lands_outside_quiet_hours_and_not_earlier(
    tz: str, instant: datetime, quiet: QuietHours
) -> None:
    got = out_of_quiet(instant, tz, quiet)
    assert got >= instant
    assert not quiet.contains(to_local(got, tz).time())
    assert got - instant <= timedelta(days=1, hours=3)
    if not quiet.contains(to_local(instant, tz).time()):
        assert got == instant


@settings(max_examples=300, deadline=None)
@given(zones, st.integers(0, 6), times, starts)
def test_next_session_start_within_a_week(tz: str, weekday: int, at: time, after: datetime) -> None:
    session = WeeklySession(weekday, at, tz)
    got = next_session_start(session, after)
    assert after < got <= after + timedelta(days=8)
    assert _session_wall_ok(got, session)


@settings(max_examples=200, deadline=None)
@given(zones, st.integers(0, 6), times, prefs_strategy, starts, st.integers(1, 400))
def test_pause_drops_checkins_inside_it(
    tz: str, weekday: int, at: time, prefs: CheckinPrefs, now: datetime, days: int
) -> None:
    session = WeeklySession(weekday, at, tz)
    until = now + timedelta(days=days)
    paused = CheckinPrefs(prefs.delay_minutes, prefs.session_minutes, prefs.quiet, until)
    due = next_checkin(session, paused, now)
    assert due >= until
    # It is one of the unpaused schedule's check-ins, not a postponed one...
    tick = timedelta(microseconds=1)
    assert next_checkin(session, prefs, due - tick) == due
    # ...and at most one unpaused check-in (a session straddling the pause's end) was dropped.
    dropped = 0
    probe = next_checkin(session, prefs, until - tick)
    while probe < due:
        dropped += 1
        probe = next_checkin(session, prefs, probe)
    assert dropped <= 1
