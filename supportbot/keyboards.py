"""Inline keyboards and compact callback data.

Callback data is `ns:action[:arg...]`, ASCII from a small alphabet, at most 64 bytes (Telegram's
limit). Anything coming back is parsed again and may be forged or stale, so `unpack` returns None
for whatever does not fit and handlers answer politely instead of crashing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

MAX_CALLBACK_BYTES = 64
_PART = re.compile(r"^[A-Za-z0-9_.\-]{1,40}$")
_INT = re.compile(r"-?[0-9]{1,18}")


@dataclass(frozen=True, slots=True)
class CallbackData:
    ns: str
    action: str
    args: tuple[str, ...]

    def arg(self, index: int) -> str | None:
        return self.args[index] if index < len(self.args) else None

    def int_arg(self, index: int) -> int | None:
        value = self.arg(index)
        if value is None or len(value) > 18 or not _INT.fullmatch(value):
            return None
        return int(value)


def pack(ns: str, action: str, *args: object) -> str:
    parts = [ns, action, *(str(a) for a in args)]
    for part in parts:
        if not _PART.match(part):
            raise ValueError(f"callback part not allowed: {part!r}")
    data = ":".join(parts)
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def unpack(data: str | None) -> CallbackData | None:
    if not data or len(data.encode("utf-8", "replace")) > MAX_CALLBACK_BYTES:
        return None
    parts = data.split(":")
    if len(parts) < 2 or not all(_PART.match(p) for p in parts):
        return None
    return CallbackData(parts[0], parts[1], tuple(parts[2:]))


Button = tuple[str, str]  # (label, callback data)


def keyboard(rows: Sequence[Sequence[Button]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )
