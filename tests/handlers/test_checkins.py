"""Check-ins through the real application: /session (buttons and one line, en/es), /session now and
off, the check-in message from the dispatcher and every answer, /pause, /resume, /checkins,
/settings, and forged or stale buttons. The clock is fake: 2026-01-05 09:00 UTC is a Monday,
10:00 in Madrid (the harness's default zone)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from supportbot.scheduling.dispatcher import Dispatcher
from supportbot.storage.base import Checkin
from tests.handlers.conftest import USER, BotHarness

MADRID = ZoneInfo("Europe/Madrid")
OTHER = 5151


def labels(bot: BotHarness) -> list[str]:
    return [label for row in bot.last_buttons() for label, _ in row]


def data_of(bot: BotHarness) -> list[str]:
    return [data or "" for row in bot.last_buttons() for _, data in row]


def toast(bot: BotHarness) -> str | None:
    calls = bot.rec.sent("answerCallbackQuery")
    assert calls, "no callback query was answered"
    text = calls[-1].params.get("text")
    return text if isinstance(text, str) else None


async def pending(bot: BotHarness, user_id: int = USER) -> list[Checkin]:
    return await bot.deps.storage.pending_checkins(user_id)


async def deliver(bot: BotHarness, until: datetime) -> None:
    """Move the fake clock to `until` and let the dispatcher send what is due."""
    bot.clock.set(until)
    dispatcher: Dispatcher = bot.deps.services["dispatcher"]
    await dispatcher.tick()


def madrid(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=MADRID).astimezone(UTC)


async def checkin_message(bot: BotHarness, lang: str = "en") -> Checkin:
    """A client with a check-in just delivered (via "/session now" and the dispatcher)."""
    await bot.start(lang=lang)
    await bot.send(bot.u.command(USER, "/session now", lang=lang))
    (row,) = await pending(bot)
    await deliver(bot, row.due_at)
    return row


# -- /session --------------------------------------------------------------------------------------


async def test_guided_session_flow_in_english(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/session"))
    assert "Which day is your therapy session?" in bot.last_text()
    assert "Europe/Madrid" in bot.last_text()
    assert labels(bot)[:7] == [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
    await bot.press("ck:day:1")
    assert "What time on Tuesday?" in bot.last_text()
    assert "5:00\u202fPM" in labels(bot)
    await bot.press("ck:time:1:1020")
    text = bot.last_text()
    assert "every Tuesday at 5:00\u202fPM" in text
    assert "Tuesday, January 6 at 7:50 PM" in text  # 17:00 + 50 min + 2 h, Madrid time
    session = await bot.deps.storage.get_session(USER)
    assert session is not None and (session.weekday, session.at_minute) == (1, 17 * 60)
    (row,) = await pending(bot)
    assert row.due_at == madrid(2026, 1, 6, 19, 50)


async def test_guided_session_flow_in_spanish(bot: BotHarness) -> None:
    await bot.start(lang="es")
    await bot.send(bot.u.command(USER, "/session", lang="es"))
    assert "¿Qué día tienes tu sesión de terapia?" in bot.last_text()
    assert labels(bot)[:3] == ["Lunes", "Martes", "Miércoles"]
    await bot.press("ck:day:2", lang="es")
    assert "¿A qué hora el miércoles?" in bot.last_text()
    assert "17:00" in labels(bot)
    await bot.press("ck:time:2:1020", lang="es")
    text = bot.last_text()
    assert "cada miércoles a las 17:00" in text
    assert "miércoles 7 de enero a las 19:50" in text


async def test_typed_time_after_picking_a_day(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/session"))
    await bot.press("ck:day:4")
    await bot.press("ck:typetime:4")
    assert "Type the time" in bot.last_text()
    await bot.send(bot.u.text(USER, "quarter past nothing"))
    assert "couldn't read that time" in bot.last_text()
    assert await bot.deps.storage.get_session(USER) is None
    await bot.send(bot.u.text(USER, "6:30pm"))
    assert "every Friday at 6:30\u202fPM" in bot.last_text()
    session = await bot.deps.storage.get_session(USER)
    assert session is not None and (session.weekday, session.at_minute) == (4, 18 * 60 + 30)


@pytest.mark.parametrize(
    ("lang", "arg", "weekday", "minute"),
    [
        ("en", "tuesday 17:00", 1, 17 * 60),
        ("en", "thu 5:30pm", 3, 17 * 60 + 30),
        ("es", "martes 5 de la tarde", 1, 17 * 60),
        ("es", "miércoles 17:45", 2, 17 * 60 + 45),
        ("es", "friday 9am", 4, 9 * 60),  # English works for everyone
    ],
)
async def test_session_in_one_line(
    bot: BotHarness, lang: str, arg: str, weekday: int, minute: int
) -> None:
    await bot.start(lang=lang)
    await bot.send(bot.u.command(USER, f"/session {arg}", lang=lang))
    session = await bot.deps.storage.get_session(USER)
    assert session is not None and (session.weekday, session.at_minute) == (weekday, minute)
    assert len(await pending(bot)) == 1


@pytest.mark.parametrize(
    ("lang", "expected"), [("en", "/session tuesday 17:00"), ("es", "/session martes 17:00")]
)
async def test_wrong_session_argument_explains_and_changes_nothing(
    bot: BotHarness, lang: str, expected: str
) -> None:
    await bot.start(lang=lang)
    await bot.send(bot.u.command(USER, "/session tuesday 17:00", lang=lang))
    before = await pending(bot)
    await bot.send(bot.u.command(USER, "/session someday maybe", lang=lang))
    assert expected in bot.last_text()
    assert await pending(bot) == before
    session = await bot.deps.storage.get_session(USER)
    assert session is not None and session.weekday == 1


async def test_session_now_and_off(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/session now"))
    assert "Monday, January 5 at 12:00 PM" in bot.last_text()  # 10:00 Madrid + 2 h
    await bot.send(bot.u.command(USER, "/session off"))
    assert "no weekly session" in bot.last_text()
    await bot.send(bot.u.command(USER, "/session wed 18:00"))
    await bot.send(bot.u.command(USER, "/session"))
    assert "Your weekly session: Wednesday at 6:00\u202fPM" in bot.last_text()
    assert "ck:off" in data_of(bot)
    await bot.press("ck:off")
    assert "Weekly check-ins are off" in bot.last_text()
    assert await bot.deps.storage.get_session(USER) is None
    assert [r.session_at for r in await pending(bot)] == [None]  # the one-off stays


async def test_session_needs_start_first(bot: BotHarness) -> None:
    await bot.send(bot.u.command(USER, "/session tuesday 17:00"))
    assert "/start" in bot.last_text()
    assert await bot.deps.storage.get_session(USER) is None


# -- the check-in and its answers ----------------------------------------------------------------


async def test_checkin_arrives_with_one_tap_answers(bot: BotHarness) -> None:
    row = await checkin_message(bot)
    assert "How are you feeling after today's session?" in bot.last_text()
    assert labels(bot) == [
        "1 😞 Very low",
        "2 😕 Low",
        "3 😐 Okay",
        "4 🙂 Good",
        "5 😊 Very good",
        "Not now",
        "Stop these",
    ]
    assert f"ck:a:{row.id}:1" in data_of(bot)
    sent = await bot.deps.storage.get_checkin(row.id)
    assert sent is not None and sent.state == "sent" and sent.message_id is not None


async def test_checkin_in_spanish(bot: BotHarness) -> None:
    await checkin_message(bot, lang="es")
    assert "¿Cómo te sientes después de la sesión de hoy?" in bot.last_text()
    assert labels(bot)[-2:] == ["Ahora no", "No me preguntes más"]


async def test_low_answer_offers_grounding_and_crisis_line(bot: BotHarness) -> None:
    row = await checkin_message(bot)
    await bot.press(f"ck:a:{row.id}:1")
    edited = bot.rec.sent("editMessageText")[-1]
    assert "You answered: 1 😞 Very low" in (edited.text or "")
    assert not edited.reply_markup or not edited.buttons  # no second answer possible
    text = bot.last_text()
    assert "/crisis" in text and "Saved to your mood log" in text
    assert data_of(bot) == ["ex:start:five_senses"]
    (mood,) = await bot.deps.storage.moods(USER)
    assert (mood.score, mood.checkin_id) == (1, row.id)


async def test_middle_answer_offers_a_reflection(bot: BotHarness) -> None:
    row = await checkin_message(bot)
    await bot.press(f"ck:a:{row.id}:3")
    assert "session needs time to settle" in bot.last_text()
    assert data_of(bot) == ["rf:moment:after_session"]


async def test_good_answer_offers_to_save_a_thought(bot: BotHarness) -> None:
    row = await checkin_message(bot, lang="es")
    await bot.press(f"ck:a:{row.id}:5", lang="es")
    assert "Me alegra leerlo" in bot.last_text()
    assert data_of(bot) == ["ck:thought"]
    await bot.press("ck:thought", lang="es")
    assert "Escribe el pensamiento" in bot.last_text()
    await bot.send(bot.u.text(USER, "hoy entendí algo sobre mi padre", lang="es"))
    assert "Guardado en tu diario" in bot.last_text()
    (entry,) = await bot.deps.storage.entries(USER, 10)
    assert (entry.kind, entry.text) == ("thought", "hoy entendí algo sobre mi padre")


async def test_answer_without_consent_is_not_saved(bot: BotHarness) -> None:
    await bot.start(consent=False)
    await bot.send(bot.u.command(USER, "/session now"))
    (row,) = await pending(bot)
    await deliver(bot, row.due_at)
    await bot.press(f"ck:a:{row.id}:4")
    assert "haven't agreed" in bot.last_text()
    assert await bot.deps.storage.moods(USER) == []
    await bot.press("ck:thought")
    assert "only save it if you agree" in bot.last_text()


async def test_second_tap_on_an_answer_is_acknowledged_once(bot: BotHarness) -> None:
    row = await checkin_message(bot)
    message = bot.last_message()
    await bot.press(f"ck:a:{row.id}:2", message=message)
    await bot.press(f"ck:a:{row.id}:4", message=message)
    assert toast(bot) == "You already answered this one."
    assert [m.score for m in await bot.deps.storage.moods(USER)] == [2]


async def test_not_now_asks_once_more_an_hour_later(bot: BotHarness) -> None:
    row = await checkin_message(bot)
    await bot.press(f"ck:later:{row.id}")
    assert "I'll ask once more around 1:00\u202fPM" in bot.last_text()  # 12:00 + 1 h Madrid
    (retry,) = await pending(bot)
    assert retry.kind == "retry"
    await deliver(bot, retry.due_at)
    assert "Checking in again" in bot.last_text()
    assert "Not now" not in labels(bot) and "Stop these" in labels(bot)


async def test_stop_these_ends_checkins(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/session tuesday 17:00"))
    await bot.send(bot.u.command(USER, "/session now"))
    rows = await pending(bot)
    await deliver(bot, min(r.due_at for r in rows))
    await bot.press(f"ck:stop:{min(rows, key=lambda r: r.due_at).id}")
    assert "no more check-ins" in bot.last_text()
    user = await bot.deps.storage.get_user(USER)
    assert user is not None and not user.checkins_enabled
    assert await pending(bot) == []
    await bot.send(bot.u.command(USER, "/resume"))
    assert "back on" in bot.last_text()
    assert len(await pending(bot)) == 1


# -- forged and stale buttons --------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "ck:a:999999:3",
        "ck:a:{id}:9",
        "ck:a:{id}",
        "ck:a:abc:1",
        "ck:later:999999",
        "ck:stop:-1",
        "ck:keep:{id}",
        "ck:nonsense",
        "ck:day:9",
        "ck:time:1:5000",
        "ck:delay:7",
        "ck:quiet:60:120",
        "ck:len:1000",
        "ck:pause:0",
        "ck:set:everything",
    ],
)
async def test_forged_or_stale_buttons_are_answered_politely(bot: BotHarness, data: str) -> None:
    row = await checkin_message(bot)
    before = [(r.id, r.state) for r in await pending(bot)]
    user_before = await bot.deps.storage.get_user(USER)
    await bot.press(data.format(id=row.id))
    assert toast(bot) == "This button no longer works. Please use the command again."
    assert [(r.id, r.state) for r in await pending(bot)] == before
    assert await bot.deps.storage.get_user(USER) == user_before
    assert await bot.deps.storage.moods(USER) == []


async def test_someone_elses_checkin_cannot_be_answered(bot: BotHarness) -> None:
    row = await checkin_message(bot)
    await bot.start(user_id=OTHER)
    await bot.press(f"ck:a:{row.id}:5", user_id=OTHER, message=bot.last_message(USER))
    assert toast(bot) == "This button no longer works. Please use the command again."
    assert await bot.deps.storage.moods(OTHER) == [] and await bot.deps.storage.moods(USER) == []


# -- /pause, /resume, /checkins, /settings -------------------------------------------------------


async def test_pause_and_resume(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/session tuesday 17:00"))
    await bot.send(bot.u.command(USER, "/pause"))
    assert labels(bot) == ["3 days", "7 days", "14 days"]
    await bot.send(bot.u.command(USER, "/pause soon-ish"))
    assert "/pause 2 weeks" in bot.last_text()
    user = await bot.deps.storage.get_user(USER)
    assert user is not None and user.paused_until is None
    await bot.send(bot.u.command(USER, "/pause 2 weeks"))
    assert "paused until Monday, January 19" in bot.last_text()
    (row,) = await pending(bot)
    assert row.due_at == madrid(2026, 1, 20, 19, 50)
    await bot.send(bot.u.command(USER, "/resume"))
    assert "Tuesday, January 6 at 7:50 PM" in bot.last_text()


async def test_pause_in_spanish_words(bot: BotHarness) -> None:
    await bot.start(lang="es")
    await bot.send(bot.u.command(USER, "/pause 3 días", lang="es"))
    assert "en pausa hasta el jueves 8 de enero" in bot.last_text()


async def test_checkins_panel_changes_settings(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/session tuesday 17:00"))
    await bot.send(bot.u.command(USER, "/checkins"))
    assert "Check-in settings" in bot.last_text()
    assert "2 hours after the session ends" in bot.last_text()
    await bot.press("ck:set:delay")
    assert "The next morning" in labels(bot)
    await bot.press("ck:delay:nm")
    assert "Check-in: the next morning" in bot.last_text()
    (row,) = await pending(bot)
    assert row.due_at == madrid(2026, 1, 7, 9, 0)
    await bot.press("ck:set:len")
    await bot.press("ck:len:90")
    assert "Session length: 1 hour and 30 minutes" in bot.last_text()
    await bot.press("ck:set:quiet")
    await bot.press("ck:quiet:none")
    assert "Quiet hours: none" in bot.last_text()
    await bot.press("ck:rem:1")
    assert "Note before each session: on" in bot.last_text()
    assert "bring to therapy" in bot.last_text()
    user = await bot.deps.storage.get_user(USER)
    assert user is not None
    assert (user.delay_minutes, user.session_minutes, user.quiet_start, user.quiet_end) == (
        -1,
        90,
        0,
        0,
    )
    assert user.bring_reminder


async def test_typed_quiet_hours_and_delay(bot: BotHarness) -> None:
    await bot.start(lang="es")
    await bot.send(bot.u.command(USER, "/checkins", lang="es"))
    await bot.press("ck:type:quiet", lang="es")
    await bot.send(bot.u.text(USER, "de 23 a 7", lang="es"))
    assert "Horas de silencio: 23:00–7:00" in bot.last_text()
    await bot.press("ck:type:delay", lang="es", message=bot.last_message())
    await bot.send(bot.u.text(USER, "5 minutos", lang="es"))
    assert "entre 30 minutos y 12 horas" in bot.last_text()
    await bot.send(bot.u.text(USER, "1h30", lang="es"))
    assert "1 hora y 30 minutos después" in bot.last_text()
    user = await bot.deps.storage.get_user(USER)
    assert user is not None and (user.quiet_start, user.quiet_end, user.delay_minutes) == (
        23 * 60,
        7 * 60,
        90,
    )


async def test_settings_show_checkin_lines(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/session thursday 9:00"))
    await bot.send(bot.u.command(USER, "/settings"))
    text = bot.last_text()
    assert "Weekly session: Thursday at 9:00\u202fAM" in text
    assert "Next check-in: Thursday, January 8 at 11:50 AM" in text
    assert "/checkins" in text


async def test_timezone_change_reschedules(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/session tuesday 17:00"))
    await bot.send(bot.u.command(USER, "/timezone new york"))
    (row,) = await pending(bot)
    ny = ZoneInfo("America/New_York")
    assert row.due_at == datetime(2026, 1, 6, 19, 50, tzinfo=ny).astimezone(UTC)


async def test_blocked_client_is_recorded_and_unblocked_by_writing(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/session tuesday 17:00"))
    (row,) = await pending(bot)
    bot.rec.block_chat(USER)
    await deliver(bot, row.due_at)
    user = await bot.deps.storage.get_user(USER)
    assert user is not None and user.blocked
    assert await pending(bot) == []
    bot.rec.unblock_chat(USER)
    await bot.send(bot.u.command(USER, "/session tuesday 17:00"))
    user = await bot.deps.storage.get_user(USER)
    assert user is not None and not user.blocked
    assert len(await pending(bot)) == 1


async def test_checkin_after_downtime_within_grace_is_sent_once(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/session now"))
    (row,) = await pending(bot)
    mark = bot.rec.mark()
    dispatcher: Dispatcher = bot.deps.services["dispatcher"]
    bot.clock.set(row.due_at + timedelta(hours=5))
    await dispatcher.start()
    await dispatcher.tick()
    await dispatcher.tick()
    checkins = [
        c
        for c in bot.rec.calls[mark:]
        if c.method == "sendMessage" and "How are you" in (c.text or "")
    ]
    assert len(checkins) == 1
