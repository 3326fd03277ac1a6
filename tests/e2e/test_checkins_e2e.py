"""Check-ins end to end: the real `supportbot run` process against the fake Bot API.

The database is prepared beforehand (as if the bot had been down): a check-in due an hour ago (within
the 6-hour grace: sent once at start), one due seven hours ago (skipped), and one a crash left
`sending` (sent once: at most one repeat). Then the process is killed (SIGKILL) after the sends were
recorded, restarted, and nothing goes out twice.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from supportbot.storage.crypto import TextCipher
from supportbot.storage.sqlite import SqliteStorage
from tests.kit.fake_bot_api import FakeBotAPI
from tests.kit.process import BotProcess, bot_env

pytestmark = pytest.mark.e2e
LATE = 880001  # due an hour ago, and has a weekly session
STALE = 880002  # due seven hours ago
IN_FLIGHT = 880003  # claimed by a run that crashed before sending
QUESTION = "How are you feeling"


async def prepare(db: Path, key: str) -> dict[str, int]:
    storage = SqliteStorage(db, TextCipher.from_keys(key))
    await storage.open()
    try:
        now = datetime.now(UTC)
        for uid in (LATE, STALE, IN_FLIGHT):
            await storage.ensure_user(uid, uid, "en", "US", "UTC")
            await storage.update_user(uid, consent=True)
        await storage.set_session(LATE, (now + timedelta(days=3)).weekday(), 12 * 60)
        in_flight = await storage.schedule_checkin(
            IN_FLIGHT, "checkin", now - timedelta(minutes=30)
        )
        claimed = await storage.claim_due(now, 1, timedelta(hours=6))  # the crashed run's claim
        assert [c.id for c in claimed.claimed] == [in_flight]
        late = await storage.schedule_checkin(LATE, "checkin", now - timedelta(hours=1))
        stale = await storage.schedule_checkin(STALE, "checkin", now - timedelta(hours=7))
        assert late and stale and in_flight
        return {"late": late, "stale": stale, "in_flight": in_flight}
    finally:
        await storage.close()


def states(db: Path) -> dict[int, tuple[str, str]]:
    """(state, kind) by row id, read through a separate read-only connection (WAL)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute("SELECT id, state, kind, session_at FROM checkins").fetchall()
    return {r[0]: (r[1], "weekly" if r[3] is not None else r[2]) for r in rows}


async def wait_states(db: Path, wanted: dict[int, str], timeout: float = 15.0) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = states(db)
        if all(found.get(rid, ("?",))[0] == state for rid, state in wanted.items()):
            return
        if loop.time() > deadline:
            raise TimeoutError(f"rows never reached {wanted}: {found}")
        await asyncio.sleep(0.05)


def checkins_to(fake: FakeBotAPI, chat_id: int) -> list[str]:
    return [t for t in fake.messages_to(chat_id) if QUESTION in t]


async def test_missed_checkin_sent_once_and_nothing_twice_after_a_crash(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    env = bot_env(fake_api, tmp_path, DISPATCH_INTERVAL_SECONDS="0.2", LOG_LEVEL="INFO")
    db = Path(env["DATABASE_PATH"])
    ids = await prepare(db, env["DATA_KEY"])
    bot = BotProcess(env, log_path=tmp_path / "bot.log")
    bot.start()
    try:
        await bot.wait_ready(fake_api)
        await wait_states(db, {ids["late"]: "sent", ids["in_flight"]: "sent"})
        await asyncio.sleep(1.0)  # five more ticks
        assert len(checkins_to(fake_api, LATE)) == 1
        assert len(checkins_to(fake_api, IN_FLIGHT)) == 1
        assert checkins_to(fake_api, STALE) == []
        found = states(db)
        assert found[ids["stale"]][0] == "skipped"
        weekly = [rid for rid, (state, kind) in found.items() if kind == "weekly"]
        assert len(weekly) == 1 and found[weekly[0]][0] == "scheduled"  # next week's, planned
        assert "returned 1 check-ins left in flight" in bot.log_text()

        bot.kill()  # a crash, after the sends were recorded
        await bot.wait_exit(10)
        bot.start()
        await bot.wait_ready(fake_api)
        await bot.wait_log("check-in dispatcher running")
        await asyncio.sleep(1.5)  # several ticks of the restarted process
        assert len(checkins_to(fake_api, LATE)) == 1
        assert len(checkins_to(fake_api, IN_FLIGHT)) == 1
        assert checkins_to(fake_api, STALE) == []
        after = states(db)
        assert [rid for rid, (_, kind) in after.items() if kind == "weekly"] == weekly

        # The client answers the check-in the restarted bot never sent: it still works.
        mark = fake_api.mark()
        fake_api.press(LATE, "4 🙂 Good")
        reply = await fake_api.wait_for(
            "sendMessage", lambda c: c.chat_id == LATE and "glad" in (c.text or ""), since=mark
        )
        assert "Save a thought" in str(reply.params.get("reply_markup"))
        assert await bot.terminate(15) == 0
    finally:
        if bot.running:
            bot.kill()
            await bot.wait_exit(5)
    log = bot.log_text()
    assert QUESTION not in log  # no message text in the log
    assert env["BOT_TOKEN"].split(":")[1] not in log
