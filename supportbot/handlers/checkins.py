"""Post-session check-ins on Telegram: /session (guided or in one line), /checkins (settings with
buttons), /pause, /resume, the check-in message's one-tap answers and their follow-ups, and the
composer that turns the dispatcher's claimed rows into messages.

Callback data (namespace "ck"), every part re-validated when it comes back:
  day:<wd>  time:<wd>:<minute>  typetime:<wd>  now  off  session      the weekly session
  a:<id>:<1-5>  later:<id>  stop:<id>  keep:<id>  end:<id>  thought     answering a check-in
  menu  set:<delay|quiet|len>  delay:<min|nm>  quiet:<start>:<end>|none  len:<min>
  type:<delay|quiet|len>  rem:<0|1>  pausemenu  pause:<days>  resume   settings
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, time

from telegram import Message, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from supportbot.content.strings import Raw, Strings
from supportbot.handlers.common import (
    Context,
    answer,
    awaiting,
    deps,
    edit,
    flagged_by_screening,
    lang_of,
    reply,
    set_awaiting,
)
from supportbot.keyboards import Button, CallbackData, pack, unpack
from supportbot.scheduling.dispatcher import Outgoing, Prepared
from supportbot.scheduling.parse import (
    parse_days,
    parse_duration_minutes,
    parse_quiet_hours,
    parse_session_arg,
    parse_time,
)
from supportbot.scheduling.rules import NEXT_MORNING, QuietHours, to_local
from supportbot.services.checkins import (
    DELAY_CHOICES,
    MAX_DELAY,
    MAX_SESSION,
    MIN_DELAY,
    MIN_SESSION,
    PAUSE_CHOICES,
    SESSION_CHOICES,
    CheckinService,
    Plan,
    format_clock,
    format_minutes,
    format_when,
    time_of,
    weekday_name,
    zone_of,
)
from supportbot.storage.base import Checkin, User

log = logging.getLogger(__name__)
NS = "ck"
PRIVATE = filters.ChatType.PRIVATE
#: Session start times offered as buttons (any other is typed).
HOUR_CHOICES = tuple(range(7, 22))
#: Quiet-hour presets (minutes after local midnight).
QUIET_CHOICES = ((21 * 60, 7 * 60), (22 * 60, 8 * 60), (23 * 60, 8 * 60))
#: Typed input gets one more try after a miss, then the bot stops waiting for it.
TYPED_TRIES = 2
STALE = "\x00stale"

ButtonRows = list[list[Button]]


def service(context: Context) -> CheckinService:
    found: CheckinService = deps(context).services["checkins"]
    return found


def _s(context: Context) -> Strings:
    return deps(context).strings


# -- the messages the dispatcher sends -----------------------------------------------------------


def scale_rows(strings: Strings, lang: str, checkin_id: int) -> ButtonRows:
    # f-strings, not pack(): the parts are ints, always valid and short (the dispatcher renders
    # thousands of these a second).
    labels = _scale_labels(strings, lang)
    return [[(labels[score - 1], f"{NS}:a:{checkin_id}:{score}")] for score in range(1, 6)]


_LABELS: dict[tuple[int, str], tuple[str, ...]] = {}


def _scale_labels(strings: Strings, lang: str) -> tuple[str, ...]:
    key = (id(strings), lang)
    found = _LABELS.get(key)
    if found is None:
        found = tuple(strings.t(lang, f"checkins.scale.s{score}") for score in range(1, 6))
        _LABELS[key] = found
    return found


def render(strings: Strings, plan: Plan) -> Prepared:
    """The message for one planned row, in the client's language."""
    row, user = plan.checkin, plan.user
    if plan.action == "skip" or user is None:
        return Prepared(row, None, plan.reason or "skipped")
    lang = user.language
    s = strings
    buttons: ButtonRows
    if plan.action in ("checkin", "retry"):
        if plan.action == "retry":
            ask = s.t(lang, "checkins.ask.retry")
        else:
            ask = s.t(lang, "checkins.ask.today" if plan.same_day else "checkins.ask.recent")
        text = f"{ask}\n\n<i>{s.t(lang, 'checkins.ask.hint')}</i>"
        buttons = scale_rows(s, lang, row.id)
        last: list[Button] = []
        if plan.action == "checkin":
            last.append((s.t(lang, "checkins.buttons.not_now"), f"{NS}:later:{row.id}"))
        last.append((s.t(lang, "checkins.buttons.stop"), f"{NS}:stop:{row.id}"))
        buttons.append(last)
    elif plan.action == "ask_continue":
        text = s.t(lang, "checkins.ask_continue.text")
        buttons = [
            [(s.t(lang, "checkins.buttons.keep"), pack(NS, "keep", row.id))],
            [(s.t(lang, "checkins.buttons.end"), pack(NS, "end", row.id))],
        ]
    else:  # reminder
        items = [s.t(lang, "checkins.reminder.item", text=e.text[:300]) for e in plan.entries]
        if plan.more_entries:
            items.append(s.t(lang, "checkins.reminder.more", count=plan.more_entries))
        text = s.t(lang, "checkins.reminder.text", items=Raw("\n".join(items)))
        buttons = []
    return Prepared(
        row,
        Outgoing(user.chat_id, text, tuple(tuple(r) for r in buttons)),
    )


class CheckinComposer:
    """The dispatcher's `Composer`: the service decides, this renders (telegram-side texts)."""

    def __init__(self, checkins: CheckinService, strings: Strings) -> None:
        self.checkins = checkins
        self.strings = strings

    async def prepare(self, rows: Sequence[Checkin], now: datetime) -> list[Prepared]:
        return [render(self.strings, plan) for plan in await self.checkins.plan(rows, now)]

    async def after_sent(self, rows: Sequence[Checkin], now: datetime) -> None:
        await self.checkins.after_sent(rows, now)

    async def after_dropped(self, rows: Sequence[Checkin], now: datetime) -> None:
        await self.checkins.after_dropped(rows, now)

    async def on_blocked(self, user_id: int, now: datetime) -> None:
        await self.checkins.on_blocked(user_id, now)

    async def ensure_all(self, now: datetime) -> int:
        return await self.checkins.ensure_all(now)


# -- shared pieces -------------------------------------------------------------------------------


async def _client(update: Update, context: Context) -> User | None:
    """The stored client, or a kind "please /start first" (check-ins need a chat to write to)."""
    tg_user = update.effective_user
    assert tg_user is not None
    user = await deps(context).storage.get_user(tg_user.id)
    if user is None:
        await reply(update, context, _t(update, context, "checkins.panel.start_first"))
    return user


def _t(update: Update, context: Context, key: str, /, **values: object) -> str:
    return _s(context).t(lang_of(update, context), key, **values)


def _when(context: Context, user: User, lang: str, instant: datetime) -> str:
    return format_when(_s(context), lang, instant, zone_of(user))


def _weekday_rows(lang: str) -> ButtonRows:
    days = [(weekday_name(lang, wd, capital=True), pack(NS, "day", wd)) for wd in range(7)]
    return [days[:4], days[4:]]


async def _show(
    update: Update, context: Context, text: str, buttons: ButtonRows | None, in_place: bool
) -> None:
    if in_place and update.callback_query is not None:
        await edit(update, context, text, buttons)
    else:
        await reply(update, context, text, buttons)


def _message_html(update: Update) -> str:
    query = update.callback_query
    message = query.message if query is not None else None
    if isinstance(message, Message) and message.text:
        return message.text_html
    return ""


# -- /session ------------------------------------------------------------------------------------


async def session_command(update: Update, context: Context) -> None:
    user = await _client(update, context)
    if user is None:
        return
    set_awaiting(context, None)
    lang = lang_of(update, context)
    arg = " ".join(context.args or []).strip()
    if not arg:
        await _session_menu(update, context, user, in_place=False)
        return
    parsed = parse_session_arg(arg, lang)
    if parsed is None:
        await reply(update, context, _t(update, context, "checkins.session.usage"))
    elif parsed == "now":
        await _session_now(update, context, user, in_place=False)
    elif parsed == "off":
        await _session_off(update, context, user, in_place=False)
    else:
        await _set_weekly(update, context, user, parsed[0], parsed[1], in_place=False)


async def _session_menu(update: Update, context: Context, user: User, *, in_place: bool) -> None:
    lang = lang_of(update, context)
    s = _s(context)
    weekly = await service(context).get_weekly(user.user_id)
    buttons = _weekday_rows(lang)
    buttons.append([(s.t(lang, "checkins.buttons.just_finished"), pack(NS, "now"))])
    if weekly is None:
        text = s.t(lang, "checkins.session.pick_day", zone=zone_of(user))
    else:
        lines = [
            s.t(
                lang,
                "checkins.session.current",
                weekday=weekday_name(lang, weekly.weekday),
                time=format_clock(lang, time_of(weekly.at_minute)),
            )
        ]
        due = await service(context).next_due(user.user_id)
        if due is not None and user.checkins_enabled:
            lines.append(s.t(lang, "checkins.settings.next", when=_when(context, user, lang, due)))
        lines += ["", s.t(lang, "checkins.session.pick_new")]
        text = "\n".join(lines)
        buttons.append([(s.t(lang, "checkins.buttons.off"), pack(NS, "off"))])
    buttons.append([(s.t(lang, "checkins.buttons.settings"), pack(NS, "menu"))])
    await _show(update, context, text, buttons, in_place)


async def _set_weekly(
    update: Update, context: Context, user: User, weekday: int, at: time, *, in_place: bool
) -> None:
    lang = lang_of(update, context)
    s = _s(context)
    done = await service(context).set_weekly(user.user_id, weekday, at)
    values = {"weekday": weekday_name(lang, weekday), "time": format_clock(lang, at)}
    paused = user.paused_until is not None and user.paused_until > deps(context).clock.now()
    if done.next_due is None or paused:
        text = s.t(lang, "checkins.session.set_paused", **values)
    else:
        when = format_when(s, lang, done.next_due, done.tz)
        text = s.t(lang, "checkins.session.set", when=when, **values)
    await _show(update, context, text, None, in_place)


async def _session_now(update: Update, context: Context, user: User, *, in_place: bool) -> None:
    lang = lang_of(update, context)
    due = await service(context).session_now(user.user_id)
    text = _s(context).t(lang, "checkins.session.now", when=_when(context, user, lang, due))
    await _show(update, context, text, None, in_place)


async def _session_off(update: Update, context: Context, user: User, *, in_place: bool) -> None:
    had = await service(context).get_weekly(user.user_id)
    await service(context).session_off(user.user_id)
    key = "checkins.session.off" if had is not None else "checkins.session.off_none"
    await _show(update, context, _t(update, context, key), None, in_place)


# -- /checkins: the settings panel ---------------------------------------------------------------


async def checkins_command(update: Update, context: Context) -> None:
    user = await _client(update, context)
    if user is not None:
        set_awaiting(context, None)
        await _panel(update, context, user, in_place=False)


async def _panel(
    update: Update, context: Context, user: User, *, in_place: bool, note: str | None = None
) -> None:
    lang = lang_of(update, context)
    s = _s(context)
    lines = await service(context).settings_lines(user)
    body = [s.t(lang, "checkins.panel.title"), *[x for x in lines[:-1] if x]]
    if note:
        body += ["", note]
    now = deps(context).clock.now()
    paused = user.paused_until is not None and user.paused_until > now
    pause_button = (
        (s.t(lang, "checkins.buttons.resume"), pack(NS, "resume"))
        if paused or not user.checkins_enabled
        else (s.t(lang, "checkins.buttons.pause"), pack(NS, "pausemenu"))
    )
    reminder = "reminder_on" if user.bring_reminder else "reminder_off"
    buttons: ButtonRows = [
        [(s.t(lang, "checkins.buttons.session"), pack(NS, "session"))],
        [(s.t(lang, "checkins.buttons.delay"), pack(NS, "set", "delay"))],
        [(s.t(lang, "checkins.buttons.quiet"), pack(NS, "set", "quiet"))],
        [(s.t(lang, "checkins.buttons.length"), pack(NS, "set", "len"))],
        [
            (
                s.t(lang, f"checkins.buttons.{reminder}"),
                pack(NS, "rem", 0 if user.bring_reminder else 1),
            )
        ],
        [pause_button],
    ]
    await _show(update, context, "\n".join(body), buttons, in_place)


def _choices(update: Update, context: Context, what: str) -> tuple[str, ButtonRows]:
    lang = lang_of(update, context)
    s = _s(context)
    rows: ButtonRows
    if what == "delay":
        labels = [
            (
                s.t(lang, "checkins.buttons.next_morning")
                if m == NEXT_MORNING
                else format_minutes(lang, m),
                pack(NS, "delay", "nm" if m == NEXT_MORNING else m),
            )
            for m in DELAY_CHOICES
        ]
        rows = [labels[i : i + 2] for i in range(0, len(labels), 2)]
        prompt = "checkins.panel.pick_delay"
    elif what == "quiet":
        rows = [
            [
                (
                    s.t(
                        lang,
                        "checkins.settings.quiet_range",
                        start=format_clock(lang, time_of(a)),
                        end=format_clock(lang, time_of(b)),
                    ),
                    pack(NS, "quiet", a, b),
                )
            ]
            for a, b in QUIET_CHOICES
        ]
        rows.append([(s.t(lang, "checkins.buttons.no_quiet"), pack(NS, "quiet", "none"))])
        prompt = "checkins.panel.pick_quiet"
    else:
        labels = [(format_minutes(lang, m), pack(NS, "len", m)) for m in SESSION_CHOICES]
        rows = [labels[:2], labels[2:]]
        prompt = "checkins.panel.pick_length"
    rows.append([(s.t(lang, "checkins.buttons.type_it"), pack(NS, "type", what))])
    rows.append([(s.t(lang, "checkins.buttons.back"), pack(NS, "menu"))])
    return s.t(lang, prompt), rows


def _pause_rows(update: Update, context: Context) -> ButtonRows:
    lang = lang_of(update, context)
    return [
        [
            (_s(context).t(lang, "checkins.buttons.days", count=days), pack(NS, "pause", days))
            for days in PAUSE_CHOICES
        ]
    ]


# -- /pause and /resume --------------------------------------------------------------------------


async def pause_command(update: Update, context: Context) -> None:
    user = await _client(update, context)
    if user is None:
        return
    arg = " ".join(context.args or []).strip()
    if not arg:
        await reply(
            update,
            context,
            _t(update, context, "checkins.pause.ask"),
            _pause_rows(update, context),
        )
        return
    days = parse_days(arg, lang_of(update, context))
    if days is None:
        await reply(update, context, _t(update, context, "checkins.pause.usage"))
        return
    await _pause(update, context, user, days, in_place=False)


async def _pause(
    update: Update, context: Context, user: User, days: int, *, in_place: bool
) -> None:
    lang = lang_of(update, context)
    until = await service(context).pause(user.user_id, days)
    text = _s(context).t(lang, "checkins.pause.done", when=_when(context, user, lang, until))
    await _show(update, context, text, None, in_place)


async def resume_command(update: Update, context: Context) -> None:
    user = await _client(update, context)
    if user is not None:
        await _resume(update, context, user, in_place=False)


async def _resume(update: Update, context: Context, user: User, *, in_place: bool) -> None:
    lang = lang_of(update, context)
    due = await service(context).resume(user.user_id)
    s = _s(context)
    if due is None:
        text = s.t(lang, "checkins.resume.done_plain")
    else:
        text = s.t(lang, "checkins.resume.done", when=_when(context, user, lang, due))
    await _show(update, context, text, None, in_place)


# -- buttons -------------------------------------------------------------------------------------

Action = Callable[[Update, Context, User, CallbackData], Awaitable[str | None]]


async def on_button(update: Update, context: Context) -> None:
    """Every "ck:" button; forged or stale data gets a polite answer and changes nothing."""
    query = update.callback_query
    assert query is not None
    data = unpack(query.data)
    action = _ACTIONS.get(data.action) if data is not None and data.ns == NS else None
    if data is None or action is None:
        await answer(update, _t(update, context, "ui.errors.stale_button"))
        return
    tg_user = update.effective_user
    assert tg_user is not None
    user = await deps(context).storage.get_user(tg_user.id)
    if user is None:
        await answer(update)
        await reply(update, context, _t(update, context, "checkins.panel.start_first"))
        return
    toast = await action(update, context, user, data)
    if toast == STALE:
        await answer(update, _t(update, context, "ui.errors.stale_button"))
    else:
        await answer(update, toast)


async def _b_day(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    weekday = data.int_arg(0)
    if weekday is None or not 0 <= weekday <= 6:
        return STALE
    lang = lang_of(update, context)
    s = _s(context)
    hours = [
        (format_clock(lang, time(h, 0)), pack(NS, "time", weekday, h * 60)) for h in HOUR_CHOICES
    ]
    rows: ButtonRows = [hours[i : i + 4] for i in range(0, len(hours), 4)]
    rows.append([(s.t(lang, "checkins.buttons.type_it"), pack(NS, "typetime", weekday))])
    rows.append([(s.t(lang, "checkins.buttons.back"), pack(NS, "session"))])
    text = s.t(lang, "checkins.session.pick_time", weekday=weekday_name(lang, weekday))
    await edit(update, context, text, rows)
    return None


async def _b_time(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    weekday, minute = data.int_arg(0), data.int_arg(1)
    if weekday is None or minute is None or not 0 <= weekday <= 6 or not 0 <= minute < 1440:
        return STALE
    await _set_weekly(update, context, user, weekday, time_of(minute), in_place=True)
    return None


async def _b_typetime(
    update: Update, context: Context, user: User, data: CallbackData
) -> str | None:
    weekday = data.int_arg(0)
    if weekday is None or not 0 <= weekday <= 6:
        return STALE
    lang = lang_of(update, context)
    set_awaiting(context, "session_time", weekday=weekday, tries=0)
    text = _s(context).t(lang, "checkins.session.type_time", weekday=weekday_name(lang, weekday))
    await reply(update, context, text)
    return None


async def _b_now(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    await _session_now(update, context, user, in_place=True)
    return None


async def _b_off(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    await _session_off(update, context, user, in_place=True)
    return None


async def _b_session(
    update: Update, context: Context, user: User, data: CallbackData
) -> str | None:
    await _session_menu(update, context, user, in_place=True)
    return None


def _scale_label(update: Update, context: Context, score: int) -> str:
    return _t(update, context, f"checkins.scale.s{score}")


async def _close_checkin(update: Update, context: Context, line: str) -> None:
    """Keep the question, drop its buttons, add what happened (so old buttons cannot be reused)."""
    original = _message_html(update)
    await edit(update, context, f"{original}\n\n{line}" if original else line, None)


async def _b_answer(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    checkin_id, score = data.int_arg(0), data.int_arg(1)
    if checkin_id is None or score is None or not 1 <= score <= 5:
        return STALE
    result = await service(context).answer(user.user_id, checkin_id, score)
    if result.status == "invalid":
        return STALE
    if result.status == "already":
        return _t(update, context, "checkins.answered.already")
    lang = lang_of(update, context)
    s = _s(context)
    await _close_checkin(
        update,
        context,
        s.t(lang, "checkins.answered.line", answer=_scale_label(update, context, score)),
    )
    band = result.band
    text = s.t(lang, f"checkins.follow.{band}")
    text += "\n\n" + s.t(
        lang, "checkins.follow.saved" if result.saved else "checkins.follow.not_saved"
    )
    if band == "low":
        buttons = [[(s.t(lang, "checkins.buttons.grounding"), pack("ex", "start", "five_senses"))]]
    elif band == "mid":
        buttons = [[(s.t(lang, "checkins.buttons.reflect"), pack("rf", "moment", "after_session"))]]
    else:
        buttons = [[(s.t(lang, "checkins.buttons.save_thought"), pack(NS, "thought"))]]
    await reply(update, context, text, buttons)
    return None


async def _b_later(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    checkin_id = data.int_arg(0)
    if checkin_id is None:
        return STALE
    result = await service(context).not_now(user.user_id, checkin_id)
    lang = lang_of(update, context)
    s = _s(context)
    if result.status == "invalid":
        return STALE
    if result.status == "already":
        return s.t(lang, "checkins.answered.already")
    if result.due is None:
        line = s.t(lang, "checkins.not_now.fine")
    else:
        local = to_local(result.due, zone_of(user)).time().replace(tzinfo=None)
        line = s.t(lang, "checkins.not_now.later", when=format_clock(lang, local))
    await _close_checkin(update, context, line)
    return None


async def _b_stop(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    checkin_id = data.int_arg(0)
    svc = service(context)
    kinds = ("checkin", "retry", "ask_continue")
    if checkin_id is None or not await svc.valid_row(user.user_id, checkin_id, kinds):
        return STALE
    await svc.stop(user.user_id, checkin_id)
    await _close_checkin(update, context, _t(update, context, "checkins.stop.done"))
    return None


async def _b_keep(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    checkin_id = data.int_arg(0)
    if checkin_id is None:
        return STALE
    due = await service(context).keep_going(user.user_id, checkin_id)
    if due is False:
        return STALE
    lang = lang_of(update, context)
    s = _s(context)
    if due is None:
        line = s.t(lang, "checkins.ask_continue.kept_plain")
    else:
        line = s.t(lang, "checkins.ask_continue.kept", when=_when(context, user, lang, due))
    await _close_checkin(update, context, line)
    return None


async def _b_thought(
    update: Update, context: Context, user: User, data: CallbackData
) -> str | None:
    if not user.consent:
        await reply(update, context, _t(update, context, "checkins.thought.no_consent"))
        return None
    set_awaiting(context, "thought")
    await reply(update, context, _t(update, context, "checkins.thought.ask"))
    return None


async def _b_menu(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    set_awaiting(context, None)
    await _panel(update, context, user, in_place=True)
    return None


async def _b_set(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    what = data.arg(0)
    if what not in ("delay", "quiet", "len"):
        return STALE
    text, rows = _choices(update, context, what)
    await edit(update, context, text, rows)
    return None


async def _b_type(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    what = data.arg(0)
    routes = {"delay": "checkin_delay", "quiet": "quiet_hours", "len": "session_length"}
    prompts = {"delay": "type_delay", "quiet": "type_quiet", "len": "type_length"}
    if what not in routes:
        return STALE
    set_awaiting(context, routes[what], tries=0)
    await reply(update, context, _t(update, context, f"checkins.panel.{prompts[what]}"))
    return None


async def _b_delay(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    raw = data.arg(0)
    minutes = NEXT_MORNING if raw == "nm" else data.int_arg(0)
    if minutes is None or minutes not in DELAY_CHOICES:
        return STALE
    updated = await service(context).set_delay(user.user_id, minutes)
    await _panel(update, context, updated, in_place=True)
    return None


async def _b_quiet(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    if data.arg(0) == "none":
        quiet: QuietHours | None = None
    else:
        start, end = data.int_arg(0), data.int_arg(1)
        if start is None or end is None or (start, end) not in QUIET_CHOICES:
            return STALE
        quiet = QuietHours(time_of(start), time_of(end))
    updated = await service(context).set_quiet(user.user_id, quiet)
    await _panel(update, context, updated, in_place=True)
    return None


async def _b_len(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    minutes = data.int_arg(0)
    if minutes is None or minutes not in SESSION_CHOICES:
        return STALE
    updated = await service(context).set_session_length(user.user_id, minutes)
    await _panel(update, context, updated, in_place=True)
    return None


async def _b_rem(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    flag = data.int_arg(0)
    if flag not in (0, 1):
        return STALE
    updated = await service(context).set_bring_reminder(user.user_id, bool(flag))
    note = _t(update, context, "checkins.panel.reminder_explain") if flag else None
    await _panel(update, context, updated, in_place=True, note=note)
    return None


async def _b_pausemenu(
    update: Update, context: Context, user: User, data: CallbackData
) -> str | None:
    await edit(
        update, context, _t(update, context, "checkins.pause.ask"), _pause_rows(update, context)
    )
    return None


async def _b_pause(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    days = data.int_arg(0)
    if days is None or days not in PAUSE_CHOICES:
        return STALE
    await _pause(update, context, user, days, in_place=True)
    return None


async def _b_resume(update: Update, context: Context, user: User, data: CallbackData) -> str | None:
    await _resume(update, context, user, in_place=True)
    return None


_ACTIONS: dict[str, Action] = {
    "day": _b_day,
    "time": _b_time,
    "typetime": _b_typetime,
    "now": _b_now,
    "off": _b_off,
    "session": _b_session,
    "a": _b_answer,
    "later": _b_later,
    "stop": _b_stop,
    "end": _b_stop,
    "keep": _b_keep,
    "thought": _b_thought,
    "menu": _b_menu,
    "set": _b_set,
    "type": _b_type,
    "delay": _b_delay,
    "quiet": _b_quiet,
    "len": _b_len,
    "rem": _b_rem,
    "pausemenu": _b_pausemenu,
    "pause": _b_pause,
    "resume": _b_resume,
}


# -- typed answers -------------------------------------------------------------------------------


async def _typed_miss(update: Update, context: Context, key: str) -> None:
    """A typed value the bot could not use: say how to write it; stop waiting after a second miss."""
    pending = awaiting(context) or {}
    tries = int(pending.get("tries", 0)) + 1
    if tries >= TYPED_TRIES:
        set_awaiting(context, None)
    else:
        kept = {k: v for k, v in pending.items() if k not in ("kind", "tries")}
        set_awaiting(context, pending.get("kind"), tries=tries, **kept)
    await reply(update, context, _t(update, context, key))


async def _typed_user(update: Update, context: Context) -> User | None:
    if flagged_by_screening(update, context):
        return None  # the crisis reply answered this message; nothing is changed by it
    return await _client(update, context)


async def typed_session_time(update: Update, context: Context, text: str) -> None:
    user = await _typed_user(update, context)
    pending = awaiting(context) or {}
    weekday = pending.get("weekday")
    if user is None or not isinstance(weekday, int) or not 0 <= weekday <= 6:
        return
    at = parse_time(text, lang_of(update, context))
    if at is None:
        await _typed_miss(update, context, "checkins.session.bad_time")
        return
    set_awaiting(context, None)
    await _set_weekly(update, context, user, weekday, at, in_place=False)


async def typed_delay(update: Update, context: Context, text: str) -> None:
    user = await _typed_user(update, context)
    if user is None:
        return
    minutes = parse_duration_minutes(text, lang_of(update, context))
    if minutes is None or (minutes != NEXT_MORNING and not MIN_DELAY <= minutes <= MAX_DELAY):
        await _typed_miss(update, context, "checkins.panel.bad_delay")
        return
    set_awaiting(context, None)
    updated = await service(context).set_delay(user.user_id, minutes)
    await _panel(update, context, updated, in_place=False)


async def typed_quiet(update: Update, context: Context, text: str) -> None:
    user = await _typed_user(update, context)
    if user is None:
        return
    quiet = parse_quiet_hours(text, lang_of(update, context))
    if quiet is None:
        await _typed_miss(update, context, "checkins.panel.bad_quiet")
        return
    set_awaiting(context, None)
    updated = await service(context).set_quiet(user.user_id, quiet)
    await _panel(update, context, updated, in_place=False)


async def typed_length(update: Update, context: Context, text: str) -> None:
    user = await _typed_user(update, context)
    if user is None:
        return
    minutes = parse_duration_minutes(text, lang_of(update, context))
    if minutes is None or not MIN_SESSION <= minutes <= MAX_SESSION:
        await _typed_miss(update, context, "checkins.panel.bad_length")
        return
    set_awaiting(context, None)
    updated = await service(context).set_session_length(user.user_id, minutes)
    await _panel(update, context, updated, in_place=False)


async def typed_thought(update: Update, context: Context, text: str) -> None:
    """Save the thought the client chose to keep. After a crisis reply to the same message it is
    still saved (their words are not lost) but no cheerful confirmation follows the crisis reply."""
    tg_user = update.effective_user
    assert tg_user is not None
    set_awaiting(context, None)
    saved = await service(context).save_thought(tg_user.id, text.strip()[:4000])
    if flagged_by_screening(update, context):
        return
    key = "checkins.thought.saved" if saved else "checkins.thought.no_consent"
    await reply(update, context, _t(update, context, key))


def register(app: Application) -> None:  # type: ignore[type-arg]
    app.add_handler(CommandHandler("session", session_command, filters=PRIVATE))
    app.add_handler(CommandHandler("checkins", checkins_command, filters=PRIVATE))
    app.add_handler(CommandHandler("pause", pause_command, filters=PRIVATE))
    app.add_handler(CommandHandler("resume", resume_command, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(on_button, pattern=rf"^{NS}:"))
    routes = app.bot_data["deps"].text_routes
    routes["session_time"] = typed_session_time
    routes["checkin_delay"] = typed_delay
    routes["quiet_hours"] = typed_quiet
    routes["session_length"] = typed_length
    routes["thought"] = typed_thought
