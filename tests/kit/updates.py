"""Updates shaped exactly like the JSON Telegram sends.

`UpdateBuilder` makes the raw dicts (the fake Bot API serves them over getUpdates); `Updates` turns
them into `telegram.Update` objects bound to a bot, so `message.reply_text(...)` in a handler reaches
the bot's request instead of failing for want of a bot.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from telegram import Bot, Update

from tests.kit.botapi import BOT_FIRST_NAME, BOT_USERNAME, JSON, bot_id_from_token, utf16_len

__all__ = ["UpdateBuilder", "Updates", "command_entities"]

_COMMAND_IN_TEXT = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


def command_entities(text: str) -> list[JSON]:
    """bot_command entities, as Telegram adds them to every /command in a message (UTF-16 offsets)."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: m.start()]),
            "length": utf16_len(m.group()),
        }
        for m in _COMMAND_IN_TEXT.finditer(text)
    ]


class UpdateBuilder:
    """Builds update dicts; update ids and message ids increase across everything it builds."""

    def __init__(
        self,
        *,
        bot_id: int = bot_id_from_token(None),
        bot_username: str = BOT_USERNAME,
        clock: Callable[[], float] = time.time,
        first_update_id: int = 1,
        message_ids: Iterator[int] | None = None,
    ) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.clock = clock
        self._update_ids = itertools.count(first_update_id)
        self._message_ids: Iterator[int] = message_ids or itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._file_ids = itertools.count(1)

    # -- pieces ------------------------------------------------------------------------------------

    def next_update_id(self) -> int:
        return next(self._update_ids)

    def next_message_id(self) -> int:
        return next(self._message_ids)

    def now(self) -> int:
        return int(self.clock())

    @staticmethod
    def user(user_id: int, *, first_name: str = "Ana", lang: str | None = "en") -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if lang:
            user["language_code"] = lang
        return user

    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": self.bot_username,
        }

    @staticmethod
    def chat(
        chat_id: int, *, chat_type: str = "private", first_name: str = "Ana", title: str = "Group"
    ) -> JSON:
        if chat_type == "private":
            return {"id": chat_id, "type": "private", "first_name": first_name}
        return {"id": chat_id, "type": chat_type, "title": title}

    def _update(self, key: str, payload: JSON, update_id: int | None) -> JSON:
        return {
            "update_id": update_id if update_id is not None else self.next_update_id(),
            key: payload,
        }

    def _message(
        self,
        user_id: int,
        *,
        chat_type: str,
        chat_id: int | None,
        lang: str | None,
        first_name: str,
        message_id: int | None,
        title: str = "Group",
        **content: Any,
    ) -> JSON:
        if chat_id is None:
            chat_id = user_id if chat_type == "private" else -user_id
        message: JSON = {
            "message_id": message_id if message_id is not None else self.next_message_id(),
            "from": self.user(user_id, first_name=first_name, lang=lang),
            "chat": self.chat(chat_id, chat_type=chat_type, first_name=first_name, title=title),
            "date": self.now(),
        }
        message.update({k: v for k, v in content.items() if v is not None})
        return message

    # -- updates -----------------------------------------------------------------------------------

    def text(
        self,
        user_id: int,
        text: str,
        *,
        chat_type: str = "private",
        chat_id: int | None = None,
        lang: str | None = "en",
        update_id: int | None = None,
        message_id: int | None = None,
        first_name: str = "Ana",
    ) -> JSON:
        """A text message; /commands in it get bot_command entities, as Telegram adds them."""
        message = self._message(
            user_id,
            chat_type=chat_type,
            chat_id=chat_id,
            lang=lang,
            first_name=first_name,
            message_id=message_id,
            text=text,
            entities=command_entities(text) or None,
        )
        return self._update("message", message, update_id)

    def command(
        self,
        user_id: int,
        command: str,
        *,
        chat_type: str = "private",
        chat_id: int | None = None,
        lang: str | None = "en",
        update_id: int | None = None,
        message_id: int | None = None,
        first_name: str = "Ana",
    ) -> JSON:
        """`command("/start abc")` or `command("start abc")`: a command with its entity."""
        text = command if command.startswith("/") else f"/{command}"
        return self.text(
            user_id,
            text,
            chat_type=chat_type,
            chat_id=chat_id,
            lang=lang,
            update_id=update_id,
            message_id=message_id,
            first_name=first_name,
        )

    def edited_text(
        self,
        user_id: int,
        text: str,
        *,
        message_id: int | None = None,
        lang: str | None = "en",
        update_id: int | None = None,
        first_name: str = "Ana",
    ) -> JSON:
        """An edit of an earlier message of the user (a new id if `message_id` is not given)."""
        message = self._message(
            user_id,
            chat_type="private",
            chat_id=None,
            lang=lang,
            first_name=first_name,
            message_id=message_id,
            text=text,
            entities=command_entities(text) or None,
        )
        message["edit_date"] = self.now()
        return self._update("edited_message", message, update_id)

    def caption(
        self,
        user_id: int,
        caption: str | None,
        *,
        lang: str | None = "en",
        update_id: int | None = None,
        message_id: int | None = None,
        first_name: str = "Ana",
    ) -> JSON:
        """A photo, with a caption unless `caption` is None."""
        file_no = next(self._file_ids)
        photo = [
            {
                "file_id": f"in-photo-{file_no}-s",
                "file_unique_id": f"ips{file_no}",
                "width": 90,
                "height": 90,
            },
            {
                "file_id": f"in-photo-{file_no}",
                "file_unique_id": f"ip{file_no}",
                "width": 800,
                "height": 600,
            },
        ]
        message = self._message(
            user_id,
            chat_type="private",
            chat_id=None,
            lang=lang,
            first_name=first_name,
            message_id=message_id,
            photo=photo,
            caption=caption,
        )
        return self._update("message", message, update_id)

    def sticker(
        self,
        user_id: int,
        emoji: str = "🙂",
        *,
        lang: str | None = "en",
        update_id: int | None = None,
        first_name: str = "Ana",
    ) -> JSON:
        file_no = next(self._file_ids)
        sticker = {
            "file_id": f"in-sticker-{file_no}",
            "file_unique_id": f"is{file_no}",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        message = self._message(
            user_id,
            chat_type="private",
            chat_id=None,
            lang=lang,
            first_name=first_name,
            message_id=None,
            sticker=sticker,
        )
        return self._update("message", message, update_id)

    def voice(
        self,
        user_id: int,
        duration: int = 3,
        *,
        lang: str | None = "en",
        update_id: int | None = None,
        first_name: str = "Ana",
    ) -> JSON:
        file_no = next(self._file_ids)
        voice = {
            "file_id": f"in-voice-{file_no}",
            "file_unique_id": f"iv{file_no}",
            "duration": duration,
            "mime_type": "audio/ogg",
        }
        message = self._message(
            user_id,
            chat_type="private",
            chat_id=None,
            lang=lang,
            first_name=first_name,
            message_id=None,
            voice=voice,
        )
        return self._update("message", message, update_id)

    def callback(
        self,
        user_id: int,
        data: str,
        *,
        message_id: int | None = None,
        message_text: str = "...",
        message: JSON | None = None,
        reply_markup: JSON | None = None,
        lang: str | None = "en",
        update_id: int | None = None,
        first_name: str = "Ana",
    ) -> JSON:
        """A button press on a bot message: the given `message` dict, or one made from the rest."""
        if message is None:
            if message_id is None:
                raise ValueError("callback() needs message_id or message")
            message = {
                "message_id": message_id,
                "from": self.bot_user(),
                "chat": self.chat(user_id, first_name=first_name),
                "date": self.now(),
                "text": message_text,
            }
            if reply_markup is not None:
                message["reply_markup"] = reply_markup
        query = {
            "id": f"cbq-{next(self._callback_ids)}",
            "from": self.user(user_id, first_name=first_name, lang=lang),
            "message": message,
            "chat_instance": f"ci-{message['chat']['id']}",
            "data": data,
        }
        return self._update("callback_query", query, update_id)

    def group_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        chat_type: str = "group",
        title: str = "Group",
        lang: str | None = "en",
        update_id: int | None = None,
        first_name: str = "Ana",
    ) -> JSON:
        message = self._message(
            user_id,
            chat_type=chat_type,
            chat_id=chat_id,
            lang=lang,
            first_name=first_name,
            message_id=None,
            title=title,
            text=text,
            entities=command_entities(text) or None,
        )
        return self._update("message", message, update_id)

    def my_chat_member(
        self,
        chat: JSON,
        by_user_id: int,
        *,
        old_status: str,
        new_status: str,
        update_id: int | None = None,
    ) -> JSON:
        bot = self.bot_user()
        payload: JSON = {
            "chat": chat,
            "from": self.user(by_user_id),
            "date": self.now(),
            "old_chat_member": {"user": bot, "status": old_status},
            "new_chat_member": {"user": bot, "status": new_status},
        }
        if new_status == "kicked":
            payload["new_chat_member"]["until_date"] = 0
        return self._update("my_chat_member", payload, update_id)

    def my_chat_member_added_to_group(
        self,
        chat_id: int,
        *,
        by_user_id: int = 1,
        chat_type: str = "group",
        title: str = "Group",
        update_id: int | None = None,
    ) -> JSON:
        """The bot was added to a group (status left -> member)."""
        chat = self.chat(chat_id, chat_type=chat_type, title=title)
        return self.my_chat_member(
            chat, by_user_id, old_status="left", new_status="member", update_id=update_id
        )

    def my_chat_member_blocked(self, user_id: int, *, update_id: int | None = None) -> JSON:
        """The user blocked the bot in their private chat (member -> kicked)."""
        chat = self.chat(user_id)
        return self.my_chat_member(
            chat, user_id, old_status="member", new_status="kicked", update_id=update_id
        )

    def channel_post(
        self,
        chat_id: int,
        text: str,
        *,
        title: str = "Channel",
        update_id: int | None = None,
    ) -> JSON:
        chat = {"id": chat_id, "type": "channel", "title": title}
        post = {
            "message_id": self.next_message_id(),
            "sender_chat": chat,
            "chat": chat,
            "date": self.now(),
            "text": text,
        }
        return self._update("channel_post", post, update_id)


class Updates:
    """`telegram.Update`s bound to `bot`, built by an UpdateBuilder (same arguments)."""

    def __init__(self, bot: Bot, builder: UpdateBuilder | None = None) -> None:
        self.bot = bot
        if builder is None:
            try:
                username = bot.username
            except RuntimeError:  # not initialized yet: getMe not called
                username = BOT_USERNAME
            builder = UpdateBuilder(bot_id=bot_id_from_token(bot.token), bot_username=username)
        self.builder = builder

    def bind(self, data: JSON) -> Update:
        return Update.de_json(data, self.bot)

    def text(self, user_id: int, text: str, **kwargs: Any) -> Update:
        return self.bind(self.builder.text(user_id, text, **kwargs))

    def command(self, user_id: int, command: str, **kwargs: Any) -> Update:
        return self.bind(self.builder.command(user_id, command, **kwargs))

    def edited_text(self, user_id: int, text: str, **kwargs: Any) -> Update:
        return self.bind(self.builder.edited_text(user_id, text, **kwargs))

    def caption(self, user_id: int, caption: str | None, **kwargs: Any) -> Update:
        return self.bind(self.builder.caption(user_id, caption, **kwargs))

    def sticker(self, user_id: int, emoji: str = "🙂", **kwargs: Any) -> Update:
        return self.bind(self.builder.sticker(user_id, emoji, **kwargs))

    def voice(self, user_id: int, duration: int = 3, **kwargs: Any) -> Update:
        return self.bind(self.builder.voice(user_id, duration, **kwargs))

    def callback(self, user_id: int, data: str, **kwargs: Any) -> Update:
        return self.bind(self.builder.callback(user_id, data, **kwargs))

    def group_text(self, chat_id: int, user_id: int, text: str, **kwargs: Any) -> Update:
        return self.bind(self.builder.group_text(chat_id, user_id, text, **kwargs))

    def my_chat_member_added_to_group(self, chat_id: int, **kwargs: Any) -> Update:
        return self.bind(self.builder.my_chat_member_added_to_group(chat_id, **kwargs))

    def my_chat_member_blocked(self, user_id: int, **kwargs: Any) -> Update:
        return self.bind(self.builder.my_chat_member_blocked(user_id, **kwargs))

    def channel_post(self, chat_id: int, text: str, **kwargs: Any) -> Update:
        return self.bind(self.builder.channel_post(chat_id, text, **kwargs))
