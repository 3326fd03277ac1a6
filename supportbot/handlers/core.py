"""Onboarding and settings: /start, consent, /help, /privacy, /settings, /timezone, /country,
/language; private-chat enforcement; the kind answers for input the bot does not understand."""

from __future__ import annotations

import html
import logging

from telegram import Chat, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from supportbot.content.strings import Raw
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
    t,
)
from supportbot.keyboards import pack, unpack
from supportbot.scheduling.zones import match_timezone
from supportbot.services.profile import match_country
from supportbot.storage.base import StorageError

log = logging.getLogger(__name__)
PRIVATE = filters.ChatType.PRIVATE

#: Commands in the order /help and Telegram's menu show them. A command is listed only if a handler
#: for it is registered, so the bot never advertises something it cannot do.
COMMAND_ORDER = (
    "start",
    "help",
    "crisis",
    "ground",
    "breathe",
    "reflect",
    "selfcare",
    "session",
    "checkins",
    "journal",
    "note",
    "mood",
    "export",
    "forget",
    "settings",
    "timezone",
    "country",
    "language",
    "pause",
    "resume",
    "privacy",
)


def registered_commands(app: Application) -> list[str]:  # type: ignore[type-arg]
    found: set[str] = set()
    for handlers in app.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                found.update(handler.commands)
    return [c for c in COMMAND_ORDER if c in found]


# -- /start and consent ------------------------------------------------------------------------


async def start(update: Update, context: Context) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    d = deps(context)
    code = context.args[0] if context.args else None
    profile, created = await d.profile.start(user.id, chat.id, user.language_code, code)
    lang = profile.language
    note = ""
    if user.language_code and not d.strings.supports(user.language_code) and created:
        note = d.strings.t(lang, "ui.start.language_fallback") + "\n\n"
    text = note + d.strings.t(lang, "ui.start.welcome", name=user.first_name or "")
    if profile.consent:
        await reply(update, context, text + "\n\n" + d.strings.t(lang, "ui.start.consent_already"))
        return
    await reply(
        update,
        context,
        text + "\n\n" + d.strings.t(lang, "ui.start.consent_question"),
        [
            [
                (d.strings.t(lang, "ui.buttons.agree"), pack("cs", "yes")),
                (d.strings.t(lang, "ui.buttons.not_now"), pack("cs", "no")),
            ]
        ],
    )


async def consent_button(update: Update, context: Context) -> None:
    data = unpack(update.callback_query.data if update.callback_query else None)
    user = update.effective_user
    assert user is not None
    d = deps(context)
    if data is None or data.action not in ("yes", "no"):
        await answer(update, t(update, context, "ui.errors.stale_button"))
        return
    existing = await d.profile.get(user.id)
    if existing is None:
        await answer(update)
        await reply(update, context, t(update, context, "ui.errors.start_first"))
        return
    agreed = data.action == "yes"
    await d.profile.set_consent(user.id, agreed)
    await answer(update)
    key = "ui.consent.given" if agreed else "ui.consent.declined"
    await edit(update, context, t(update, context, key))


# -- information -------------------------------------------------------------------------------


async def help_command(update: Update, context: Context) -> None:
    d = deps(context)
    lang = lang_of(update, context)
    lines = [
        f"/{cmd} — {html.escape(d.strings.t(lang, f'commands.{cmd}'))}"
        for cmd in registered_commands(context.application)
    ]
    await reply(
        update,
        context,
        d.strings.t(lang, "ui.help.text", commands=Raw("\n".join(lines))),
    )


async def privacy(update: Update, context: Context) -> None:
    await reply(update, context, t(update, context, "ui.privacy.text"))


async def _require_user(update: Update, context: Context) -> bool:
    """Settings need a profile: say how to make one instead of failing."""
    user = update.effective_user
    assert user is not None
    if await deps(context).profile.get(user.id) is None:
        await reply(update, context, t(update, context, "ui.errors.start_first"))
        return False
    return True


async def settings(update: Update, context: Context) -> None:
    user = update.effective_user
    assert user is not None
    d = deps(context)
    profile = await d.profile.get(user.id)
    if profile is None:
        await reply(update, context, t(update, context, "ui.errors.start_first"))
        return
    lang = profile.language
    s = d.strings
    lines = [
        s.t(lang, "ui.settings.header"),
        s.t(lang, "ui.settings.language", value=s.t(lang, f"languages.{lang}")),
        s.t(lang, "ui.settings.country", value=profile.country or s.t(lang, "ui.settings.unset")),
        s.t(lang, "ui.settings.timezone", value=profile.timezone),
        s.t(lang, "ui.settings.consent_yes" if profile.consent else "ui.settings.consent_no"),
    ]
    extra = d.services.get("settings_lines")
    if extra is not None:
        lines.extend(await extra(profile))
    lines.append("")
    lines.append(s.t(lang, "ui.settings.how_to_change"))
    buttons = [
        [
            (
                s.t(
                    lang,
                    "ui.buttons.withdraw_consent" if profile.consent else "ui.buttons.give_consent",
                ),
                pack("cs", "no" if profile.consent else "yes"),
            )
        ]
    ]
    await reply(update, context, "\n".join(lines), buttons)


# -- changing a setting ------------------------------------------------------------------------


async def timezone(update: Update, context: Context) -> None:
    if not await _require_user(update, context):
        return
    query = " ".join(context.args or []).strip()
    if not query:
        set_awaiting(context, "timezone")
        await reply(update, context, t(update, context, "ui.timezone.ask"))
        return
    await _set_timezone(update, context, query)


async def _set_timezone(update: Update, context: Context, query: str) -> None:
    user = update.effective_user
    assert user is not None
    matches = match_timezone(query[:100])
    if not matches:
        await reply(update, context, t(update, context, "ui.timezone.unknown"))
        return
    zone = matches[0]
    await deps(context).profile.update(user.id, timezone=zone)
    set_awaiting(context, None)
    hook = deps(context).services.get("on_timezone_changed")
    if hook is not None:
        await hook(user.id)
    await reply(update, context, t(update, context, "ui.timezone.set", zone=zone))


async def country(update: Update, context: Context) -> None:
    if not await _require_user(update, context):
        return
    query = " ".join(context.args or []).strip()
    if not query:
        set_awaiting(context, "country")
        await reply(update, context, t(update, context, "ui.country.ask"))
        return
    await _set_country(update, context, query)


async def _set_country(update: Update, context: Context, query: str) -> None:
    user = update.effective_user
    assert user is not None
    d = deps(context)
    code = match_country(query[:100], d.strings.languages)
    if code is None:
        await reply(update, context, t(update, context, "ui.country.unknown"))
        return
    await d.profile.update(user.id, country=code)
    set_awaiting(context, None)
    await reply(update, context, t(update, context, "ui.country.set", code=code))


async def language(update: Update, context: Context) -> None:
    if not await _require_user(update, context):
        return
    d = deps(context)
    choice = (context.args[0] if context.args else "").strip().lower()
    options = ", ".join(d.strings.languages)
    if not choice:
        lang = lang_of(update, context)
        buttons = [
            [
                (d.strings.t(code, f"languages.{code}"), pack("lg", "set", code))
                for code in d.strings.languages
            ]
        ]
        await reply(update, context, d.strings.t(lang, "ui.language.ask", options=options), buttons)
        return
    if not d.strings.supports(choice):
        await reply(update, context, t(update, context, "ui.language.unknown", options=options))
        return
    await _set_language(update, context, d.profile.resolve_language(choice))


async def _set_language(update: Update, context: Context, code: str) -> None:
    user = update.effective_user
    assert user is not None
    await deps(context).profile.update(user.id, language=code)
    await reply(update, context, deps(context).strings.t(code, "ui.language.set"))


async def language_button(update: Update, context: Context) -> None:
    data = unpack(update.callback_query.data if update.callback_query else None)
    d = deps(context)
    code = data.arg(0) if data else None
    if code is None or code not in d.strings.languages:
        await answer(update, t(update, context, "ui.errors.stale_button"))
        return
    await answer(update)
    if not await _require_user(update, context):
        return
    await _set_language(update, context, code)


# -- free text, stray input, groups ------------------------------------------------------------


async def free_text(update: Update, context: Context) -> None:
    """Route a plain message to whatever the client is answering, else say what the bot can do."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    pending = awaiting(context)
    if pending is not None:
        kind = pending["kind"]
        if kind == "timezone":
            await _set_timezone(update, context, message.text)
            return
        if kind == "country":
            await _set_country(update, context, message.text)
            return
        route = deps(context).text_routes.get(kind)
        if route is not None:
            await route(update, context, message.text)
            return
    if flagged_by_screening(update, context):
        return  # the crisis reply already answered this message
    fallback = deps(context).text_routes.get("*")
    if fallback is not None:
        await fallback(update, context, message.text)
        return
    await reply(update, context, t(update, context, "ui.fallback.text"))


async def unknown_command(update: Update, context: Context) -> None:
    await reply(update, context, t(update, context, "ui.fallback.unknown_command"))


async def non_text(update: Update, context: Context) -> None:
    """Stickers, voice, photos without a caption...: the bot reads only text, and says so kindly."""
    if flagged_by_screening(update, context):
        return
    await reply(update, context, t(update, context, "ui.fallback.non_text"))


async def unknown_button(update: Update, context: Context) -> None:
    await answer(update, t(update, context, "ui.errors.stale_button"))


async def leave_group(update: Update, context: Context) -> None:
    """In a group or channel: say once that the bot works in private chats, then leave."""
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        return
    d = deps(context)
    marker = f"left:{chat.id}"
    if context.bot_data.get(marker):
        raise ApplicationHandlerStop
    context.bot_data[marker] = True
    lang = d.strings.default
    try:
        if chat.type != Chat.CHANNEL:
            await context.bot.send_message(chat.id, d.strings.t(lang, "ui.group.private_only"))
        await context.bot.leave_chat(chat.id)
    except TelegramError as exc:
        log.info("could not leave chat: %s", exc.__class__.__name__)
    raise ApplicationHandlerStop


async def on_error(update: object, context: Context) -> None:
    """Log the error class and update id only (never text), and tell the client kindly."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, StorageError):
        log.error("storage error (%s) while handling update %s", error, update_id)
    else:
        log.error(
            "error %s while handling update %s",
            error.__class__.__name__ if error else None,
            update_id,
            exc_info=(type(error), error, error.__traceback__) if error else None,
        )
    if (
        isinstance(update, Update)
        and update.effective_chat
        and update.effective_chat.type == ChatType.PRIVATE
    ):
        key = "ui.errors.storage" if isinstance(error, StorageError) else "ui.errors.generic"
        try:
            if update.callback_query:
                await answer(update)
            await reply(update, context, t(update, context, key))
        except TelegramError:
            pass


def register(app: Application) -> None:  # type: ignore[type-arg]
    """Core commands in group 0 (after crisis screening in group -1)."""
    app.add_handler(CommandHandler("start", start, filters=PRIVATE))
    app.add_handler(CommandHandler("help", help_command, filters=PRIVATE))
    app.add_handler(CommandHandler("privacy", privacy, filters=PRIVATE))
    app.add_handler(CommandHandler("settings", settings, filters=PRIVATE))
    app.add_handler(CommandHandler("timezone", timezone, filters=PRIVATE))
    app.add_handler(CommandHandler("country", country, filters=PRIVATE))
    app.add_handler(CommandHandler("language", language, filters=PRIVATE))
    app.add_handler(CallbackQueryHandler(consent_button, pattern=r"^cs:"))
    app.add_handler(CallbackQueryHandler(language_button, pattern=r"^lg:"))


def register_fallbacks(app: Application) -> None:  # type: ignore[type-arg]
    """Catch-alls: registered last in group 0, so they run only when no feature handler matched
    (within a group PTB runs the first matching handler only)."""
    app.add_handler(MessageHandler(PRIVATE & filters.COMMAND, unknown_command))
    app.add_handler(MessageHandler(PRIVATE & filters.TEXT & ~filters.COMMAND, free_text))
    app.add_handler(
        MessageHandler(
            PRIVATE & ~filters.TEXT & ~filters.StatusUpdate.ALL & filters.UpdateType.MESSAGE,
            non_text,
        ),
    )
    app.add_handler(CallbackQueryHandler(unknown_button))
    app.add_error_handler(on_error)


def register_groups(app: Application) -> None:  # type: ignore[type-arg]
    """Before anything else (group -2): a group, supergroup or channel gets one note, then we leave."""
    not_private = ~filters.ChatType.PRIVATE
    app.add_handler(MessageHandler(not_private, leave_group), group=-2)
    app.add_handler(ChatMemberHandler(leave_group, ChatMemberHandler.MY_CHAT_MEMBER), group=-2)
