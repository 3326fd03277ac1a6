"""Check-ins at scale: 100,000 clients with weekly sessions spread over the week.

What is measured (one process, a temporary SQLite database, fake clock where time is not the point):
  create schedules     every client's next check-in computed in their zone (DST-safe rules) and
                       inserted: the dispatcher's start-up pass (`ensure_all`) over 100k clients
  claim per tick       `claim_due` with 100k rows in the table: a tick with 100 rows due (the
                       budget of a 5 s tick at 20/s) and an idle tick; p50 / p99 over many ticks
  dispatch throughput  budget lifted; the whole pipeline per row (claim, plan, render, send,
                       group-commit the outcome, plan next week's row) against an in-process fake:
                       the Sender protocol itself, and python-telegram-bot's ExtBot over a request
                       that answers at once (PTB's own overhead included)
  RSS                  of this process after all of the above (VmRSS)
  crisis reply p99     10,000 check-ins due, the real Application running its dispatcher at 20/s
                       on the scheduled lane; risky messages arrive at ~10/s and each crisis reply
                       is timed from process_update to its sendMessage returning. Both lanes: a
                       fake Bot API with ~20 ms latency per call.
Baselines measured in the same run:
  APScheduler          one job per client (CronTrigger in the client's zone), in a subprocess:
                       time to add them and the RSS they cost
  per-row dispatch     claim 1, send, mark sent, plan the next: one transaction per step
  shared lane          the same replies and check-ins through ONE FIFO lane limited to 30 msg/s
                       (what PTB's AIORateLimiter does): with 150 queued check-ins, and with 10,000

Run: `.venv/bin/python benchmarks/bench_checkins.py [clients]` or `make bench`.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from supportbot.clock import FakeClock  # noqa: E402
from supportbot.config import DEFAULT_MESSAGES_DIR  # noqa: E402
from supportbot.content.strings import Strings  # noqa: E402
from supportbot.handlers.checkins import CheckinComposer  # noqa: E402
from supportbot.scheduling.dispatcher import (  # noqa: E402
    DispatchConfig,
    Dispatcher,
    Outgoing,
    SendResult,
    Sent,
)
from supportbot.services.checkins import CheckinService  # noqa: E402
from supportbot.storage.crypto import TextCipher, new_key  # noqa: E402
from supportbot.storage.sqlite import SqliteStorage  # noqa: E402

CLIENTS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 100_000
QUEUED = 10_000
LATENCY = 0.020
NOW = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)  # a Monday
ZONES = (
    "Europe/Madrid",
    "Europe/London",
    "America/New_York",
    "America/Mexico_City",
    "America/Bogota",
    "America/Santiago",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Africa/Johannesburg",
)
TOKEN = "123456:BENCH-token-abcdefghij"
RISKY = "I want to kill myself"


def note(text: str) -> None:
    print(f"  .. {text}", file=sys.stderr, flush=True)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(samples: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": statistics.median(samples) * 1000,
        "p99_ms": pct(samples, 0.99) * 1000,
        "max_ms": max(samples) * 1000,
        "n": len(samples),
    }


async def open_storage(folder: Path) -> SqliteStorage:
    storage = SqliteStorage(folder / "bench.db", TextCipher.from_keys(new_key()))
    await storage.open()
    return storage


async def add_clients(storage: SqliteStorage, count: int, rng: random.Random) -> None:
    """Bulk set-up (not measured): clients with a weekly session at a daytime hour."""
    ts = int(NOW.timestamp())
    users = [
        (u, u, "en" if u % 3 else "es", ZONES[u % len(ZONES)], ts, ts) for u in range(1, count + 1)
    ]
    sessions = [
        (u, rng.randrange(7), rng.randrange(8 * 60, 20 * 60, 15), ts) for u in range(1, count + 1)
    ]
    async with storage._tx() as db:
        await db.executemany(
            "INSERT INTO users (user_id, chat_id, language, timezone, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            users,
        )
        await db.executemany(
            "INSERT INTO weekly_sessions (user_id, weekday, at_minute, updated_at) VALUES (?, ?, ?, ?)",
            sessions,
        )


class InstantSender:
    """The Sender protocol answered in-process at once."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, message: Outgoing) -> SendResult:
        self.sent += 1
        return Sent(self.sent)


def instant_ptb_sender() -> Any:
    """python-telegram-bot's ExtBot over a request that answers sendMessage at once."""
    from telegram.ext import ExtBot
    from telegram.request import BaseRequest

    from supportbot.scheduling.telegram_lane import TelegramSender

    class Instant(BaseRequest):
        def __init__(self) -> None:
            self.ids = 0

        @property
        def read_timeout(self) -> float | None:
            return 5.0

        async def initialize(self) -> None:
            return None

        async def shutdown(self) -> None:
            return None

        async def do_request(
            self, url: str, method: str, request_data: Any = None, *a: Any, **k: Any
        ) -> tuple[int, bytes]:
            self.ids += 1
            params = request_data.parameters if request_data is not None else {}
            chat = int(params.get("chat_id", 1))
            if url.endswith("/getMe"):
                result: Any = {"id": 123456, "is_bot": True, "first_name": "b", "username": "b_bot"}
            else:
                result = {
                    "message_id": self.ids,
                    "date": 0,
                    "chat": {"id": chat, "type": "private"},
                    "text": "x",
                }
            return 200, json.dumps({"ok": True, "result": result}).encode()

    bot = ExtBot(TOKEN, request=Instant())
    return bot, TelegramSender(bot)


# -- 1. schedules, claims, throughput at 100k ------------------------------------------------------


async def scale(folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    rng = random.Random(4)
    storage = await open_storage(folder)
    strings = Strings.load(DEFAULT_MESSAGES_DIR, "en")
    clock = FakeClock(NOW)
    service = CheckinService(storage, strings, clock)
    await add_clients(storage, CLIENTS, rng)
    rss_before = rss_mb()

    started = time.perf_counter()
    created = await service.ensure_all(NOW)
    out["create_s"] = time.perf_counter() - started
    note(f"schedules: {out['create_s']:.1f} s")
    out["created"] = created

    # claim per tick: walk the week in steps of exactly `per_tick` due rows
    rows = await storage._all(
        "SELECT due_at FROM checkins WHERE state = 'scheduled' ORDER BY due_at"
    )
    dues = [r[0] for r in rows]
    per_tick = 100
    ticks = max(1, min(200, len(dues) // (4 * per_tick)))
    busy: list[float] = []
    idle: list[float] = []
    grace = timedelta(hours=6)
    for i in range(ticks):
        now = datetime.fromtimestamp(dues[(i + 1) * per_tick - 1], UTC)
        # as the dispatcher claims: an indexed read of the first due time, then the claim
        t0 = time.perf_counter()
        first = await storage.next_due_at()
        assert first is not None and first <= now
        result = await storage.claim_due(now, per_tick, grace)
        busy.append(time.perf_counter() - t0)
        await storage.mark_sent_many([(c.id, 1) for c in result.claimed], now)
        t0 = time.perf_counter()
        await storage.next_due_at()  # an idle tick stops after this read (same cost either way)
        idle.append(time.perf_counter() - t0)
    out["claim_busy"] = ms(busy)
    out["claim_idle"] = ms(idle)
    out["table_rows"] = (await storage._one("SELECT COUNT(*) FROM checkins"))[0]  # type: ignore[index]

    # dispatch throughput, budget lifted: two passes over the next rows of the week
    remaining = dues[ticks * per_tick :]
    half = len(remaining) // 2
    for name, sender, cut in (
        ("protocol", InstantSender(), remaining[half - 1]),
        ("ptb", None, remaining[-1]),
    ):
        bot = None
        if sender is None:
            bot, sender = instant_ptb_sender()
            await bot.initialize()
        clock.set(datetime.fromtimestamp(cut, UTC) + timedelta(seconds=1))
        dispatcher = Dispatcher(
            storage,
            clock,
            sender,
            CheckinComposer(service, strings),
            DispatchConfig(budget_per_second=math.inf, grace=timedelta(days=8), max_in_flight=64),
        )
        total = 0
        t0 = time.perf_counter()
        while True:
            stats = await dispatcher.tick()
            total += stats.sent
            if not stats.claimed:
                break
        elapsed = time.perf_counter() - t0
        out[f"throughput_{name}"] = {"rows": total, "seconds": elapsed, "per_s": total / elapsed}
        note(f"throughput {name}: {total / elapsed:.0f}/s")
        if bot is not None:
            await bot.shutdown()

    # baseline: one row at a time, one transaction per step
    n = 2000
    clock.set(NOW + timedelta(days=8))
    extra = [(u, "checkin", NOW + timedelta(days=8), None) for u in range(1, n + 1)]
    await storage.schedule_many(extra)  # type: ignore[arg-type]
    sender = InstantSender()
    composer = CheckinComposer(service, strings)
    t0 = time.perf_counter()
    for _ in range(n):
        claim = await storage.claim_due(clock.now(), 1, timedelta(days=8))
        if not claim.claimed:
            break
        (prepared,) = await composer.prepare(claim.claimed, clock.now())
        assert prepared.message is not None
        result = await sender.send(prepared.message)
        assert isinstance(result, Sent)
        await storage.mark_sent(prepared.checkin.id, result.message_id, clock.now())
        await composer.after_sent([prepared.checkin], clock.now())
    elapsed = time.perf_counter() - t0
    out["throughput_per_row_baseline"] = {"rows": n, "seconds": elapsed, "per_s": n / elapsed}
    out["rss_mb"] = rss_mb()
    out["rss_growth_mb"] = out["rss_mb"] - rss_before
    await storage.close()
    return out


# -- 2. APScheduler baseline (subprocess, for a clean RSS) ---------------------------------------


def apscheduler_child(count: int) -> None:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.cron import CronTrigger

    async def job() -> None:
        return None

    async def run() -> dict[str, float]:
        rng = random.Random(4)
        scheduler = AsyncIOScheduler(timezone="UTC")
        scheduler.start()
        before = rss_mb()
        t0 = time.perf_counter()
        for u in range(count):
            minute = rng.randrange(8 * 60, 20 * 60, 15) + 170
            scheduler.add_job(
                job,
                CronTrigger(
                    day_of_week=rng.randrange(7),
                    hour=minute // 60 % 24,
                    minute=minute % 60,
                    timezone=ZONES[u % len(ZONES)],
                ),
                id=str(u),
            )
        seconds = time.perf_counter() - t0
        after = rss_mb()
        scheduler.shutdown(wait=False)
        return {"seconds": seconds, "rss_mb": after, "rss_growth_mb": after - before}

    print(json.dumps(asyncio.run(run())))


def apscheduler_baseline(count: int) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--apscheduler", str(count)],
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- 3. crisis replies while the scheduled queue drains --------------------------------------------


def latency_request(latency: float, pool: int) -> Any:
    """A fake Bot API: every call takes `latency` and holds one of `pool` connections."""
    from telegram.request import BaseRequest

    class Latency(BaseRequest):
        def __init__(self) -> None:
            self.slots = asyncio.Semaphore(pool)
            self.ids = 0
            self.sent: dict[str, int] = {}

        @property
        def read_timeout(self) -> float | None:
            return 10.0

        async def initialize(self) -> None:
            return None

        async def shutdown(self) -> None:
            return None

        async def do_request(
            self, url: str, method: str, request_data: Any = None, *a: Any, **k: Any
        ) -> tuple[int, bytes]:
            api = url.rsplit("/", 1)[-1]
            params = request_data.parameters if request_data is not None else {}
            if api in ("getMe", "getUpdates", "setMyCommands", "deleteWebhook"):
                result: Any = (
                    {"id": 123456, "is_bot": True, "first_name": "b", "username": "b_bot"}
                    if api == "getMe"
                    else ([] if api == "getUpdates" else True)
                )
                return 200, json.dumps({"ok": True, "result": result}).encode()
            async with self.slots:
                await asyncio.sleep(latency)
            self.ids += 1
            self.sent[api] = self.sent.get(api, 0) + 1
            chat = int(params.get("chat_id", 1))
            result = {
                "message_id": self.ids,
                "date": 0,
                "chat": {"id": chat, "type": "private"},
                "text": "x",
            }
            if api == "answerCallbackQuery":
                result = True
            return 200, json.dumps({"ok": True, "result": result}).encode()

    return Latency()


def shared_lane_request(latency: float, rate: float) -> Any:
    """One lane for everything: a FIFO queue released at `rate` calls a second (AIORateLimiter-like)."""
    inner = latency_request(latency, 64)

    class Shared(type(inner)):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.next_slot = 0.0
            self.lock = asyncio.Lock()

        async def do_request(
            self, url: str, method: str, request_data: Any = None, *a: Any, **k: Any
        ) -> tuple[int, bytes]:
            if not url.endswith(("/getMe", "/getUpdates", "/setMyCommands")):
                async with self.lock:  # first in, first out
                    loop = asyncio.get_running_loop()
                    wait = self.next_slot - loop.time()
                    self.next_slot = max(self.next_slot, loop.time()) + 1 / rate
                if wait > 0:
                    await asyncio.sleep(wait)
            return await super().do_request(url, method, request_data, *a, **k)

    return Shared()


async def crisis_while_draining(
    folder: Path, *, shared: bool, queued: int, replies: int, cap: float
) -> dict[str, Any]:
    """Crisis replies through the real Application while `queued` check-ins drain.

    Two lanes: the check-ins are rows in the database and the app's own dispatcher sends them at
    its budget on the scheduled bot. Shared (the baseline): one lane limited to 30 msg/s carries
    both, and the check-ins are handed to it at once (as one job per client firing would do).
    """
    from supportbot.app import build_application
    from supportbot.config import load_settings
    from tests.kit.harness import running_app
    from tests.kit.updates import Updates

    db = folder / f"crisis-{'shared' if shared else 'lanes'}-{queued}.db"
    key = new_key()
    storage = SqliteStorage(db, TextCipher.from_keys(key))
    await storage.open()
    await add_clients(storage, queued, random.Random(5))
    if not shared:
        due = datetime.now(UTC) - timedelta(minutes=1)
        await storage.schedule_many([(u, "checkin", due, None) for u in range(1, queued + 1)])
    await storage.close()
    settings = load_settings(
        {
            "BOT_TOKEN": TOKEN,
            "DATABASE_PATH": str(db),
            "DATA_KEY": key,
            "DEFAULT_COUNTRY": "US",
            "DISPATCH_INTERVAL_SECONDS": "1",
            "SEND_BUDGET_PER_SECOND": "20",
        },
        env_file=None,
    )
    if shared:
        lane = shared_lane_request(LATENCY, 30.0)
        app = build_application(settings, request=lane, scheduled_request=lane)
        scheduled = lane
    else:
        scheduled = latency_request(LATENCY, 8)
        app = build_application(
            settings, request=latency_request(LATENCY, 32), scheduled_request=scheduled
        )
    latencies: list[float] = []
    censored = 0
    burst: list[asyncio.Task[Any]] = []
    async with running_app(app, start=True) as running:
        deps = running.bot_data["deps"]
        if shared:
            bot = deps.services["scheduled_bot"]
            burst = [
                asyncio.create_task(bot.send_message(u, "How are you feeling after your session?"))
                for u in range(1, queued + 1)
            ]
        updates = Updates(running.bot)
        await asyncio.sleep(1.5)  # the queue is draining now
        rng = random.Random(6)

        async def one(i: int) -> None:
            nonlocal censored
            update = updates.text(900_000 + i, RISKY)
            t0 = time.perf_counter()
            try:
                await asyncio.wait_for(running.process_update(update), cap)
            except TimeoutError:
                censored += 1
                return
            latencies.append(time.perf_counter() - t0)

        tasks = []
        for i in range(replies):
            tasks.append(asyncio.create_task(one(i)))
            await asyncio.sleep(rng.expovariate(10.0))
        await asyncio.gather(*tasks)
        sent_meanwhile = scheduled.sent.get("sendMessage", 0) - (
            replies - censored if shared else 0
        )
        deps.services["dispatcher"].stop()
        for task in burst:
            task.cancel()
        await asyncio.gather(*burst, return_exceptions=True)
    result: dict[str, Any] = {
        "replies": replies,
        "censored": censored,
        "checkins_sent_meanwhile": sent_meanwhile,
    }
    if latencies:
        result.update(ms(latencies))
    return result


# -- report ----------------------------------------------------------------------------------------


async def run() -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results.update(await scale(folder))
        results["crisis_two_lanes"] = await crisis_while_draining(
            folder, shared=False, queued=QUEUED, replies=200, cap=30
        )
        results["crisis_shared_150"] = await crisis_while_draining(
            folder, shared=True, queued=150, replies=40, cap=30
        )
        results["crisis_shared_10k"] = await crisis_while_draining(
            folder, shared=True, queued=QUEUED, replies=40, cap=10
        )
    results["apscheduler"] = apscheduler_baseline(CLIENTS)
    return results


def main() -> dict[str, Any]:
    r = asyncio.run(run())
    print(f"check-ins with {CLIENTS:,} clients (sessions spread over the week, {len(ZONES)} zones)")
    print(f"{'what':<52} {'figure':>22}")

    def row(name: str, value: str) -> None:
        print(f"{name:<52} {value:>22}")

    row("create schedules (ensure_all)", f"{r['create_s']:.2f} s ({r['created']:,} rows)")
    row("  baseline: one APScheduler job per client", f"{r['apscheduler']['seconds']:.2f} s")
    row(
        f"claim, 100 due, {r['table_rows']:,} rows: p50 / p99",
        f"{r['claim_busy']['p50_ms']:.2f} / {r['claim_busy']['p99_ms']:.2f} ms",
    )
    row(
        "claim, idle tick (nothing due): p50 / p99",
        f"{r['claim_idle']['p50_ms']:.2f} / {r['claim_idle']['p99_ms']:.2f} ms",
    )
    for name, label in (
        ("protocol", "dispatch, budget lifted (Sender protocol)"),
        ("ptb", "dispatch, budget lifted (PTB ExtBot, instant API)"),
        ("per_row_baseline", "  baseline: one row per transaction"),
    ):
        t = r[f"throughput_{name}"]
        row(label, f"{t['per_s']:,.0f} rows/s ({t['rows']:,})")
    row(
        "RSS of this process after all of the above",
        f"{r['rss_mb']:.0f} MB (+{r['rss_growth_mb']:.0f})",
    )
    row(
        "  baseline: APScheduler jobs, RSS (growth)",
        f"{r['apscheduler']['rss_mb']:.0f} MB (+{r['apscheduler']['rss_growth_mb']:.0f})",
    )
    c = r["crisis_two_lanes"]
    row(
        f"crisis reply, {QUEUED:,} queued, two lanes: p50 / p99",
        f"{c['p50_ms']:.0f} / {c['p99_ms']:.0f} ms",
    )
    row("  check-ins sent meanwhile (budget 20/s)", f"{c['checkins_sent_meanwhile']:,}")
    s = r["crisis_shared_150"]
    row(
        "  baseline: shared 30/s lane, 150 queued: p50 / p99",
        f"{s['p50_ms']:.0f} / {s['p99_ms']:.0f} ms",
    )
    s = r["crisis_shared_10k"]
    if s.get("p99_ms") is not None and not s["censored"]:
        row(f"  baseline: shared lane, {QUEUED:,} queued: p99", f"{s['p99_ms']:.0f} ms")
    else:
        row(
            f"  baseline: shared lane, {QUEUED:,} queued",
            f"{s['censored']}/{s['replies']} over 10 s",
        )
    goals = (
        ("claim < 10 ms (p50)", r["claim_busy"]["p50_ms"] < 10),
        ("claim < 10 ms (p99)", r["claim_busy"]["p99_ms"] < 10),
        (">= 2,000 check-ins/s", r["throughput_ptb"]["per_s"] >= 2000),
        ("RSS < 200 MB", r["rss_mb"] < 200),
        ("crisis p99 < 500 ms", c["p99_ms"] < 500),
    )
    print("goals: " + ", ".join(f"{g} {'met' if ok else 'MISSED'}" for g, ok in goals))
    return r


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--apscheduler":
        apscheduler_child(int(sys.argv[2]))
    else:
        main()
