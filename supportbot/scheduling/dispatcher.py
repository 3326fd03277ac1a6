"""The check-in dispatcher: one repeating job claims due rows, sends them on the scheduled lane,
and records every outcome in the database.

Why it is shaped like this:

* The database is the source of truth. A row goes scheduled -> sending (claimed in one IMMEDIATE
  transaction) -> sent | skipped | failed, or back to scheduled for a retry; nothing lives only in
  memory, so a restart loses nothing.
* At-most-once for rows marked sent: a row is marked `sent` right after Telegram accepts it. After a
  crash, rows still `sending` go back to `scheduled` (`release_stale` at start): a row that was
  in flight at the crash may be sent once more, a row already marked sent never is.
* Outcomes are written by group commit: each finished send joins a pending list that one flusher
  writes in one transaction. At low rates that is one row per transaction right after its send; at
  high rates rows share a transaction, which keeps dispatch above 2,000 rows/s.
* Scheduled sends spend a token budget (default 20/s, below Telegram's ~30/s), so interactive
  replies on the other lane keep headroom; `RetryAfter` pauses the whole lane.
* Time is injected (`Clock` for timestamps, `monotonic`/`sleep` for pacing), and sending goes through
  the small `Sender` protocol, so tests drive all of this with a fake clock and a fake sender.
  The Telegram adapter lives in `scheduling/telegram_lane.py`; this module never imports telegram.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from supportbot.clock import Clock
from supportbot.storage.base import Checkin, Storage, StorageError

log = logging.getLogger(__name__)

Button = tuple[str, str]  # (label, callback data)


# -- what is sent, and what can come back ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for the scheduled lane (HTML text, inline buttons as rows of (label, data))."""

    chat_id: int
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: int | None


@dataclass(frozen=True, slots=True)
class Blocked:
    """The client blocked the bot (Telegram's Forbidden): their check-ins end."""


@dataclass(frozen=True, slots=True)
class RetryAfter:
    """Flood control: wait this long before the next scheduled send."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Transient:
    """The network or Telegram hiccuped (NetworkError, TimedOut, 5xx): retry with backoff."""

    error: str


@dataclass(frozen=True, slots=True)
class Unconfirmed:
    """The request went out but no answer came (a read timeout): it may well have been delivered.
    Counted as sent, like a crash mid-send, so the client never gets it twice."""

    error: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """Telegram refused this message for good (BadRequest...): do not retry it."""

    error: str


SendResult = Sent | Unconfirmed | Blocked | RetryAfter | Transient | Rejected


class Sender(Protocol):
    async def send(self, message: Outgoing) -> SendResult: ...


@dataclass(frozen=True, slots=True)
class Prepared:
    """A claimed row and what to send for it; `message` None means skip it (with `reason`)."""

    checkin: Checkin
    message: Outgoing | None
    reason: str = ""


class Composer(Protocol):
    """Turns claimed rows into messages and reacts to outcomes (the check-in feature)."""

    async def prepare(self, rows: Sequence[Checkin], now: datetime) -> list[Prepared]: ...
    async def after_sent(self, rows: Sequence[Checkin], now: datetime) -> None: ...
    async def after_dropped(self, rows: Sequence[Checkin], now: datetime) -> None: ...
    async def on_blocked(self, user_id: int, now: datetime) -> None: ...
    async def ensure_all(self, now: datetime) -> int: ...


# -- pacing ------------------------------------------------------------------------------------


class TokenBucket:
    """`rate` tokens a second, bursts up to `capacity`; time and sleep are injected."""

    def __init__(
        self,
        rate: float,
        capacity: float | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate)
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = self.capacity
        self._stamp = monotonic()
        self._lock = asyncio.Lock()

    @property
    def unlimited(self) -> bool:
        return math.isinf(self.rate)

    def _refill(self) -> None:
        now = self._monotonic()
        elapsed = max(0.0, now - self._stamp)  # a clock set back never costs tokens
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._stamp = now

    async def acquire(self) -> None:
        if self.unlimited:
            return
        async with self._lock:  # first come, first served
            while True:
                self._refill()
                if self._tokens >= 1.0 - 1e-9:  # float dust must not cost a sleep
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return
                await self._sleep(max(1e-3, (1.0 - self._tokens) / self.rate))


def backoff_seconds(attempts: int, base: float = 5.0, cap: float = 900.0) -> float:
    """Delay before retry number `attempts` (1-based) after a network error: 5 s, 10 s, ... 15 min."""
    return min(cap, base * 2.0 ** min(30, max(0, attempts - 1)))


def retry_window(attempts: int, base: float = 5.0, cap: float = 900.0) -> float:
    """Total waiting after `attempts` failed tries (how long the row has been retried)."""
    return sum(backoff_seconds(i, base, cap) for i in range(1, attempts + 1))


# -- the dispatcher ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DispatchConfig:
    interval_seconds: float = 5.0
    grace: timedelta = timedelta(hours=6)
    budget_per_second: float = 20.0
    #: Sends in flight at once (the scheduled lane's connection pool holds 8).
    max_in_flight: int = 8
    max_batch: int = 500
    #: Every this often the tick also makes sure every weekly client has their next rows.
    ensure_every: timedelta = timedelta(hours=1)


@dataclass
class TickStats:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0  # by the composer (paused, stopped, nothing to send)
    past_grace: int = 0  # by claim_due: due too long ago
    blocked: int = 0
    retried: int = 0
    failed: int = 0
    paused_until: datetime | None = None

    def add(self, other: TickStats) -> None:
        for name in ("claimed", "sent", "skipped", "past_grace", "blocked", "retried", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.paused_until = other.paused_until or self.paused_until


@dataclass
class _Flush:
    sent: list[tuple[Checkin, int | None]] = field(default_factory=list)


class Dispatcher:
    def __init__(
        self,
        storage: Storage,
        clock: Clock,
        sender: Sender,
        composer: Composer,
        config: DispatchConfig | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.sender = sender
        self.composer = composer
        self.config = config or DispatchConfig()
        self._monotonic = monotonic
        self.bucket = TokenBucket(self.config.budget_per_second, monotonic=monotonic, sleep=sleep)
        self.paused_until: datetime | None = None
        self.totals = TickStats()
        self._lock = asyncio.Lock()
        self._unflushed: list[tuple[Checkin, int | None]] = []
        self._next_ensure: datetime | None = None
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """After a restart: return rows a crash left `sending` (at most one repeat each), drop rows
        past the grace period, then give every weekly client their next check-in row."""
        now = self.clock.now()
        released = await self.storage.release_stale(now)
        if released:
            log.warning("returned %d check-ins left in flight by a previous run", released)
        dropped = await self.storage.claim_due(now, 0, self.config.grace)  # limit 0: skip only
        if dropped.skipped:
            log.info("skipped %d check-ins missed by more than the grace period", dropped.skipped)
        created = await self.composer.ensure_all(now)
        if created:
            log.info("scheduled %d upcoming check-ins at start", created)
        self._next_ensure = now + self.config.ensure_every

    async def _ensure(self, now: datetime) -> None:
        created = await self.composer.ensure_all(now)
        if created:
            log.info("scheduled %d missing check-ins", created)

    def stop(self) -> None:
        """Finish the sends in flight, claim nothing more (called before shutdown)."""
        self._stopping = True

    # -- one tick ------------------------------------------------------------------------------

    async def tick(self) -> TickStats:
        """Claim and send due rows until none are left or the tick's time is up.

        Bounded by the interval, so the job never overlaps itself; a second call while one runs
        returns at once.
        """
        stats = TickStats()
        if self._lock.locked() or self._stopping:
            return stats
        async with self._lock:
            await self._flush_leftovers()
            now = self.clock.now()
            if self._next_ensure is not None and now >= self._next_ensure:
                self._next_ensure = now + self.config.ensure_every
                await self._safe(self._ensure(now))
            deadline = self._monotonic() + max(1.0, self.config.interval_seconds * 0.9)
            while not self._stopping:
                now = self.clock.now()
                if self.paused_until is not None and now < self.paused_until:
                    break
                self.paused_until = None
                remaining = deadline - self._monotonic()
                if remaining <= 0:
                    break
                first_due = await self.storage.next_due_at()
                if first_due is None or first_due > now:
                    break  # idle: no write transaction at all
                limit = self._batch_size(remaining)
                result = await self.storage.claim_due(now, limit, self.config.grace)
                stats.past_grace += result.skipped
                if result.skipped:
                    log.info("skipped %d check-ins past the grace period", result.skipped)
                    self._next_ensure = now  # their clients need their next rows
                if not result.claimed:
                    break
                stats.claimed += len(result.claimed)
                await self._run_batch(result.claimed, stats)
                if len(result.claimed) < limit:
                    break
        stats.paused_until = self.paused_until
        self.totals.add(stats)
        if stats.claimed or stats.past_grace:
            log.info(
                "check-ins: %d sent, %d skipped, %d past grace, %d retried, %d blocked, %d failed",
                stats.sent,
                stats.skipped,
                stats.past_grace,
                stats.retried,
                stats.blocked,
                stats.failed,
            )
        return stats

    def _batch_size(self, remaining_seconds: float) -> int:
        if self.bucket.unlimited:
            return self.config.max_batch
        wanted = math.ceil(self.config.budget_per_second * remaining_seconds)
        return max(1, min(self.config.max_batch, wanted))

    async def _run_batch(self, rows: list[Checkin], stats: TickStats) -> None:
        """Prepare, send under the budget with bounded concurrency, record by group commit."""
        try:
            prepared = await self.composer.prepare(rows, self.clock.now())
        except Exception as exc:
            log.error("could not prepare %d check-ins: %s", len(rows), exc.__class__.__name__)
            await self._put_back(rows, self.clock.now() + timedelta(seconds=60))
            stats.retried += len(rows)
            return
        covered = {p.checkin.id for p in prepared}
        prepared = [
            *prepared,
            *(Prepared(r, None, "not prepared") for r in rows if r.id not in covered),
        ]
        skips = [p for p in prepared if p.message is None]
        if skips:
            for reason in sorted({p.reason for p in skips}):
                ids = [p.checkin.id for p in skips if p.reason == reason]
                await self.storage.skip_checkins(ids, reason or "skipped")
            stats.skipped += len(skips)
            await self._safe(
                self.composer.after_dropped([p.checkin for p in skips], self.clock.now())
            )

        pending: list[tuple[Checkin, int | None]] = []
        wake = asyncio.Event()
        done_sending = False
        in_flight = asyncio.Semaphore(max(1, self.config.max_in_flight))

        async def flusher() -> None:
            while True:
                if not pending:
                    if done_sending:
                        return
                    wake.clear()
                    await wake.wait()
                    continue
                batch = pending[:]
                pending.clear()
                await self._record_sent(batch)

        async def send_one(item: Prepared) -> None:
            try:
                assert item.message is not None
                try:
                    result = await self.sender.send(item.message)
                except Exception as exc:  # a bug in the sender: never retry it forever
                    result = Rejected(f"{exc.__class__.__name__}")
                if isinstance(result, Sent | Unconfirmed):
                    stats.sent += 1
                    if isinstance(result, Unconfirmed):
                        log.warning(
                            "check-in %d: %s with no answer; counted as delivered (never twice)",
                            item.checkin.id,
                            result.error,
                        )
                    message_id = result.message_id if isinstance(result, Sent) else None
                    pending.append((item.checkin, message_id))
                    wake.set()
                else:
                    await self._record_problem(item.checkin, result, stats)
            finally:
                in_flight.release()

        flush_task = asyncio.create_task(flusher())
        tasks: list[asyncio.Task[None]] = []
        to_send = [p for p in prepared if p.message is not None]
        try:
            for index, item in enumerate(to_send):
                await in_flight.acquire()
                now = self.clock.now()
                if self._stopping or (self.paused_until is not None and now < self.paused_until):
                    in_flight.release()
                    rest = [p.checkin for p in to_send[index:]]
                    await self._put_back(rest, self.paused_until or now)
                    stats.retried += len(rest)
                    break
                await self.bucket.acquire()
                tasks.append(asyncio.create_task(send_one(item)))
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            done_sending = True
            wake.set()
            await flush_task

    # -- recording outcomes --------------------------------------------------------------------

    async def _record_sent(self, batch: list[tuple[Checkin, int | None]]) -> None:
        now = self.clock.now()
        try:
            await self.storage.mark_sent_many([(c.id, mid) for c, mid in batch], now)
        except StorageError as exc:
            # Kept in memory and written before the next claim; never released for a resend.
            log.error("could not record %d sent check-ins: %s", len(batch), exc)
            self._unflushed.extend(batch)
            return
        await self._safe(self.composer.after_sent([c for c, _ in batch], now))

    async def _flush_leftovers(self) -> None:
        if self._unflushed:
            batch, self._unflushed = self._unflushed, []
            await self._record_sent(batch)

    async def _record_problem(self, row: Checkin, result: SendResult, stats: TickStats) -> None:
        now = self.clock.now()
        try:
            if isinstance(result, Blocked):
                stats.blocked += 1
                await self.storage.mark_failed(row.id, "blocked", now)
                await self.composer.on_blocked(row.user_id, now)
            elif isinstance(result, RetryAfter):
                resume = now + timedelta(seconds=max(1.0, result.seconds))
                if self.paused_until is None or resume > self.paused_until:
                    self.paused_until = resume
                    log.warning("flood control: scheduled lane paused for %.0f s", result.seconds)
                stats.retried += 1
                await self.storage.retry_later(row.id, resume)
            elif isinstance(result, Transient):
                if retry_window(row.attempts) > self.config.grace.total_seconds():
                    stats.failed += 1
                    log.warning("check-in %d failed after %d tries", row.id, row.attempts)
                    await self.storage.mark_failed(row.id, f"gave up: {result.error}", now)
                    await self.composer.after_dropped([row], now)
                else:
                    stats.retried += 1
                    delay = backoff_seconds(row.attempts)
                    await self.storage.retry_later(row.id, now + timedelta(seconds=delay))
            elif isinstance(result, Rejected):
                stats.failed += 1
                log.warning("check-in %d rejected: %s", row.id, result.error)
                await self.storage.mark_failed(row.id, result.error, now)
                await self.composer.after_dropped([row], now)
        except StorageError as exc:
            log.error("could not record the outcome of check-in %d: %s", row.id, exc)

    async def _put_back(self, rows: Sequence[Checkin], due: datetime) -> None:
        for row in rows:
            try:
                await self.storage.retry_later(row.id, due)
            except StorageError as exc:
                log.error("could not return check-in %d to the queue: %s", row.id, exc)

    @staticmethod
    async def _safe(step: Awaitable[None]) -> None:
        """Follow-up scheduling must not undo a recorded send; the hourly ensure repairs gaps."""
        try:
            await step
        except Exception as exc:
            log.error("check-in follow-up failed: %s", exc.__class__.__name__)
