"""The fake Bot API server, driven by a real python-telegram-bot `Bot` over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from telegram import Bot, BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import HTTPXRequest

from tests.kit.botapi import DEFAULT_TOKEN
from tests.kit.fake_bot_api import FakeBotAPI
from tests.kit.process import BotProcess, bot_env, run_bot

pytestmark = pytest.mark.e2e
USER = 4101


def _seconds(retry_after: int | dtm.timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, dtm.timedelta) else retry_after


@pytest.fixture
async def bot(fake_api: FakeBotAPI) -> AsyncIterator[Bot]:
    """A PTB Bot on the fake, with a short read timeout so injected timeouts end quickly."""
    request = HTTPXRequest(read_timeout=0.5, connect_timeout=2.0)
    updates_request = HTTPXRequest(read_timeout=2.0, connect_timeout=2.0)
    async with Bot(
        DEFAULT_TOKEN,
        base_url=fake_api.base_url,
        request=request,
        get_updates_request=updates_request,
    ) as b:
        yield b


def _keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in pairs])


async def test_get_me_and_the_token_reach_the_fake(fake_api: FakeBotAPI, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.id == 123456 and me.username == "supportbot_test_bot"
    assert fake_api.token == DEFAULT_TOKEN
    assert fake_api.base_url.startswith("http://127.0.0.1:")


async def test_send_message_answers_like_telegram(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.push_text(USER, "hi")  # the fake learns the chat from the user's message
    first = await bot.send_message(USER, "<b>Hello</b> &amp; welcome", parse_mode=ParseMode.HTML)
    second = await bot.send_message(USER, "Again", reply_markup=_keyboard(("Yes", "y")))
    assert first.chat.id == USER and first.chat.type == "private"
    assert first.chat.first_name == "Ana"
    assert first.text == "Hello & welcome"
    assert second.message_id > first.message_id
    assert second.reply_markup is not None
    assert second.reply_markup.inline_keyboard[0][0].callback_data == "y"
    assert fake_api.messages_to(USER) == ["Hello & welcome", "Again"]
    call = fake_api.sent("sendMessage")[0]
    assert call.params == {
        "chat_id": USER,
        "text": "<b>Hello</b> &amp; welcome",
        "parse_mode": "HTML",
    }


async def test_edits_change_what_the_user_sees(fake_api: FakeBotAPI, bot: Bot) -> None:
    sent = await bot.send_message(USER, "Breathe in", reply_markup=_keyboard(("Stop", "stop")))
    edited = await bot.edit_message_text("Breathe out", chat_id=USER, message_id=sent.message_id)
    assert isinstance(edited, type(sent)) and edited.edit_date is not None
    assert fake_api.messages_to(USER) == ["Breathe out"]
    assert "reply_markup" not in fake_api.last_message_to(USER)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Breathe out", chat_id=USER, message_id=sent.message_id)
    await bot.edit_message_reply_markup(
        chat_id=USER, message_id=sent.message_id, reply_markup=_keyboard(("Again", "again"))
    )
    assert fake_api.last_message_to(USER)["reply_markup"]["inline_keyboard"][0][0]["text"] == (
        "Again"
    )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=999_999)
    assert await bot.delete_message(USER, sent.message_id) is True
    assert fake_api.messages_to(USER) == []


async def test_callback_round_trip_with_offsets(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.push_command(USER, "/start")
    updates = await bot.get_updates(timeout=0)
    assert [u.effective_message.text for u in updates if u.effective_message] == ["/start"]
    assert updates[0].effective_message is not None
    assert updates[0].effective_message.entities[0].type == "bot_command"

    menu = await bot.send_message(USER, "Agree?", reply_markup=_keyboard(("I agree", "c:y")))
    fake_api.press(USER, "I agree")
    updates = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert len(updates) == 1
    query = updates[0].callback_query
    assert query is not None and query.data == "c:y"
    assert isinstance(query.message, Message)
    assert query.message.message_id == menu.message_id
    assert query.message.text == "Agree?"

    assert await query.answer() is True
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    await query.edit_message_text("Thank you")

    fake_api.push_callback(USER, "c:y", menu.message_id)  # the message as it is now
    again = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert again[0].callback_query is not None
    assert isinstance(again[0].callback_query.message, Message)
    assert again[0].callback_query.message.text == "Thank you"

    assert await bot.get_updates(offset=again[-1].update_id + 1, timeout=0) == ()
    assert fake_api.pending_updates == 0
    with pytest.raises(KeyError):
        fake_api.press(USER, "No such button")


async def test_long_poll_returns_when_an_update_arrives() -> None:
    async with FakeBotAPI(poll_cap=30.0) as fake:
        request = HTTPXRequest(read_timeout=40.0)
        async with Bot(DEFAULT_TOKEN, base_url=fake.base_url, get_updates_request=request) as b:
            poll = asyncio.create_task(b.get_updates(timeout=30))
            await asyncio.sleep(0.2)
            assert not poll.done()
            fake.push_text(USER, "are you there?")
            updates = await asyncio.wait_for(poll, 10)  # well before the 30 s long poll
            assert updates[0].effective_message is not None
            assert updates[0].effective_message.text == "are you there?"


async def test_long_poll_without_updates_waits_at_most_the_cap() -> None:
    async with FakeBotAPI(poll_cap=0.2) as fake:
        async with Bot(DEFAULT_TOKEN, base_url=fake.base_url) as b:
            assert await asyncio.wait_for(b.get_updates(timeout=30), 10) == ()
        call = fake.sent("getUpdates")[-1]
        assert call.params["timeout"] == 30


async def test_limit_and_allowed_updates_are_honoured(fake_api: FakeBotAPI, bot: Bot) -> None:
    for i in range(5):
        fake_api.push_text(USER, f"m{i}")
    fake_api.push_added_to_group(-700)
    first = await bot.get_updates(limit=2, timeout=0)
    assert len(first) == 2
    only_members = await bot.get_updates(
        offset=first[-1].update_id + 1, timeout=0, allowed_updates=["my_chat_member"]
    )
    assert [u.my_chat_member.chat.id for u in only_members if u.my_chat_member] == [-700]


async def test_drop_pending_updates(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.push_text(USER, "old")
    assert fake_api.pending_updates == 1
    await bot.delete_webhook(drop_pending_updates=True)
    assert fake_api.pending_updates == 0
    info = await bot.get_webhook_info()
    assert info.url == ""


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_429_is_retry_after_and_nothing_is_delivered(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.inject("sendMessage", "429", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "first try")
    assert _seconds(caught.value.retry_after) == 7
    await bot.send_message(USER, "second try")
    assert fake_api.messages_to(USER) == ["second try"]
    assert [c.fault for c in fake_api.calls if c.method == "sendMessage"] == ["429", None]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("403", Forbidden), ("500", NetworkError), ("502", NetworkError)],
)
async def test_http_faults_become_ptb_errors(
    fake_api: FakeBotAPI, bot: Bot, kind: str, expected: type[Exception]
) -> None:
    fake_api.inject("sendMessage", kind)
    with pytest.raises(expected) as caught:
        await bot.send_message(USER, "x")
    assert type(caught.value) is expected
    assert fake_api.messages_to(USER) == []


async def test_timeout_fault_times_the_client_out(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.inject("sendMessage", "timeout", delay=5.0)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "x")
    assert fake_api.messages_to(USER) == []
    await bot.send_message(USER, "y")
    assert fake_api.messages_to(USER) == ["y"]


async def test_slow_answer_delivers_but_times_the_client_out(
    fake_api: FakeBotAPI, bot: Bot
) -> None:
    fake_api.inject("sendMessage", "slow", delay=3.0)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "delivered anyway")
    assert fake_api.messages_to(USER) == ["delivered anyway"]
    assert [c.ok for c in fake_api.calls if c.method == "sendMessage"] == [True]


async def test_dropped_connection_is_a_network_error(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.inject("sendMessage", "drop")
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(USER, "x")
    assert not isinstance(caught.value, TimedOut)
    assert fake_api.messages_to(USER) == []


async def test_faults_can_target_a_chat_repeat_and_hit_polling(
    fake_api: FakeBotAPI, bot: Bot
) -> None:
    fault = fake_api.inject("sendMessage", "403", times=None, chat_id=USER)
    for _ in range(3):
        with pytest.raises(Forbidden):
            await bot.send_message(USER, "x")
    await bot.send_message(USER + 1, "other user")
    assert fault.hits == 3
    fake_api.clear_faults()
    await bot.send_message(USER, "after")
    assert fake_api.messages_to(USER) == ["after"]

    fake_api.inject("getUpdates", "500", times=2)
    fake_api.push_text(USER, "queued")
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.get_updates(timeout=0)
    assert len(await bot.get_updates(timeout=0)) == 1


async def test_blocked_user_answers_403(fake_api: FakeBotAPI, bot: Bot) -> None:
    fake_api.push_blocked_by(USER)
    updates = await bot.get_updates(timeout=0)
    member = updates[0].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(USER, "check-in")


async def test_files_commands_and_leaving(fake_api: FakeBotAPI, bot: Bot) -> None:
    doc = await bot.send_document(USER, b"col\n1\n", filename="export.csv", caption="Your data")
    assert doc.document is not None and doc.document.file_name == "export.csv"
    assert doc.document.file_size == 6
    photo = await bot.send_photo(
        USER, b"\x89PNG" + b"0" * 60, caption="<i>chart</i>", parse_mode=ParseMode.HTML
    )
    assert photo.caption == "chart"
    call = fake_api.sent("sendDocument")[0]
    assert call.params["document"] == {
        "filename": "export.csv",
        "size": 6,
        "mime_type": "text/csv",
    }
    assert fake_api.messages_to(USER) == ["Your data", "chart"]

    await bot.set_my_commands([BotCommand("start", "Begin")])
    await bot.set_my_commands([BotCommand("start", "Empezar")], language_code="es")
    assert fake_api.commands() == [{"command": "start", "description": "Begin"}]
    assert fake_api.commands("es") == [{"command": "start", "description": "Empezar"}]
    assert (await bot.get_my_commands(language_code="es"))[0].description == "Empezar"
    await bot.delete_my_commands(language_code="es")
    assert fake_api.commands("es") == []

    assert await bot.send_chat_action(USER, "typing") is True
    assert await bot.leave_chat(-700) is True
    assert fake_api.left_chats == [-700]


async def test_wrong_token_is_refused_when_one_is_required() -> None:
    async with FakeBotAPI(token=DEFAULT_TOKEN) as fake:
        async with Bot(DEFAULT_TOKEN, base_url=fake.base_url) as good:
            assert (await good.get_me()).id == 123456
        with pytest.raises(InvalidToken):
            async with Bot("999999:another-token-xyz", base_url=fake.base_url):
                pass


async def test_wait_for_waits_and_reports_what_came(fake_api: FakeBotAPI, bot: Bot) -> None:
    mark = fake_api.mark()

    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(USER, "late")

    task = asyncio.create_task(later())
    call = await fake_api.wait_reply(USER, since=mark, timeout=5)
    await task
    assert call.text == "late"
    with pytest.raises(TimeoutError, match="sendPhoto"):
        await fake_api.wait_for("sendPhoto", since=mark, timeout=0.1)
    await fake_api.settle(quiet=0.05, timeout=5)


async def test_plain_json_clients_work_too(fake_api: FakeBotAPI) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{fake_api.base_url}{DEFAULT_TOKEN}/sendMessage",
            json={"chat_id": USER, "text": "123"},
        )
    assert answer.json()["result"]["text"] == "123"
    assert fake_api.sent("sendMessage")[0].params["text"] == "123"


# -- a real bot process against the fake ---------------------------------------------------------


async def test_echo_bot_process_round_trip_and_clean_sigterm(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    argv = [sys.executable, "-m", "tests.kit.echo_bot"]
    async with run_bot(fake_api, tmp_path, argv=argv) as proc:
        await proc.wait_log("echo bot polling")
        mark = fake_api.mark()
        fake_api.push_text(USER, "ping")
        reply = await fake_api.wait_reply(USER, since=mark)
        assert reply.text == "ping"
        assert await proc.terminate(15) == 0
    assert DEFAULT_TOKEN not in proc.log_text()
    assert fake_api.pending_updates == 0  # PTB confirmed the offset on its way out


async def test_bot_process_reports_an_early_exit(fake_api: FakeBotAPI, tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "import sys; print('config broken'); sys.exit(3)"]
    proc = BotProcess(bot_env(fake_api, tmp_path), log_path=tmp_path / "bot.log", argv=argv)
    proc.start()
    with pytest.raises(RuntimeError, match="config broken"):
        await proc.wait_log("never printed", timeout=10)
    assert await proc.wait_exit(5) == 3


async def test_bot_process_kill_and_restart(fake_api: FakeBotAPI, tmp_path: Path) -> None:
    script = (
        "import os, time; print('up', os.environ['BOT_API_BASE_URL'], flush=True); time.sleep(60)"
    )
    proc = BotProcess(
        bot_env(fake_api, tmp_path),
        log_path=tmp_path / "bot.log",
        argv=[sys.executable, "-c", script],
    )
    async with proc:
        line = await proc.wait_log("up")
        assert fake_api.base_url in line
        proc.kill()
        assert await proc.wait_exit(5) == -9
        proc.start()
        await proc.wait_log("up")
    assert proc.log_text().count("up ") == 2
    assert proc.log_text(since_start=True).count("up ") == 1
