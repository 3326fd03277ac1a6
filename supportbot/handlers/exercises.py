"""Grounding exercises (/ground, /breathe), reflection prompts (/reflect), self-care (/selfcare) and
the answer to "I cried in session".

An exercise runs in one message edited in place. Buttons carry everything they need (exercise id and
step), so a button pressed on yesterday's message, after a restart, still does the right thing;
what cannot be honoured (an unknown id, a step past the end) gets a polite answer. A paced breathing
run is a chain of JobQueue jobs, one per step, at most one run per client; its state lives in
user_data (memory only: a restart simply ends it).

Library texts are plain text: they always reach a template as a value, which escapes them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, Job, filters

from supportbot.content.library import MOMENTS, Exercise
from supportbot.content.strings import Raw
from supportbot.handlers.common import (
    Context,
    answer,
    awaiting,
    clip,
    deps,
    lang_of,
    reply,
    set_awaiting,
    t,
    user_state,
)
from supportbot.keyboards import Button, keyboard, pack, unpack
from supportbot.services.exercises import ExerciseService, PacedStep, PacePlan

log = logging.getLogger(__name__)
PRIVATE = filters.ChatType.PRIVATE

#: /breathe goes straight into this exercise.
BREATHE_EXERCISE = "box_breathing"
#: Offered when a client says they cried (falls back to the first breathing exercise).
CRYING_EXERCISE = "paced_breathing"
#: user_data key of the client's paced run (at most one).
PACE_KEY = "ex_pace"
REFLECTION = "reflection"
FEELINGS = ("better", "same", "worse")

Rows = list[list[Button]]


def _svc(context: Context) -> ExerciseService:
    return cast(ExerciseService, deps(context).services["exercises"])


def _s(update: Update, context: Context, key: str, /, **values: object) -> str:
    return t(update, context, f"exercises_ui.{key}", **values)


def _data(update: Update) -> Any:
    query = update.callback_query
    return unpack(query.data if query else None)


def _own_message(update: Update, ns: str) -> bool:
    """True when the pressed message is this feature's own screen (every button in ``ns``), so it
    may be edited in place. A crisis reply, a check-in or the crying reply stays as it is: the
    exercise or prompt then comes as a new message."""
    query = update.callback_query
    message = query.message if query else None
    if not isinstance(message, Message) or message.reply_markup is None:
        return False
    rows = message.reply_markup.inline_keyboard
    datas = [button.callback_data for row in rows for button in row]
    return bool(datas) and all(isinstance(d, str) and d.startswith(f"{ns}:") for d in datas)


async def _show(
    update: Update,
    context: Context,
    text: str,
    buttons: Sequence[Sequence[Button]] | None,
    *,
    in_place: bool,
) -> tuple[int, int] | None:
    """Edit the pressed message (``in_place``) or send a new one; a message that can no longer be
    edited (deleted, too old) gets a new message instead of an error. Returns (chat, message)."""
    query = update.callback_query
    target = query.message if query else None
    if in_place and target is not None:
        chat_id, message_id = target.chat.id, target.message_id
        try:
            await context.bot.edit_message_text(
                clip(text),
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=keyboard(buttons) if buttons else None,
            )
            return chat_id, message_id
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return chat_id, message_id
            log.info("could not edit message %s (%s); sending anew", message_id, type(exc).__name__)
    sent = await reply(update, context, text, buttons)
    return (sent.chat.id, sent.message_id) if sent is not None else None


# -- screens ----------------------------------------------------------------------------------------


def _menu_rows(update: Update, context: Context) -> Rows:
    lang = lang_of(update, context)
    return [
        [(ex.title, pack("ex", "start", ex.id))] for ex in _svc(context).library.exercises(lang)
    ]


def _step_screen(
    update: Update, context: Context, exercise: Exercise, index: int
) -> tuple[str, Rows]:
    total = len(exercise.steps)
    key = "ground.first" if index == 0 else "ground.step"
    text = _s(
        update,
        context,
        key,
        title=exercise.title,
        summary=exercise.summary,
        number=index + 1,
        total=total,
        text=exercise.steps[index].text,
    )

    def label(name: str) -> str:
        return _s(update, context, f"buttons.{name}")

    rows: Rows = []
    last = index + 1 >= total
    if not last:
        rows.append([(label("next"), pack("ex", "next", exercise.id, index + 1))])
    extra: list[Button] = []
    if last and exercise.kind == "breathing":
        extra.append((label("another_round"), pack("ex", "next", exercise.id, 0)))
    if exercise.paced:
        extra.append((label("pace"), pack("ex", "pace", exercise.id)))
    if extra:
        rows.append(extra)
    rows.append(
        [
            (label("done"), pack("ex", "done", exercise.id)),
            (label("another"), pack("ex", "menu")),
        ]
    )
    return text, rows


def _feel_rows(labels: dict[str, str]) -> Rows:
    return [[(labels[f], pack("ex", "feel", f)) for f in FEELINGS]]


def _feel_screen(update: Update, context: Context, key: str, **values: object) -> tuple[str, Rows]:
    labels = {f: _s(update, context, f"buttons.{f}") for f in FEELINGS}
    return _s(update, context, key, **values), _feel_rows(labels)


def _stopped_screen(update: Update, context: Context, exercise: Exercise) -> tuple[str, Rows]:
    def label(name: str) -> str:
        return _s(update, context, f"buttons.{name}")

    rows: Rows = [
        [
            (label("pace"), pack("ex", "pace", exercise.id)),
            (label("next"), pack("ex", "next", exercise.id, 0)),
        ],
        [(label("done"), pack("ex", "done", exercise.id)), (label("another"), pack("ex", "menu"))],
    ]
    return _s(update, context, "pace.stopped", title=exercise.title), rows


# -- /ground and /breathe ----------------------------------------------------------------------------


async def ground(update: Update, context: Context) -> None:
    await reply(update, context, _s(update, context, "ground.menu"), _menu_rows(update, context))


async def breathe(update: Update, context: Context) -> None:
    exercise = _svc(context).library.exercise(lang_of(update, context), BREATHE_EXERCISE)
    if exercise is None:  # content without box breathing: offer what there is
        await ground(update, context)
        return
    text, rows = _step_screen(update, context, exercise, 0)
    await reply(update, context, text, rows)


async def exercise_button(update: Update, context: Context) -> None:
    """Every ``ex:`` button. Always answers the query exactly once."""
    data = _data(update)
    user = update.effective_user
    if data is None or user is None:
        await answer(update, t(update, context, "ui.errors.stale_button"))
        return
    lang = lang_of(update, context)
    library = _svc(context).library
    in_place = _own_message(update, "ex")
    action = data.action
    query = update.callback_query
    here = query.message.message_id if query and query.message else None
    run = _current_run(context)
    if run is not None and run.message_id == here and action not in ("pace", "stop"):
        await _end_run(context, run)  # the client moved on from the timer on this message

    if action == "menu":
        await answer(update)
        await _show(
            update,
            context,
            _s(update, context, "ground.menu"),
            _menu_rows(update, context),
            in_place=in_place,
        )
        return
    if action == "feel" and data.arg(0) in FEELINGS and len(data.args) == 1:
        await answer(update)
        feeling = data.arg(0)
        rows: Rows = []
        if feeling != "better":
            key = "try_another" if feeling == "worse" else "another"
            rows = [[(_s(update, context, f"buttons.{key}"), pack("ex", "menu"))]]
        await _show(
            update, context, _s(update, context, f"ground.{feeling}"), rows, in_place=in_place
        )
        return

    exercise = library.exercise(lang, data.arg(0) or "") if action != "feel" else None
    if exercise is None:
        stale = action in ("start", "next", "done", "pace", "stop") and len(data.args) >= 1
        await answer(
            update,
            _s(update, context, "ground.unknown")
            if stale
            else t(update, context, "ui.errors.stale_button"),
        )
        return

    if action == "start" and len(data.args) == 1:
        await answer(update)
        text, rows = _step_screen(update, context, exercise, 0)
        await _show(update, context, text, rows, in_place=in_place)
    elif action == "next" and len(data.args) == 2:
        index = data.int_arg(1)
        if index is None or not 0 <= index < len(exercise.steps):
            await answer(update, t(update, context, "ui.errors.stale_button"))
            return
        await answer(update)
        text, rows = _step_screen(update, context, exercise, index)
        await _show(update, context, text, rows, in_place=in_place)
    elif action == "done" and len(data.args) == 1:
        await answer(update)
        text, rows = _feel_screen(update, context, "ground.feel", title=exercise.title)
        await _show(update, context, text, rows, in_place=in_place)
    elif action == "pace" and len(data.args) == 1:
        if not exercise.paced:
            await answer(update, _s(update, context, "pace.not_paced"))
            return
        await answer(update)
        await _start_run(update, context, exercise, lang, in_place=in_place)
    elif action == "stop" and len(data.args) == 1:
        if run is not None and run.message_id == here:
            await answer(update)
            await _end_run(context, run)
        else:
            await answer(update, _s(update, context, "pace.already_stopped"))
        text, rows = _stopped_screen(update, context, exercise)
        await _show(update, context, text, rows, in_place=in_place)
    else:
        await answer(update, t(update, context, "ui.errors.stale_button"))


# -- paced runs -------------------------------------------------------------------------------------


@dataclass
class _Run:
    """A client's timed run, in user_data. ``lock`` orders a step's edit against "Stop"."""

    token: int
    user_id: int
    exercise_id: str
    title: str
    lang: str
    chat_id: int
    message_id: int
    plan: PacePlan
    started: float
    position: int = 0
    job: Job[Any] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    stopped: bool = False


_tokens = itertools.count(1)


def _current_run(context: Context) -> _Run | None:
    run = user_state(context).get(PACE_KEY)
    return run if isinstance(run, _Run) and not run.stopped else None


def _scale(context: Context) -> float:
    """Seconds per written second: 1.0 in use; tests set services["pace_scale"] = 0."""
    return float(deps(context).services.get("pace_scale", 1.0))


async def _end_run(context: Context, run: _Run) -> None:
    """Stop the timer; the caller decides what the message shows next."""
    run.stopped = True
    if run.job is not None:
        run.job.schedule_removal()
        run.job = None
    state = user_state(context)
    if state.get(PACE_KEY) is run:
        del state[PACE_KEY]
    async with run.lock:  # wait for a step's edit in flight, so ours lands last
        pass


async def _start_run(
    update: Update, context: Context, exercise: Exercise, lang: str, *, in_place: bool
) -> None:
    user = update.effective_user
    assert user is not None
    previous = _current_run(context)
    if previous is not None:  # never two timers: the older one stops where it is
        await _end_run(context, previous)
        older = _svc(context).library.exercise(lang, previous.exercise_id)
        if older is not None and previous.message_id != _pressed_id(update):
            await _edit_quietly(context, previous, *_stopped_screen(update, context, older))
    plan = _svc(context).plan(lang, exercise.id, _scale(context))
    if plan is None or not plan.steps or context.job_queue is None:
        await reply(update, context, _s(update, context, "pace.not_paced"))
        return
    first = plan.steps[0]
    shown = await _show(
        update,
        context,
        *_pace_screen(context, lang, exercise.id, exercise.title, first),
        in_place=in_place,
    )
    if shown is None:
        return
    run = _Run(
        token=next(_tokens),
        user_id=user.id,
        exercise_id=exercise.id,
        title=exercise.title,
        lang=lang,
        chat_id=shown[0],
        message_id=shown[1],
        plan=plan,
        started=time.monotonic(),
        position=1,
    )
    user_state(context)[PACE_KEY] = run
    log.info("paced run %s started (%s, %d steps)", run.token, exercise.id, len(plan))
    _schedule(context, run)


def _pressed_id(update: Update) -> int | None:
    query = update.callback_query
    return query.message.message_id if query and query.message else None


def _pace_screen(
    context: Context, lang: str, exercise_id: str, title: str, step: PacedStep
) -> tuple[str, Rows]:
    strings = deps(context).strings
    text = strings.t(
        lang,
        "exercises_ui.pace.step",
        title=title,
        round=step.round,
        rounds=step.rounds,
        text=step.text,
        seconds=step.seconds,
    )
    stop = strings.t(lang, "exercises_ui.buttons.stop")
    return text, [[(stop, pack("ex", "stop", exercise_id))]]


def _schedule(context: Context, run: _Run) -> None:
    queue = context.job_queue
    assert queue is not None
    due = run.plan.total if run.position >= len(run.plan) else run.plan.steps[run.position].at
    delay = max(0.0, run.started + due - time.monotonic())
    run.job = queue.run_once(
        _pace_tick,
        when=delay,
        data=run.token,
        user_id=run.user_id,
        chat_id=run.chat_id,
        name=f"pace:{run.user_id}",
    )


async def _pace_tick(context: Context) -> None:
    """One step of a paced run (or its end), then the next step's job."""
    job = context.job
    run = _current_run(context)
    if job is None or run is None or run.token != job.data:
        return  # stopped, or replaced by a newer run
    async with run.lock:
        if run.stopped:
            return
        strings = deps(context).strings
        if run.position >= len(run.plan):
            labels = {f: strings.t(run.lang, f"exercises_ui.buttons.{f}") for f in FEELINGS}
            text = strings.t(
                run.lang,
                "exercises_ui.pace.finished",
                title=run.title,
                rounds=run.plan.steps[-1].rounds,
            )
            run.stopped = True
            user_state(context).pop(PACE_KEY, None)
            await _edit_quietly(context, run, text, _feel_rows(labels))
            log.info("paced run %s finished", run.token)
            return
        step = run.plan.steps[run.position]
        text, rows = _pace_screen(context, run.lang, run.exercise_id, run.title, step)
        if not await _edit_quietly(context, run, text, rows):
            run.stopped = True
            user_state(context).pop(PACE_KEY, None)
            return
        run.position += 1
        _schedule(context, run)


async def _edit_quietly(context: Context, run: _Run, text: str, rows: Rows) -> bool:
    """Edit the run's message; False when the run cannot go on (message gone, bot blocked).
    A slow or busy Telegram only skips this step."""
    try:
        await context.bot.edit_message_text(
            clip(text),
            chat_id=run.chat_id,
            message_id=run.message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(rows) if rows else None,
        )
    except BadRequest as exc:  # before NetworkError: BadRequest is one of its subclasses
        if "not modified" not in str(exc).lower():
            log.info("paced run %s ended: %s", run.token, exc.__class__.__name__)
            return False
    except (RetryAfter, NetworkError):
        log.info("paced run %s skipped a step (network)", run.token)
    except (Forbidden, TelegramError) as exc:
        log.info("paced run %s ended: %s", run.token, exc.__class__.__name__)
        return False
    return True


# -- /reflect ---------------------------------------------------------------------------------------


def _moment_rows(update: Update, context: Context) -> Rows:
    return [
        [(_s(update, context, f"reflect.moments.{m}"), pack("rf", "moment", m))] for m in MOMENTS
    ]


async def _consent(context: Context, user_id: int) -> bool:
    profile = await deps(context).profile.get(user_id)
    return profile is not None and profile.consent


async def _send_prompt(update: Update, context: Context, moment: str, *, in_place: bool) -> None:
    user = update.effective_user
    assert user is not None
    lang = lang_of(update, context)
    prompt = _svc(context).prompt(user.id, lang, moment)
    if prompt is None:
        await _show(
            update,
            context,
            _s(update, context, "reflect.none"),
            _moment_rows(update, context),
            in_place=in_place,
        )
        return
    hint_key = (
        "reflect.hint_saved" if await _consent(context, user.id) else "reflect.hint_not_saved"
    )
    text = _s(
        update,
        context,
        "reflect.prompt",
        prompt=prompt.text,
        hint=Raw(_s(update, context, hint_key)),
    )
    rows: Rows = [
        [
            (_s(update, context, "buttons.another_prompt"), pack("rf", "next", moment)),
            (_s(update, context, "buttons.skip"), pack("rf", "skip")),
        ]
    ]
    shown = await _show(update, context, text, rows, in_place=in_place)
    set_awaiting(
        context,
        REFLECTION,
        prompt_id=prompt.id,
        moment=moment,
        message_id=shown[1] if shown else None,
    )


async def reflect(update: Update, context: Context) -> None:
    words = " ".join(context.args or []).strip()
    if words:
        moment = _svc(context).moment(words[:100], lang_of(update, context))
        if moment is not None:
            await _send_prompt(update, context, moment, in_place=False)
            return
        await reply(
            update,
            context,
            _s(update, context, "reflect.unknown_moment"),
            _moment_rows(update, context),
        )
        return
    await reply(
        update, context, _s(update, context, "reflect.choose"), _moment_rows(update, context)
    )


def _on_current_prompt(update: Update, context: Context) -> bool:
    """Was the button pressed on the prompt the client is answering right now?"""
    pending = awaiting(context)
    return (
        pending is not None
        and pending.get("kind") == REFLECTION
        and pending.get("message_id") in (None, _pressed_id(update))
    )


async def reflect_button(update: Update, context: Context) -> None:
    """Every ``rf:`` button (``rf:moment:<moment>`` also comes from check-ins)."""
    data = _data(update)
    user = update.effective_user
    if data is None or user is None:
        await answer(update, t(update, context, "ui.errors.stale_button"))
        return
    action = data.action
    if action in ("moment", "next") and len(data.args) == 1 and data.arg(0) in MOMENTS:
        await answer(update)
        own = _own_message(update, "rf")
        in_place = own and (action == "moment" or _on_current_prompt(update, context))
        await _send_prompt(update, context, str(data.arg(0)), in_place=in_place)
    elif action == "skip" and not data.args:
        await answer(update)
        if _on_current_prompt(update, context):
            set_awaiting(context, None)
        text = _s(update, context, "reflect.skipped")
        await _show(update, context, text, None, in_place=_own_message(update, "rf"))
    elif action == "bring" and len(data.args) == 2 and data.arg(1) in ("0", "1"):
        await _toggle_bring(update, context, user.id, data.int_arg(0), data.arg(1) == "1")
    else:
        await answer(update, t(update, context, "ui.errors.stale_button"))


async def _toggle_bring(
    update: Update, context: Context, user_id: int, entry_id: int | None, bring: bool
) -> None:
    """Mark (or unmark) a saved reflection to bring to therapy; the button flips in place."""
    storage = deps(context).storage
    entry = await storage.get_entry(user_id, entry_id) if entry_id is not None else None
    if entry is None or entry_id is None or not await storage.set_bring(user_id, entry_id, bring):
        await answer(update, _s(update, context, "reflect.gone"))
        return
    await answer(update, _s(update, context, "reflect.marked" if bring else "reflect.unmarked"))
    moment = "during_week"
    if entry.prompt_id:
        prompt = _svc(context).library.prompt(lang_of(update, context), entry.prompt_id)
        moment = prompt.moment if prompt is not None else moment
    await _set_markup(update, context, _answer_rows(update, context, entry_id, bring, moment))


def _answer_rows(
    update: Update, context: Context, entry_id: int | None, bring: bool, moment: str
) -> Rows:
    rows: Rows = []
    if entry_id is not None:
        label = "buttons.bring_marked" if bring else "buttons.bring"
        rows.append(
            [(_s(update, context, label), pack("rf", "bring", entry_id, 0 if bring else 1))]
        )
    rows.append([(_s(update, context, "buttons.another_prompt"), pack("rf", "next", moment))])
    return rows


async def _set_markup(update: Update, context: Context, rows: Rows) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await context.bot.edit_message_reply_markup(
            chat_id=query.message.chat.id,
            message_id=query.message.message_id,
            reply_markup=keyboard(rows),
        )
    except BadRequest as exc:
        log.info("could not update buttons: %s", exc.__class__.__name__)


async def reflection_answer(update: Update, context: Context, text: str) -> None:
    """The client's answer to a prompt: saved with consent (even when it also drew a crisis
    reply), never without; acknowledged either way."""
    user = update.effective_user
    assert user is not None
    pending = awaiting(context) or {}
    prompt_id = pending.get("prompt_id")
    moment = str(pending.get("moment") or "during_week")
    d = deps(context)
    entry_id: int | None = None
    if await _consent(context, user.id):
        entry_id = await d.storage.add_entry(
            user.id,
            "reflection",
            text,
            d.clock.now(),
            prompt_id=str(prompt_id) if prompt_id else None,
        )
        log.info("reflection saved (entry %s)", entry_id)
    set_awaiting(context, None)
    key = "reflect.saved" if entry_id is not None else "reflect.not_saved"
    await reply(
        update,
        context,
        _s(update, context, key),
        _answer_rows(update, context, entry_id, False, moment),
    )


# -- /selfcare --------------------------------------------------------------------------------------


def _selfcare_screen(update: Update, context: Context, page_no: int) -> tuple[str, Rows] | None:
    page = _svc(context).selfcare_page(lang_of(update, context), page_no)
    if page is None:
        return None
    lines = [_s(update, context, "selfcare.header"), ""]
    lines += [_s(update, context, "selfcare.item", text=idea.text) for idea in page.items]
    rows: Rows = []
    if page.has_more:
        rows.append([(_s(update, context, "buttons.more"), pack("sc", "more", page.page + 1))])
    else:
        lines += ["", _s(update, context, "selfcare.end")]
        if page.pages > 1:
            rows.append([(_s(update, context, "buttons.from_start"), pack("sc", "more", 0))])
    return "\n".join(lines), rows


async def selfcare(update: Update, context: Context) -> None:
    screen = _selfcare_screen(update, context, 0)
    if screen is not None:
        await reply(update, context, *screen)


async def selfcare_button(update: Update, context: Context) -> None:
    data = _data(update)
    page_no = data.int_arg(0) if data is not None and data.action == "more" else None
    screen = _selfcare_screen(update, context, page_no) if page_no is not None else None
    if screen is None or data is None or len(data.args) != 1:
        await answer(update, t(update, context, "ui.errors.stale_button"))
        return
    await answer(update)
    await _show(update, context, *screen, in_place=_own_message(update, "sc"))


# -- "I cried in session" ---------------------------------------------------------------------------


async def crying_or_fallback(update: Update, context: Context, text: str) -> None:
    """Free text nothing else claimed: a warm word if it says the client cried, else the usual
    note about what the bot understands. Never a diagnosis, never a guess beyond the words."""
    lang = lang_of(update, context)
    svc = _svc(context)
    if not svc.mentions_crying(text, lang):
        await reply(update, context, t(update, context, "ui.fallback.text"))
        return
    exercise = svc.library.exercise(lang, CRYING_EXERCISE) or next(
        (e for e in svc.library.exercises(lang) if e.kind == "breathing"),
        None,
    )
    rows: Rows = []
    if exercise is not None:
        rows.append(
            [(_s(update, context, "buttons.crying_exercise"), pack("ex", "start", exercise.id))]
        )
    rows.append(
        [(_s(update, context, "buttons.crying_reflect"), pack("rf", "moment", "after_crying"))]
    )
    log.info("crying reply sent (update %s)", update.update_id)
    await reply(update, context, _s(update, context, "crying.text"), rows)


# -- registration -----------------------------------------------------------------------------------


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Commands and buttons in group 0; the reflection answer and the catch-all free-text route."""
    app.add_handler(CommandHandler("ground", ground, filters=PRIVATE))
    app.add_handler(CommandHandler("breathe", breathe, filters=PRIVATE))
    app.add_handler(CommandHandler("reflect", reflect, filters=PRIVATE))
    app.add_handler(CommandHandler("selfcare", selfcare, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(exercise_button, pattern=r"^ex:"))
    app.add_handler(CallbackQueryHandler(reflect_button, pattern=r"^rf:"))
    app.add_handler(CallbackQueryHandler(selfcare_button, pattern=r"^sc:"))
    routes = app.bot_data["deps"].text_routes
    routes[REFLECTION] = reflection_answer
    routes["*"] = crying_or_fallback
