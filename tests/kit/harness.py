"""Run any python-telegram-bot Application in a test, without polling.

`running_app` goes through the same lifecycle as `run_polling` (initialize, post_init, ...,
post_stop, shutdown, post_shutdown) minus the network loop; `drive` feeds updates one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder

from tests.kit.botapi import DEFAULT_TOKEN
from tests.kit.recording import RecordingRequest

__all__ = ["drive", "recording_builder", "running_app"]

AnyApp = Application[Any, Any, Any, Any, Any, Any]


@asynccontextmanager
async def running_app(
    app: AnyApp, *, start: bool = False, lifecycle_hooks: bool = True
) -> AsyncIterator[AnyApp]:
    """Initialize `app` (and call post_init) for the block; shut it down after.

    `start=True` also runs `app.start()`: the JobQueue ticks and `block=False` handlers are awaited
    by `drive`. Leave it off to keep scheduled jobs out of a handler test.
    """
    await app.initialize()
    started = False
    try:
        if lifecycle_hooks and app.post_init is not None:
            await app.post_init(app)
        if start:
            await app.start()
            started = True
        yield app
    finally:
        try:
            if started:
                await app.stop()
            if lifecycle_hooks and app.post_stop is not None:
                await app.post_stop(app)
        finally:
            await app.shutdown()
            if lifecycle_hooks and app.post_shutdown is not None:
                await app.post_shutdown(app)


def _pending_tasks(app: AnyApp) -> set[asyncio.Task[Any]]:
    # PTB keeps the tasks of `block=False` handlers here while the application runs.
    tasks: set[asyncio.Task[Any]] = getattr(app, "_Application__create_task_tasks", set())
    return set(tasks)


async def drive(app: AnyApp, *updates: Update) -> None:
    """`process_update` each update in order, waiting for non-blocking handlers it spawned."""
    for update in updates:
        await app.process_update(update)
        while pending := _pending_tasks(app):
            await asyncio.gather(*pending, return_exceptions=True)


def recording_builder(
    token: str = DEFAULT_TOKEN, request: RecordingRequest | None = None
) -> tuple[ApplicationBuilder[Any, Any, Any, Any, Any, Any], RecordingRequest]:
    """An ApplicationBuilder whose bot talks to a RecordingRequest (returned with it)."""
    rec = request if request is not None else RecordingRequest()
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(token).request(rec).get_updates_request(RecordingRequest())
    )
    return builder, rec
