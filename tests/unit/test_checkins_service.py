"""Check-in use cases on a fake clock and a real (temporary) database: the weekly schedule in the
client's zone (DST weeks too), one-offs, preferences, pauses, answers, "not now", "stop these",
the ask-to-continue after three ignored check-ins, the note before a session, /settings lines."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from supportbot.clock import FakeClock
from supportbot.content.strings import Strings
from supportbot.handlers.checkins import CheckinComposer
from supportbot.scheduling.dispatcher import DispatchConfig, Dispatcher
from supportbot.scheduling.rules import NEXT_MORNING, QuietHours
from supportbot.services.checkins import CheckinService
from supportbot.storage.base import Checkin
from supportbot.storage.crypto import TextCipher, new_key
from supportbot.storage.sqlite import SqliteStorage
from tests.unit.test_dispatcher import FakeSender, FakeTime

MESSAGES = Path(__file__).resolve().parents[2] / "messages"
MADRID = "Europe/Madrid"
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
U = 42


def at(tz: str, y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def local(instant: datetime, tz: str) -> tuple[int, int, int, int, int]:
    x = instant.astimezone(ZoneInfo(tz))
    return (x.year, x.month, x.day, x.hour, x.minute)


class Env:
    def __init__(self, storage: SqliteStorage, clock: FakeClock, strings: Strings) -> None:
        self.storage = storage
        self.clock = clock
        self.strings = strings
        self.svc = CheckinService(storage, strings, clock)
        self.sender = FakeSender(clock)
        self.time = FakeTime(clock)
        self.dispatcher = Dispatcher(
            storage,
            clock,
            self.sender,
            CheckinComposer(self.svc, strings),
            DispatchConfig(),
            monotonic=self.time.monotonic,
            sleep=self.time.sleep,
        )

    async def client(
        self, uid: int = U, tz: str = MADRID, lang: str = "en", consent: bool = True
    ) -> None:
        await self.storage.ensure_user(uid, uid + 1000, lang, None, tz)
        await self.storage.update_user(uid, consent=consent)

    async def pending(self, uid: int = U, kind: str | None = None) -> list[Checkin]:
        rows = await self.storage.pending_checkins(uid)
        return [r for r in rows if kind is None or r.kind == kind]

    async def run_until(self, when: datetime) -> None:
        """Move the clock to `when`, ticking whenever a row comes due on the way."""
        while True:
            due = [
                r.due_at
                for uid in await self._uids()
                for r in await self.storage.pending_checkins(uid)
                if r.due_at <= when
            ]
            if not due:
                break
            self.clock.set(max(self.clock.now(), min(due)))
            await self.dispatcher.tick()
        self.clock.set(when)
        await self.dispatcher.tick()

    async def _uids(self) -> list[int]:
        rows = await self.storage._all("SELECT user_id FROM users")
        return [r["user_id"] for r in rows]


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    storage = SqliteStorage(tmp_path / "c.db", TextCipher.from_keys(new_key()))
    await storage.open()
    try:
        yield Env(storage, FakeClock(at(MADRID, 2026, 1, 5, 10)), Strings.load(MESSAGES, "en"))
    finally:
        await storage.close()


# -- the weekly session --------------------------------------------------------------------------


async def test_weekly_session_schedules_next_checkin_in_local_time(env: Env) -> None:
    await env.client()
    done = await env.svc.set_weekly(U, TUE, time(17, 0))
    (row,) = await env.pending()
    assert row.kind == "checkin"
    assert local(row.due_at, MADRID) == (2026, 1, 6, 19, 50)  # 17:00 + 50 min + 2 h
    assert row.session_at == at(MADRID, 2026, 1, 6, 17)
    assert done.next_due == row.due_at and done.tz == MADRID


async def test_moving_the_session_replaces_the_pending_row(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, TUE, time(17, 0))
    await env.svc.set_weekly(U, THU, time(9, 30))
    (row,) = await env.pending()
    assert local(row.due_at, MADRID) == (2026, 1, 8, 12, 20)


async def test_a_sent_checkin_plans_the_next_week(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, TUE, time(17, 0))
    await env.run_until(at(MADRID, 2026, 1, 14, 12))
    assert len(env.sender.calls) == 2
    assert [local(c.at, MADRID) for c in env.sender.calls] == [
        (2026, 1, 6, 19, 50),
        (2026, 1, 13, 19, 50),
    ]
    (row,) = await env.pending()
    assert local(row.due_at, MADRID) == (2026, 1, 20, 19, 50)


@pytest.mark.parametrize(
    ("tz", "start", "weekday", "weeks"),
    [
        ("Europe/Berlin", (2025, 3, 24), SUN, 3),  # spring forward on Sunday 30 March
        ("America/New_York", (2025, 10, 27), SUN, 3),  # fall back on Sunday 2 November
        ("Australia/Sydney", (2025, 9, 29), SUN, 3),  # spring forward on Sunday 5 October
        ("America/Santiago", (2025, 9, 1), SAT, 3),  # clocks skip 00:00 on Sunday 7 September
    ],
)
async def test_dst_weeks_keep_the_local_time_once_a_week(
    env: Env, tz: str, start: tuple[int, int, int], weekday: int, weeks: int
) -> None:
    await env.client(tz=tz)
    await env.storage.update_user(U, quiet_start=0, quiet_end=0, delay_minutes=60)
    env.clock.set(at(tz, *start, 8))
    await env.svc.set_weekly(U, weekday, time(1, 30))  # 02:20 local: inside the DST gaps
    await env.run_until(env.clock.now() + timedelta(weeks=weeks))
    sent = [c.at for c in env.sender.calls]
    assert len(sent) == weeks  # never skipped, never doubled
    gaps = [(b - a) for a, b in itertools.pairwise(sent)]
    assert all(timedelta(days=6, hours=22) <= g <= timedelta(days=7, hours=2) for g in gaps)
    for instant in sent:
        # 01:30 + 50 min + 60 min on the instant timeline: 03:20 local, an hour off on the day
        # the clocks change (the wait itself is never stretched or shortened), same local day.
        loc = instant.astimezone(ZoneInfo(tz))
        assert loc.weekday() == weekday and loc.hour in (2, 3, 4)


async def test_session_now_replaces_that_sessions_weekly_checkin(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, MON, time(10, 0))  # today, now is 10:00
    env.clock.set(at(MADRID, 2026, 1, 5, 11, 0))
    due = await env.svc.session_now(U)
    assert local(due, MADRID) == (2026, 1, 5, 13, 0)  # now + 2 h (the session already ended)
    (row,) = await env.pending()
    assert row.session_at is None and row.due_at == due
    await env.run_until(at(MADRID, 2026, 1, 8, 0))
    assert [local(c.at, MADRID) for c in env.sender.calls] == [(2026, 1, 5, 13, 0)]
    (upcoming,) = await env.pending()
    assert local(upcoming.due_at, MADRID) == (2026, 1, 12, 12, 50)


async def test_session_off_cancels_weekly_rows(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, TUE, time(17, 0))
    await env.svc.session_off(U)
    assert await env.pending() == []
    assert await env.storage.get_session(U) is None
    await env.dispatcher.start()
    assert await env.pending() == []


# -- preferences ---------------------------------------------------------------------------------


async def test_delay_next_morning_and_quiet_hours(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, TUE, time(17, 0))
    await env.svc.set_delay(U, NEXT_MORNING)
    (row,) = await env.pending()
    assert local(row.due_at, MADRID) == (2026, 1, 7, 9, 0)
    await env.svc.set_delay(U, 240)  # 17:50 + 4 h = 21:50
    await env.svc.set_quiet(U, QuietHours(time(21, 0), time(7, 30)))
    (row,) = await env.pending()
    assert local(row.due_at, MADRID) == (2026, 1, 7, 7, 30)  # moved out of quiet hours
    await env.svc.set_quiet(U, None)
    (row,) = await env.pending()
    assert local(row.due_at, MADRID) == (2026, 1, 6, 21, 50)


async def test_session_length_moves_the_checkin(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, TUE, time(17, 0))
    await env.svc.set_session_length(U, 90)
    (row,) = await env.pending()
    assert local(row.due_at, MADRID) == (2026, 1, 6, 20, 30)
    with pytest.raises(ValueError):
        await env.svc.set_session_length(U, 5)
    with pytest.raises(ValueError):
        await env.svc.set_delay(U, 10)


async def test_timezone_change_recomputes_the_row(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, TUE, time(17, 0))
    await env.storage.update_user(U, timezone="America/New_York")
    await env.svc.on_timezone_changed(U)
    (row,) = await env.pending()
    assert local(row.due_at, "America/New_York") == (2026, 1, 6, 19, 50)


async def test_pause_drops_checkins_inside_it_and_resume_restores(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, TUE, time(17, 0))
    until = await env.svc.pause(U, 10)
    assert until == env.clock.now() + timedelta(days=10)
    (row,) = await env.pending()
    assert local(row.due_at, MADRID) == (2026, 1, 20, 19, 50)  # 6 and 13 Jan fall in the pause
    due = await env.svc.resume(U)
    assert due is not None and local(due, MADRID) == (2026, 1, 6, 19, 50)
    with pytest.raises(ValueError):
        await env.svc.pause(U, 0)


async def test_rows_planned_before_a_pause_are_not_sent_inside_it(env: Env) -> None:
    await env.client()
    await env.svc.session_now(U)
    await env.storage.update_user(U, paused_until=env.clock.now() + timedelta(days=2))
    await env.run_until(env.clock.now() + timedelta(hours=5))
    assert env.sender.calls == []


# -- answering -----------------------------------------------------------------------------------


async def sent_checkin(env: Env, uid: int = U) -> Checkin:
    await env.svc.session_now(uid)
    await env.run_until(env.clock.now() + timedelta(hours=3))
    rows = await env.storage.last_sent(uid, 1)
    assert rows, "no check-in was sent"
    return rows[0]


async def test_answer_saves_mood_with_consent_and_resets_streak(env: Env) -> None:
    await env.client()
    row = await sent_checkin(env)
    assert (await env.storage.get_user(U)).ignored_streak == 1  # type: ignore[union-attr]
    result = await env.svc.answer(U, row.id, 2)
    assert (result.status, result.saved, result.band) == ("ok", True, "low")
    (mood,) = await env.storage.moods(U)
    assert (mood.score, mood.checkin_id) == (2, row.id)
    assert (await env.storage.get_user(U)).ignored_streak == 0  # type: ignore[union-attr]
    again = await env.svc.answer(U, row.id, 4)
    assert again.status == "already"
    assert len(await env.storage.moods(U)) == 1


async def test_answer_without_consent_is_not_stored(env: Env) -> None:
    await env.client(consent=False)
    row = await env.svc.answer(U, (await sent_checkin(env)).id, 5)
    assert (row.status, row.saved, row.band) == ("ok", False, "good")
    assert await env.storage.moods(U) == []


async def test_answers_to_someone_elses_or_unsent_rows_are_refused(env: Env) -> None:
    await env.client()
    await env.client(uid=7)
    row = await sent_checkin(env)
    assert (await env.svc.answer(7, row.id, 3)).status == "invalid"
    assert (await env.svc.answer(U, row.id, 9)).status == "invalid"
    assert (await env.svc.answer(U, 999_999, 3)).status == "invalid"
    await env.svc.session_now(U)
    (unsent,) = await env.pending()
    assert (await env.svc.answer(U, unsent.id, 3)).status == "invalid"


async def test_not_now_asks_once_more_an_hour_later(env: Env) -> None:
    await env.client()
    row = await sent_checkin(env)
    now = env.clock.now()
    result = await env.svc.not_now(U, row.id)
    assert result.status == "ok" and result.due == now + timedelta(hours=1)
    (retry,) = await env.pending(kind="retry")
    assert retry.session_at == row.session_at
    assert (await env.svc.not_now(U, row.id)).status == "already"
    await env.run_until(now + timedelta(hours=2))
    sent_retry = await env.storage.get_checkin(retry.id)
    assert sent_retry is not None and sent_retry.state == "sent"
    assert (await env.svc.not_now(U, retry.id)).status == "invalid"  # a repeat has no "not now"
    assert (await env.svc.answer(U, retry.id, 3)).status == "ok"


async def test_not_now_respects_quiet_hours(env: Env) -> None:
    await env.client()
    env.clock.set(at(MADRID, 2026, 1, 5, 18, 0))
    row = await sent_checkin(env)  # sent at 20:00
    env.clock.set(at(MADRID, 2026, 1, 5, 21, 30))
    result = await env.svc.not_now(U, row.id)
    assert result.due is not None and local(result.due, MADRID) == (2026, 1, 6, 8, 0)


async def test_stop_cancels_everything_and_nothing_comes_back(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, FRI, time(18, 0))
    row = await sent_checkin(env)
    await env.svc.stop(U, row.id)
    user = await env.storage.get_user(U)
    assert user is not None and not user.checkins_enabled
    assert await env.pending() == []
    await env.dispatcher.start()
    await env.run_until(env.clock.now() + timedelta(days=15))
    assert len(env.sender.calls) == 1
    assert await env.svc.resume(U) is not None  # /resume turns them back on


async def test_three_ignored_checkins_lead_to_one_ask_to_continue(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, TUE, time(17, 0))
    await env.run_until(at(MADRID, 2026, 1, 21, 0))  # Jan 6, 13, 20 sent, none answered
    texts = [c.message.text for c in env.sender.calls]
    assert len(texts) == 3 and all("How are you feeling" in t for t in texts)
    await env.run_until(at(MADRID, 2026, 2, 20, 0))  # the fourth becomes the question, once
    texts = [c.message.text for c in env.sender.calls]
    assert len(texts) == 4 and "keep sending them" in texts[3]
    assert local(env.sender.calls[3].at, MADRID) == (2026, 1, 27, 19, 50)  # in the 4th's slot
    assert await env.pending() == []  # nothing more until they answer
    await env.dispatcher.start()
    assert await env.pending() == []
    ask = await env.storage.get_checkin(env.sender.calls[3].checkin_id)  # ck:keep:<id>
    assert ask is not None and ask.kind == "ask_continue"
    due = await env.svc.keep_going(U, ask.id)
    assert due is not None and due is not False
    assert local(due, MADRID) == (2026, 2, 24, 19, 50)
    assert (await env.storage.get_user(U)).ignored_streak == 0  # type: ignore[union-attr]
    assert await env.svc.keep_going(U, ask.id) is not False  # a second tap is harmless


async def test_an_answer_in_between_resets_the_count(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, TUE, time(17, 0))
    await env.run_until(at(MADRID, 2026, 1, 14, 0))
    await env.svc.answer(U, env.sender.calls[-1].checkin_id, 4)
    await env.run_until(at(MADRID, 2026, 2, 4, 0))
    assert all("How are you feeling" in c.message.text for c in env.sender.calls)
    assert len(env.sender.calls) == 5


# -- the note before the session -----------------------------------------------------------------


async def test_bring_reminder_shows_marked_entries_the_day_before(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, THU, time(17, 0))
    await env.svc.set_bring_reminder(U, True)
    (reminder,) = await env.pending(kind="reminder")
    assert local(reminder.due_at, MADRID) == (2026, 1, 7, 18, 0)
    await env.storage.add_entry(U, "note", "talk about <work> & sleep", env.clock.now(), bring=True)
    await env.storage.add_entry(U, "note", "not for therapy", env.clock.now(), bring=False)
    await env.run_until(at(MADRID, 2026, 1, 7, 18, 1))
    (call,) = env.sender.calls
    assert "talk about &lt;work&gt; &amp; sleep" in call.message.text
    assert "not for therapy" not in call.message.text
    (upcoming,) = await env.pending(kind="reminder")
    assert local(upcoming.due_at, MADRID) == (2026, 1, 14, 18, 0)


async def test_no_reminder_when_nothing_was_marked(env: Env) -> None:
    await env.client()
    await env.svc.set_weekly(U, THU, time(17, 0))
    await env.svc.set_bring_reminder(U, True)
    await env.run_until(at(MADRID, 2026, 1, 7, 18, 1))
    assert env.sender.calls == []
    assert len(await env.pending(kind="reminder")) == 1  # next week's is planned
    await env.svc.set_bring_reminder(U, False)
    assert await env.pending(kind="reminder") == []


# -- start-up and /settings ----------------------------------------------------------------------


async def test_ensure_all_gives_missing_rows_once(env: Env) -> None:
    for uid in (1, 2, 3, 4):
        await env.client(uid=uid)
        await env.storage.set_session(uid, WED, 18 * 60)
    await env.storage.update_user(2, blocked=True)
    await env.storage.update_user(3, checkins_enabled=False)
    await env.storage.update_user(4, ignored_streak=4)  # already asked whether to continue
    assert await env.svc.ensure_all(env.clock.now()) == 1
    assert await env.svc.ensure_all(env.clock.now()) == 0
    assert len(await env.pending(1)) == 1
    for uid in (2, 3, 4):
        assert await env.pending(uid) == []


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "en",
            [
                "Weekly session: Tuesday at 5:00\u202fPM",
                "Next check-in: Tuesday, January 6 at 7:50 PM",
                "2 hours after the session ends",
                "Quiet hours: 10:00\u202fPM–8:00\u202fAM",
                "Session length: 50 minutes",
                "/checkins",
            ],
        ),
        (
            "es",
            [
                "Sesión semanal: martes a las 17:00",
                "Próximo seguimiento: martes 6 de enero a las 19:50",
                "2 horas después de terminar la sesión",
                "Horas de silencio: 22:00–8:00",
                "Duración de la sesión: 50 minutos",
                "/checkins",
            ],
        ),
    ],
)
async def test_settings_lines_in_the_clients_language(
    env: Env, lang: str, expected: list[str]
) -> None:
    await env.client(lang=lang)
    await env.svc.set_weekly(U, TUE, time(17, 0))
    user = await env.storage.get_user(U)
    assert user is not None
    text = "\n".join(await env.svc.settings_lines(user))
    for part in expected:
        assert part in text, (part, text)


async def test_settings_lines_when_paused_or_stopped(env: Env) -> None:
    await env.client()
    await env.svc.pause(U, 3)
    user = await env.storage.get_user(U)
    assert user is not None
    text = "\n".join(await env.svc.settings_lines(user))
    assert "paused until Thursday, January 8" in text and "not set (/session)" in text
    await env.svc.stop(U)
    user = await env.storage.get_user(U)
    assert user is not None
    assert "Check-ins: off" in "\n".join(await env.svc.settings_lines(user))
