"""Small helpers every handler shares: reaching Deps, the client's language, replying in HTML."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from telegram import Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from supportbot.deps import Deps
from supportbot.keyboards import Button, keyboard

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE
TextRoute = Callable[[Update, Context, str], Awaitable[None]]
MAX_MESSAGE = 4096


def deps(context: Context) -> Deps:
    return cast(Deps, context.application.bot_data["deps"])


def lang_of(update: Update, context: Context) -> str:
    """The client's language from memory (no database), falling back to Telegram's language_code."""
    user = update.effective_user
    if user is None:
        return deps(context).strings.default
    return deps(context).profile.locale_now(user.id, user.language_code).language


def t(update: Update, context: Context, key: str, /, **values: object) -> str:
    return deps(context).strings.t(lang_of(update, context), key, **values)


def user_state(context: Context) -> dict[str, Any]:
    """Per-client conversation state, in memory only (lost on restart by design: it is never data)."""
    if context.user_data is None:
        return {}
    return cast(dict[str, Any], context.user_data)


#: A question left unanswered this long no longer captures the next message (seconds).
AWAITING_TTL = 3 * 3600.0


def set_awaiting(context: Context, kind: str | None, **data: Any) -> None:
    """Mark what the client's next free-text message answers (a reflection, a settings value...)."""
    state = user_state(context)
    if kind is None:
        state.pop("awaiting", None)
    else:
        state["awaiting"] = {"kind": kind, "since": time.monotonic(), **data}


def awaiting(context: Context) -> dict[str, Any] | None:
    """What the next message answers, unless the question has gone stale."""
    state = user_state(context)
    found = state.get("awaiting")
    if found is None:
        return None
    if time.monotonic() - float(found.get("since", 0.0)) > AWAITING_TTL:
        state.pop("awaiting", None)
        return None
    return cast("dict[str, Any]", found)


def flagged_by_screening(update: Update, context: Context) -> bool:
    """True when the crisis handler already answered this very update."""
    return user_state(context).get("crisis_update") == update.update_id


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def reply(
    update: Update,
    context: Context,
    text: str,
    buttons: Sequence[Sequence[Button]] | None = None,
) -> Message | None:
    chat = update.effective_chat
    if chat is None:
        return None
    return await context.bot.send_message(
        chat.id,
        clip(text),
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard(buttons) if buttons else None,
        disable_web_page_preview=True,
    )


async def edit(
    update: Update,
    context: Context,
    text: str,
    buttons: Sequence[Sequence[Button]] | None = None,
) -> None:
    """Edit the message a button sits on; an identical edit is not an error for the client."""
    query = update.callback_query
    if query is None or query.message is None:
        await reply(update, context, text, buttons)
        return
    try:
        await context.bot.edit_message_text(
            clip(text),
            chat_id=query.message.chat.id,
            message_id=query.message.message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(buttons) if buttons else None,
            disable_web_page_preview=True,
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def answer(update: Update, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a callback query (Telegram shows a spinner until we do); never fails the handler."""
    query = update.callback_query
    if query is None:
        return
    try:
        await query.answer(text, show_alert=alert)
    except BadRequest:
        log.debug("callback query too old to answer")
