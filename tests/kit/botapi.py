"""The part of the Telegram Bot API both test doubles share: state, answers, faults, call log.

`RecordingRequest` (in-process, for handler tests) and `FakeBotAPI` (HTTP, for e2e tests) answer the
same way because they both delegate to `BotAPISim`. The simulator is deliberately as strict as
Telegram where strictness finds real bugs (empty or over-long texts, bad HTML / MarkdownV2, callback
data over 64 bytes, editing to identical content, answering a callback twice) and lenient elsewhere.
"""

from __future__ import annotations

import asyncio
import html
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, TypeVar, cast

JSON = dict[str, Any]
_T = TypeVar("_T")

DEFAULT_TOKEN = "123456:TEST-token-abcdefghij"
"""A token shaped like BotFather's (supportbot's config checks the shape)."""
BOT_USERNAME = "supportbot_test_bot"
BOT_FIRST_NAME = "Support Bot (test)"

SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})
NOISE_METHODS = frozenset({"getUpdates", "getMe"})
"""Calls every bot makes on its own; `sent()` without a method leaves them out."""

FAULT_KINDS = ("429", "403", "500", "502", "timeout", "drop", "slow")

# Parameters whose form-encoded value is a plain string; every other value arrives JSON-encoded.
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "language_code",
        "action",
        "business_connection_id",
        "message_effect_id",
        "title",
        "description",
        "short_description",
        "name",
        "emoji",
        "data",
        "secret_token",
        "ip_address",
        "photo",
        "document",
        "audio",
        "video",
        "voice",
        "animation",
        "sticker",
        "thumbnail",
        "file_id",
    }
)


def clone(value: _T) -> _T:
    """A deep copy of JSON data (faster than copy.deepcopy for it)."""
    return cast(_T, json.loads(json.dumps(value)))


def decode_form_value(name: str, value: str) -> Any:
    """Turn one form field back into the value PTB encoded (strings raw, the rest as JSON)."""
    if name in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def utf16_len(text: str) -> int:
    """Telegram measures lengths and offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def bot_id_from_token(token: str | None) -> int:
    head = (token or "").split(":", 1)[0]
    return int(head) if head.isdigit() else int(DEFAULT_TOKEN.split(":", 1)[0])


def normalise_chat_id(value: Any) -> int | str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lstrip("-").isdigit():
            return int(stripped)
        return stripped or None
    return None


# --------------------------------------------------------------------------------------------------
# Calls


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API call as the bot made it.

    `params` holds decoded values (ints, dicts, lists as PTB sent them); an uploaded file appears as
    `{"filename": ..., "size": ..., "mime_type": ...}` under its parameter name, never its bytes.
    """

    method: str
    params: dict[str, Any]
    time: float = field(default_factory=time.monotonic)
    fault: str | None = None
    """The injected fault that answered instead of the simulator ("429", "timeout", ...)."""
    status: int = 200
    result: Any = None
    """What was answered on success (a Message dict, True, a list of updates, ...)."""
    error: str | None = None
    """The error description on a Telegram error answer."""

    @property
    def ok(self) -> bool:
        return self.fault is None and self.error is None

    @property
    def chat_id(self) -> int | str | None:
        return normalise_chat_id(self.params.get("chat_id"))

    @property
    def text(self) -> str | None:
        """The text or caption as sent (markup included)."""
        value = self.params.get("text", self.params.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def reply_markup(self) -> JSON | None:
        value = self.params.get("reply_markup")
        return value if isinstance(value, dict) else None

    @property
    def buttons(self) -> list[list[tuple[str, str | None]]]:
        """Inline keyboard rows as (text, callback_data or url)."""
        return keyboard_buttons(self.reply_markup)


def keyboard_buttons(markup: JSON | None) -> list[list[tuple[str, str | None]]]:
    if not markup or "inline_keyboard" not in markup:
        return []
    rows: list[list[tuple[str, str | None]]] = []
    for row in markup["inline_keyboard"]:
        rows.append([(str(b.get("text", "")), b.get("callback_data", b.get("url"))) for b in row])
    return rows


@dataclass(slots=True)
class Fault:
    """A planned failure: the next `times` calls to `method` (or "*") fail as `kind`."""

    method: str
    kind: str
    times: int | None = 1
    """None: until cleared."""
    retry_after: int = 1
    chat_id: int | str | None = None
    """Only calls to this chat fail (None: any)."""
    delay: float = 30.0
    """For "timeout": how long the connection hangs before it is dropped; for "slow": how long
    the (delivered) answer is held back."""
    description: str | None = None
    hits: int = 0

    def matches(self, method: str, params: JSON) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.method not in ("*", method):
            return False
        return self.chat_id is None or normalise_chat_id(params.get("chat_id")) == self.chat_id

    def error_payload(self) -> tuple[int, JSON]:
        """The JSON Telegram answers for this kind (only for the HTTP kinds)."""
        if self.kind == "429":
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": self.description
                or f"Too Many Requests: retry after {self.retry_after}",
                "parameters": {"retry_after": self.retry_after},
            }
        if self.kind == "403":
            return 403, {
                "ok": False,
                "error_code": 403,
                "description": self.description or "Forbidden: bot was blocked by the user",
            }
        if self.kind == "502":
            return 502, {
                "ok": False,
                "error_code": 502,
                "description": self.description or "Bad Gateway",
            }
        if self.kind == "500":
            return 500, {
                "ok": False,
                "error_code": 500,
                "description": self.description or "Internal Server Error",
            }
        raise ValueError(f"fault kind {self.kind!r} has no HTTP answer")


class ApiError(Exception):
    """A Telegram error answer (`ok: false`)."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


# --------------------------------------------------------------------------------------------------
# Formatting: what the user sees, and Telegram's parse errors


_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)
_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class _TelegramHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self.stack: list[str] = []
        self.error: str | None = None

    def _fail(self, message: str) -> None:
        if self.error is None:
            self.error = message

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _HTML_TAGS:
            self._fail(f'Unsupported start tag "{tag}"')
            return
        if tag == "span" and ("class", "tg-spoiler") not in attrs:
            self._fail('Tag "span" must have class "tg-spoiler"')
        self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._fail(f'Unsupported start tag "{tag}/"')

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self._fail(f'Unmatched end tag "{tag}"')
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data:
            self._fail('Unsupported start tag ""')
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in _HTML_ENTITIES:
            self._fail(f'Unsupported HTML entity "&{name};"')
            return
        self.out.append(_HTML_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        self.out.append(html.unescape(f"&#{name};"))

    def handle_comment(self, data: str) -> None:
        self._fail('Unsupported start tag "!--"')

    def handle_decl(self, decl: str) -> None:
        self._fail(f'Unsupported start tag "!{decl}"')


def _plain_from_html(text: str) -> str:
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.error is None and parser.stack:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.stack[-1]}"'
    if parser.error is not None:
        raise bad_request(f"can't parse entities: {parser.error}")
    return "".join(parser.out)


_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD2_NAMES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler"}


def _plain_from_markdown_v2(text: str) -> str:
    """Validate MarkdownV2 the way Telegram does (reserved characters, closed entities)."""
    out: list[str] = []
    stack: list[str] = []
    i, n = 0, len(text)

    def fail(message: str) -> ApiError:
        return bad_request(f"can't parse entities: {message}")

    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 >= n:
                raise fail("Character '\\' is reserved and must be escaped with the preceding '\\'")
            out.append(text[i + 1])
            i += 2
            continue
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise fail(f"Can't find end of Pre entity at byte offset {i}")
            body = text[i + 3 : end]
            if "\n" in body and not body.startswith("\n"):
                body = body.split("\n", 1)[1]  # language tag
            out.append(body.replace("\\`", "`").replace("\\\\", "\\"))
            i = end + 3
            continue
        if c == "`":
            j = i + 1
            chunk: list[str] = []
            while j < n and text[j] != "`":
                if text[j] == "\\" and j + 1 < n:
                    chunk.append(text[j + 1])
                    j += 2
                    continue
                chunk.append(text[j])
                j += 1
            if j >= n:
                raise fail(f"Can't find end of Code entity at byte offset {i}")
            out.append("".join(chunk))
            i = j + 1
            continue
        marker = None
        for candidate in ("__", "||", "*", "_", "~"):
            if text.startswith(candidate, i):
                marker = candidate
                break
        if marker is not None:
            if stack and stack[-1] == marker:
                stack.pop()
            else:
                stack.append(marker)
            i += len(marker)
            continue
        if c == "[" or text.startswith("![", i):
            stack.append("[")
            i += 1 if c == "[" else 2
            continue
        if c == "]":
            if not stack or stack[-1] != "[":
                raise fail("Character ']' is reserved and must be escaped with the preceding '\\'")
            stack.pop()
            if i + 1 < n and text[i + 1] == "(":
                j = i + 2
                while j < n and text[j] != ")":
                    j += 2 if text[j] == "\\" else 1
                if j >= n:
                    raise fail(f"Can't find end of a URL at byte offset {i}")
                i = j + 1
            else:
                i += 1
            continue
        if c == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1
            continue
        if c in _MD2_RESERVED:
            raise fail(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        out.append(c)
        i += 1
    if stack:
        name = _MD2_NAMES.get(stack[-1], "TextUrl")
        raise fail(f"Can't find end of {name} entity")
    return "".join(out)


_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


def plain_text(text: str, parse_mode: str | None) -> str:
    """The text the user sees; raises ApiError(400) where Telegram would refuse the markup."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return _plain_from_html(text)
    if mode == "markdownv2":
        return _plain_from_markdown_v2(text)
    if mode == "markdown":
        return re.sub(r"[*_`]", "", _MD_LINK.sub(r"\1", text))
    if mode:
        raise bad_request(f"unsupported parse_mode {parse_mode!r}")
    return text


_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def check_reply_markup(markup: Any) -> JSON | None:
    """Validate an inline keyboard like Telegram; return it if it is one (echoed in the Message)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request('field "inline_keyboard" must be an Array of Arrays')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                raise bad_request("can't parse inline keyboard button: Text must be non-empty")
            actions = [a for a in _BUTTON_ACTIONS if a in button]
            if not actions:
                raise bad_request(
                    "can't parse inline keyboard button: "
                    "Text buttons are unallowed in the inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button:
                url = str(button["url"])
                if not url.startswith(("http://", "https://", "tg://")):
                    raise bad_request(
                        f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                    )
    return clone(markup)


_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")


# --------------------------------------------------------------------------------------------------
# The simulator


class BotAPISim:
    """Telegram's side of a bot's conversation, in memory.

    `strict` (the fake server): messages, chats and callback queries must be ones the simulator knows,
    as on Telegram. Lenient (the recording request, whose updates are built without it): unknown
    messages are accepted and made up on the fly.
    """

    def __init__(
        self,
        *,
        strict: bool,
        clock: Callable[[], float] = time.time,
        message_ids: Iterator[int] | None = None,
    ) -> None:
        self.strict = strict
        self.clock = clock
        self.message_ids: Iterator[int] = message_ids or itertools.count(1)
        self.token: str | None = None
        self.chats: dict[int | str, JSON] = {}
        self.messages: dict[int | str, dict[int, JSON]] = {}
        """Every message in a chat (the user's and the bot's), by message_id."""
        self.bot_messages: dict[int | str, list[int]] = {}
        """Ids of the bot's own messages per chat, in the order sent (deleted ones removed)."""
        self.open_callbacks: set[str] = set()
        self.answered_callbacks: list[str] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        """setMyCommands by (scope JSON, language_code)."""
        self.blocked: set[int | str] = set()
        """Chats whose user blocked the bot: every send or edit there answers 403."""
        self.left_chats: list[int | str] = []
        self._file_ids = itertools.count(1)
        self._formats: dict[tuple[int | str, int], tuple[str, str]] = {}
        """(raw text, parse_mode) behind each bot message's text or caption, to tell edits that
        only change formatting from ones that change nothing."""

    # -- identity ---------------------------------------------------------------------------------

    def bot_user(self) -> JSON:
        return {
            "id": bot_id_from_token(self.token),
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def chat(self, chat_id: int | str) -> JSON:
        known = self.chats.get(chat_id)
        if known is not None:
            return clone(known)
        if isinstance(chat_id, int) and chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "User"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        if isinstance(chat_id, str):
            return {"id": -1001000000000, "type": "channel", "title": chat_id}
        return {"id": chat_id, "type": kind, "title": "Group"}

    # -- bookkeeping used by the fake when users act ----------------------------------------------

    def remember_chat(self, chat: JSON) -> None:
        self.chats[chat["id"]] = clone(chat)

    def remember_message(self, message: JSON) -> None:
        chat_id = message["chat"]["id"]
        self.remember_chat(message["chat"])
        self.messages.setdefault(chat_id, {})[message["message_id"]] = clone(message)

    def open_callback(self, callback_id: str) -> None:
        self.open_callbacks.add(callback_id)

    def bot_message(self, chat_id: int | str, message_id: int) -> JSON | None:
        if message_id not in self.bot_messages.get(chat_id, []):
            return None
        message = self.messages.get(chat_id, {}).get(message_id)
        return clone(message) if message is not None else None

    def bot_messages_in(self, chat_id: int | str) -> list[JSON]:
        stored = self.messages.get(chat_id, {})
        return [clone(stored[m]) for m in self.bot_messages.get(chat_id, []) if m in stored]

    # -- answering ---------------------------------------------------------------------------------

    def handle(self, method: str, params: JSON) -> Any:
        """The `result` Telegram would answer, or raise ApiError."""
        handler = getattr(self, f"_m_{method}", None)
        if method in SEND_METHODS | EDIT_METHODS | {"deleteMessage", "sendChatAction"}:
            chat_id = self._chat_id(params, required=False)
            if chat_id is not None and chat_id in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
        if handler is None:
            return True
        result: Any = handler(params)
        return result

    def _chat_id(self, params: JSON, *, required: bool = True) -> int | str | None:
        chat_id = normalise_chat_id(params.get("chat_id"))
        if chat_id is None and required:
            raise bad_request("chat_id is empty")
        return chat_id

    def _new_message(self, chat_id: int | str, **content: Any) -> JSON:
        message: JSON = {
            "message_id": next(self.message_ids),
            "from": self.bot_user(),
            "chat": self.chat(chat_id),
            "date": int(self.clock()),
        }
        message.update({k: v for k, v in content.items() if v is not None})
        real_chat_id = message["chat"]["id"]
        self.messages.setdefault(real_chat_id, {})[message["message_id"]] = message
        self.bot_messages.setdefault(real_chat_id, []).append(message["message_id"])
        return clone(message)

    def _text(self, params: JSON, key: str, *, limit: int, empty_error: str | None) -> str | None:
        raw = params.get(key)
        if raw is None or raw == "":
            if empty_error is not None:
                raise bad_request(empty_error)
            return None
        text = plain_text(str(raw), params.get("parse_mode"))
        if not text.strip() and empty_error is not None:
            raise bad_request(empty_error)
        if utf16_len(text) > limit:
            raise bad_request(
                "message is too long" if key == "text" else "message caption is too long"
            )
        return text

    def _file(self, value: Any, kind: str) -> JSON:
        file_no = next(self._file_ids)
        info: JSON = {"file_id": f"{kind}-{file_no}", "file_unique_id": f"u{kind}{file_no}"}
        if isinstance(value, dict):
            if value.get("size") is not None:
                info["file_size"] = value["size"]
            if kind == "document":
                info["file_name"] = value.get("filename") or "file"
                info["mime_type"] = value.get("mime_type") or "application/octet-stream"
        elif isinstance(value, str):
            if not value.startswith(("http://", "https://", "attach://")):
                info["file_id"] = value  # resending a file Telegram already has
        else:
            raise bad_request(f"there is no {kind} in the request")
        return info

    def _m_getMe(self, params: JSON) -> JSON:
        return self.bot_user()

    def _m_getUpdates(self, params: JSON) -> list[JSON]:
        return []

    def _m_sendMessage(self, params: JSON) -> JSON:
        chat_id = self._chat_id(params)
        assert chat_id is not None
        text = self._text(params, "text", limit=4096, empty_error="message text is empty")
        markup = check_reply_markup(params.get("reply_markup"))
        message = self._new_message(chat_id, text=text, reply_markup=markup)
        return self._remember_format(message, params, "text")

    def _m_sendPhoto(self, params: JSON) -> JSON:
        chat_id = self._chat_id(params)
        assert chat_id is not None
        caption = self._text(params, "caption", limit=1024, empty_error=None)
        markup = check_reply_markup(params.get("reply_markup"))
        photo = self._file(params.get("photo"), "photo")
        sizes = [dict(photo, width=320, height=240)]
        message = self._new_message(chat_id, photo=sizes, caption=caption, reply_markup=markup)
        return self._remember_format(message, params, "caption")

    def _m_sendDocument(self, params: JSON) -> JSON:
        chat_id = self._chat_id(params)
        assert chat_id is not None
        caption = self._text(params, "caption", limit=1024, empty_error=None)
        markup = check_reply_markup(params.get("reply_markup"))
        document = self._file(params.get("document"), "document")
        message = self._new_message(
            chat_id, document=document, caption=caption, reply_markup=markup
        )
        return self._remember_format(message, params, "caption")

    def _target(self, params: JSON, verb: str) -> JSON | None:
        """The stored message an edit/delete refers to (None for inline messages)."""
        if params.get("inline_message_id"):
            return None
        chat_id = self._chat_id(params)
        assert chat_id is not None
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise bad_request("message identifier is not specified")
        stored = self.messages.get(chat_id, {}).get(message_id)
        if stored is None:
            if self.strict:
                raise bad_request(f"message to {verb} not found")
            stored = {
                "message_id": message_id,
                "from": self.bot_user(),
                "chat": self.chat(chat_id),
                "date": int(self.clock()),
            }
            self.messages.setdefault(chat_id, {})[message_id] = stored
            self.bot_messages.setdefault(chat_id, []).append(message_id)
        elif verb == "edit" and message_id not in self.bot_messages.get(chat_id, []):
            raise bad_request("message can't be edited")
        return stored

    @staticmethod
    def _format(params: JSON, key: str) -> tuple[str, str]:
        return str(params.get(key) or ""), str(params.get("parse_mode") or "").lower()

    def _remember_format(self, message: JSON, params: JSON, key: str) -> JSON:
        self._formats[(message["chat"]["id"], message["message_id"])] = self._format(params, key)
        return message

    def _same_format(self, stored: JSON, params: JSON, key: str) -> bool:
        before = self._formats.get((stored["chat"]["id"], stored["message_id"]))
        after = self._format(params, key)
        if before is None or (not before[1] and not after[1]):
            return True  # plain text on both sides: the rendered text says it all
        return before == after

    @staticmethod
    def _not_modified() -> ApiError:
        return bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )

    def _edited(self, stored: JSON, changes: JSON) -> JSON:
        for key, value in changes.items():
            if value is None:
                stored.pop(key, None)
            else:
                stored[key] = value
        stored["edit_date"] = int(self.clock())
        return clone(stored)

    def _m_editMessageText(self, params: JSON) -> JSON | bool:
        text = self._text(params, "text", limit=4096, empty_error="message text is empty")
        markup = check_reply_markup(params.get("reply_markup"))
        stored = self._target(params, "edit")
        if stored is None:
            return True
        if "text" not in stored and self.strict and stored.get("photo", stored.get("document")):
            raise bad_request("there is no text in the message to edit")
        if (
            stored.get("text") == text
            and stored.get("reply_markup") == markup
            and self._same_format(stored, params, "text")
        ):
            raise self._not_modified()
        self._remember_format(stored, params, "text")
        return self._edited(stored, {"text": text, "reply_markup": markup})

    def _m_editMessageCaption(self, params: JSON) -> JSON | bool:
        caption = self._text(params, "caption", limit=1024, empty_error=None)
        markup = check_reply_markup(params.get("reply_markup"))
        stored = self._target(params, "edit")
        if stored is None:
            return True
        if (
            stored.get("caption") == caption
            and stored.get("reply_markup") == markup
            and self._same_format(stored, params, "caption")
        ):
            raise self._not_modified()
        self._remember_format(stored, params, "caption")
        return self._edited(stored, {"caption": caption, "reply_markup": markup})

    def _m_editMessageReplyMarkup(self, params: JSON) -> JSON | bool:
        markup = check_reply_markup(params.get("reply_markup"))
        stored = self._target(params, "edit")
        if stored is None:
            return True
        if stored.get("reply_markup") == markup:
            raise self._not_modified()
        return self._edited(stored, {"reply_markup": markup})

    def _m_deleteMessage(self, params: JSON) -> bool:
        stored = self._target(params, "delete")
        if stored is not None:
            chat_id = stored["chat"]["id"]
            self.messages.get(chat_id, {}).pop(stored["message_id"], None)
            ids = self.bot_messages.get(chat_id, [])
            if stored["message_id"] in ids:
                ids.remove(stored["message_id"])
        return True

    def _m_answerCallbackQuery(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if self.strict:
            if query_id not in self.open_callbacks:
                raise bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            self.open_callbacks.discard(query_id)
        self.answered_callbacks.append(query_id)
        return True

    @staticmethod
    def _commands_key(params: JSON) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _m_setMyCommands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a list of at most 100 BotCommand")
        for command in commands:
            if not isinstance(command, dict) or not _COMMAND_RE.match(str(command.get("command"))):
                raise bad_request("BOT_COMMAND_INVALID")
            description = str(command.get("description", ""))
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = clone(commands)
        return True

    def _m_getMyCommands(self, params: JSON) -> list[JSON]:
        return clone(self.commands.get(self._commands_key(params), []))

    def _m_deleteMyCommands(self, params: JSON) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _m_getWebhookInfo(self, params: JSON) -> JSON:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}

    def _m_leaveChat(self, params: JSON) -> bool:
        chat_id = self._chat_id(params)
        assert chat_id is not None
        self.left_chats.append(chat_id)
        return True


# --------------------------------------------------------------------------------------------------
# What both doubles offer tests


class ApiRecorder:
    """Call log, fault injection and queries shared by RecordingRequest and FakeBotAPI."""

    sim: BotAPISim

    def _init_recorder(self, sim: BotAPISim) -> None:
        self.sim = sim
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self._changed: asyncio.Event | None = None

    # -- recording ---------------------------------------------------------------------------------

    def _record(self, call: Call) -> Call:
        self.calls.append(call)
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        return call

    def _answer(
        self, method: str, params: JSON, token: str | None, started: float
    ) -> tuple[Call, Fault | None]:
        """Answer one call through the faults, then the simulator; record it."""
        if token is not None:
            self.sim.token = token
        fault = self.take_fault(method, params)
        if fault is not None and fault.kind != "slow":
            return self._fault_call(fault, method, params, started), fault
        return self._sim_call(method, params, started), fault

    def _fault_call(self, fault: Fault, method: str, params: JSON, started: float) -> Call:
        if fault.kind in ("timeout", "drop"):
            return self._record(Call(method, params, started, fault=fault.kind, status=0))
        status, body = fault.error_payload()
        return self._record(
            Call(
                method,
                params,
                started,
                fault=fault.kind,
                status=status,
                error=body["description"],
                result=body,
            )
        )

    def _sim_call(self, method: str, params: JSON, started: float) -> Call:
        try:
            result = self.sim.handle(method, params)
        except ApiError as exc:
            return self._record(
                Call(
                    method,
                    params,
                    started,
                    status=exc.code,
                    error=exc.description,
                    result=exc.payload(),
                )
            )
        return self._record(Call(method, params, started, result=result))

    @staticmethod
    def response_body(call: Call) -> tuple[int, JSON]:
        """HTTP status and JSON body for a recorded call (not for timeout/drop)."""
        if call.ok:
            return 200, {"ok": True, "result": call.result}
        assert isinstance(call.result, dict)
        return call.status, call.result

    # -- faults ------------------------------------------------------------------------------------

    def inject(
        self,
        method: str,
        kind: str,
        *,
        times: int | None = 1,
        retry_after: int = 1,
        chat_id: int | str | None = None,
        delay: float = 30.0,
        description: str | None = None,
    ) -> Fault:
        """Make the next `times` calls to `method` ("*" for any) fail as `kind`.

        Kinds: "429" (RetryAfter(retry_after)), "403" (Forbidden), "500" and "502" (NetworkError),
        "timeout" (no answer for `delay` seconds, then the connection closes; the client times
        out), "drop" (connection closed without an answer). These never reach the simulator:
        nothing is delivered. "slow" is the exception: the call IS delivered (recorded as ok), and
        the answer comes `delay` seconds later, so with a delay beyond the client's read timeout
        the bot sees TimedOut for a message the user did get (the case that tempts a double send).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        fault = Fault(
            method,
            kind,
            times=times,
            retry_after=retry_after,
            chat_id=chat_id,
            delay=delay,
            description=description,
        )
        self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        self.faults.clear()

    def take_fault(self, method: str, params: JSON) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, params):
                fault.hits += 1
                return fault
        return None

    def block_chat(self, chat_id: int | str) -> None:
        """The user blocked the bot: from now on every send or edit to this chat answers 403."""
        self.sim.blocked.add(chat_id)

    def unblock_chat(self, chat_id: int | str) -> None:
        self.sim.blocked.discard(chat_id)

    # -- queries -----------------------------------------------------------------------------------

    def sent(
        self,
        method: str | Iterable[str] | None = None,
        *,
        chat_id: int | str | None = None,
    ) -> list[Call]:
        """Successful calls of `method` (one name or several; None: all but getMe/getUpdates)."""
        if method is None:
            wanted: Callable[[str], bool] = lambda m: m not in NOISE_METHODS  # noqa: E731
        else:
            names = {method} if isinstance(method, str) else set(method)
            wanted = names.__contains__
        return [
            c
            for c in self.calls
            if c.ok and wanted(c.method) and (chat_id is None or c.chat_id == chat_id)
        ]

    def texts(self, chat_id: int | str | None = None) -> list[str]:
        """Texts and captions of successful sends and text edits, in order, as sent (with markup)."""
        methods = SEND_METHODS | {"editMessageText", "editMessageCaption"}
        return [c.text for c in self.sent(methods, chat_id=chat_id) if c.text is not None]

    def mark(self) -> int:
        """A position in `calls`; pass it as `since=` to look only at later calls."""
        return len(self.calls)

    def clear(self) -> None:
        self.calls.clear()

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    async def wait_for(
        self,
        method: str | Iterable[str],
        predicate: Callable[[Call], bool] | None = None,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109
        since: int = 0,
    ) -> Call:
        """The first call at index >= since to `method` matching `predicate`, waiting for it."""
        names = {method} if isinstance(method, str) else set(method)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = since
        while True:
            while index < len(self.calls):
                call = self.calls[index]
                index += 1
                if call.method in names and (predicate is None or predicate(call)):
                    return call
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(c.method for c in self.calls[since:][-15:])
                raise TimeoutError(
                    f"no {sorted(names)} call within {timeout}s; calls since {since}: [{recent}]"
                )
            event = self._event()
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass

    async def wait_reply(
        self,
        chat_id: int | str,
        *,
        since: int = 0,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> Call:
        """The next successful message (send or text edit) to `chat_id` after `since`."""
        methods = SEND_METHODS | EDIT_METHODS
        return await self.wait_for(
            methods, lambda c: c.ok and c.chat_id == chat_id, since=since, timeout=timeout
        )

    async def settle(
        self,
        quiet: float = 0.3,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until no call other than getUpdates/getMe arrived for `quiet` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            busy = [c for c in self.calls[-50:] if c.method not in NOISE_METHODS]
            last = busy[-1].time if busy else 0.0
            idle_for = time.monotonic() - last
            if idle_for >= quiet:
                return
            if loop.time() >= deadline:
                raise TimeoutError(f"calls kept coming for {timeout}s")
            await asyncio.sleep(min(quiet - idle_for, max(deadline - loop.time(), 0.0)) + 0.01)
