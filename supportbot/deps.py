"""The parts a handler may use, built once in app.py and kept in `application.bot_data`.

A plain container instead of globals: tests build one with fakes, and only app.py wires concrete parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from supportbot.clock import Clock
from supportbot.config import Settings
from supportbot.content.library import Library
from supportbot.content.strings import Strings
from supportbot.safety.reply import CrisisReplies
from supportbot.safety.screening import Screener
from supportbot.services.profile import ProfileService
from supportbot.storage.base import Storage


@dataclass
class Deps:
    settings: Settings
    clock: Clock
    strings: Strings
    library: Library
    screener: Screener
    crisis: CrisisReplies
    storage: Storage
    profile: ProfileService
    #: Feature services, added by app.py as features land (checkins, journal, ...).
    services: dict[str, Any] = field(default_factory=dict)
    #: Free-text routes: the kind a client is answering -> handler coroutine (see handlers.common).
    text_routes: dict[str, Any] = field(default_factory=dict)
    #: True once storage opened; False while degraded (crisis help still works).
    storage_ready: bool = False
