"""The journal service: pages, consented notes, mood summaries, export, forget and retention."""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportbot.clock import FakeClock
from supportbot.config import DEFAULT_MESSAGES_DIR
from supportbot.content.library import Library
from supportbot.content.strings import Strings
from supportbot.services.chart import ChartLabels, render_png
from supportbot.services.journal import (
    MAX_NOTE,
    JournalService,
    clean_text,
    session_starts,
    sparkline,
    summarise,
)
from supportbot.services.profile import Defaults, Locale, ProfileService
from supportbot.storage.base import MoodEntry, WeeklySessionRow
from supportbot.storage.crypto import TextCipher, new_key
from supportbot.storage.sqlite import SqliteStorage

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
ME, OTHER = 101, 202
STRINGS = Strings.load(DEFAULT_MESSAGES_DIR, "en")
LIBRARY = Library.load(DEFAULT_MESSAGES_DIR, STRINGS.languages, "en")


def _moods(pairs: list[tuple[datetime, int]]) -> list[MoodEntry]:
    return [MoodEntry(i, ME, score, None, at) for i, (at, score) in enumerate(pairs, 1)]


# -- pure mood arithmetic -------------------------------------------------------------------------


def test_sparkline_uses_a_fixed_scale_and_marks_gaps() -> None:
    assert sparkline([1.0, 5.0, None, 3.0]) == "▁█·▅"
    assert sparkline([]) == ""
    assert sparkline([0.0, 9.0]) == "▁█"  # clamped


def test_summary_of_nothing_is_calm() -> None:
    s = summarise([], now=NOW, weeks=4, session=None, timezone="Europe/Madrid")
    assert (s.count, s.mean, s.trend, s.pattern, s.change) == (0, None, "unknown", "none", None)
    assert s.sparkline == "····"
    assert s.points == ()


def test_summary_of_one_entry() -> None:
    s = summarise(
        _moods([(NOW - timedelta(days=2), 4)]), now=NOW, weeks=4, session=None, timezone="UTC"
    )
    assert (s.count, s.mean, s.pattern, s.trend) == (1, 4.0, "one", "unknown")
    assert s.sparkline == "···▆"
    assert s.weekly == (None, None, None, 4.0)


def test_entries_outside_the_window_are_ignored() -> None:
    moods = _moods([(NOW - timedelta(weeks=5), 1), (NOW + timedelta(hours=1), 1), (NOW, 5)])
    moods.append(MoodEntry(9, ME, 3, None, NOW - timedelta(days=1)))
    s = summarise(moods, now=NOW, weeks=4, session=None, timezone="UTC")
    assert s.count == 1 and s.mean == 3.0  # `end` is exclusive, older than 4 weeks is out


def test_rising_and_falling_trends_without_a_session() -> None:
    up = _moods([(NOW - timedelta(weeks=4) + timedelta(days=d), 1 + d // 7) for d in range(28)])
    s = summarise(up, now=NOW, weeks=4, session=None, timezone="UTC")
    assert s.trend == "up" and s.pattern == "rising"
    assert s.change is not None and s.change == pytest.approx(3.0)
    assert s.sparkline == "▁▃▅▆"
    down = _moods([(at, 6 - score) for at, score in [(m.created_at, m.score) for m in up]])
    s = summarise(down, now=NOW, weeks=4, session=None, timezone="UTC")
    assert s.trend == "down" and s.pattern == "falling"
    flat = _moods([(NOW - timedelta(days=d), 3) for d in range(1, 28)])
    s = summarise(flat, now=NOW, weeks=4, session=None, timezone="UTC")
    assert s.trend == "flat" and s.pattern == "steady" and s.mean == 3.0


def _around_sessions(after: list[int], other: list[int]) -> list[MoodEntry]:
    """Sessions on Wednesdays 17:00 Madrid; `after` scores the next morning, `other` on Sundays."""
    pairs: list[tuple[datetime, int]] = []
    wednesday = datetime(2026, 2, 25, 16, 0, tzinfo=UTC)  # 17:00 in Madrid (CET)
    for week, score in enumerate(after):
        pairs.append((wednesday - timedelta(weeks=week) + timedelta(hours=18), score))
    for week, score in enumerate(other):
        pairs.append((wednesday - timedelta(weeks=week) + timedelta(days=4), score))
    return _moods(pairs)


SESSION = WeeklySessionRow(ME, weekday=2, at_minute=17 * 60)


@pytest.mark.parametrize(
    ("after", "other", "pattern"),
    [
        ([4, 5, 4, 5], [2, 3, 2, 2], "brighter_after"),
        ([2, 2, 1, 2], [4, 3, 4, 4], "heavier_after"),
        ([3, 3, 3, 3], [1, 5, 2, 4], "steadier_after"),
        ([1, 5, 2, 4], [3, 3, 3, 3], "shakier_after"),
        ([3, 4, 3, 4], [4, 3, 4, 3], "similar_after"),
    ],
)
def test_days_after_sessions_are_compared_with_other_days(
    after: list[int], other: list[int], pattern: str
) -> None:
    s = summarise(
        _around_sessions(after, other),
        now=NOW,
        weeks=4,
        session=SESSION,
        timezone="Europe/Madrid",
    )
    assert s.pattern == pattern
    assert s.after_mean == statistics.fmean(after)
    assert s.other_mean == statistics.fmean(other)
    assert len(s.session_starts) == 4


def test_too_few_entries_on_one_side_fall_back_to_the_trend() -> None:
    s = summarise(
        _around_sessions([4, 4, 4, 4], [2]), now=NOW, weeks=4, session=SESSION, timezone="UTC"
    )
    assert s.pattern in ("rising", "falling", "steady")


def test_session_starts_follow_the_clients_zone_across_dst() -> None:
    # Europe/Berlin moves to summer time on 2026-03-29: a Sunday 18:00 session is 17:00 UTC before,
    # 16:00 UTC after.
    session = WeeklySessionRow(ME, weekday=6, at_minute=18 * 60)
    end = datetime(2026, 4, 13, tzinfo=UTC)
    starts = session_starts(session, end - timedelta(weeks=4), end, _berlin())
    hours = [s.hour for s in starts]
    assert all(s.weekday() == 6 for s in starts)
    assert 17 in hours and 16 in hours
    assert hours == sorted(hours, reverse=True)


def _berlin():  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo("Europe/Berlin")


def test_hundreds_of_random_entries() -> None:
    rnd = random.Random(7)
    moods = [
        MoodEntry(
            i, ME, rnd.randint(1, 5), None, NOW - timedelta(minutes=rnd.randint(1, 84 * 1440))
        )
        for i in range(1500)
    ]
    for weeks in (4, 12):
        s = summarise(moods, now=NOW, weeks=weeks, session=SESSION, timezone="America/Mexico_City")
        inside = [m.score for m in moods if NOW - timedelta(weeks=weeks) <= m.created_at < NOW]
        assert s.count == len(inside)
        assert s.mean == pytest.approx(statistics.fmean(inside))
        assert len(s.sparkline) == weeks and "·" not in s.sparkline
        assert s.pattern == "similar_after"  # random scores: no real difference
        assert [p.at for p in s.points] == sorted(p.at for p in s.points)


def test_an_unknown_zone_falls_back_to_utc() -> None:
    s = summarise([], now=NOW, weeks=4, session=SESSION, timezone="Mars/Olympus")
    assert s.timezone == "UTC"


# -- chart ----------------------------------------------------------------------------------------


LABELS = ChartLabels("Your mood, last 4 weeks", "Mood", "entries", "weekly average", "session day")


@pytest.mark.parametrize("count", [0, 1, 300])
def test_chart_is_a_png_for_zero_one_and_many_entries(count: int) -> None:
    rnd = random.Random(count)
    moods = [
        MoodEntry(i, ME, rnd.randint(1, 5), None, NOW - timedelta(hours=rnd.randint(1, 600)))
        for i in range(count)
    ]
    s = summarise(moods, now=NOW, weeks=4, session=SESSION, timezone="Europe/Madrid")
    png = render_png(s, LABELS, "es")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(png[16:20], "big")
    height = int.from_bytes(png[20:24], "big")
    assert (width, height) == (960, 528)


async def test_chart_renders_off_the_event_loop() -> None:
    import asyncio
    import threading

    from supportbot.services import chart

    seen: list[str] = []
    original = chart.render_png

    def spy(*args: object) -> bytes:
        seen.append(threading.current_thread().name)
        return original(*args)  # type: ignore[arg-type]

    chart.render_png = spy  # type: ignore[assignment]
    try:
        s = summarise([], now=NOW, weeks=4, session=None, timezone="UTC")
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        png = await chart.render_png_async(s, LABELS, "en")
        task.cancel()
    finally:
        chart.render_png = original  # type: ignore[assignment]
    assert png.startswith(b"\x89PNG")
    assert seen and seen[0] != threading.main_thread().name
    assert ticks > 1  # the loop kept running while the chart was drawn


# -- the service with real storage -------------------------------------------------------------


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[JournalService, SqliteStorage, FakeClock]]:
    storage = SqliteStorage(tmp_path / "bot.db", TextCipher.from_keys(new_key()))
    await storage.open()
    clock = FakeClock(NOW)
    profile = ProfileService(storage, STRINGS.languages, Defaults("en", None, "UTC"), clock)
    service = JournalService(
        storage, profile, clock, STRINGS, retention_days=None, page_size=5, library=LIBRARY
    )
    try:
        yield service, storage, clock
    finally:
        await storage.close()


async def _user(storage: SqliteStorage, user_id: int, *, consent: bool = True) -> None:
    await storage.ensure_user(user_id, user_id, "en", "ES", "Europe/Madrid")
    await storage.update_user(user_id, consent=consent)


async def test_a_note_needs_a_profile_and_consent(
    env: tuple[JournalService, SqliteStorage, FakeClock],
) -> None:
    service, storage, _ = env
    assert (await service.add_note(ME, "hello")).outcome == "no_user"
    await _user(storage, ME, consent=False)
    result = await service.add_note(ME, "private words")
    assert result.outcome == "no_consent" and result.entry_id is None
    assert await storage.count_entries(ME) == 0
    await storage.update_user(ME, consent=True)
    assert (await service.add_note(ME, "  \n\t ")).outcome == "empty"
    saved = await service.add_note(ME, "  private words  ")
    assert saved.outcome == "saved" and saved.entry_id is not None
    entry = await storage.get_entry(ME, saved.entry_id)
    assert entry is not None and entry.text == "private words" and entry.kind == "note"


async def test_long_and_odd_unicode_notes(
    env: tuple[JournalService, SqliteStorage, FakeClock],
) -> None:
    service, storage, _ = env
    await _user(storage, ME)
    odd = "\u202eRTL\u200d👩‍👩‍👧\u0301 ñ 日本語 \U0001f9e0" + "x" * 5000 + "\ud800 lone \x00 nul"
    result = await service.add_note(ME, odd)
    assert result.outcome == "saved" and result.entry_id is not None
    entry = await storage.get_entry(ME, result.entry_id)
    assert entry is not None
    assert len(entry.text) == MAX_NOTE
    assert entry.text.startswith("\u202eRTL\u200d👩‍👩‍👧\u0301 ñ 日本語 \U0001f9e0")
    assert clean_text("a\ud800b\x00c") == "a?bc"


async def test_pages_are_newest_first_and_clamped(
    env: tuple[JournalService, SqliteStorage, FakeClock],
) -> None:
    service, storage, clock = env
    await _user(storage, ME)
    await _user(storage, OTHER)
    for i in range(12):
        await service.add_note(ME, f"note {i}")
        clock.advance(timedelta(minutes=5))
    await service.add_note(OTHER, "not mine")
    first = await service.page(ME, 0)
    assert (first.page, first.pages, first.total) == (0, 3, 12)
    assert [e.text for e in first.entries] == [f"note {i}" for i in range(11, 6, -1)]
    last = await service.page(ME, 99)
    assert last.page == 2 and [e.text for e in last.entries] == ["note 1", "note 0"]
    assert (await service.page(ME, -4)).page == 0
    empty = await service.page(999, 3)
    assert (empty.page, empty.pages, empty.total, empty.entries) == (0, 1, 0, ())


async def test_delete_and_bring_touch_only_the_clients_own_entries(
    env: tuple[JournalService, SqliteStorage, FakeClock],
) -> None:
    service, storage, _ = env
    await _user(storage, ME)
    await _user(storage, OTHER)
    mine = (await service.add_note(ME, "mine")).entry_id
    theirs = (await service.add_note(OTHER, "theirs")).entry_id
    assert mine is not None and theirs is not None
    assert await service.toggle_bring(ME, mine) is True
    assert await service.toggle_bring(ME, mine) is False
    assert await service.toggle_bring(ME, theirs) is None
    assert await service.delete(ME, theirs) is False
    assert await storage.get_entry(OTHER, theirs) is not None
    assert await service.delete(ME, mine) is True
    assert await service.delete(ME, mine) is False
    assert await service.entry(ME, mine) is None


async def test_mood_uses_the_clients_zone_and_session(
    env: tuple[JournalService, SqliteStorage, FakeClock],
) -> None:
    service, storage, _ = env
    await _user(storage, ME)
    await storage.set_session(ME, 2, 17 * 60)
    for m in _around_sessions([5, 5, 4, 5], [2, 2, 3, 2]):
        await storage.add_mood(ME, m.score, m.created_at)
    await _user(storage, OTHER)
    await storage.add_mood(OTHER, 1, NOW - timedelta(days=1))  # someone else's: not counted
    s = await service.mood(ME, 4)
    assert s.timezone == "Europe/Madrid" and s.count == 8 and s.pattern == "brighter_after"
    twelve = await service.mood(ME, 12)
    assert len(twelve.sparkline) == 12 and twelve.count == 8
    nobody = await service.mood(999, 4)
    assert nobody.count == 0 and nobody.timezone == "UTC"


async def test_export_holds_everything_and_only_the_clients_data(
    env: tuple[JournalService, SqliteStorage, FakeClock],
) -> None:
    service, storage, _ = env
    await _user(storage, ME)
    await _user(storage, OTHER)
    await storage.set_session(ME, 2, 17 * 60 + 30)
    await storage.schedule_checkin(ME, "checkin", NOW + timedelta(hours=2), NOW)
    await storage.add_mood(ME, 4, NOW - timedelta(days=1))
    await service.add_note(ME, "# not a heading\nsecond line <b>&", bring=True)
    await service.add_note(OTHER, "OTHER-CLIENT-TEXT")

    files = await service.export(ME, "en")
    assert files is not None
    assert files.stem == "supportbot-export-2026-03-02"
    doc = json.loads(files.json)
    assert doc["format"] == "supportbot-export" and doc["version"] == 1
    assert doc["settings"]["user_id"] == ME and doc["settings"]["timezone"] == "Europe/Madrid"
    assert doc["settings"]["consent"] is True
    assert doc["schedule"] == {"weekday": 2, "time": "17:30", "timezone": "Europe/Madrid"}
    assert [c["state"] for c in doc["checkins"]] == ["scheduled"]
    assert [m["score"] for m in doc["moods"]] == [4]
    assert doc["journal"][0]["text"] == "# not a heading\nsecond line <b>&"
    assert doc["journal"][0]["bring"] is True
    assert doc["journal"][0]["created_at"] == "2026-03-02T12:00:00+00:00"
    assert "OTHER-CLIENT-TEXT" not in files.json + files.markdown

    md = files.markdown
    assert md.startswith("# Your supportbot data\n")
    for heading in (
        "## Settings",
        "## Session schedule",
        "## Check-ins",
        "## Mood entries",
        "## Journal",
    ):
        assert heading in md
    assert "> # not a heading\n> second line <b>&" in md  # quoted, not HTML-escaped
    assert "Every Wednesday at 17:30 (Europe/Madrid)" in md
    assert "2026-03-02 15:00 · check-in · upcoming" in md  # 14:00 UTC in CET
    assert "to bring to therapy" in md

    es = await service.export(ME, "es")
    assert es is not None and "# Tus datos de supportbot" in es.markdown
    assert "Cada miércoles a las 17:30" in es.markdown and "## Diario" in es.markdown
    assert await service.export(999, "en") is None


async def test_forget_deletes_rows_and_the_cached_locale(
    env: tuple[JournalService, SqliteStorage, FakeClock],
) -> None:
    service, storage, _ = env
    await _user(storage, ME)
    await _user(storage, OTHER)
    await storage.set_session(ME, 1, 600)
    await storage.schedule_checkin(ME, "checkin", NOW + timedelta(hours=1))
    await storage.add_mood(ME, 3, NOW)
    await service.add_note(ME, "gone soon")
    await service.add_note(OTHER, "stays")
    await service.profile.get(ME)  # caches the locale, as the crisis path uses it
    assert service.profile.cache.get(ME) == Locale("en", "ES")

    preview = await service.forget_preview(ME)
    assert preview is not None
    assert (preview["journal"], preview["moods"], preview["pending"]) == (1, 1, 1)

    counts = await service.forget(ME)
    assert sum(counts.values()) == 5
    assert not any((await storage.rows_for_user(ME)).values())
    assert service.profile.cache.get(ME) is None
    assert await service.forget_preview(ME) is None
    assert [e.text for e in await storage.entries(OTHER, 5)] == ["stays"]


async def test_retention_keeps_everything_by_default_and_deletes_old_rows_when_set(
    env: tuple[JournalService, SqliteStorage, FakeClock],
) -> None:
    service, storage, clock = env
    await _user(storage, ME)
    clock.set(NOW - timedelta(days=200))
    await service.add_note(ME, "ancient")
    await storage.add_mood(ME, 2, clock.now())
    clock.set(NOW)
    await service.add_note(ME, "fresh")
    assert await service.apply_retention() == 0
    assert await storage.count_entries(ME) == 2

    service.retention_days = 90
    assert await service.apply_retention() == 2
    assert [e.text for e in await storage.entries(ME, 5)] == ["fresh"]
    assert await storage.moods(ME) == []


async def test_export_shows_the_question_a_reflection_answered(
    env: tuple[JournalService, SqliteStorage, FakeClock],
) -> None:
    service, storage, _ = env
    await _user(storage, ME)
    await storage.add_entry(ME, "reflection", "the part about my dad", NOW, "as_staying_with_you")
    await storage.add_entry(ME, "reflection", "a retired prompt", NOW, "no_longer_shipped")
    en = await service.export(ME, "en")
    es = await service.export(ME, "es")
    assert en is not None and es is not None
    assert "*What from today's session is staying with you right now?*" in en.markdown
    es_prompt = LIBRARY.prompt("es", "as_staying_with_you")
    assert es_prompt is not None and f"*{es_prompt.text}*" in es.markdown
    assert json.loads(en.json)["journal"][0]["prompt_id"] == "as_staying_with_you"
    assert "a retired prompt" in en.markdown  # an unknown prompt id loses nothing
