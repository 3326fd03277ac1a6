"""The real application, fed updates through process_update, talking to a RecordingRequest.

Usage in a handler test:

    async def test_something(bot: BotHarness) -> None:
        await bot.send(bot.u.command(USER, "/start"))
        assert "automated" in bot.last_text()
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from supportbot.app import build_application
from supportbot.clock import FakeClock
from supportbot.config import load_settings
from supportbot.deps import Deps
from supportbot.storage.crypto import new_key
from tests.kit.botapi import DEFAULT_TOKEN
from tests.kit.harness import drive, running_app
from tests.kit.recording import RecordingRequest
from tests.kit.updates import Updates

USER = 4242


@dataclass
class BotHarness:
    app: Any
    rec: RecordingRequest
    u: Updates
    deps: Deps
    clock: FakeClock

    async def send(self, *updates: Any) -> None:
        await drive(self.app, *updates)

    def texts(self, chat_id: int | None = None) -> list[str]:
        return self.rec.texts(chat_id)

    def last_text(self, chat_id: int | None = None) -> str:
        texts = self.rec.texts(chat_id)
        assert texts, "the bot sent nothing"
        return texts[-1]

    def last_buttons(self) -> list[list[tuple[str, str | None]]]:
        for call in reversed(
            self.rec.sent(("sendMessage", "editMessageText", "editMessageReplyMarkup"))
        ):
            if call.reply_markup:
                return call.buttons
        return []

    def last_message(self, chat_id: int = USER) -> dict[str, Any]:
        """The last message the bot sent (or edited) in the chat, as Telegram returned it."""
        for call in reversed(
            self.rec.sent(("sendMessage", "editMessageText", "sendPhoto"), chat_id=chat_id)
        ):
            if isinstance(call.result, dict):
                return call.result
        raise AssertionError("the bot sent nothing to this chat")

    async def press(
        self,
        data: str,
        user_id: int = USER,
        lang: str = "en",
        message: dict[str, Any] | None = None,
    ) -> None:
        """Tap a button carrying `data` on the bot's last message (or on `message`)."""
        await self.send(
            self.u.callback(user_id, data, message=message or self.last_message(user_id), lang=lang)
        )

    async def start(self, user_id: int = USER, lang: str = "en", consent: bool = True) -> None:
        """A client who has said /start (and agreed, unless consent=False)."""
        await self.send(self.u.command(user_id, "/start", lang=lang))
        await self.press("cs:yes" if consent else "cs:no", user_id, lang)


def make_settings(tmp_path: Path, **env: str) -> Any:
    base = {
        "BOT_TOKEN": DEFAULT_TOKEN,
        "DATABASE_PATH": str(tmp_path / "bot.db"),
        "DATA_KEY": new_key(),
        "DEFAULT_TIMEZONE": "Europe/Madrid",
    }
    base.update(env)
    return load_settings(base, env_file=None)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[BotHarness]:
    rec = RecordingRequest()
    clock = FakeClock()
    app = build_application(make_settings(tmp_path), request=rec, clock=clock)
    async with running_app(app) as running:
        yield BotHarness(running, rec, Updates(running.bot), running.bot_data["deps"], clock)
