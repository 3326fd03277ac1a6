"""Onboarding, settings and stray input, through the real application (no network)."""

from __future__ import annotations

import pytest

from tests.handlers.conftest import USER, BotHarness


async def test_start_explains_what_the_bot_is_and_asks_consent(bot: BotHarness) -> None:
    await bot.send(bot.u.command(USER, "/start"))
    text = bot.last_text()
    for phrase in ("automated", "not therapy", "emergency", "no person reads", "/crisis"):
        assert phrase in text
    labels = [label for row in bot.last_buttons() for label, _ in row]
    assert labels == ["I agree", "Not now"]
    user = await bot.deps.storage.get_user(USER)
    assert user is not None and not user.consent


async def test_consent_is_stored_and_can_be_declined(bot: BotHarness) -> None:
    await bot.start(consent=True)
    assert (await bot.deps.storage.get_user(USER)).consent  # type: ignore[union-attr]
    assert "Thank you" in bot.last_text()
    await bot.press("cs:no")
    assert not (await bot.deps.storage.get_user(USER)).consent  # type: ignore[union-attr]


async def test_spanish_client_is_answered_in_spanish(bot: BotHarness) -> None:
    await bot.send(bot.u.command(USER, "/start", lang="es-MX"))
    assert "acompañante automático" in bot.last_text()
    assert [label for row in bot.last_buttons() for label, _ in row] == ["Acepto", "Ahora no"]


async def test_unsupported_language_falls_back_to_english_with_a_note(bot: BotHarness) -> None:
    await bot.send(bot.u.command(USER, "/start", lang="de"))
    assert bot.last_text().startswith("I don't speak your language yet")


async def test_deep_link_presets_language_and_country(bot: BotHarness) -> None:
    await bot.send(bot.u.command(USER, "/start es_MX", lang="en"))
    user = await bot.deps.storage.get_user(USER)
    assert user is not None and (user.language, user.country, user.start_code) == (
        "es",
        "MX",
        "es_MX",
    )
    assert "Hola" in bot.last_text()


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_help_lists_registered_commands_one_per_line(bot: BotHarness, lang: str) -> None:
    await bot.start(lang=lang)
    await bot.send(bot.u.command(USER, "/help", lang=lang))
    text = bot.last_text()
    for command in ("/start", "/help", "/crisis", "/privacy", "/settings", "/timezone"):
        assert f"\n{command} — " in text


async def test_privacy_names_export_and_forget(bot: BotHarness) -> None:
    await bot.send(bot.u.command(USER, "/privacy"))
    assert "/export" in bot.last_text() and "/forget" in bot.last_text()


async def test_settings_before_start_asks_to_start(bot: BotHarness) -> None:
    await bot.send(bot.u.command(USER, "/settings"))
    assert "/start" in bot.last_text()


async def test_settings_show_values(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/settings"))
    text = bot.last_text()
    assert "Europe/Madrid" in text and "English" in text and "yes" in text


@pytest.mark.parametrize(
    ("query", "zone"),
    [
        ("berlin", "Europe/Berlin"),
        ("new york", "America/New_York"),
        ("Europe/Madrid", "Europe/Madrid"),
    ],
)
async def test_timezone_forgiving_match(bot: BotHarness, query: str, zone: str) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, f"/timezone {query}"))
    assert zone in bot.last_text()
    assert (await bot.deps.storage.get_user(USER)).timezone == zone  # type: ignore[union-attr]


async def test_wrong_timezone_changes_nothing_and_gives_examples(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/timezone Atlantis Deep"))
    assert "nothing changed" in bot.last_text() and "/timezone London" in bot.last_text()
    assert (await bot.deps.storage.get_user(USER)).timezone == "Europe/Madrid"  # type: ignore[union-attr]


async def test_timezone_without_argument_asks_and_takes_the_next_message(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/timezone"))
    await bot.send(bot.u.text(USER, "bogota"))
    assert (await bot.deps.storage.get_user(USER)).timezone == "America/Bogota"  # type: ignore[union-attr]


async def test_country_sets_crisis_resources_and_rejects_nonsense(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/country mexico"))
    assert (await bot.deps.storage.get_user(USER)).country == "MX"  # type: ignore[union-attr]
    assert bot.deps.profile.cache.get(USER).country == "MX"  # type: ignore[union-attr]
    await bot.send(bot.u.command(USER, "/country Narnia"))
    assert "nothing changed" in bot.last_text()
    assert (await bot.deps.storage.get_user(USER)).country == "MX"  # type: ignore[union-attr]


async def test_language_switch_and_unknown_language(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/language es"))
    assert "español" in bot.last_text()
    await bot.send(bot.u.command(USER, "/help"))
    assert "Esto es lo que puedo hacer" in bot.last_text()
    await bot.send(bot.u.command(USER, "/language klingon"))
    assert "no cambié nada" in bot.last_text()
    assert (await bot.deps.storage.get_user(USER)).language == "es"  # type: ignore[union-attr]


async def test_language_buttons(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/language"))
    assert ("Español", "lg:set:es") in [b for row in bot.last_buttons() for b in row]
    await bot.press("lg:set:es")
    assert (await bot.deps.storage.get_user(USER)).language == "es"  # type: ignore[union-attr]


async def test_unknown_command_sticker_and_voice_get_kind_answers(bot: BotHarness) -> None:
    await bot.start()
    await bot.send(bot.u.command(USER, "/frobnicate"))
    assert "don't know that command" in bot.last_text()
    await bot.send(bot.u.sticker(USER))
    assert "only read text" in bot.last_text()
    await bot.send(bot.u.voice(USER))
    assert "only read text" in bot.last_text()


@pytest.mark.parametrize(
    "data", ["cs:maybe", "zz:top", "lg:set:xx", "garbage", "a" * 64, "ex:next:nope:999"]
)
async def test_forged_buttons_are_answered_politely(bot: BotHarness, data: str) -> None:
    await bot.start()
    user_before = await bot.deps.storage.get_user(USER)
    mark = bot.rec.mark()
    await bot.press(data)
    answers = [c for c in bot.rec.calls[mark:] if c.method == "answerCallbackQuery"]
    assert answers, "every button press must be answered"
    assert await bot.deps.storage.get_user(USER) == user_before


@pytest.mark.parametrize("text", ["x" * 4096, "\u202e\u200b𝔥𝔢𝔩𝔩𝔬 ½ ﷽", "🙂" * 500, "\x00\x01\x02"])
async def test_odd_input_gets_an_answer_and_changes_nothing(bot: BotHarness, text: str) -> None:
    await bot.start()
    user_before = await bot.deps.storage.get_user(USER)
    mark = bot.rec.mark()
    await bot.send(bot.u.text(USER, text))
    assert len(bot.rec.sent("sendMessage")[0:]) > 0 and len(bot.rec.calls) > mark
    assert await bot.deps.storage.get_user(USER) == user_before


async def test_group_gets_one_note_then_the_bot_leaves(bot: BotHarness) -> None:
    await bot.send(bot.u.group_text(-100123, USER, "/start"))
    await bot.send(bot.u.group_text(-100123, USER, "hello?"))
    notes = bot.rec.sent("sendMessage", chat_id=-100123)
    assert len(notes) == 1 and "only work in private chats" in (notes[0].text or "")
    assert len(bot.rec.sent("leaveChat")) >= 1
    assert await bot.deps.storage.get_user(USER) is None


async def test_added_to_group_leaves(bot: BotHarness) -> None:
    await bot.send(bot.u.my_chat_member_added_to_group(-100999))
    assert bot.rec.sent("leaveChat", chat_id=-100999)


async def test_a_stale_question_no_longer_captures_the_next_message(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import supportbot.handlers.common as common

    await bot.start()
    await bot.send(bot.u.command(USER, "/timezone"))
    real = common.time.monotonic
    monkeypatch.setattr(common.time, "monotonic", lambda: real() + common.AWAITING_TTL + 1)
    await bot.send(bot.u.text(USER, "bogota"))
    assert (await bot.deps.storage.get_user(USER)).timezone == "Europe/Madrid"  # type: ignore[union-attr]
    assert "/help" in bot.last_text()


async def test_every_command_is_in_help_and_the_menu(bot: BotHarness) -> None:
    from telegram.ext import CommandHandler

    from supportbot.handlers.core import COMMAND_ORDER, registered_commands

    found = {
        c
        for hs in bot.app.handlers.values()
        for h in hs
        if isinstance(h, CommandHandler)
        for c in h.commands
    }
    assert found - set(COMMAND_ORDER) == {"sos"}  # /sos is an alias of /crisis, named in its line
    assert registered_commands(bot.app) == [c for c in COMMAND_ORDER if c in found]
