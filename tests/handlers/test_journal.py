"""/journal, /note, /mood, /export and /forget through the real application (no network)."""

from __future__ import annotations

import html
import logging
import re
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from supportbot.handlers.journal import excerpt
from supportbot.keyboards import pack
from supportbot.logs import setup_logging
from tests.handlers.conftest import USER, BotHarness

OTHER = 5151
T = {
    "en": {
        "empty": "Your journal is empty",
        "saved": "Saved in your journal",
        "ask": "What would you like to note?",
        "no_consent": "I haven't saved that",
        "header": "Your journal",
        "bring": "📌 Bring to therapy",
        "unbring": "✓ Bringing to therapy (undo)",
        "older": "Older ›",
        "delete": "🗑 Delete",
        "delete_yes": "Yes, delete it",
        "deleted": "Deleted.",
        "gone": "That entry isn't there anymore.",
        "mood_empty": "There are no mood entries",
        "mood_title": "Your mood, last 4 weeks",
        "mood_title_12": "Your mood, last 12 weeks",
        "export_sending": "Here is everything I store about you",
        "forget_explain": "Delete everything about you?",
        "forget_confirm": "Delete everything",
        "forget_cancel": "Cancel",
        "forget_done": "Everything I stored about you is deleted",
        "forget_cancelled": "nothing was deleted",
        "forget_nothing": "I don't store anything about you",
        "stale": "This button no longer works",
        "start_first": "send /start",
    },
    "es": {
        "empty": "Tu diario está vacío",
        "saved": "Guardado en tu diario",
        "ask": "¿Qué te gustaría anotar?",
        "no_consent": "No lo he guardado",
        "header": "Tu diario",
        "bring": "📌 Llevar a terapia",
        "unbring": "✓ La llevas a terapia (deshacer)",
        "older": "Anteriores ›",
        "delete": "🗑 Borrar",
        "delete_yes": "Sí, bórrala",
        "deleted": "Borrada.",
        "gone": "Esa entrada ya no está.",
        "mood_empty": "Todavía no hay registros de ánimo",
        "mood_title": "Tu ánimo, últimas 4 semanas",
        "mood_title_12": "Tu ánimo, últimas 12 semanas",
        "export_sending": "Aquí tienes todo lo que guardo sobre ti",
        "forget_explain": "¿Borrar todo lo tuyo?",
        "forget_confirm": "Borrar todo",
        "forget_cancel": "Cancelar",
        "forget_done": "He borrado todo lo que guardaba sobre ti",
        "forget_cancelled": "no he borrado nada",
        "forget_nothing": "No guardo nada sobre ti",
        "stale": "Este botón ya no funciona",
        "start_first": "/start",
    },
}
LANGS = ["en", "es"]


def labels(bot: BotHarness) -> list[str]:
    return [label for row in bot.last_buttons() for label, _ in row]


def button(bot: BotHarness, label: str) -> str:
    for row in bot.last_buttons():
        for text, data in row:
            if text == label and data is not None:
                return data
    raise AssertionError(f"no button {label!r} in {bot.last_buttons()}")


def callback_answers(bot: BotHarness) -> list[str | None]:
    return [c.params.get("text") for c in bot.rec.sent("answerCallbackQuery")]


async def note(bot: BotHarness, text: str, lang: str = "en", user_id: int = USER) -> None:
    await bot.send(bot.u.command(user_id, f"/note {text}", lang=lang))


def entry_ids(bot: BotHarness) -> list[int]:
    with sqlite3.connect(bot.deps.settings.database_path) as db:
        return [
            r[0]
            for r in db.execute("SELECT id FROM journal WHERE user_id = ? ORDER BY id", (USER,))
        ]


# -- /note --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_note_is_saved_and_can_be_marked_for_therapy(bot: BotHarness, lang: str) -> None:
    await bot.start(lang=lang)
    await note(bot, "I want to talk about\nthe holidays", lang)
    assert T[lang]["saved"] in bot.last_text()
    (entry,) = await bot.deps.storage.entries(USER, 10)
    assert entry.text == "I want to talk about\nthe holidays" and not entry.bring
    assert labels(bot) == [T[lang]["bring"]]

    await bot.press(button(bot, T[lang]["bring"]), lang=lang)
    assert (await bot.deps.storage.get_entry(USER, entry.id)).bring  # type: ignore[union-attr]
    edit = bot.rec.sent("editMessageReplyMarkup")[-1]
    assert [label for row in edit.buttons for label, _ in row] == [T[lang]["unbring"]]


@pytest.mark.parametrize("lang", LANGS)
async def test_note_without_consent_stores_nothing_and_explains(bot: BotHarness, lang: str) -> None:
    await bot.start(lang=lang, consent=False)
    await note(bot, "keep this please", lang)
    assert T[lang]["no_consent"] in bot.last_text() and "/settings" in bot.last_text()
    assert await bot.deps.storage.count_entries(USER) == 0


async def test_note_before_start_asks_to_start(bot: BotHarness) -> None:
    await note(bot, "hello")
    assert "/start" in bot.last_text()
    assert await bot.deps.storage.get_user(USER) is None


@pytest.mark.parametrize("lang", LANGS)
async def test_note_without_text_asks_then_saves_the_next_message(
    bot: BotHarness, lang: str
) -> None:
    await bot.start(lang=lang)
    await bot.send(bot.u.command(USER, "/note", lang=lang))
    assert T[lang]["ask"] in bot.last_text()
    long_odd = ("ñandú \u202eRTL\u202c 👩‍👧 e\u0301 <b>not bold</b> & " * 200)[:4096]
    await bot.send(bot.u.text(USER, long_odd, lang=lang))
    assert T[lang]["saved"] in bot.last_text()
    (entry,) = await bot.deps.storage.entries(USER, 10)
    assert entry.text == long_odd.strip()
    # The next plain message is not taken as a note again.
    await bot.send(bot.u.text(USER, "just chatting", lang=lang))
    assert await bot.deps.storage.count_entries(USER) == 1


async def test_a_note_of_telegrams_full_length_is_kept_whole(bot: BotHarness) -> None:
    await bot.start()
    body = "ø" * (4096 - len("/note "))
    await note(bot, body)
    (entry,) = await bot.deps.storage.entries(USER, 10)
    assert entry.text == body


# -- /journal -----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_empty_journal_is_kind(bot: BotHarness, lang: str) -> None:
    await bot.start(lang=lang)
    await bot.send(bot.u.command(USER, "/journal", lang=lang))
    assert T[lang]["empty"] in bot.last_text() and "/note" in bot.last_text()


async def test_journal_before_start_asks_to_start(bot: BotHarness) -> None:
    await bot.send(bot.u.command(USER, "/journal"))
    assert "/start" in bot.last_text()


@pytest.mark.parametrize("lang", LANGS)
async def test_journal_pages_newest_first(bot: BotHarness, lang: str) -> None:
    await bot.start(lang=lang)
    for i in range(7):
        await note(bot, f"entry number {i} <b>&", lang)
        bot.clock.advance(timedelta(minutes=3))
    await bot.send(bot.u.command(USER, "/journal", lang=lang))
    text = bot.last_text()
    assert T[lang]["header"] in text and "1 / 2" not in text
    shown = re.findall(r"entry number (\d)", text)
    assert shown == ["6", "5", "4", "3", "2"]
    assert "&lt;b&gt;&amp;" in text  # the client's own markup is shown, not interpreted
    assert labels(bot) == ["1", "2", "3", "4", "5", T[lang]["older"]]

    await bot.press(button(bot, T[lang]["older"]), lang=lang)
    text = bot.last_text()
    assert re.findall(r"entry number (\d)", text) == ["1", "0"]
    assert labels(bot)[:2] == ["6", "7"]


@pytest.mark.parametrize("lang", LANGS)
async def test_open_bring_and_delete_an_entry_with_confirmation(bot: BotHarness, lang: str) -> None:
    await bot.start(lang=lang)
    await note(bot, "first thought", lang)
    await note(bot, "second thought", lang)
    await bot.send(bot.u.command(USER, "/journal", lang=lang))
    await bot.press(button(bot, "1"), lang=lang)  # newest: "second thought"
    assert "second thought" in bot.last_text()
    assert labels(bot)[:2] == [T[lang]["bring"], T[lang]["delete"]]

    await bot.press(button(bot, T[lang]["bring"]), lang=lang)
    newest = max(entry_ids(bot))
    assert (await bot.deps.storage.get_entry(USER, newest)).bring  # type: ignore[union-attr]
    assert labels(bot)[0] == T[lang]["unbring"]

    await bot.press(button(bot, T[lang]["delete"]), lang=lang)
    assert "second thought" in bot.last_text()
    assert await bot.deps.storage.count_entries(USER) == 2  # not before the confirmation
    confirm = button(bot, T[lang]["delete_yes"])
    await bot.press(confirm, lang=lang)
    assert bot.last_text().startswith(T[lang]["deleted"])
    assert [e.text for e in await bot.deps.storage.entries(USER, 10)] == ["first thought"]

    # The same confirmation pressed again (an old message): polite, nothing else deleted.
    await bot.press(confirm, lang=lang)
    assert callback_answers(bot)[-1] == T[lang]["gone"]
    assert await bot.deps.storage.count_entries(USER) == 1


async def test_an_opened_reflection_shows_its_question(bot: BotHarness) -> None:
    await bot.start()
    await bot.deps.storage.add_entry(
        USER, "reflection", "my answer", bot.clock.now(), "as_staying_with_you"
    )
    await bot.send(bot.u.command(USER, "/journal"))
    await bot.press(button(bot, "1"))
    text = bot.last_text()
    assert "<b>What from today's session is staying with you right now?</b>" in text
    assert text.index("staying with you") < text.index("my answer")
    assert "reflection" in text


async def test_a_long_entry_is_shown_shortened_without_breaking_html(bot: BotHarness) -> None:
    await bot.start()
    await note(bot, "<&>" * 1300)
    await bot.send(bot.u.command(USER, "/journal"))
    assert bot.rec.sent("sendMessage")[-1].ok  # the kit's Telegram HTML parser accepted it
    await bot.press(button(bot, "1"))
    edit = bot.rec.sent("editMessageText")[-1]
    assert edit.ok and "/export" in (edit.text or "")


@pytest.mark.parametrize(
    "data",
    [
        "jr:op:abc:0",
        "jr:op:999999:0",
        "jr:dy:999999:0",
        "jr:br:999999:0",
        "jr:nb:999999",
        "jr:zz:1:0",
        "jr:pg:x",
        "jr:dl",
        "mo:w:7",
        "mo:x",
        "fg:maybe",
        "fg:yes:extra",
        "jr:op:1:0:" + "9" * 60,  # over 64 bytes
    ],
)
async def test_forged_or_stale_buttons_get_a_polite_answer(bot: BotHarness, data: str) -> None:
    await bot.start()
    await note(bot, "mine")
    before = bot.rec.mark()
    await bot.press(data)
    answers = [c for c in bot.rec.calls[before:] if c.method == "answerCallbackQuery"]
    assert len(answers) == 1
    said = answers[0].params.get("text") or ""
    assert said.startswith((T["en"]["stale"], T["en"]["gone"])), said
    assert not any("Something went wrong" in (c.text or "") for c in bot.rec.calls[before:])
    assert await bot.deps.storage.count_entries(USER) == 1
    assert await bot.deps.storage.get_user(USER) is not None


async def test_another_clients_entry_cannot_be_reached(bot: BotHarness) -> None:
    await bot.start(OTHER)
    await note(bot, "OTHER SECRET", user_id=OTHER)
    (theirs,) = await bot.deps.storage.entries(OTHER, 5)
    await bot.start()
    for action in ("op", "br", "dl", "dy"):
        await bot.press(pack("jr", action, theirs.id, 0))
        assert callback_answers(bot)[-1] == T["en"]["gone"]
    await bot.press(pack("jr", "nb", theirs.id))
    assert all("OTHER SECRET" not in t for t in bot.texts(USER))
    still = await bot.deps.storage.get_entry(OTHER, theirs.id)
    assert still is not None and not still.bring


def test_excerpt_never_cuts_inside_an_entity() -> None:
    text, cut = excerpt("a&b" * 100, 10)
    assert cut and text == "a&amp;ba…"
    assert html.unescape(text) == "a&ba…"
    whole, cut = excerpt("line one\n  line two", 100, one_line=True)
    assert (whole, cut) == ("line one line two", False)


# -- /mood --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_mood_without_entries_is_a_kind_text(bot: BotHarness, lang: str) -> None:
    await bot.start(lang=lang)
    await bot.send(bot.u.command(USER, "/mood", lang=lang))
    assert T[lang]["mood_empty"] in bot.last_text()
    assert not bot.rec.sent("sendPhoto")


async def _moods(bot: BotHarness, count: int) -> None:
    now = bot.clock.now()
    for i in range(count):
        await bot.deps.storage.add_mood(USER, 1 + i % 5, now - timedelta(hours=5 * i + 1))


@pytest.mark.parametrize("lang", LANGS)
async def test_mood_sends_a_chart_with_summary_and_sparkline(bot: BotHarness, lang: str) -> None:
    await bot.start(lang=lang)
    await bot.deps.storage.set_session(USER, 2, 17 * 60)
    await _moods(bot, 200)
    await bot.send(bot.u.command(USER, "/mood", lang=lang))
    (photo,) = bot.rec.sent("sendPhoto")
    assert photo.chat_id == USER
    assert (
        photo.params["photo"]["mime_type"] == "image/png" and photo.params["photo"]["size"] > 5000
    )
    caption = photo.text or ""
    assert caption.startswith(f"<b>{T[lang]['mood_title']}</b>")
    assert re.search(r"\n[▁▂▃▄▅▆▇█·]{4} \S", caption)
    assert re.search(r"[▁▂▃▄▅▆▇█·]{12}", caption)  # the 12-week line
    assert "4" in photo.buttons[0][0][0] and photo.buttons[0][1][1] == "mo:w:12"

    await bot.press("mo:w:12", lang=lang)
    (edit,) = bot.rec.sent("editMessageMedia")
    assert T[lang]["mood_title_12"] in str(edit.params)


async def test_mood_with_a_single_entry(bot: BotHarness) -> None:
    await bot.start()
    await _moods(bot, 1)
    await bot.send(bot.u.command(USER, "/mood"))
    (photo,) = bot.rec.sent("sendPhoto")
    assert "One entry so far" in (photo.text or "")


async def test_mood_falls_back_to_twelve_weeks_when_the_last_four_are_empty(
    bot: BotHarness,
) -> None:
    await bot.start()
    await bot.deps.storage.add_mood(USER, 3, bot.clock.now() - timedelta(weeks=6))
    await bot.send(bot.u.command(USER, "/mood"))
    (photo,) = bot.rec.sent("sendPhoto")
    assert T["en"]["mood_title_12"] in (photo.text or "")


async def test_a_crisis_reply_goes_out_while_a_chart_is_being_drawn(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import threading

    from supportbot.services import chart

    await bot.start()
    await _moods(bot, 50)
    started, release = threading.Event(), threading.Event()
    real = chart.render_png

    def slow_render(*args: Any) -> bytes:
        started.set()
        release.wait(10)  # a chart that takes as long as the test needs
        return real(*args)

    monkeypatch.setattr(chart, "render_png", slow_render)
    drawing = asyncio.create_task(bot.app.process_update(bot.u.command(USER, "/mood")))
    for _ in range(500):
        if started.is_set():
            break
        await asyncio.sleep(0.01)
    assert started.is_set()
    before = bot.rec.mark()
    await bot.app.process_update(bot.u.command(USER, "/crisis"))  # the loop is free
    assert [c.method for c in bot.rec.calls[before:] if c.ok] == ["sendMessage"]
    assert not bot.rec.sent("sendPhoto")
    release.set()
    await drawing
    assert len(bot.rec.sent("sendPhoto")) == 1


# -- /export ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_export_sends_markdown_and_json_to_the_clients_chat(
    bot: BotHarness, lang: str
) -> None:
    await bot.start(lang=lang)
    await note(bot, "for the record", lang)
    await bot.send(bot.u.command(USER, "/export", lang=lang))
    assert T[lang]["export_sending"] in bot.rec.sent("sendMessage")[-1].text  # type: ignore[operator]
    docs = bot.rec.sent("sendDocument")
    assert [d.chat_id for d in docs] == [USER, USER]
    names = [d.params["document"]["filename"] for d in docs]
    day = bot.clock.now().date().isoformat()
    assert names == [f"supportbot-export-{day}.md", f"supportbot-export-{day}.json"]
    assert all(d.params["document"]["size"] > 100 for d in docs)


async def test_export_before_start_has_nothing(bot: BotHarness) -> None:
    await bot.send(bot.u.command(USER, "/export"))
    assert "nothing to export" in bot.last_text()
    assert not bot.rec.sent("sendDocument")


# -- /forget ------------------------------------------------------------------------------------


def _rows_with_user(db_path: Path, user_id: int) -> dict[str, int]:
    with sqlite3.connect(db_path) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        out = {}
        for table in tables:
            columns = [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
            if "user_id" in columns:
                (n,) = db.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE user_id = ?", (user_id,)
                ).fetchone()
                out[table] = n
        return out


async def _everything(bot: BotHarness, user_id: int = USER, lang: str = "en") -> None:
    await bot.start(user_id, lang=lang)
    storage = bot.deps.storage
    now = bot.clock.now()
    await storage.set_session(user_id, 3, 18 * 60)
    await storage.schedule_checkin(user_id, "checkin", now + timedelta(hours=3), now)
    await storage.add_mood(user_id, 4, now)
    await note(bot, "a note", lang, user_id)


@pytest.mark.parametrize("lang", LANGS)
async def test_forget_explains_then_deletes_everything_after_confirmation(
    bot: BotHarness, lang: str
) -> None:
    await _everything(bot, OTHER)
    await _everything(bot, USER, lang)
    assert all(_rows_with_user(bot.deps.settings.database_path, USER).values())
    bot.app.user_data[USER]["leftover"] = "something in memory"

    await bot.send(bot.u.command(USER, "/forget", lang=lang))
    text = bot.last_text()
    assert T[lang]["forget_explain"] in text and "/export" in text
    assert labels(bot) == [T[lang]["forget_confirm"], T[lang]["forget_cancel"]]
    assert all(_rows_with_user(bot.deps.settings.database_path, USER).values())

    await bot.press(button(bot, T[lang]["forget_confirm"]), lang=lang)
    assert T[lang]["forget_done"] in bot.last_text()
    counts = _rows_with_user(bot.deps.settings.database_path, USER)
    assert counts and not any(counts.values()), counts
    assert all(_rows_with_user(bot.deps.settings.database_path, OTHER).values())
    assert bot.deps.profile.cache.get(USER) is None
    assert not bot.app.user_data.get(USER)

    # Afterwards: nothing to delete, and the journal asks to start again.
    await bot.send(bot.u.command(USER, "/forget", lang=lang))
    assert T[lang]["forget_nothing"] in bot.last_text()
    await bot.send(bot.u.command(USER, "/journal", lang=lang))
    assert "/start" in bot.last_text()


@pytest.mark.parametrize("lang", LANGS)
async def test_forget_cancel_keeps_everything(bot: BotHarness, lang: str) -> None:
    await _everything(bot, USER, lang)
    await bot.send(bot.u.command(USER, "/forget", lang=lang))
    await bot.press(button(bot, T[lang]["forget_cancel"]), lang=lang)
    assert T[lang]["forget_cancelled"] in bot.last_text()
    assert all(_rows_with_user(bot.deps.settings.database_path, USER).values())


async def test_forget_also_clears_a_pending_note_question(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/note"))
    await bot.send(bot.u.command(USER, "/forget"))
    await bot.press("fg:yes")
    await bot.start()
    await bot.send(bot.u.text(USER, "an ordinary message"))
    assert await bot.deps.storage.count_entries(USER) == 0


# -- retention job --------------------------------------------------------------------------------


async def test_retention_job_is_scheduled_daily_only_when_configured(tmp_path: Path) -> None:
    from supportbot.app import build_application
    from supportbot.clock import FakeClock
    from tests.handlers.conftest import make_settings
    from tests.kit.harness import running_app
    from tests.kit.recording import RecordingRequest

    for env, expected in (({}, 0), ({"RETENTION_DAYS": "30"}, 1)):
        app = build_application(
            make_settings(tmp_path / str(expected), **env),
            request=RecordingRequest(),
            clock=FakeClock(),
        )
        async with running_app(app):
            jobs = [j for j in app.job_queue.jobs() if j.name == "journal-retention"]
            assert len(jobs) == expected
            if jobs:
                assert jobs[0].trigger.interval == timedelta(days=1)


# -- nothing the client wrote reaches a log ----------------------------------------------------


_NAMED = (
    "httpx",
    "httpcore",
    "telegram",
    "apscheduler",
    "aiosqlite",
    "asyncio",
    "matplotlib",
    "PIL",
)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_no_client_text_in_any_log_at_debug(
    bot: BotHarness, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = ["QUINCE-MARMOT-5512", "mi hermana Lucía", "ZEPHYR-ODD-9"]
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in _NAMED})
    setup_logging("DEBUG", [bot.deps.settings.bot_token])  # the real setup, as `supportbot run`
    capture = _Capture()
    root.addHandler(capture)
    try:
        await bot.start(lang="es")
        await note(bot, f"{secrets[0]} con {secrets[1]}", "es")
        await bot.send(bot.u.command(USER, "/note", lang="es"))
        await bot.send(bot.u.text(USER, secrets[2], lang="es"))
        await bot.press(button(bot, T["es"]["bring"]), lang="es")
        await bot.send(bot.u.command(USER, "/journal", lang="es"))
        await bot.press(button(bot, "1"), lang="es")
        await bot.press(button(bot, T["es"]["delete"]), lang="es")
        await bot.press(button(bot, T["es"]["delete_yes"]), lang="es")
        await _moods(bot, 30)
        await bot.send(bot.u.command(USER, "/mood", lang="es"))
        await bot.press("mo:w:12", lang="es")
        await bot.send(bot.u.command(USER, "/export", lang="es"))
        await bot.press("jr:op:notanumber:0", lang="es")
        await bot.send(bot.u.command(USER, "/forget", lang="es"))
        await bot.press("fg:yes", lang="es")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
    assert bot.rec.sent("sendDocument"), "the flows ran"
    assert any(r.name.startswith("supportbot") for r in capture.records), "logging was captured"
    logged = "\n".join(_record_text(r) for r in capture.records) + capsys.readouterr().err
    for secret in secrets:
        assert secret not in logged
        assert secret.split()[0] not in logged


def _record_text(record: logging.LogRecord) -> str:
    parts: list[Any] = [record.getMessage()]
    if record.exc_info and record.exc_info[1] is not None:
        parts.append(repr(record.exc_info[1]))
    return " ".join(str(p) for p in parts)
