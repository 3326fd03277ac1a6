"""The check-in dispatcher on a fake clock with a fake sender: claims, the send budget, Forbidden,
RetryAfter, network errors with backoff, the grace period after downtime, and crash recovery."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, TimedOut
from telegram.error import RetryAfter as TgRetryAfter

from supportbot.clock import FakeClock
from supportbot.content.strings import Strings
from supportbot.handlers.checkins import CheckinComposer
from supportbot.scheduling.dispatcher import (
    Blocked,
    DispatchConfig,
    Dispatcher,
    Outgoing,
    Prepared,
    Rejected,
    RetryAfter,
    SendResult,
    Sent,
    TokenBucket,
    Transient,
    Unconfirmed,
    backoff_seconds,
)
from supportbot.scheduling.telegram_lane import TelegramSender
from supportbot.services.checkins import CheckinService
from supportbot.storage.base import Checkin, StorageError
from supportbot.storage.crypto import TextCipher, new_key
from supportbot.storage.sqlite import SqliteStorage

MESSAGES = Path(__file__).resolve().parents[2] / "messages"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday


@dataclass
class SendCall:
    at: datetime
    message: Outgoing

    @property
    def checkin_id(self) -> int:
        """The row id, read back from the check-in's first answer button (ck:a:<id>:1)."""
        data = self.message.buttons[0][0][1]
        return int(data.split(":")[2])


class FakeSender:
    """Answers every send with Sent(n) unless a result is scripted for that chat."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls: list[SendCall] = []
        self.script: dict[int, list[SendResult]] = {}
        self.hold: asyncio.Event | None = None  # when set: sends wait on it (a hung request)
        self._ids = itertools.count(100)

    async def send(self, message: Outgoing) -> SendResult:
        self.calls.append(SendCall(self.clock.now(), message))
        if self.hold is not None:
            await self.hold.wait()
        await asyncio.sleep(0)
        queued = self.script.get(message.chat_id)
        if queued:
            return queued.pop(0)
        return Sent(next(self._ids))

    def ids(self) -> list[int]:
        return [c.checkin_id for c in self.calls]


class FakeTime:
    """monotonic() and sleep() tied to the fake clock: sleeping moves time, never waits."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.slept = 0.0

    def monotonic(self) -> float:
        return self.clock.now().timestamp()

    async def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.clock.advance(timedelta(microseconds=math.ceil(seconds * 1e6)))
        await asyncio.sleep(0)


@dataclass
class World:
    storage: SqliteStorage
    clock: FakeClock
    time: FakeTime
    sender: FakeSender
    service: CheckinService
    composer: CheckinComposer

    def dispatcher(self, **config: Any) -> Dispatcher:
        return Dispatcher(
            self.storage,
            self.clock,
            self.sender,
            self.composer,
            DispatchConfig(**config),
            monotonic=self.time.monotonic,
            sleep=self.time.sleep,
        )

    async def users(self, *ids: int, tz: str = "UTC", consent: bool = True) -> None:
        for uid in ids:
            await self.storage.ensure_user(uid, uid, "en", None, tz)
            if consent:
                await self.storage.update_user(uid, consent=True)

    async def row(self, uid: int, due: datetime, kind: Any = "checkin") -> int:
        found = await self.storage.schedule_checkin(uid, kind, due, None)
        assert found is not None
        return found

    async def state(self, checkin_id: int) -> str:
        row = await self.storage.get_checkin(checkin_id)
        assert row is not None
        return row.state


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    storage = SqliteStorage(tmp_path / "d.db", TextCipher.from_keys(new_key()))
    await storage.open()
    clock = FakeClock(T0)
    strings = Strings.load(MESSAGES, "en")
    service = CheckinService(storage, strings, clock)
    try:
        yield World(
            storage,
            clock,
            FakeTime(clock),
            FakeSender(clock),
            service,
            CheckinComposer(service, strings),
        )
    finally:
        await storage.close()


async def drain(dispatcher: Dispatcher, ticks: int = 50) -> None:
    for _ in range(ticks):
        stats = await dispatcher.tick()
        if not stats.claimed and not stats.past_grace:
            return


# -- claiming ------------------------------------------------------------------------------------


async def test_sends_due_rows_once_and_leaves_future_rows(world: World) -> None:
    await world.users(1, 2, 3)
    due1 = await world.row(1, T0 - timedelta(minutes=5))
    due2 = await world.row(2, T0)
    later = await world.row(3, T0 + timedelta(minutes=10))
    d = world.dispatcher()
    await d.start()
    stats = await d.tick()
    assert stats.sent == 2 and sorted(world.sender.ids()) == [due1, due2]
    assert await world.state(due1) == "sent" and await world.state(due2) == "sent"
    sent = await world.storage.get_checkin(due1)
    assert sent is not None and sent.message_id is not None and sent.sent_at == T0
    assert await world.state(later) == "scheduled"
    assert (await d.tick()).claimed == 0  # nothing twice
    world.clock.advance(timedelta(minutes=10))
    await d.tick()
    assert sorted(world.sender.ids()) == sorted([due1, due2, later])


async def test_message_goes_to_the_clients_chat_with_answer_buttons(world: World) -> None:
    await world.storage.ensure_user(7, 7007, "es", None, "Europe/Madrid")
    rid = await world.row(7, T0)
    d = world.dispatcher()
    await d.tick()
    (call,) = world.sender.calls
    assert call.message.chat_id == 7007
    assert "¿Cómo te sientes" in call.message.text
    data = [b[1] for row in call.message.buttons for b in row]
    assert f"ck:a:{rid}:1" in data and f"ck:a:{rid}:5" in data
    assert f"ck:later:{rid}" in data and f"ck:stop:{rid}" in data


# -- the budget ----------------------------------------------------------------------------------


async def test_budget_paces_scheduled_sends(world: World) -> None:
    uids = list(range(1, 61))
    await world.users(*uids)
    for uid in uids:
        await world.row(uid, T0)
    d = world.dispatcher(budget_per_second=10.0, interval_seconds=5.0)
    await drain(d)
    assert len(world.sender.calls) == 60
    start = world.sender.calls[0].at
    # A burst of at most `rate` (one second's worth), then never faster than 10 a second.
    for i, call in enumerate(world.sender.calls):
        assert (call.at - start).total_seconds() >= (i + 1 - 10) / 10 - 1e-6
    assert (world.sender.calls[-1].at - start).total_seconds() >= 4.9
    assert len(set(world.sender.ids())) == 60


async def test_token_bucket_allows_burst_then_rate() -> None:
    clock = FakeClock(T0)
    t = FakeTime(clock)
    bucket = TokenBucket(4.0, monotonic=t.monotonic, sleep=t.sleep)
    for _ in range(4):
        await bucket.acquire()
    assert t.slept == 0
    for _ in range(8):
        await bucket.acquire()
    assert t.slept == pytest.approx(2.0)


# -- Forbidden -----------------------------------------------------------------------------------


async def test_forbidden_ends_that_clients_checkins(world: World) -> None:
    await world.users(1, 2)
    await world.storage.set_session(1, 0, 17 * 60)
    blocked_row = await world.row(1, T0)
    pending = await world.storage.schedule_checkin(1, "reminder", T0 + timedelta(days=2), T0)
    ok_row = await world.row(2, T0)
    world.sender.script[1] = [Blocked()]
    d = world.dispatcher()
    stats = await d.tick()
    assert stats.blocked == 1 and stats.sent == 1
    assert await world.state(blocked_row) == "failed"
    assert await world.state(ok_row) == "sent"
    user = await world.storage.get_user(1)
    assert user is not None and user.blocked
    assert pending is not None and await world.state(pending) == "cancelled"
    assert await world.storage.pending_checkins(1) == []
    # and nothing is planned for them again, even at the next start
    await d.start()
    assert await world.storage.pending_checkins(1) == []


# -- RetryAfter ----------------------------------------------------------------------------------


async def test_retry_after_pauses_the_lane_and_loses_nothing(world: World) -> None:
    uids = [1, 2, 3, 4, 5]
    await world.users(*uids)
    rows = [await world.row(uid, T0) for uid in uids]
    world.sender.script[2] = [RetryAfter(30)]
    d = world.dispatcher(max_in_flight=1)
    stats = await d.tick()
    assert stats.sent == 1 and stats.retried == 4  # row 2 hit flood control; 3-5 went back
    assert d.paused_until == T0 + timedelta(seconds=30)
    for rid in rows[1:]:
        row = await world.storage.get_checkin(rid)
        assert row is not None and row.state == "scheduled"
        assert row.due_at == T0 + timedelta(seconds=30)
    world.clock.advance(timedelta(seconds=29))
    assert (await d.tick()).claimed == 0  # still paused
    world.clock.advance(timedelta(seconds=1))
    await drain(d)
    assert [await world.state(r) for r in rows] == ["sent"] * 5
    assert sorted(world.sender.ids()) == sorted([rows[0], *rows[1:], rows[1]])  # only 2 twice


# -- network errors ------------------------------------------------------------------------------


async def test_network_errors_retry_with_backoff_then_send(world: World) -> None:
    await world.users(1)
    rid = await world.row(1, T0)
    world.sender.script[1] = [Transient("NetworkError"), Transient("TimedOut")]
    d = world.dispatcher()
    await d.tick()
    row = await world.storage.get_checkin(rid)
    assert row is not None and row.state == "scheduled" and row.attempts == 1
    assert row.due_at == T0 + timedelta(seconds=backoff_seconds(1))
    world.clock.advance(timedelta(seconds=backoff_seconds(1)))
    await d.tick()
    row = await world.storage.get_checkin(rid)
    assert row is not None and row.state == "scheduled" and row.attempts == 2
    assert row.due_at == world.clock.now() + timedelta(seconds=backoff_seconds(2))
    assert backoff_seconds(2) == 2 * backoff_seconds(1)
    world.clock.advance(timedelta(seconds=backoff_seconds(2)))
    await d.tick()
    assert await world.state(rid) == "sent"
    assert world.sender.ids() == [rid, rid, rid]


async def test_network_errors_give_up_after_the_grace_window(world: World) -> None:
    await world.users(1)
    rid = await world.row(1, T0)
    world.sender.script[1] = [Transient("NetworkError")] * 50
    d = world.dispatcher(grace=timedelta(minutes=1))
    for _ in range(10):
        await d.tick()
        world.clock.advance(timedelta(seconds=45))  # each retry comes due (and within grace)
    assert await world.state(rid) == "failed"
    assert len(world.sender.calls) == 4  # waits of 5 s, 10 s, 20 s, 40 s: over a minute


async def test_rejected_message_fails_without_retry(world: World) -> None:
    await world.users(1)
    rid = await world.row(1, T0)
    world.sender.script[1] = [Rejected("BadRequest")]
    d = world.dispatcher()
    await d.tick()
    world.clock.advance(timedelta(hours=1))
    await d.tick()
    assert await world.state(rid) == "failed" and len(world.sender.calls) == 1


# -- downtime and crashes ------------------------------------------------------------------------


async def test_missed_checkins_sent_within_grace_skipped_beyond(world: World) -> None:
    await world.users(1, 2)
    recent = await world.row(1, T0 - timedelta(hours=5))
    stale = await world.row(2, T0 - timedelta(hours=7))
    d = world.dispatcher(grace=timedelta(hours=6))
    await d.start()
    await d.tick()
    assert await world.state(recent) == "sent"
    assert await world.state(stale) == "skipped"
    assert world.sender.ids() == [recent]


async def test_grace_skip_still_plans_next_weeks_checkin(world: World) -> None:
    await world.users(1)
    await world.service.set_weekly(1, 0, datetime(2026, 1, 1, 17, 0).time())  # Mondays 17:00 UTC
    (row,) = await world.storage.pending_checkins(1)
    assert row.due_at == datetime(2026, 1, 5, 19, 50, tzinfo=UTC)
    # The bot is down from before the check-in until the next morning (more than 6 h late).
    world.clock.set(datetime(2026, 1, 6, 8, 0, tzinfo=UTC))
    d = world.dispatcher()
    await d.start()
    await d.tick()
    assert world.sender.calls == []
    assert await world.state(row.id) == "skipped"
    (upcoming,) = await world.storage.pending_checkins(1)
    assert upcoming.due_at == datetime(2026, 1, 12, 19, 50, tzinfo=UTC)


async def test_crash_mid_send_repeats_only_the_row_in_flight(world: World) -> None:
    await world.users(1, 2)
    first = await world.row(1, T0 - timedelta(seconds=2))
    second = await world.row(2, T0 - timedelta(seconds=1))
    d = world.dispatcher(max_in_flight=1)
    sent_first = asyncio.Event()
    real_send = world.sender.send

    async def send(message: Outgoing) -> SendResult:
        if message.chat_id == 2:
            sent_first.set()
            await asyncio.Event().wait()  # hangs until the "crash"
        return await real_send(message)

    world.sender.send = send  # type: ignore[method-assign]
    task = asyncio.create_task(d.tick())
    await sent_first.wait()
    for _ in range(20):  # let the group commit write the first row
        await asyncio.sleep(0)
        if await world.state(first) == "sent":
            break
    task.cancel()  # the process dies here
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await world.state(first) == "sent"
    assert await world.state(second) == "sending"

    world.sender.send = real_send  # type: ignore[method-assign]
    restarted = world.dispatcher()
    await restarted.start()
    await drain(restarted)
    assert await world.state(second) == "sent"
    assert world.sender.ids().count(first) == 1  # marked sent: never again
    assert world.sender.ids().count(second) == 1  # in flight at the crash: at most one repeat


async def test_unrecorded_sends_are_kept_and_written_not_resent(world: World) -> None:
    await world.users(1)
    rid = await world.row(1, T0)
    real = world.storage.mark_sent_many
    failures = [StorageError("database is locked")]

    async def flaky(sent: Sequence[tuple[int, int | None]], now: datetime) -> int:
        if failures:
            raise failures.pop()
        return await real(sent, now)

    world.storage.mark_sent_many = flaky  # type: ignore[method-assign]
    d = world.dispatcher()
    await d.tick()
    assert await world.state(rid) == "sending"
    await d.tick()  # written before anything new is claimed
    assert await world.state(rid) == "sent"
    assert world.sender.ids() == [rid]


async def test_prepare_failure_returns_rows_to_the_queue(world: World) -> None:
    await world.users(1)
    rid = await world.row(1, T0)

    class Broken(CheckinComposer):
        async def prepare(self, rows: Sequence[Checkin], now: datetime) -> list[Prepared]:
            raise StorageError("disk I/O error")

    d = Dispatcher(
        world.storage,
        world.clock,
        world.sender,
        Broken(world.service, world.composer.strings),
        monotonic=world.time.monotonic,
        sleep=world.time.sleep,
    )
    stats = await d.tick()
    assert stats.retried == 1 and await world.state(rid) == "scheduled"


async def test_overlapping_tick_returns_at_once(world: World) -> None:
    await world.users(1)
    await world.row(1, T0)
    world.sender.hold = asyncio.Event()
    d = world.dispatcher()
    first = asyncio.create_task(d.tick())
    await asyncio.sleep(0.01)
    second = await d.tick()
    assert second.claimed == 0
    world.sender.hold.set()
    assert (await first).sent == 1


async def test_sender_exception_is_not_retried_forever(world: World) -> None:
    await world.users(1)
    rid = await world.row(1, T0)

    async def boom(message: Outgoing) -> SendResult:
        raise RuntimeError("bug")

    world.sender.send = boom  # type: ignore[method-assign]
    d = world.dispatcher()
    stats = await d.tick()
    assert stats.failed == 1 and await world.state(rid) == "failed"


async def test_unconfirmed_send_counts_as_sent_and_is_never_repeated(world: World) -> None:
    await world.users(1)
    rid = await world.row(1, T0)
    world.sender.script[1] = [Unconfirmed("ReadTimeout")]
    d = world.dispatcher()
    stats = await d.tick()
    assert stats.sent == 1 and stats.retried == 0
    row = await world.storage.get_checkin(rid)
    assert row is not None and row.state == "sent" and row.message_id is None
    world.clock.advance(timedelta(hours=1))
    await d.tick()
    assert world.sender.ids() == [rid]


# -- the Telegram adapter ------------------------------------------------------------------------


class _Bot:
    """Stands in for the scheduled lane's ExtBot: `_post` raises or answers as told."""

    def __init__(self, outcome: BaseException | dict[str, Any]) -> None:
        self.outcome = outcome
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def _post(self, endpoint: str, api_kwargs: dict[str, Any]) -> Any:
        self.calls.append((endpoint, api_kwargs))
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


def _caused(exc: BaseException, cause: BaseException) -> BaseException:
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), Blocked()),
        (TgRetryAfter(7), RetryAfter(7.0)),
        (_caused(TimedOut(), httpx.ReadTimeout("late")), Unconfirmed("ReadTimeout")),
        (_caused(TimedOut(), httpx.ConnectTimeout("no route")), Transient("TimedOut")),
        (_caused(TimedOut(), httpx.PoolTimeout("busy")), Transient("TimedOut")),
        (NetworkError("Bad Gateway"), Transient("NetworkError")),
        (BadRequest("Chat not found"), Rejected("BadRequest")),
    ],
)
async def test_telegram_errors_map_to_dispatcher_outcomes(
    error: BaseException, expected: SendResult
) -> None:
    sender = TelegramSender(_Bot(error))  # type: ignore[arg-type]
    assert await sender.send(Outgoing(1, "hi")) == expected


async def test_telegram_sender_posts_html_with_buttons() -> None:
    bot = _Bot({"message_id": 77, "chat": {"id": 5}})
    sender = TelegramSender(bot)  # type: ignore[arg-type]
    result = await sender.send(Outgoing(5, "<b>hi</b>", ((("Yes", "ck:a:1:5"),),)))
    assert result == Sent(77)
    ((endpoint, params),) = bot.calls
    assert endpoint == "sendMessage"
    assert params["chat_id"] == 5 and params["parse_mode"] == "HTML"
    assert params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Yes", "callback_data": "ck:a:1:5"}]]
    }
