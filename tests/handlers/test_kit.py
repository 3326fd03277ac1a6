"""The handler-test kit itself: RecordingRequest, Updates, running_app and drive, on a throwaway app."""

from __future__ import annotations

import asyncio
import datetime as dtm
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.kit import RecordingRequest, Updates, drive, recording_builder, running_app
from tests.kit.botapi import DEFAULT_TOKEN, plain_text
from tests.kit.updates import UpdateBuilder, command_entities

AnyApp = Application[Any, Any, Any, Any, Any, Any]


def _seconds(retry_after: int | dtm.timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, dtm.timedelta) else retry_after


class EchoBot:
    """A tiny app standing in for supportbot: echo, /start with args, a keyboard, an edit."""

    def __init__(self, rec: RecordingRequest | None = None) -> None:
        builder, self.rec = recording_builder(request=rec)
        self.app: AnyApp = builder.build()
        self.errors: list[BaseException] = []
        self.seen: list[str] = []
        self.app.add_handler(CommandHandler("start", self.start))
        self.app.add_handler(CommandHandler("menu", self.menu))
        self.app.add_handler(CallbackQueryHandler(self.tap))
        self.app.add_handler(ChatMemberHandler(self.member, ChatMemberHandler.MY_CHAT_MEMBER))
        self.app.add_handler(MessageHandler(filters.ChatType.GROUPS, self.group))
        self.app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, self.edited))
        self.app.add_handler(MessageHandler(filters.PHOTO, self.photo))
        self.app.add_handler(MessageHandler(filters.Sticker.ALL, self.kind("sticker")))
        self.app.add_handler(MessageHandler(filters.VOICE, self.kind("voice")))
        self.app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POST, self.kind("channel")))
        self.app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, self.echo))
        self.app.add_error_handler(self.on_error)
        self.updates = Updates(self.app.bot)

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        self.seen.append(f"start:{' '.join(context.args or [])}")
        await update.effective_message.reply_text("<b>Welcome</b>", parse_mode=ParseMode.HTML)

    async def menu(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton("Yes", callback_data="c:yes")],
                [InlineKeyboardButton("No", callback_data="c:no")],
            ]
        )
        await update.effective_message.reply_text("Agree?", reply_markup=keyboard)

    async def tap(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"You chose {query.data}")

    async def member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.my_chat_member is not None
        chat = update.my_chat_member.chat
        self.seen.append(f"member:{chat.type}:{update.my_chat_member.new_chat_member.status}")
        if chat.type != "private":
            await context.bot.send_message(chat.id, "Private chats only.")
            await context.bot.leave_chat(chat.id)

    async def group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.seen.append("group")

    async def edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.seen.append("edited")

    async def photo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        self.seen.append(f"photo:{update.effective_message.caption}")

    def kind(self, name: str) -> Any:
        async def handler(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            self.seen.append(name)

        return handler

    async def echo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text is not None
        await update.effective_message.reply_text(update.effective_message.text)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.error is not None
        self.errors.append(context.error)


async def test_echo_reply_is_recorded_with_the_chat_and_text() -> None:
    bot = EchoBot()
    async with running_app(bot.app):
        await drive(bot.app, bot.updates.text(42, "hello there"))
    assert bot.rec.texts() == ["hello there"]
    (call,) = bot.rec.sent("sendMessage")
    assert call.chat_id == 42
    assert bot.rec.calls[0].method == "getMe"
    assert "getMe" not in [c.method for c in bot.rec.sent()]


async def test_command_carries_its_entity_and_arguments() -> None:
    bot = EchoBot()
    async with running_app(bot.app):
        await drive(
            bot.app, bot.updates.command(7, "/start clinic-42"), bot.updates.command(7, "start")
        )
    assert bot.seen == ["start:clinic-42", "start:"]
    assert bot.rec.texts() == ["<b>Welcome</b>", "<b>Welcome</b>"]
    assert bot.rec.sent("sendMessage")[0].params["parse_mode"] == "HTML"


async def test_keyboard_is_echoed_and_a_callback_edits_the_message() -> None:
    bot = EchoBot()
    async with running_app(bot.app):
        await drive(bot.app, bot.updates.command(5, "/menu"))
        sent = bot.rec.sent("sendMessage")[-1]
        assert sent.buttons == [[("Yes", "c:yes")], [("No", "c:no")]]
        assert sent.result["reply_markup"] == sent.params["reply_markup"]
        message_id = sent.result["message_id"]
        await drive(bot.app, bot.updates.callback(5, "c:yes", message_id=message_id))
    assert [c.method for c in bot.rec.sent()] == [
        "sendMessage",
        "answerCallbackQuery",
        "editMessageText",
    ]
    edit = bot.rec.sent("editMessageText")[0]
    assert edit.params["message_id"] == message_id
    assert edit.result["text"] == "You chose c:yes"
    assert "reply_markup" not in edit.result  # an edit without a keyboard removes it
    assert bot.errors == []


async def test_message_ids_increase_and_dates_are_real() -> None:
    rec = RecordingRequest(clock=lambda: 1_700_000_000.0)
    bot = EchoBot(rec)
    async with running_app(bot.app):
        await drive(bot.app, bot.updates.text(1, "a"), bot.updates.text(1, "b"))
    first, second = (c.result for c in rec.sent("sendMessage"))
    assert second["message_id"] == first["message_id"] + 1
    assert first["date"] == 1_700_000_000
    assert first["chat"]["id"] == 1


async def test_fail_next_surfaces_in_the_error_handler_once() -> None:
    bot = EchoBot()
    bot.rec.fail_next("sendMessage", lambda: Forbidden("Forbidden: bot was blocked by the user"))
    async with running_app(bot.app):
        await drive(bot.app, bot.updates.text(9, "one"), bot.updates.text(9, "two"))
    assert [type(e) for e in bot.errors] == [Forbidden]
    assert bot.rec.texts() == ["two"]
    failed = [c for c in bot.rec.calls if not c.ok]
    assert [(c.method, c.fault) for c in failed] == [("sendMessage", "exception:Forbidden")]


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("429", RetryAfter),
        ("403", Forbidden),
        ("500", NetworkError),
        ("timeout", TimedOut),
        ("drop", NetworkError),
    ],
)
async def test_injected_faults_become_the_ptb_errors(kind: str, expected: type[Exception]) -> None:
    bot = EchoBot()
    bot.rec.inject("sendMessage", kind, retry_after=3)
    async with running_app(bot.app):
        await drive(bot.app, bot.updates.text(3, "hi"))
    (error,) = bot.errors
    assert type(error) is expected
    if isinstance(error, RetryAfter):
        assert _seconds(error.retry_after) == 3
    assert bot.rec.sent("sendMessage") == []


async def test_slow_fault_delivers_late() -> None:
    bot = EchoBot()
    fault = bot.rec.inject("sendMessage", "slow", delay=0.01)
    async with running_app(bot.app):
        await drive(bot.app, bot.updates.text(3, "eventually"))
    assert fault.hits == 1
    assert bot.rec.texts() == ["eventually"]
    assert bot.errors == []


async def test_blocked_chat_answers_forbidden_until_unblocked() -> None:
    bot = EchoBot()
    bot.rec.block_chat(11)
    async with running_app(bot.app):
        await drive(bot.app, bot.updates.text(11, "x"), bot.updates.text(12, "y"))
        bot.rec.unblock_chat(11)
        await drive(bot.app, bot.updates.text(11, "z"))
    assert [type(e) for e in bot.errors] == [Forbidden]
    assert bot.rec.texts() == ["y", "z"]


async def test_telegram_validation_catches_real_mistakes() -> None:
    rec = RecordingRequest()
    builder, _ = recording_builder(request=rec)
    app: AnyApp = builder.build()
    async with running_app(app):
        bot = app.bot
        with pytest.raises(BadRequest, match=r"(?i)message is too long"):
            await bot.send_message(1, "x" * 4097)
        await bot.send_message(1, "😀" * 2048)  # 4096 UTF-16 units: the limit exactly
        with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
            await bot.send_message(1, "")
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(1, "<b>open", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(1, "1 < 2", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match=r"(?i)reserved"):
            await bot.send_message(1, "Done.", parse_mode=ParseMode.MARKDOWN_V2)
        ok = await bot.send_message(1, "*Done*\\.", parse_mode=ParseMode.MARKDOWN_V2)
        assert ok.text == "Done."
        with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
            await bot.send_message(
                1,
                "pick",
                reply_markup=InlineKeyboardMarkup(
                    [[InlineKeyboardButton("a", callback_data="x" * 65)]]
                ),
            )
        sent = await bot.send_message(1, "same")
        with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
            await bot.edit_message_text("same", chat_id=1, message_id=sent.message_id)
        bold = await bot.edit_message_text(
            "<b>same</b>", chat_id=1, message_id=sent.message_id, parse_mode=ParseMode.HTML
        )  # only the formatting changes: still an edit
        assert not isinstance(bold, bool) and bold.text == "same"
        with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
            await bot.set_my_commands([("Start", "Begin")])
    assert len(rec.sent("sendMessage")) == 3


async def test_files_are_recorded_by_name_and_size() -> None:
    rec = RecordingRequest()
    builder, _ = recording_builder(request=rec)
    app: AnyApp = builder.build()
    async with running_app(app):
        message = await app.bot.send_document(
            5, document=b"a,b\n1,2\n", filename="export.csv", caption="Your data"
        )
        photo = await app.bot.send_photo(5, photo=b"\x89PNG" + b"0" * 96)
    call = rec.sent("sendDocument")[0]
    assert call.params["document"]["filename"] == "export.csv"
    assert call.params["document"]["size"] == 8
    assert call.text == "Your data"
    assert message.document is not None and message.document.file_name == "export.csv"
    assert rec.sent("sendPhoto")[0].params["photo"]["size"] == 100
    assert photo.photo and photo.photo[-1].file_size == 100
    assert rec.texts(chat_id=5) == ["Your data"]


async def test_block_holds_sends_until_released() -> None:
    gate = asyncio.Event()
    bot = EchoBot(RecordingRequest(block=gate))
    async with running_app(bot.app):
        task = asyncio.create_task(drive(bot.app, bot.updates.text(2, "slow")))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not task.done()
        assert bot.rec.sent("sendMessage") == []
        gate.set()
        await task
    assert bot.rec.texts() == ["slow"]


async def test_every_update_kind_reaches_the_matching_handler() -> None:
    bot = EchoBot()
    u = bot.updates
    async with running_app(bot.app):
        await drive(
            bot.app,
            u.edited_text(1, "fixed typo", message_id=3),
            u.caption(1, "my drawing"),
            u.caption(1, None),
            u.sticker(1),
            u.voice(1),
            u.group_text(-500, 1, "hi all"),
            u.channel_post(-100200, "news"),
            u.my_chat_member_added_to_group(-600),
            u.my_chat_member_blocked(1),
        )
    assert bot.seen == [
        "edited",
        "photo:my drawing",
        "photo:None",
        "sticker",
        "voice",
        "group",
        "channel",
        "member:group:member",
        "member:private:kicked",
    ]
    assert bot.rec.sent("leaveChat")[0].chat_id == -600
    assert bot.rec.texts(chat_id=-600) == ["Private chats only."]
    assert bot.errors == []


async def test_update_ids_increase_and_updates_are_bound_to_the_bot() -> None:
    bot = EchoBot()
    first = bot.updates.text(1, "a")
    second = bot.updates.command(1, "/help")
    assert second.update_id == first.update_id + 1
    assert first.effective_message is not None
    assert first.effective_message.get_bot() is bot.app.bot
    assert first.effective_user is not None and first.effective_user.language_code == "en"
    assert second.effective_message is not None
    assert second.effective_message.entities[0].type == "bot_command"


def test_command_entities_use_utf16_offsets() -> None:
    assert command_entities("/start") == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert command_entities("😀 /help@supportbot_test_bot now") == [
        {"type": "bot_command", "offset": 3, "length": 25}
    ]
    assert command_entities("a/b and http://x/y") == []


def test_builder_dicts_are_plain_json() -> None:
    builder = UpdateBuilder(clock=lambda: 1000.0, first_update_id=50)
    update = builder.text(8, "hola", lang="es")
    assert update["update_id"] == 50
    assert update["message"]["date"] == 1000
    assert update["message"]["from"]["language_code"] == "es"
    assert update["message"]["chat"] == {"id": 8, "type": "private", "first_name": "Ana"}
    assert "entities" not in update["message"]


def test_plain_text_renders_markup_like_telegram() -> None:
    assert plain_text("<b>Hi</b> &amp; <i>bye</i> &lt;3", "HTML") == "Hi & bye <3"
    assert plain_text("<a href='https://x.org'>link</a>", "HTML") == "link"
    assert plain_text("*bold* _it_ [l](https://x.org) \\- ok", "MarkdownV2") == "bold it l - ok"
    assert plain_text("plain <b>", None) == "plain <b>"


async def test_running_app_runs_the_lifecycle_hooks() -> None:
    events: list[str] = []
    builder, _ = recording_builder()

    async def hook(name: str, app: AnyApp) -> None:
        events.append(name)

    app: AnyApp = (
        builder.post_init(lambda a: hook("init", a))
        .post_stop(lambda a: hook("stop", a))
        .post_shutdown(lambda a: hook("shutdown", a))
        .build()
    )
    async with running_app(app, start=True):
        assert app.running
        events.append("body")
    assert events == ["init", "body", "stop", "shutdown"]


async def test_drive_waits_for_non_blocking_handlers_when_started() -> None:
    builder, rec = recording_builder()
    app: AnyApp = builder.build()

    async def slow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await asyncio.sleep(0.01)
        assert update.effective_message is not None
        await update.effective_message.reply_text("done")

    app.add_handler(MessageHandler(filters.TEXT, slow, block=False))
    async with running_app(app, start=True):
        await drive(app, Updates(app.bot).text(4, "go"))
        assert rec.texts() == ["done"]


def test_default_token_matches_botfather_shape() -> None:
    bot_id, _, secret = DEFAULT_TOKEN.partition(":")
    assert bot_id.isdigit() and len(secret) >= 10
