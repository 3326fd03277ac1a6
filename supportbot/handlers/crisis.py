"""Risk screening on every message and the crisis reply (group -1, before every other handler).

The reply is built from memory (lexicon, texts and resources loaded at start; the client's language
and country from the in-memory locale cache) and sent on the interactive lane, which never queues
behind scheduled check-ins. No database call sits on this path, so it works with storage down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from telegram import Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from supportbot.handlers.common import Context, answer, clip, deps, user_state
from supportbot.keyboards import keyboard, pack, unpack

log = logging.getLogger(__name__)

#: Within this many seconds of a crisis reply, the next one is the shorter repeat (never silence).
REPEAT_WINDOW = 600.0
#: The crisis reply is retried on transient faults (rate limit, 5xx, dropped connection): a client
#: must not get "something went wrong" instead of help lines. A timeout may mean Telegram did get
#: it; a rare duplicate help message is far better than none.
SEND_ATTEMPTS = 4
BACKOFF = (0.2, 0.5, 1.0)
MAX_RETRY_AFTER = 30.0
#: The exercise a "grounding exercise" button starts (handled by the exercises feature).
GROUNDING_EXERCISE = "five_senses"


def _buttons(pairs: tuple[tuple[str, str], ...]) -> list[list[tuple[str, str]]]:
    row = []
    for action, label in pairs:
        data = pack("ex", "start", GROUNDING_EXERCISE) if action == "ground" else pack("cr", action)
        row.append((label, data))
    return [row]


async def send_crisis_reply(update: Update, context: Context, level: str) -> None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    d = deps(context)
    locale = d.profile.locale_now(user.id, user.language_code)
    state = user_state(context)
    now = time.monotonic()
    last = state.get("crisis_at")
    repeat = last is not None and now - float(last) < REPEAT_WINDOW
    built = d.crisis.build(locale.language, locale.country, level, repeat)
    state["crisis_at"] = now
    markup = keyboard(_buttons(built.buttons))
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            await context.bot.send_message(
                chat.id,
                clip(built.text),
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                disable_web_page_preview=True,
            )
            break
        except RetryAfter as exc:
            wait = _seconds(exc.retry_after)
            if attempt == SEND_ATTEMPTS or wait > MAX_RETRY_AFTER:
                raise
            log.warning("crisis reply rate-limited; retrying in %.1f s", wait)
            await asyncio.sleep(wait)
        except (TimedOut, NetworkError) as exc:
            if isinstance(exc, BadRequest) or attempt == SEND_ATTEMPTS:
                raise
            log.warning("crisis reply failed (%s); retrying", exc.__class__.__name__)
            await asyncio.sleep(BACKOFF[attempt - 1])
    log.info("crisis reply sent (level=%s, repeat=%s, update=%s)", level, repeat, update.update_id)


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def screen(update: Update, context: Context) -> None:
    """Screen text, captions and edited messages; answer at once; let the message go on unless it
    is only a button press."""
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None or chat.type != ChatType.PRIVATE:
        return
    text = message.text or message.caption
    if not text:
        return
    edited = update.edited_message is not None
    d = deps(context)
    user = update.effective_user
    lang = d.profile.locale_now(user.id, user.language_code).language if user else d.strings.default
    result = d.screener.screen(text, lang)
    if result.risk:
        user_state(context)["crisis_update"] = update.update_id
        await send_crisis_reply(update, context, result.level)
    if edited:
        raise ApplicationHandlerStop  # an edit is screened, never re-run as a command or an answer


async def crisis_command(update: Update, context: Context) -> None:
    """/crisis and /sos: always, before /start, without consent, in any state."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    user_state(context).pop("crisis_at", None)  # an explicit ask always gets the full reply
    await send_crisis_reply(update, context, "urgent")
    raise ApplicationHandlerStop


async def crisis_button(update: Update, context: Context) -> None:
    data = unpack(update.callback_query.data if update.callback_query else None)
    d = deps(context)
    user = update.effective_user
    lang = d.profile.locale_now(user.id, user.language_code).language if user else d.strings.default
    if data is None or data.action != "safe":
        await answer(update, d.strings.t(lang, "ui.errors.stale_button"))
        raise ApplicationHandlerStop
    await answer(update)
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(chat.id, d.crisis.safe_ack(lang), parse_mode=ParseMode.HTML)
    raise ApplicationHandlerStop


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Group -1: runs before every feature handler, whatever conversation state the client is in."""
    private = filters.ChatType.PRIVATE
    app.add_handler(CommandHandler(["crisis", "sos"], crisis_command, filters=private), group=-1)
    app.add_handler(CallbackQueryHandler(crisis_button, pattern=r"^cr:"), group=-1)
    app.add_handler(MessageHandler(private & (filters.TEXT | filters.CAPTION), screen), group=-1)
