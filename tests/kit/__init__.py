"""Test kit: a recording request and update builders for handler tests; a fake Bot API server and
a bot-process runner for end-to-end tests. See each module's docstring.

Names are imported lazily, so `python -m tests.kit.fake_bot_api` (or `.echo_bot`) does not import
the whole kit first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.kit.botapi import DEFAULT_TOKEN, Call, Fault
    from tests.kit.fake_bot_api import FakeBotAPI
    from tests.kit.harness import drive, recording_builder, running_app
    from tests.kit.process import BotProcess, bot_env, run_bot
    from tests.kit.recording import RecordingRequest
    from tests.kit.updates import UpdateBuilder, Updates

_HOMES = {
    "DEFAULT_TOKEN": "tests.kit.botapi",
    "Call": "tests.kit.botapi",
    "Fault": "tests.kit.botapi",
    "FakeBotAPI": "tests.kit.fake_bot_api",
    "drive": "tests.kit.harness",
    "recording_builder": "tests.kit.harness",
    "running_app": "tests.kit.harness",
    "BotProcess": "tests.kit.process",
    "bot_env": "tests.kit.process",
    "run_bot": "tests.kit.process",
    "RecordingRequest": "tests.kit.recording",
    "UpdateBuilder": "tests.kit.updates",
    "Updates": "tests.kit.updates",
}

__all__ = [
    "DEFAULT_TOKEN",
    "BotProcess",
    "Call",
    "FakeBotAPI",
    "Fault",
    "RecordingRequest",
    "UpdateBuilder",
    "Updates",
    "bot_env",
    "drive",
    "recording_builder",
    "run_bot",
    "running_app",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'tests.kit' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
