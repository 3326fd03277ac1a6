"""/ground, /breathe, /reflect, /selfcare and the crying reply, through the real application.

The application is started (its JobQueue runs) so a paced breathing run really chains its jobs;
``pace_scale`` 0 makes every step due at once, so a run finishes without waiting.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from telegram.error import BadRequest

from supportbot.app import build_application
from supportbot.clock import FakeClock
from supportbot.config import DEFAULT_MESSAGES_DIR
from supportbot.content.library import MOMENTS, Library
from supportbot.content.strings import Strings
from supportbot.handlers.exercises import PACE_KEY
from supportbot.keyboards import MAX_CALLBACK_BYTES, unpack
from tests.handlers.conftest import USER, BotHarness, make_settings
from tests.kit.harness import running_app
from tests.kit.recording import RecordingRequest
from tests.kit.updates import Updates

LANGS = ("en", "es")
STRINGS = Strings.load(DEFAULT_MESSAGES_DIR, "en")
LIBRARY = Library.load(DEFAULT_MESSAGES_DIR, STRINGS.languages, "en")
EXERCISE_IDS = [e.id for e in LIBRARY.exercises("en")]
PACED_IDS = [e.id for e in LIBRARY.exercises("en") if e.paced]
STEPPED_IDS = [e.id for e in LIBRARY.exercises("en") if not e.paced]


def s(lang: str, key: str, **values: object) -> str:
    return STRINGS.t(lang, f"exercises_ui.{key}", **values)


def first_line(lang: str, key: str) -> str:
    """The first line of a template, up to its first placeholder: a stable thing to look for."""
    return STRINGS.raw(lang, f"exercises_ui.{key}").split("{")[0].split("\n")[0]


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    """Like the shared fixture, but started, so JobQueue jobs run."""
    rec = RecordingRequest()
    clock = FakeClock()
    app = build_application(make_settings(tmp_path), request=rec, clock=clock)
    app.bot_data["deps"].services["pace_scale"] = 0.0
    async with running_app(app, start=True) as running:
        yield BotHarness(running, rec, Updates(running.bot), running.bot_data["deps"], clock)


def buttons(call_or_bot: Any) -> list[tuple[str, str]]:
    rows = (
        call_or_bot.last_buttons() if isinstance(call_or_bot, BotHarness) else call_or_bot.buttons
    )
    return [(label, str(data)) for row in rows for label, data in row]


def data_of(bot: BotHarness, prefix: str) -> str:
    found = [d for _, d in buttons(bot) if d.startswith(prefix)]
    assert found, f"no button starting {prefix!r} in {buttons(bot)}"
    return found[0]


def pace_jobs(bot: BotHarness) -> list[Any]:
    """Paced-run jobs only (other features keep their own jobs, such as the check-in dispatcher)."""
    return [j for j in bot.app.job_queue.jobs() if str(j.name).startswith("pace:")]


def answers(bot: BotHarness) -> list[str | None]:
    return [c.params.get("text") for c in bot.rec.sent("answerCallbackQuery")]


def edits(bot: BotHarness, since: int = 0) -> list[Any]:
    return [c for c in bot.rec.calls[since:] if c.ok and c.method == "editMessageText"]


def sends(bot: BotHarness, since: int = 0) -> list[Any]:
    return [c for c in bot.rec.calls[since:] if c.ok and c.method == "sendMessage"]


def all_callback_data(bot: BotHarness) -> list[str]:
    out: list[str] = []
    for call in bot.rec.calls:
        for row in call.buttons:
            out += [str(d) for _, d in row]
    return out


async def press(
    bot: BotHarness, data: str, lang: str, message: dict[str, Any] | None = None
) -> None:
    await bot.press(data, USER, lang, message)


def no_errors(bot: BotHarness, lang: str) -> None:
    generic = STRINGS.t(lang, "ui.errors.generic")
    assert generic not in bot.texts(), "a handler failed"


async def pace_finished(bot: BotHarness, since: int) -> Any:
    return await bot.rec.wait_for(
        "editMessageText",
        lambda c: any(str(d).startswith("ex:feel:") for row in c.buttons for _, d in row),
        since=since,
        timeout=10,
    )


# -- /ground, every exercise to its end --------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_ground_menu_lists_every_exercise(bot: BotHarness, lang: str) -> None:
    await bot.send(bot.u.command(USER, "/ground", lang=lang))
    assert bot.last_text() == s(lang, "ground.menu")
    expected = [(e.title, f"ex:start:{e.id}") for e in LIBRARY.exercises(lang)]
    assert buttons(bot) == expected
    assert len(expected) >= 8


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("exercise_id", EXERCISE_IDS)
async def test_every_exercise_runs_step_by_step_in_one_message(
    bot: BotHarness, lang: str, exercise_id: str
) -> None:
    exercise = LIBRARY.exercise(lang, exercise_id)
    assert exercise is not None
    await bot.send(bot.u.command(USER, "/ground", lang=lang))
    menu_id = bot.last_message()["message_id"]
    mark = bot.rec.mark()
    await press(bot, f"ex:start:{exercise_id}", lang)
    seen = [bot.last_text()]
    assert html.escape(exercise.summary, quote=False) in seen[0]
    step = 0
    while True:
        assert html.escape(exercise.steps[step].text, quote=False) in bot.last_text()
        labels = dict((d, label) for label, d in buttons(bot))
        assert labels[f"ex:done:{exercise_id}"] == s(lang, "buttons.done")
        assert labels["ex:menu"] == s(lang, "buttons.another")
        assert (f"ex:pace:{exercise_id}" in labels) == exercise.paced
        following = f"ex:next:{exercise_id}:{step + 1}"
        if following not in labels:
            break
        assert labels[following] == s(lang, "buttons.next")
        await press(bot, following, lang)
        step += 1
    assert step == len(exercise.steps) - 1
    if exercise.kind == "breathing":  # the last step offers another round, from the top
        assert f"ex:next:{exercise_id}:0" in dict((d, 1) for _, d in buttons(bot))
    await press(bot, f"ex:done:{exercise_id}", lang)
    assert html.escape(exercise.title, quote=False) in bot.last_text()
    assert [d for _, d in buttons(bot)] == ["ex:feel:better", "ex:feel:same", "ex:feel:worse"]
    await press(bot, "ex:feel:better", lang)
    assert bot.last_text() == s(lang, "ground.better")
    # One message, edited in place: nothing new was sent after the menu.
    assert not sends(bot, mark)
    assert {c.params["message_id"] for c in edits(bot, mark)} == {menu_id}
    assert len(answers(bot)) == len(exercise.steps) + 2
    assert all(a is None for a in answers(bot))
    no_errors(bot, lang)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("exercise_id", PACED_IDS)
async def test_paced_run_goes_through_every_round_and_asks_how_you_feel(
    bot: BotHarness, lang: str, exercise_id: str
) -> None:
    exercise = LIBRARY.exercise(lang, exercise_id)
    assert exercise is not None and exercise.paced
    await bot.send(bot.u.command(USER, "/ground", lang=lang))
    await press(bot, f"ex:start:{exercise_id}", lang)
    message_id = bot.last_message()["message_id"]
    mark = bot.rec.mark()
    await press(bot, f"ex:pace:{exercise_id}", lang)
    final = await pace_finished(bot, mark)
    steps = [c for c in edits(bot, mark) if c is not final]
    assert len(steps) == exercise.cycles * len(exercise.steps)
    for n, call in enumerate(steps):
        step = exercise.steps[n % len(exercise.steps)]
        assert html.escape(step.text, quote=False) in call.text
        assert str(step.seconds) in call.text
        assert f" {n // len(exercise.steps) + 1} " in call.text  # the round number
        assert call.buttons == [[(s(lang, "buttons.stop"), f"ex:stop:{exercise_id}")]]
    assert str(exercise.cycles) in final.text
    assert {c.params["message_id"] for c in edits(bot, mark)} == {message_id}
    assert not sends(bot, mark)
    assert PACE_KEY not in bot.app.user_data[USER]
    assert not pace_jobs(bot)
    # Worse: another exercise is offered, and /crisis named.
    await press(bot, "ex:feel:worse", lang)
    assert "/crisis" in bot.last_text()
    assert buttons(bot) == [(s(lang, "buttons.try_another"), "ex:menu")]
    await press(bot, "ex:menu", lang)
    assert bot.last_text() == s(lang, "ground.menu")
    no_errors(bot, lang)


async def test_paced_run_with_real_short_delays_keeps_its_order(bot: BotHarness) -> None:
    """Steps due a few milliseconds apart (not all at once) still arrive in order, on one message."""
    bot.deps.services["pace_scale"] = 0.002
    exercise = LIBRARY.exercise("en", "paced_breathing")
    assert exercise is not None
    await bot.send(bot.u.command(USER, "/ground"))
    await press(bot, "ex:start:paced_breathing", "en")
    mark = bot.rec.mark()
    await press(bot, "ex:pace:paced_breathing", "en")
    final = await pace_finished(bot, mark)
    steps = [c for c in edits(bot, mark) if c is not final]
    expected = [html.escape(st.text, quote=False) for st in exercise.steps] * exercise.cycles
    assert [next(e for e in set(expected) if e in c.text) for c in steps] == expected
    assert len({c.params["message_id"] for c in edits(bot, mark)}) == 1


@pytest.mark.parametrize("lang", LANGS)
async def test_breathe_goes_straight_into_box_breathing(bot: BotHarness, lang: str) -> None:
    box = LIBRARY.exercise(lang, "box_breathing")
    assert box is not None
    await bot.send(bot.u.command(USER, "/breathe", lang=lang))
    assert html.escape(box.title, quote=False) in bot.last_text()
    assert html.escape(box.steps[0].text, quote=False) in bot.last_text()
    assert (s(lang, "buttons.pace"), "ex:pace:box_breathing") in buttons(bot)


async def test_stop_ends_the_timer_and_a_second_stop_is_answered_kindly(bot: BotHarness) -> None:
    bot.deps.services["pace_scale"] = 1000.0  # the second step would be over an hour away
    await bot.send(bot.u.command(USER, "/breathe"))
    await press(bot, "ex:pace:box_breathing", "en")
    assert [d for _, d in buttons(bot)] == ["ex:stop:box_breathing"]
    assert len(pace_jobs(bot)) == 1
    await press(bot, "ex:stop:box_breathing", "en")
    assert bot.last_text().startswith("<b>Box breathing</b>")
    assert "Timer stopped" in bot.last_text()
    assert "ex:pace:box_breathing" in [d for _, d in buttons(bot)]
    assert not pace_jobs(bot)
    assert PACE_KEY not in bot.app.user_data[USER]
    await press(bot, "ex:stop:box_breathing", "en")
    assert answers(bot)[-1] == s("en", "pace.already_stopped")
    no_errors(bot, "en")


async def test_never_more_than_one_timed_run_per_client(bot: BotHarness) -> None:
    bot.deps.services["pace_scale"] = 1000.0
    await bot.send(bot.u.command(USER, "/breathe"))
    first = bot.last_message()
    await press(bot, "ex:pace:box_breathing", "en", first)
    await bot.send(bot.u.command(USER, "/breathe"))
    second = bot.last_message()
    assert second["message_id"] != first["message_id"]
    await press(bot, "ex:pace:box_breathing", "en", second)
    assert len(pace_jobs(bot)) == 1
    # The first message no longer shows a running timer.
    last_edit_of_first = [c for c in edits(bot) if c.params["message_id"] == first["message_id"]][
        -1
    ]
    assert "Timer stopped" in last_edit_of_first.text
    assert bot.app.user_data[USER][PACE_KEY].message_id == second["message_id"]
    # Moving on (Done) from the running message ends its timer too.
    await press(bot, "ex:done:box_breathing", "en", bot.last_message())
    assert not pace_jobs(bot)


async def test_a_paced_run_ends_quietly_when_its_message_is_gone(bot: BotHarness) -> None:
    bot.deps.services["pace_scale"] = 0.0
    await bot.send(bot.u.command(USER, "/breathe"))
    bot.rec.fail_next("editMessageText", lambda: BadRequest("Message to edit not found"), times=2)
    mark = bot.rec.mark()
    await press(bot, "ex:pace:box_breathing", "en")
    # The pressed message could not be edited: the run went to a new message instead...
    assert len(sends(bot, mark)) == 1
    # ...and when that one cannot be edited either, the run stops without an error reply.
    failed = [c for c in bot.rec.calls[mark:] if c.method == "editMessageText" and not c.ok]
    if len(failed) < 2:
        await bot.rec.wait_for(
            "editMessageText", lambda c: not c.ok, since=bot.rec.calls.index(failed[-1]) + 1
        )
    await bot.rec.settle(quiet=0.05)
    assert PACE_KEY not in bot.app.user_data[USER]
    assert not pace_jobs(bot)
    no_errors(bot, "en")


# -- buttons from elsewhere, stale and forged data ----------------------------------------------------


def crisis_like_message(bot: BotHarness, data: str) -> dict[str, Any]:
    """A bot message that is not the exercise's own (as the crisis reply, with two namespaces)."""
    return {
        "message_id": 777,
        "from": bot.u.builder.bot_user(),
        "chat": {"id": USER, "type": "private", "first_name": "Ana"},
        "date": 1,
        "text": "crisis reply",
        "reply_markup": {
            "inline_keyboard": [
                [
                    {"text": "Grounding", "callback_data": data},
                    {"text": "I'm safe", "callback_data": "cr:safe"},
                ]
            ]
        },
    }


@pytest.mark.parametrize("lang", LANGS)
async def test_grounding_button_on_the_crisis_reply_sends_a_new_message(
    bot: BotHarness, lang: str
) -> None:
    mark = bot.rec.mark()
    await press(bot, "ex:start:five_senses", lang, crisis_like_message(bot, "ex:start:five_senses"))
    assert not edits(bot, mark), "the crisis reply must stay as it is"
    [sent] = sends(bot, mark)
    five = LIBRARY.exercise(lang, "five_senses")
    assert five is not None
    assert html.escape(five.steps[0].text, quote=False) in sent.text
    # From there on, the exercise's own message is edited in place.
    mark = bot.rec.mark()
    await press(bot, "ex:next:five_senses:1", lang)
    assert (
        not sends(bot, mark)
        and edits(bot, mark)[0].params["message_id"] == sent.result["message_id"]
    )


async def test_real_crisis_reply_grounding_button(bot: BotHarness) -> None:
    await bot.send(bot.u.command(USER, "/crisis"))
    crisis = bot.last_message()
    ground = [d for _, d in buttons(bot) if d.startswith("ex:start:")]
    assert ground, "the crisis reply offers a grounding exercise"
    mark = bot.rec.mark()
    await press(bot, ground[0], "en", crisis)
    assert not edits(bot, mark)
    assert len(sends(bot, mark)) == 1
    no_errors(bot, "en")


FORGED = [
    "ex:start:no_such_exercise",
    "ex:start",
    "ex:next:five_senses:99",
    "ex:next:five_senses:-1",
    "ex:next:five_senses:x",
    "ex:next:five_senses",
    "ex:next:five_senses:1:2",
    "ex:done:nope",
    "ex:pace:five_senses",
    "ex:pace:nope",
    "ex:stop:box_breathing",
    "ex:feel:ecstatic",
    "ex:feel",
    "ex:explode:now",
    "ex:start:../../etc",
    "ex:start:a b",
    "ex:" + "x" * 70,
    "rf:moment:whenever",
    "rf:moment",
    "rf:next:after_session:extra",
    "rf:bring:999:1",
    "rf:bring:abc:1",
    "rf:bring:1:7",
    "rf:skip:now",
    "rf:nothing",
    "sc:more:99",
    "sc:more:-1",
    "sc:more:x",
    "sc:more",
    "sc:less:1",
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("data", FORGED)
async def test_forged_or_stale_data_gets_a_polite_answer(
    bot: BotHarness, lang: str, data: str
) -> None:
    await bot.start(lang=lang)
    await bot.send(bot.u.command(USER, "/ground", lang=lang))
    before = len(answers(bot))
    mark = bot.rec.mark()
    await press(bot, data, lang)
    assert len(answers(bot)) == before + 1, "every press is answered exactly once"
    text = answers(bot)[-1]
    assert text, "a forged or stale button is told so"
    polite = {
        STRINGS.t(lang, "ui.errors.stale_button"),
        s(lang, "ground.unknown"),
        s(lang, "pace.not_paced"),
        s(lang, "pace.already_stopped"),
        s(lang, "reflect.gone"),
    }
    assert text in polite
    no_errors(bot, lang)
    assert not [c for c in bot.rec.calls[mark:] if not c.ok]


@pytest.mark.parametrize("lang", LANGS)
async def test_next_on_yesterdays_message_after_a_restart(tmp_path: Path, lang: str) -> None:
    """The button carries what it needs: a fresh process continues the exercise; a message that
    can no longer be edited gets the step as a new message."""
    settings = make_settings(tmp_path)
    rec = RecordingRequest()
    app = build_application(settings, request=rec)
    async with running_app(app) as running:
        u = Updates(running.bot)
        await running.process_update(u.command(USER, "/ground", lang=lang))
        await running.process_update(
            u.callback(
                USER, "ex:start:five_senses", message=rec.sent("sendMessage")[-1].result, lang=lang
            )
        )
        old_message = rec.sent("editMessageText")[-1].result
    rec2 = RecordingRequest()
    app2 = build_application(settings, request=rec2)
    async with running_app(app2) as running:
        u = Updates(running.bot)
        await running.process_update(
            u.callback(USER, "ex:next:five_senses:3", message=old_message, lang=lang)
        )
        five = LIBRARY.exercise(lang, "five_senses")
        assert five is not None
        [edit] = rec2.sent("editMessageText")
        assert html.escape(five.steps[3].text, quote=False) in str(edit.text)
        rec2.fail_next("editMessageText", lambda: BadRequest("Message to edit not found"))
        await running.process_update(
            u.callback(USER, "ex:next:five_senses:4", message=old_message, lang=lang)
        )
        sent = rec2.sent("sendMessage")
        assert sent and html.escape(five.steps[4].text, quote=False) in str(sent[-1].text)
        assert len(rec2.sent("answerCallbackQuery")) == 2


# -- /reflect --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_reflection_is_saved_with_consent_and_can_be_brought_to_therapy(
    bot: BotHarness, lang: str
) -> None:
    await bot.start(lang=lang, consent=True)
    await bot.send(bot.u.command(USER, "/reflect", lang=lang))
    assert [d for _, d in buttons(bot)] == [f"rf:moment:{m}" for m in MOMENTS]
    await press(bot, "rf:moment:after_crying", lang)
    texts = {html.escape(p.text, quote=False): p.id for p in LIBRARY.prompts(lang, "after_crying")}
    shown = [pid for text, pid in texts.items() if text in bot.last_text()]
    assert len(shown) == 1
    assert s(lang, "reflect.hint_saved") in bot.last_text()
    await bot.send(bot.u.text(USER, "Relief, mostly. And <some> anger.", lang=lang))
    assert bot.last_text() == s(lang, "reflect.saved")
    [entry] = await bot.deps.storage.entries(USER, 10)
    assert (entry.kind, entry.prompt_id, entry.text) == (
        "reflection",
        shown[0],
        "Relief, mostly. And <some> anger.",
    )
    assert not entry.bring
    bring = data_of(bot, "rf:bring:")
    assert bring == f"rf:bring:{entry.id}:1"
    await press(bot, bring, lang)
    assert (await bot.deps.storage.get_entry(USER, entry.id)).bring  # type: ignore[union-attr]
    assert answers(bot)[-1] == s(lang, "reflect.marked")
    assert (s(lang, "buttons.bring_marked"), f"rf:bring:{entry.id}:0") in buttons(bot)
    await press(bot, f"rf:bring:{entry.id}:0", lang)
    assert not (await bot.deps.storage.get_entry(USER, entry.id)).bring  # type: ignore[union-attr]
    # The next message is not captured as a reflection any more.
    await bot.send(bot.u.text(USER, "hello", lang=lang))
    assert await bot.deps.storage.count_entries(USER) == 1
    no_errors(bot, lang)


@pytest.mark.parametrize("lang", LANGS)
async def test_reflection_without_consent_is_acknowledged_but_not_stored(
    bot: BotHarness, lang: str
) -> None:
    await bot.start(lang=lang, consent=False)
    await bot.send(bot.u.command(USER, "/reflect after_session", lang=lang))
    assert s(lang, "reflect.hint_not_saved") in bot.last_text()
    await bot.send(bot.u.text(USER, "It was a hard one.", lang=lang))
    assert bot.last_text() == s(lang, "reflect.not_saved")
    assert "/settings" in bot.last_text()
    assert await bot.deps.storage.count_entries(USER) == 0
    assert not [d for _, d in buttons(bot) if d.startswith("rf:bring")]


async def test_reflection_without_start_is_not_stored(bot: BotHarness) -> None:
    await bot.send(bot.u.command(USER, "/reflect week"))
    await bot.send(bot.u.text(USER, "Some thoughts"))
    assert bot.last_text() == s("en", "reflect.not_saved")
    assert await bot.deps.storage.get_user(USER) is None


async def test_reflection_with_risk_language_gets_the_crisis_reply_first_and_is_still_saved(
    bot: BotHarness,
) -> None:
    await bot.start(consent=True)
    await bot.send(bot.u.command(USER, "/reflect after_session"))
    mark = bot.rec.mark()
    await bot.send(bot.u.text(USER, "Honestly I want to kill myself after today."))
    sent = sends(bot, mark)
    assert len(sent) == 2
    assert any(d.startswith("cr:") for row in sent[0].buttons for _, d in row), "crisis reply first"
    assert sent[1].text == s("en", "reflect.saved")
    [entry] = await bot.deps.storage.entries(USER, 10)
    assert entry.text == "Honestly I want to kill myself after today."


@pytest.mark.parametrize("lang", LANGS)
async def test_another_prompt_never_repeats_the_last_one_and_skip_lets_go(
    bot: BotHarness, lang: str
) -> None:
    await bot.start(lang=lang)
    await bot.send(bot.u.command(USER, "/reflect during_week", lang=lang))
    prompt_message = bot.last_message()["message_id"]
    texts = {html.escape(p.text, quote=False) for p in LIBRARY.prompts(lang, "during_week")}
    shown: list[str] = []
    for _ in range(len(texts) * 2):
        [current] = [t for t in texts if t in bot.last_text()]
        shown.append(current)
        await press(bot, "rf:next:during_week", lang)
        assert bot.last_message()["message_id"] == prompt_message  # edited in place
    assert all(a != b for a, b in itertools.pairwise(shown))
    assert set(shown[: len(texts)]) == texts  # every prompt once before any comes back
    await press(bot, "rf:skip", lang)
    assert bot.last_text() == s(lang, "reflect.skipped")
    await bot.send(bot.u.text(USER, "just chatting", lang=lang))
    assert await bot.deps.storage.count_entries(USER) == 0


@pytest.mark.parametrize(
    ("lang", "words", "moment"),
    [
        ("en", "crying", "after_crying"),
        ("en", "before the session", "before_session"),
        ("en", "after_session", "after_session"),
        ("es", "llorar", "after_crying"),
        ("es", "después de la sesión", "after_session"),
        ("es", "semana", "during_week"),
        ("es", "before_session", "before_session"),
    ],
)
async def test_reflect_takes_the_moment_as_an_argument(
    bot: BotHarness, lang: str, words: str, moment: str
) -> None:
    await bot.send(bot.u.command(USER, f"/reflect {words}", lang=lang))
    texts = [html.escape(p.text, quote=False) for p in LIBRARY.prompts(lang, moment)]
    assert any(t in bot.last_text() for t in texts)


@pytest.mark.parametrize("lang", LANGS)
async def test_reflect_with_an_unknown_moment_offers_the_known_ones(
    bot: BotHarness, lang: str
) -> None:
    await bot.send(bot.u.command(USER, "/reflect someday maybe", lang=lang))
    assert bot.last_text() == s(lang, "reflect.unknown_moment")
    assert [d for _, d in buttons(bot)] == [f"rf:moment:{m}" for m in MOMENTS]


async def test_moment_button_from_a_check_in_sends_a_new_message(bot: BotHarness) -> None:
    message = crisis_like_message(bot, "rf:moment:after_session")
    message["reply_markup"]["inline_keyboard"][0][1]["callback_data"] = "ck:mood:3"
    mark = bot.rec.mark()
    await press(bot, "rf:moment:after_session", "en", message)
    assert not edits(bot, mark)
    assert len(sends(bot, mark)) == 1


# -- /selfcare -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_selfcare_a_few_at_a_time_then_a_gentle_end(bot: BotHarness, lang: str) -> None:
    ideas = [html.escape(i.text, quote=False) for i in LIBRARY.selfcare(lang)]
    await bot.send(bot.u.command(USER, "/selfcare", lang=lang))
    message_id = bot.last_message()["message_id"]
    seen: list[str] = []
    pages = 0
    while True:
        pages += 1
        on_page = [i for i in ideas if i in bot.last_text()]
        assert 1 <= len(on_page) <= 3
        seen += on_page
        more = [d for _, d in buttons(bot) if d.startswith("sc:more:") and d != "sc:more:0"]
        if not more:
            break
        await press(bot, more[0], lang)
        assert bot.last_message()["message_id"] == message_id
    assert seen == ideas
    assert pages == -(-len(ideas) // 3)
    assert s(lang, "selfcare.end") in bot.last_text()
    assert buttons(bot) == [(s(lang, "buttons.from_start"), "sc:more:0")]
    await press(bot, "sc:more:0", lang)
    assert ideas[0] in bot.last_text()
    no_errors(bot, lang)


# -- crying ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "text"),
    [
        ("en", "I cried in session today"),
        ("en", "I've been crying since I got home"),
        ("es", "Lloré después de la sesión"),
        ("es", "estuve llorando toda la tarde"),
    ],
)
async def test_crying_gets_a_warm_reply_with_an_exercise_and_a_prompt(
    bot: BotHarness, lang: str, text: str
) -> None:
    await bot.start(lang=lang)
    await bot.send(bot.u.text(USER, text, lang=lang))
    assert bot.last_text() == s(lang, "crying.text")
    data = [d for _, d in buttons(bot)]
    assert data == ["ex:start:paced_breathing", "rf:moment:after_crying"]
    crying = bot.last_message()
    mark = bot.rec.mark()
    await press(bot, "rf:moment:after_crying", lang, crying)
    assert not edits(bot, mark), "the warm reply stays"
    after = {html.escape(p.text, quote=False) for p in LIBRARY.prompts(lang, "after_crying")}
    assert any(p in bot.last_text() for p in after)
    await press(bot, "ex:start:paced_breathing", lang, crying)
    assert not edits(bot, mark)
    assert len(sends(bot, mark)) == 2


@pytest.mark.parametrize(("lang", "text"), [("en", "what can you do?"), ("es", "no lloré hoy")])
async def test_other_free_text_gets_the_usual_fallback(
    bot: BotHarness, lang: str, text: str
) -> None:
    await bot.start(lang=lang)
    await bot.send(bot.u.text(USER, text, lang=lang))
    assert bot.last_text() == STRINGS.t(lang, "ui.fallback.text")


# -- callback data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
async def test_every_button_fits_in_64_bytes_and_parses_back(bot: BotHarness, lang: str) -> None:
    await bot.start(lang=lang)
    await bot.send(bot.u.command(USER, "/ground", lang=lang))
    for exercise in LIBRARY.exercises(lang):
        await press(bot, f"ex:start:{exercise.id}", lang)
        for step in range(1, len(exercise.steps)):
            await press(bot, f"ex:next:{exercise.id}:{step}", lang)
        if exercise.paced:
            mark = bot.rec.mark()
            await press(bot, f"ex:pace:{exercise.id}", lang)
            await pace_finished(bot, mark)
    await bot.send(bot.u.command(USER, "/reflect", lang=lang))
    for moment in MOMENTS:
        await press(bot, f"rf:moment:{moment}", lang)
        await bot.send(bot.u.text(USER, "an answer", lang=lang))
    await bot.send(bot.u.command(USER, "/selfcare", lang=lang))
    for page in range(1, 8):
        await press(bot, f"sc:more:{page}", lang)
    await bot.send(bot.u.text(USER, "I cried", lang=lang))
    datas = all_callback_data(bot)
    assert len(datas) > 50
    for data in datas:
        assert len(data.encode()) <= MAX_CALLBACK_BYTES, data
        assert unpack(data) is not None, data
