"""A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests and benchmarks.

The real bot process points BOT_API_BASE_URL at `fake.base_url`; the test plays the users
(`push_text`, `press`, ...) and reads what the bot did (`calls`, `wait_reply`, `messages_to`).
Answers come from the shared simulator in `tests.kit.botapi`; faults are injected per method.

Standalone, for trying the bot by hand:
    python -m tests.kit.fake_bot_api --port 8081
then type `<user_id> <text>` lines (e.g. `42 /start`) or `<user_id> !press <button text>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.kit.botapi import (
    JSON,
    SEND_METHODS,
    ApiRecorder,
    BotAPISim,
    Call,
    bot_id_from_token,
    clone,
    decode_form_value,
    keyboard_buttons,
)
from tests.kit.updates import UpdateBuilder

__all__ = ["FakeBotAPI", "Pushed"]

# Sent by Telegram only when asked for in allowed_updates.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass(frozen=True, slots=True)
class Pushed:
    """An update a simulated user caused, and when (time.monotonic()) it was queued."""

    update: JSON
    time: float

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    @property
    def kind(self) -> str:
        return next(k for k in self.update if k != "update_id")


class FakeBotAPI(ApiRecorder):
    """The Bot API subset supportbot uses, over HTTP, with users simulated by the test.

    `token`: accept only this token (others answer 401, as Telegram does); None accepts any and
    remembers the last one in `.token`. `poll_cap`: the longest a getUpdates long poll waits,
    whatever timeout the bot asks for, so shutdowns stay quick.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        poll_cap: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        message_ids = itertools.count(1)
        self._init_recorder(BotAPISim(strict=True, clock=clock, message_ids=message_ids))
        self.host = host
        self.port = port
        self.required_token = token
        self.poll_cap = poll_cap
        self.updates = UpdateBuilder(
            bot_id=bot_id_from_token(token), clock=clock, message_ids=message_ids
        )
        self.pushed: list[Pushed] = []
        self._queue: list[JSON] = []
        self._queued = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.tokens_seen: set[str] = set()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])

    async def stop(self) -> None:
        self._closing.set()
        self._queued.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What BOT_API_BASE_URL / `Bot(base_url=...)` take; PTB appends token and method."""
        return f"{self.root_url}/bot"

    @property
    def token(self) -> str | None:
        """The token the bot used last (None until the first call)."""
        return self.sim.token

    # -- HTTP --------------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> JSON:
        params: JSON = {k: decode_form_value(k, v) for k, v in request.query.items()}
        if not request.body_exists:
            return params
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
            return params
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                content = value.file.read()
                params[name] = {
                    "filename": value.filename,
                    "size": len(content),
                    "mime_type": value.content_type,
                }
            else:
                params[name] = decode_form_value(name, str(value))
        return params

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        token = request.match_info["token"]
        method = request.match_info["method"]
        params = await self._params(request)
        self.tokens_seen.add(token)
        if self.required_token is not None and token != self.required_token:
            self._record(Call(method, params, started, status=401, error="Unauthorized"))
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        self.sim.token = token
        fault = self.take_fault(method, params)
        if fault is not None and fault.kind != "slow":
            call = self._fault_call(fault, method, params, started)
        elif method == "getUpdates":
            call = await self._get_updates(params, started)
        else:
            call = self._sim_call(method, params, started)
            if method == "deleteWebhook" and call.ok and params.get("drop_pending_updates"):
                self._queue.clear()
        if fault is not None and fault.kind in ("timeout", "slow"):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), fault.delay)
        if fault is not None and fault.kind in ("timeout", "drop"):
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        status, body = self.response_body(call)
        return web.json_response(body, status=status, dumps=_dumps)

    async def _get_updates(self, params: JSON, started: float) -> Call:
        offset = params.get("offset")
        if isinstance(offset, int) and offset != 0:
            self._confirm(offset)
        limit = params.get("limit")
        limit = limit if isinstance(limit, int) and 1 <= limit <= 100 else 100
        timeout = params.get("timeout")
        wait = min(float(timeout), self.poll_cap) if isinstance(timeout, int | float) else 0.0
        allowed = params.get("allowed_updates")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            ready = [u for u in self._queue if self._allowed(u, allowed)][:limit]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closing.is_set():
                break
            self._queued.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queued.wait(), remaining)
        return self._record(Call("getUpdates", params, started, result=clone(ready)))

    def _confirm(self, offset: int) -> None:
        if offset < 0:  # Telegram: the last -offset updates, forgetting the older ones
            del self._queue[: max(len(self._queue) + offset, 0)]
        else:
            self._queue = [u for u in self._queue if u["update_id"] >= offset]

    @staticmethod
    def _allowed(update: JSON, allowed: Any) -> bool:
        kind = next(k for k in update if k != "update_id")
        if isinstance(allowed, list) and allowed:
            return kind in allowed
        return kind not in _OPT_IN_UPDATES

    # -- users -------------------------------------------------------------------------------------

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return len(self._queue)

    def push(self, update: JSON) -> JSON:
        """Queue a raw update dict for getUpdates; remembers its chat and message."""
        for key in ("message", "edited_message", "channel_post"):
            if key in update:
                self.sim.remember_message(update[key])
        if "callback_query" in update:
            self.sim.open_callback(update["callback_query"]["id"])
        if "my_chat_member" in update:
            self.sim.remember_chat(update["my_chat_member"]["chat"])
        self._queue.append(update)
        self.pushed.append(Pushed(update, time.monotonic()))
        self._queued.set()
        return update

    def push_text(
        self,
        user_id: int,
        text: str,
        *,
        lang: str | None = "en",
        chat_type: str = "private",
        first_name: str = "Ana",
    ) -> JSON:
        return self.push(
            self.updates.text(user_id, text, lang=lang, chat_type=chat_type, first_name=first_name)
        )

    def push_command(self, user_id: int, command: str, *, lang: str | None = "en") -> JSON:
        """`push_command(42, "/start code")`; the leading slash is optional."""
        return self.push(self.updates.command(user_id, command, lang=lang))

    def push_edited(
        self, user_id: int, text: str, *, message_id: int | None = None, lang: str | None = "en"
    ) -> JSON:
        return self.push(self.updates.edited_text(user_id, text, message_id=message_id, lang=lang))

    def push_caption(self, user_id: int, caption: str | None, *, lang: str | None = "en") -> JSON:
        return self.push(self.updates.caption(user_id, caption, lang=lang))

    def push_sticker(self, user_id: int, emoji: str = "🙂", *, lang: str | None = "en") -> JSON:
        return self.push(self.updates.sticker(user_id, emoji, lang=lang))

    def push_voice(self, user_id: int, duration: int = 3, *, lang: str | None = "en") -> JSON:
        return self.push(self.updates.voice(user_id, duration, lang=lang))

    def push_callback(
        self, user_id: int, data: str, message_id: int, *, lang: str | None = "en"
    ) -> JSON:
        """The user taps a button carrying `data` on the bot's message `message_id` in their chat.

        The update carries the message as it is now (text and keyboard after any edits).
        """
        message = self.sim.bot_message(user_id, message_id)
        if message is None:
            raise KeyError(f"the bot sent no message {message_id} to chat {user_id}")
        return self.push(self.updates.callback(user_id, data, message=message, lang=lang))

    def press(
        self, user_id: int, button: str, *, message_id: int | None = None, lang: str | None = "en"
    ) -> JSON:
        """Tap the inline button whose text contains `button` on the latest bot message having it
        (or on `message_id`)."""
        messages = self.sim.bot_messages_in(user_id)
        if message_id is not None:
            messages = [m for m in messages if m["message_id"] == message_id]
        for message in reversed(messages):
            for row in keyboard_buttons(message.get("reply_markup")):
                for text, data in row:
                    if button in text and data is not None:
                        return self.push(
                            self.updates.callback(user_id, data, message=message, lang=lang)
                        )
        shown = [b for m in messages for r in keyboard_buttons(m.get("reply_markup")) for b in r]
        raise KeyError(f"no button {button!r} in chat {user_id}; buttons: {shown}")

    def push_group_text(
        self, chat_id: int, user_id: int, text: str, *, chat_type: str = "group"
    ) -> JSON:
        return self.push(self.updates.group_text(chat_id, user_id, text, chat_type=chat_type))

    def push_added_to_group(
        self, chat_id: int, *, by_user_id: int = 1, chat_type: str = "group"
    ) -> JSON:
        return self.push(
            self.updates.my_chat_member_added_to_group(
                chat_id, by_user_id=by_user_id, chat_type=chat_type
            )
        )

    def push_blocked_by(self, user_id: int) -> JSON:
        """The user blocks the bot: the my_chat_member update, and 403 on sends from now on."""
        self.block_chat(user_id)
        return self.push(self.updates.my_chat_member_blocked(user_id))

    def push_channel_post(self, chat_id: int, text: str) -> JSON:
        return self.push(self.updates.channel_post(chat_id, text))

    # -- what the users have now -------------------------------------------------------------------

    def bot_messages(self, chat_id: int | str) -> list[JSON]:
        """The bot's messages in a chat as they are now (after edits, without deleted ones)."""
        return self.sim.bot_messages_in(chat_id)

    def messages_to(self, chat_id: int | str) -> list[str]:
        """What the user sees: text or caption of each bot message, markup rendered away."""
        return [str(m.get("text", m.get("caption", ""))) for m in self.sim.bot_messages_in(chat_id)]

    def last_message_to(self, chat_id: int | str) -> JSON:
        messages = self.sim.bot_messages_in(chat_id)
        if not messages:
            raise KeyError(f"the bot sent nothing to chat {chat_id}")
        return messages[-1]

    def commands(self, language_code: str = "", scope: JSON | None = None) -> list[JSON]:
        """What setMyCommands set for this language (and scope; default scope if None)."""
        key = (json.dumps(scope or {"type": "default"}, sort_keys=True), language_code)
        return clone(self.sim.commands.get(key, []))

    @property
    def left_chats(self) -> list[int | str]:
        return list(self.sim.left_chats)

    def sends_to(self, chat_id: int | str) -> list[Call]:
        """Successful sendMessage/sendPhoto/sendDocument calls to a chat."""
        return self.sent(SEND_METHODS, chat_id=chat_id)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------------------------------
# Standalone


async def _serve(port: int, token: str | None) -> None:
    fake = FakeBotAPI(port=port, token=token)
    await fake.start()
    print(f"fake Bot API at {fake.base_url}  (BOT_API_BASE_URL={fake.base_url})", flush=True)
    print("type '<user_id> <text>' or '<user_id> !press <button text>'; Ctrl-D to stop", flush=True)
    seen = 0

    async def echo_calls() -> None:
        nonlocal seen
        while True:
            await fake.wait_for(
                set(SEND_METHODS) | {"editMessageText", "answerCallbackQuery", "leaveChat"},
                since=seen,
                timeout=3600,
            )
            for call in fake.calls[seen:]:
                if call.method != "getUpdates":
                    status = "ok" if call.ok else f"{call.fault or call.error}"
                    print(
                        f"<- {call.method} {call.chat_id} [{status}] {call.text or ''}", flush=True
                    )
            seen = len(fake.calls)

    printer = asyncio.create_task(echo_calls())
    try:
        while True:
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line:
                break
            user, _, text = line.strip().partition(" ")
            if not user.isdigit() or not text:
                print("format: <user_id> <text>", flush=True)
                continue
            try:
                if text.startswith("!press "):
                    fake.press(int(user), text.removeprefix("!press "))
                else:
                    fake.push_text(int(user), text)
            except KeyError as exc:
                print(exc, flush=True)
    finally:
        printer.cancel()
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Telegram Bot API for trying supportbot")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=None, help="accept only this token")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.token))


if __name__ == "__main__":
    main()
