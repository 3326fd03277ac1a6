"""Shared fixtures. The test kit itself lives in tests/kit/."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.kit.fake_bot_api import FakeBotAPI
from tests.kit.recording import RecordingRequest


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotAPI]:
    """A started fake Bot API on 127.0.0.1 (a free port); stopped after the test."""
    fake = FakeBotAPI()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
def recording_request() -> RecordingRequest:
    """A fresh network-free request for building an Application in a handler test."""
    return RecordingRequest()
