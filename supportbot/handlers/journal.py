"""/journal, /note, /mood, /export and /forget: the client's own data, shown and handed back.

Callback namespaces: `jr` (journal pages and entries), `mo` (mood chart range), `fg` (forget).
Entry ids in buttons are checked against the pressing client's own rows, so a forged id reaches
nothing. Client text goes to Telegram HTML-escaped and cut at a character boundary, never logged.
"""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telegram import InputMediaPhoto, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, filters

from supportbot.content.strings import Raw
from supportbot.handlers.common import (
    Context,
    answer,
    deps,
    edit,
    lang_of,
    reply,
    set_awaiting,
    t,
    user_state,
)
from supportbot.keyboards import Button, keyboard, pack, unpack
from supportbot.services import chart
from supportbot.services.journal import JournalService, MoodSummary
from supportbot.storage.base import JournalEntry, User

log = logging.getLogger(__name__)
PRIVATE = filters.ChatType.PRIVATE

#: Escaped characters of one entry in the list view, and of a whole entry opened on its own.
LIST_EXCERPT = 500
ENTRY_EXCERPT = 3500
MOOD_WINDOWS = (4, 12)
RETENTION_INTERVAL = timedelta(days=1)
RETENTION_FIRST = timedelta(minutes=1)


def service(context: Context) -> JournalService:
    return cast(JournalService, deps(context).services["journal"])


def excerpt(text: str, budget: int, *, one_line: bool = False) -> tuple[Raw, bool]:
    """`text` HTML-escaped within `budget` characters, never cut inside an entity like `&amp;`."""
    if one_line:
        text = " ".join(text.split())
    out: list[str] = []
    used = 0
    for ch in text:
        piece = html.escape(ch, quote=False)
        if used + len(piece) > budget:
            return Raw("".join(out).rstrip() + "…"), True
        out.append(piece)
        used += len(piece)
    return Raw("".join(out)), False


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _when(at: datetime, user: User, lang: str) -> str:
    from babel.dates import format_datetime

    local = at.astimezone(_zone(user.timezone)).replace(tzinfo=None)
    return str(format_datetime(local, "d MMM yyyy, HH:mm", locale=lang))


async def _profile(update: Update, context: Context) -> User | None:
    """The client's stored profile, or a kind pointer to /start."""
    user = update.effective_user
    if user is None:
        return None
    found = await deps(context).profile.get(user.id)
    if found is None:
        if update.callback_query:
            await answer(update)
        await reply(update, context, t(update, context, "ui.errors.start_first"))
    return found


async def _stale(update: Update, context: Context, key: str = "ui.errors.stale_button") -> None:
    await answer(update, t(update, context, key))


# -- /journal -----------------------------------------------------------------------------------


async def _page_view(
    update: Update, context: Context, user: User, page: int, banner: str | None = None
) -> tuple[str, list[list[Button]]]:
    lang = lang_of(update, context)
    s = deps(context).strings
    found = await service(context).page(user.user_id, page)
    lines: list[str] = [banner] if banner else []
    if not found.entries:
        lines.append(
            s.t(lang, "journal.list.empty" if user.consent else "journal.list.empty_no_consent")
        )
        return "\n\n".join(lines), []
    lines.append(
        s.t(lang, "journal.list.header", page=found.page + 1, pages=found.pages)
        + "\n"
        + s.t(lang, "journal.list.hint")
    )
    numbers: list[Button] = []
    start = found.page * service(context).page_size
    for i, entry in enumerate(found.entries, start=start + 1):
        text, _ = excerpt(entry.text, LIST_EXCERPT, one_line=True)
        lines.append(
            s.t(
                lang,
                "journal.list.entry",
                n=i,
                date=_when(entry.created_at, user, lang),
                kind=s.t(lang, f"journal.kind.{entry.kind}"),
                bring=s.t(lang, "journal.list.bring_mark") if entry.bring else "",
                text=text,
            )
        )
        numbers.append((str(i), pack("jr", "op", entry.id, found.page)))
    buttons: list[list[Button]] = [numbers]
    nav: list[Button] = []
    if found.page > 0:
        nav.append((s.t(lang, "journal.buttons.newer"), pack("jr", "pg", found.page - 1)))
    if found.page + 1 < found.pages:
        nav.append((s.t(lang, "journal.buttons.older"), pack("jr", "pg", found.page + 1)))
    if nav:
        buttons.append(nav)
    return "\n\n".join(lines), buttons


def _entry_view(
    update: Update, context: Context, user: User, entry: JournalEntry, page: int
) -> tuple[str, list[list[Button]]]:
    lang = lang_of(update, context)
    s = deps(context).strings
    text, cut = excerpt(entry.text, ENTRY_EXCERPT)
    body = s.t(
        lang,
        "journal.entry.view",
        date=_when(entry.created_at, user, lang),
        kind=s.t(lang, f"journal.kind.{entry.kind}"),
        bring=s.t(lang, "journal.list.bring_mark") if entry.bring else "",
        text=text,
    )
    if cut:
        body += "\n\n" + s.t(lang, "journal.entry.shortened")
    prompt = service(context).prompt_text(lang, entry.prompt_id)
    if prompt:
        head, _, rest = body.partition("\n\n")
        body = f"{head}\n{s.t(lang, 'journal.entry.prompt', prompt=prompt)}\n\n{rest}"
    bring_key = "journal.buttons.unbring" if entry.bring else "journal.buttons.bring"
    buttons: list[list[Button]] = [
        [(s.t(lang, bring_key), pack("jr", "br", entry.id, page))],
        [(s.t(lang, "journal.buttons.delete"), pack("jr", "dl", entry.id, page))],
        [(s.t(lang, "journal.buttons.back"), pack("jr", "pg", page))],
    ]
    return body, buttons


async def journal(update: Update, context: Context) -> None:
    user = await _profile(update, context)
    if user is None:
        return
    text, buttons = await _page_view(update, context, user, 0)
    await reply(update, context, text, buttons)


async def journal_button(update: Update, context: Context) -> None:
    data = unpack(update.callback_query.data if update.callback_query else None)
    if data is None or data.ns != "jr":
        await _stale(update, context)
        return
    user = await _profile(update, context)
    if user is None:
        return
    svc = service(context)
    if data.action == "pg":
        page = data.int_arg(0)
        if page is None:
            await _stale(update, context)
            return
        await answer(update)
        text, buttons = await _page_view(update, context, user, page)
        await edit(update, context, text, buttons)
        return
    entry_id = data.int_arg(0)
    page = data.int_arg(1)
    if entry_id is None or (page is None and data.action != "nb"):
        await _stale(update, context)
        return
    page = page or 0
    if data.action == "nb":  # the "bring to therapy" button under a just-saved note
        value = await svc.toggle_bring(user.user_id, entry_id)
        if value is None:
            await _stale(update, context, "journal.list.gone")
            return
        await answer(update, t(update, context, f"journal.entry.bring_{'on' if value else 'off'}"))
        await _edit_markup(update, context, _note_buttons(update, context, entry_id, value))
        return
    entry = await svc.entry(user.user_id, entry_id)
    if entry is None:  # deleted meanwhile, someone else's, or made up: say so, change nothing
        await _stale(update, context, "journal.list.gone")
        return
    if data.action == "op":
        await answer(update)
    elif data.action == "br":
        value = await svc.toggle_bring(user.user_id, entry_id)
        if value is None:
            await _stale(update, context, "journal.list.gone")
            return
        await answer(update, t(update, context, f"journal.entry.bring_{'on' if value else 'off'}"))
        entry = await svc.entry(user.user_id, entry_id) or entry
    elif data.action == "dl":
        await answer(update)
        lang = lang_of(update, context)
        s = deps(context).strings
        text, _ = excerpt(entry.text, LIST_EXCERPT, one_line=True)
        await edit(
            update,
            context,
            s.t(
                lang,
                "journal.entry.confirm_delete",
                date=_when(entry.created_at, user, lang),
                text=text,
            ),
            [
                [
                    (s.t(lang, "journal.buttons.delete_yes"), pack("jr", "dy", entry_id, page)),
                    (s.t(lang, "journal.buttons.delete_no"), pack("jr", "op", entry_id, page)),
                ]
            ],
        )
        return
    elif data.action == "dy":
        deleted = await svc.delete(user.user_id, entry_id)
        await answer(update)
        banner = t(update, context, "journal.list.deleted" if deleted else "journal.list.gone")
        text, buttons = await _page_view(update, context, user, page, banner)
        await edit(update, context, text, buttons)
        return
    else:
        await _stale(update, context)
        return
    text, buttons = _entry_view(update, context, user, entry, page)
    await edit(update, context, text, buttons)


async def _edit_markup(update: Update, context: Context, buttons: list[list[Button]]) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await context.bot.edit_message_reply_markup(
            chat_id=query.message.chat.id,
            message_id=query.message.message_id,
            reply_markup=keyboard(buttons),
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


# -- /note --------------------------------------------------------------------------------------


def _note_buttons(
    update: Update, context: Context, entry_id: int, bring: bool
) -> list[list[Button]]:
    key = "journal.buttons.unbring" if bring else "journal.buttons.bring"
    return [[(t(update, context, key), pack("jr", "nb", entry_id))]]


def _note_text(update: Update) -> str:
    """What follows `/note` in the message, line breaks kept (context.args would drop them)."""
    message = update.effective_message
    raw = message.text if message and message.text else ""
    parts = raw.split(None, 1)
    return parts[1] if len(parts) > 1 else ""


async def note(update: Update, context: Context) -> None:
    user = await _profile(update, context)
    if user is None:
        return
    text = _note_text(update)
    if not user.consent:
        set_awaiting(context, None)
        await reply(update, context, t(update, context, "journal.note.no_consent"))
        return
    if not text.strip():
        set_awaiting(context, "note")
        await reply(update, context, t(update, context, "journal.note.ask"))
        return
    await save_note(update, context, text)


async def save_note(update: Update, context: Context, text: str) -> None:
    """The text route for "note": store it (with consent) and offer "bring to therapy"."""
    user = update.effective_user
    if user is None:
        return
    set_awaiting(context, None)
    result = await service(context).add_note(user.id, text)
    if result.outcome == "saved" and result.entry_id is not None:
        await reply(
            update,
            context,
            t(update, context, "journal.note.saved"),
            _note_buttons(update, context, result.entry_id, False),
        )
        return
    key = {
        "no_consent": "journal.note.no_consent",
        "empty": "journal.note.empty",
        "no_user": "ui.errors.start_first",
    }[result.outcome]
    await reply(update, context, t(update, context, key))


# -- /mood --------------------------------------------------------------------------------------


def _caption(update: Update, context: Context, summary: MoodSummary, other: MoodSummary) -> str:
    from babel.numbers import format_decimal

    lang = lang_of(update, context)
    s = deps(context).strings
    mean = str(format_decimal(summary.mean or 0, "0.0", locale=lang))
    if summary.count == 1:
        stats = s.t(lang, "journal.mood.stats_one", mean=mean)
    else:
        stats = s.t(
            lang,
            "journal.mood.stats",
            mean=mean,
            count=summary.count,
            trend=s.t(lang, f"journal.mood.trend.{summary.trend}"),
        )
    return s.t(
        lang,
        "journal.mood.caption",
        title=s.t(lang, "journal.mood.title", weeks=summary.weeks),
        sparkline=summary.sparkline,
        pattern=s.t(lang, f"journal.mood.pattern.{summary.pattern}"),
        stats=Raw(stats),
        other=Raw(s.t(lang, "journal.mood.other", weeks=other.weeks, sparkline=other.sparkline)),
    )


def _mood_buttons(update: Update, context: Context, current: int) -> list[list[Button]]:
    return [
        [
            (
                t(
                    update,
                    context,
                    "journal.mood.button_current" if w == current else "journal.mood.button_weeks",
                    weeks=w,
                ),
                pack("mo", "w", w),
            )
            for w in MOOD_WINDOWS
        ]
    ]


async def _mood_content(
    update: Update, context: Context, user: User, weeks: int
) -> tuple[bytes, str] | None:
    """The chart PNG and its caption, or None when there is nothing to draw."""
    svc = service(context)
    summaries = {w: await svc.mood(user.user_id, w, user) for w in MOOD_WINDOWS}
    if not any(s.count for s in summaries.values()):
        return None
    summary = summaries[weeks]
    other = summaries[next(w for w in MOOD_WINDOWS if w != weeks)]
    lang = lang_of(update, context)
    s = deps(context).strings
    labels = chart.ChartLabels(
        title=s.raw(lang, "journal.mood.title").format(weeks=weeks),
        y_label=s.raw(lang, "journal.mood.y_label"),
        entries=s.raw(lang, "journal.mood.legend_entries"),
        weekly=s.raw(lang, "journal.mood.legend_weekly"),
        session=s.raw(lang, "journal.mood.legend_session"),
    )
    png = await chart.render_png_async(summary, labels, lang)
    return png, _caption(update, context, summary, other)


async def mood(update: Update, context: Context) -> None:
    user = await _profile(update, context)
    chat = update.effective_chat
    if user is None or chat is None:
        return
    try:
        await context.bot.send_chat_action(chat.id, ChatAction.UPLOAD_PHOTO)
    except TelegramError:
        pass  # only a hint to the client; the chart still goes out
    svc = service(context)
    recent = await svc.mood(user.user_id, MOOD_WINDOWS[0], user)
    weeks = MOOD_WINDOWS[0] if recent.count else MOOD_WINDOWS[-1]
    content = await _mood_content(update, context, user, weeks)
    if content is None:
        await reply(update, context, t(update, context, "journal.mood.empty"))
        return
    png, caption = content
    await context.bot.send_photo(
        chat.id,
        png,
        caption=caption,
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(_mood_buttons(update, context, weeks)),
        filename="mood.png",
    )


async def mood_button(update: Update, context: Context) -> None:
    data = unpack(update.callback_query.data if update.callback_query else None)
    weeks = data.int_arg(0) if data and data.action == "w" else None
    if weeks not in MOOD_WINDOWS:
        await _stale(update, context)
        return
    assert weeks is not None
    user = await _profile(update, context)
    if user is None:
        return
    await answer(update)
    content = await _mood_content(update, context, user, weeks)
    if content is None:
        await reply(update, context, t(update, context, "journal.mood.empty"))
        return
    png, caption = content
    query = update.callback_query
    markup = keyboard(_mood_buttons(update, context, weeks))
    if query is not None and query.message is not None:
        try:
            await context.bot.edit_message_media(
                InputMediaPhoto(png, caption=caption, parse_mode=ParseMode.HTML),
                chat_id=query.message.chat.id,
                message_id=query.message.message_id,
                reply_markup=markup,
            )
            return
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            log.info("could not edit the mood chart in place: %s", exc.__class__.__name__)
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_photo(
            chat.id, png, caption=caption, parse_mode=ParseMode.HTML, reply_markup=markup
        )


# -- /export ------------------------------------------------------------------------------------


async def export(update: Update, context: Context) -> None:
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None:
        return
    lang = lang_of(update, context)
    files = await service(context).export(user.id, lang)
    if files is None:
        await reply(update, context, t(update, context, "journal.export.nothing"))
        return
    await reply(update, context, t(update, context, "journal.export.sending"))
    await context.bot.send_document(
        chat.id,
        files.markdown.encode("utf-8"),
        filename=f"{files.stem}.md",
        caption=t(update, context, "journal.export.caption_md"),
    )
    await context.bot.send_document(
        chat.id,
        files.json.encode("utf-8"),
        filename=f"{files.stem}.json",
        caption=t(update, context, "journal.export.caption_json"),
    )
    log.info("export sent (%d + %d bytes)", len(files.markdown), len(files.json))


# -- /forget ------------------------------------------------------------------------------------


def _clear_memory(context: Context) -> None:
    """Conversation state lives in memory too; it goes with the rows."""
    user_state(context).clear()
    if context.chat_data is not None:
        context.chat_data.clear()


async def forget(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None:
        return
    preview = await service(context).forget_preview(user.id)
    if preview is None:
        _clear_memory(context)
        await reply(update, context, t(update, context, "journal.forget.nothing"))
        return
    lang = lang_of(update, context)
    s = deps(context).strings
    await reply(
        update,
        context,
        s.t(
            lang,
            "journal.forget.explain",
            pending=preview.get("pending", 0),
            moods=preview.get("moods", 0),
            journal=preview.get("journal", 0),
        ),
        [
            [
                (s.t(lang, "journal.forget.confirm"), pack("fg", "yes")),
                (s.t(lang, "journal.forget.cancel"), pack("fg", "no")),
            ]
        ],
    )


async def forget_button(update: Update, context: Context) -> None:
    data = unpack(update.callback_query.data if update.callback_query else None)
    user = update.effective_user
    if data is None or user is None or data.action not in ("yes", "no") or data.args:
        await _stale(update, context)
        return
    if data.action == "no":
        await answer(update)
        await edit(update, context, t(update, context, "journal.forget.cancelled"))
        return
    lang = lang_of(update, context)  # read before the cached locale goes with the data
    d = deps(context)
    await d.services["journal"].forget(user.id)
    for hook in d.services.get("forget_hooks", []):
        await hook(user.id)
    _clear_memory(context)
    await answer(update)
    await edit(update, context, d.strings.t(lang, "journal.forget.done"))


# -- retention and start ------------------------------------------------------------------------


async def _retention_job(context: Context) -> None:
    try:
        await service(context).apply_retention()
    except Exception as exc:  # a failed run is retried tomorrow; never crash the JobQueue
        log.error("retention run failed: %s", exc.__class__.__name__)


async def on_start(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Start hook: the daily retention job (when the operator set one) and a chart warm-up."""
    svc: JournalService = app.bot_data["deps"].services["journal"]
    if svc.retention_days and app.job_queue is not None:
        app.job_queue.run_repeating(
            _retention_job,
            interval=RETENTION_INTERVAL,
            first=RETENTION_FIRST,
            name="journal-retention",
        )
        log.info("retention: entries older than %d days are deleted daily", svc.retention_days)
    # Load matplotlib and its fonts in a worker thread now, not during the first /mood.
    warm = asyncio.get_running_loop().run_in_executor(None, chart.warm_up)
    warm.add_done_callback(_warmed)


def _warmed(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("chart warm-up failed: %s", future.exception().__class__.__name__)


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    app.add_handler(CommandHandler("journal", journal, filters=PRIVATE))
    app.add_handler(CommandHandler("note", note, filters=PRIVATE))
    app.add_handler(CommandHandler("mood", mood, filters=PRIVATE))
    app.add_handler(CommandHandler("export", export, filters=PRIVATE))
    app.add_handler(CommandHandler("forget", forget, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(journal_button, pattern=r"^jr:"))
    app.add_handler(CallbackQueryHandler(mood_button, pattern=r"^mo:"))
    app.add_handler(CallbackQueryHandler(forget_button, pattern=r"^fg:"))
    deps_ = app.bot_data["deps"]
    deps_.text_routes["note"] = save_note
