"""A python-telegram-bot request object that never touches the network.

Handler tests build the Application with it, feed Updates through `process_update` and assert on the
recorded Bot API calls. Answers come from the same simulator the fake HTTP server uses.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from tests.kit.botapi import JSON, NOISE_METHODS, ApiRecorder, BotAPISim, Call

__all__ = ["Call", "RecordingRequest"]


@dataclass(slots=True)
class _Failure:
    method: str
    factory: Callable[[], Exception]
    times: int


def split_url(url: str) -> tuple[str | None, str]:
    """(token, method) from PTB's `f"{base_url}{token}/{method}"`."""
    head, _, method = url.rpartition("/")
    segment = head.rpartition("/")[2]
    token = segment[3:] if segment.startswith("bot") else None
    return token, method


def _file_size(content: Any) -> int | None:
    if isinstance(content, bytes | bytearray):
        return len(content)
    try:
        position = content.tell()
        content.seek(0, 2)
        size = int(content.tell())
        content.seek(position)
    except (AttributeError, OSError, ValueError):
        return None
    return size


def params_from(request_data: RequestData | None) -> JSON:
    """Decoded parameters, with uploaded files as {filename, size, mime_type}."""
    if request_data is None:
        return {}
    params: JSON = json.loads(json.dumps(request_data.parameters))
    for name, (filename, content, mime_type) in request_data.multipart_data.items():
        params[name] = {"filename": filename, "size": _file_size(content), "mime_type": mime_type}
    return params


class RecordingRequest(BaseRequest, ApiRecorder):
    """Records every Bot API call as a `Call` and answers it like Telegram would.

    `block`: when set to an unset asyncio.Event, every call except getMe/getUpdates waits for it
    (a slow Telegram). `delay`: seconds every such call takes.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        block: asyncio.Event | None = None,
        delay: float = 0.0,
    ) -> None:
        self._init_recorder(BotAPISim(strict=False, clock=clock))
        self.block = block
        self.delay = delay
        self._failures: list[_Failure] = []

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    def fail_next(
        self, method: str, exc_factory: Callable[[], Exception], *, times: int = 1
    ) -> None:
        """Raise `exc_factory()` on the next `times` calls to `method` ("*" for any).

        E.g. `rec.fail_next("sendMessage", lambda: Forbidden("Forbidden: bot was blocked"))`.
        Telegram errors pass through PTB as they are; other exceptions become NetworkError.
        """
        self._failures.append(_Failure(method, exc_factory, times))

    def _take_failure(self, method: str) -> _Failure | None:
        for failure in self._failures:
            if failure.times > 0 and failure.method in ("*", method):
                failure.times -= 1
                return failure
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        started = time.monotonic()
        token, api_method = split_url(url)
        params = params_from(request_data)
        if api_method not in NOISE_METHODS:
            if self.block is not None:
                await self.block.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
        failure = self._take_failure(api_method)
        if failure is not None:
            exc = failure.factory()
            self._record(
                Call(api_method, params, started, fault=f"exception:{type(exc).__name__}", status=0)
            )
            raise exc
        call, fault = self._answer(api_method, params, token, started)
        if fault is not None and fault.kind == "slow":
            await asyncio.sleep(fault.delay)
        if call.fault == "timeout":
            raise TimedOut("Timed out (injected)")
        if call.fault == "drop":
            raise NetworkError(
                "httpx.RemoteProtocolError: Server disconnected without sending a response."
            )
        status, body = self.response_body(call)
        return status, json.dumps(body).encode("utf-8")
