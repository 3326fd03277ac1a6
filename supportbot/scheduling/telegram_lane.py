"""The scheduled lane on Telegram: a `Sender` over the second bot, and the one repeating job.

Kept apart from `dispatcher.py` so the dispatcher (and the services that feed it) never import
telegram; this module only maps python-telegram-bot's errors to the dispatcher's outcomes.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application, ContextTypes
from telegram.warnings import PTBDeprecationWarning

from supportbot.scheduling import dispatcher as d

log = logging.getLogger(__name__)
JOB_NAME = "checkin-dispatcher"
MAX_TEXT = 4096


def _seconds(value: Any) -> float:
    total = getattr(value, "total_seconds", None)
    return float(total()) if callable(total) else float(value)


def _maybe_delivered(exc: TimedOut) -> bool:
    """A read timeout comes after the whole request was written; connect and pool timeouts, before."""
    return isinstance(exc.__cause__, httpx.ReadTimeout)


class TelegramSender:
    """Sends `Outgoing` messages through one Bot (the scheduled lane's own connection pool).

    Plain JSON through `Bot._post` (what PTB's public `do_api_request` calls, minus its nudge
    towards the typed method) rather than `send_message`: the typed path builds an object per
    button and a full `Message` from every answer, ~0.23 ms a send against ~0.02 ms, most of the
    dispatch cost at 100k check-ins. Same request layer, so the same errors (Forbidden,
    RetryAfter, TimedOut...) reach the mapping below. PTB is pinned below 23; should `_post` go
    away, the typed call is used instead.
    """

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, message: d.Outgoing) -> d.SendResult:
        text = message.text if len(message.text) <= MAX_TEXT else message.text[: MAX_TEXT - 1] + "…"
        params: dict[str, Any] = {
            "chat_id": message.chat_id,
            "text": text,
            "parse_mode": ParseMode.HTML.value,
            "link_preview_options": {"is_disabled": True},
        }
        if message.buttons:
            params["reply_markup"] = {
                "inline_keyboard": [
                    [{"text": label, "callback_data": data} for label, data in row]
                    for row in message.buttons
                ]
            }
        try:
            sent = await self._post(params)
        except Forbidden:
            return d.Blocked()
        except RetryAfter as exc:
            with warnings.catch_warnings():  # int today, timedelta in PTB 23: _seconds takes both
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                wait = exc.retry_after
            return d.RetryAfter(_seconds(wait))
        except TimedOut as exc:
            if _maybe_delivered(exc):
                # The request reached Telegram and only the answer was late: it was most likely
                # delivered. Never twice beats once more: the dispatcher records it as sent.
                return d.Unconfirmed("ReadTimeout")
            return d.Transient("TimedOut")
        except (BadRequest, ChatMigrated) as exc:  # subclasses of NetworkError: not transient
            return d.Rejected(exc.__class__.__name__)
        except NetworkError as exc:
            return d.Transient(exc.__class__.__name__)
        except TelegramError as exc:
            return d.Rejected(exc.__class__.__name__)
        message_id = sent.get("message_id") if isinstance(sent, dict) else None
        return d.Sent(message_id if isinstance(message_id, int) else None)

    async def _post(self, params: dict[str, Any]) -> Any:
        post = getattr(self.bot, "_post", None)
        if post is not None:
            return await post("sendMessage", api_kwargs=params)
        sent = await self.bot.send_message(  # pragma: no cover - only without Bot._post
            params["chat_id"],
            params["text"],
            parse_mode=ParseMode.HTML,
            reply_markup=(
                InlineKeyboardMarkup.de_json(params["reply_markup"], self.bot)
                if "reply_markup" in params
                else None
            ),
            disable_web_page_preview=True,
        )
        return {"message_id": sent.message_id}


def start_hook(
    dispatcher: d.Dispatcher,
) -> Callable[[Application], Awaitable[None]]:  # type: ignore[type-arg]
    """The app's start hook: recover (stale rows, grace, missing rows), then tick on the JobQueue."""

    async def hook(app: Application) -> None:  # type: ignore[type-arg]
        await dispatcher.start()
        if app.job_queue is None:
            log.error("no JobQueue: install python-telegram-bot[job-queue]; check-ins are off")
            return
        if app.job_queue.get_jobs_by_name(JOB_NAME):
            return
        app.job_queue.run_repeating(
            _tick,
            interval=dispatcher.config.interval_seconds,
            first=0.0,
            name=JOB_NAME,
            data=dispatcher,
            # Our own lock makes an overlapping run return at once (no APScheduler warning).
            job_kwargs={"max_instances": 2, "coalesce": True, "misfire_grace_time": None},
        )
        log.info(
            "check-in dispatcher running every %.2g s, budget %.3g/s",
            dispatcher.config.interval_seconds,
            dispatcher.config.budget_per_second,
        )

    return hook


async def _tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    job = context.job
    assert job is not None
    dispatcher: d.Dispatcher = job.data  # type: ignore[assignment]
    try:
        await dispatcher.tick()
    except Exception as exc:  # logged by class only: the rows stay in the database for next time
        log.error("check-in tick failed: %s", exc.__class__.__name__)
