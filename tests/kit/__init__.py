"""Test kit: a recording request and update builders for handler tests; a fake Bot API server and
a bot-process runner for end-to-end tests. See the module docstrings for the details."""

from tests.kit.botapi import DEFAULT_TOKEN, Call, Fault
from tests.kit.fake_bot_api import FakeBotAPI
from tests.kit.harness import drive, recording_builder, running_app
from tests.kit.process import BotProcess, bot_env, run_bot
from tests.kit.recording import RecordingRequest
from tests.kit.updates import UpdateBuilder, Updates

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
