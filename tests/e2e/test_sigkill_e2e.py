"""SIGKILL at random moments while 1,000 check-ins are dispatched, 20 times over, then a clean run.

The real `supportbot run` process sends to the fake Bot API with a short dispatcher interval and a
lifted send budget, so the 1,000 rows are claimed, sent and recorded in batches while the test
kills the process: after a number of sends it picks at random (mid-batch, between a send and its
group commit...) or at a random time after start (during start-up recovery, or a tick).

After each kill the database says which rows were in flight (`sending`). Afterwards:
* every due check-in reached its client;
* a client got more than one copy only if their row was in flight at a kill, and at most one extra
  copy per such kill (the design's "at most one repeat for a row in flight at the crash");
* every row is `sent`, and the database passes `PRAGMA integrity_check`.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportbot.storage.crypto import TextCipher
from supportbot.storage.sqlite import SqliteStorage
from tests.kit.fake_bot_api import FakeBotAPI
from tests.kit.process import BotProcess, bot_env

pytestmark = pytest.mark.e2e

CLIENTS = 1000
KILLS = 20
FIRST_USER = 700_000
QUESTION = "How are you feeling"
SEED = int(os.environ.get("SIGKILL_SEED", "0")) or random.randrange(1, 2**31)


async def prepare(db: Path, key: str) -> dict[int, int]:
    """1,000 clients, each with one check-in due ten minutes ago; row id by user."""
    storage = SqliteStorage(db, TextCipher.from_keys(key))
    await storage.open()
    try:
        due = datetime.now(UTC) - timedelta(minutes=10)
        users = range(FIRST_USER, FIRST_USER + CLIENTS)
        for uid in users:
            await storage.ensure_user(uid, uid, "en", "US", "UTC")
        created = await storage.schedule_many([(uid, "checkin", due, None) for uid in users])
        assert created == CLIENTS
    finally:
        await storage.close()
    with sqlite3.connect(db, timeout=5) as conn:
        return {int(u): int(r) for r, u in conn.execute("SELECT id, user_id FROM checkins")}


def states(db: Path) -> dict[int, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        return {
            int(rid): str(state) for rid, state in conn.execute("SELECT id, state FROM checkins")
        }


def checkin_sends(fake: FakeBotAPI, since: int = 0) -> int:
    return sum(
        1
        for c in fake.calls[since:]
        if c.method == "sendMessage" and c.ok and QUESTION in (c.text or "")
    )


async def wait_sends(
    fake: FakeBotAPI, bot: BotProcess, since: int, count: int, limit: float
) -> None:
    """Until `count` check-ins went out since call index `since` (or `limit` seconds pass, or the
    bot exits)."""
    deadline = time.monotonic() + limit
    while True:
        if checkin_sends(fake, since) >= count or time.monotonic() > deadline or not bot.running:
            return
        await asyncio.sleep(0.002)


async def test_sigkill_twenty_times_while_dispatching_sends_each_checkin_once(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    print(f"SIGKILL_SEED={SEED}")  # shown on failure: rerun with this seed to replay the moments
    env = bot_env(
        fake_api,
        tmp_path,
        DISPATCH_INTERVAL_SECONDS="0.1",
        # Slow enough that 1,000 rows cannot all go out before the twentieth kill (the clean run
        # below lifts the budget); fast enough that most kills land mid-dispatch.
        SEND_BUDGET_PER_SECOND="60",
        LOG_LEVEL="INFO",
    )
    db = Path(env["DATABASE_PATH"])
    row_of = await prepare(db, env["DATA_KEY"])
    user_of = {row: user for user, row in row_of.items()}
    bot = BotProcess(env, log_path=tmp_path / "bot.log")

    in_flight_at_kill: Counter[int] = Counter()
    kills_mid_dispatch = 0
    started = time.monotonic()
    try:
        for _ in range(KILLS):
            mark = fake_api.mark()
            bot.start()
            if rng.random() < 0.75:
                # After a random number of sends, plus a few random milliseconds.
                await wait_sends(fake_api, bot, mark, rng.randint(1, 30), limit=10.0)
                await asyncio.sleep(rng.uniform(0.0, 0.02))
            else:
                # At a random moment after start: start-up recovery, the first claim, a tick...
                await asyncio.sleep(rng.uniform(0.3, 2.2))
            assert bot.running, bot.log_tail()
            bot.kill()
            assert await bot.wait_exit(10) != 0
            now = states(db)
            flying = [rid for rid, state in now.items() if state == "sending"]
            in_flight_at_kill.update(flying)
            if flying or checkin_sends(fake_api, mark):
                kills_mid_dispatch += 1
            remaining = sum(1 for state in now.values() if state != "sent")
            assert remaining, "every row went out before the kills were over; raise CLIENTS"

        # The clean run: recovery, then everything left goes out.
        bot.env["SEND_BUDGET_PER_SECOND"] = "5000"
        bot.start()
        await bot.wait_ready(fake_api)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while any(state != "sent" for state in states(db).values()):
            assert loop.time() < deadline, Counter(states(db).values())
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # a few more ticks: nothing more goes out
        assert await bot.terminate(15) == 0
    finally:
        if bot.running:
            bot.kill()
            await bot.wait_exit(5)
    elapsed = time.monotonic() - started

    per_chat = Counter(
        c.chat_id
        for c in fake_api.calls
        if c.method == "sendMessage" and c.ok and QUESTION in (c.text or "")
    )
    missing = [u for u in row_of if per_chat[u] == 0]
    assert not missing, f"{len(missing)} check-ins never sent (seed {SEED})"
    too_many = {
        user_of[row]: (per_chat[user_of[row]], in_flight_at_kill[row])
        for row in user_of
        if per_chat[user_of[row]] > 1 + in_flight_at_kill[row]
    }
    assert not too_many, f"(sends, kills in flight) beyond one repeat per kill: {too_many}"
    assert set(per_chat) == set(row_of)  # nothing to anyone else
    repeats = sum(per_chat.values()) - CLIENTS
    print(
        f"{KILLS} kills ({kills_mid_dispatch} mid-dispatch) in {elapsed:.1f}s; "
        f"{len(in_flight_at_kill)} rows were in flight at a kill; {repeats} repeats"
    )
    assert kills_mid_dispatch >= KILLS // 2  # the kills really landed while dispatching

    assert set(states(db).values()) == {"sent"}
    with sqlite3.connect(db, timeout=5) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    log = bot.log_text()
    assert "returned" in log and "left in flight by a previous run" in log
    assert QUESTION not in log
    assert "Traceback" not in log
