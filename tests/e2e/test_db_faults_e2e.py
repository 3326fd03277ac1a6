"""Database faults, end to end: a read-only database and a full disk, with the real process.

Exercised for real, not simulated: the database lives in a read-only bind mount, in a tiny tmpfs
that is filled up, or is an immutable file (`chattr +i`: even root cannot write it, as a file owned
by someone else with mode 0444 is for a bot running as its own user). Mounting needs root (or
CAP_SYS_ADMIN); where that is not available the tests skip.

What the operator and clients rely on: the operator gets one clear log line naming the problem;
/crisis and risk messages still get the crisis reply (it is built from memory); everything else
gets the kind "can't reach my notebook" reply; the process keeps running (no crash loop under a
supervisor), and a disk that has room again works again without a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.botapi import DEFAULT_TOKEN, Call
from tests.kit.fake_bot_api import FakeBotAPI
from tests.kit.process import BotProcess, bot_env

pytestmark = pytest.mark.e2e

SECRET = "zebra quartz lantern"
RISK = f"I want to kill myself, {SECRET}"
STORAGE_REPLY = "can't reach my notebook"  # messages/en/ui.toml errors.storage
USER = 720_001


# -- real faults ---------------------------------------------------------------------------------


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `path` for the block (skips the test if mounting fails)."""
    path.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield path
    finally:
        _run("umount", "-l", str(path))


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """`path` as a read-only bind mount of itself (writes fail with EROFS, even for root)."""
    path.mkdir(parents=True, exist_ok=True)
    done = _run("mount", "--bind", str(path), str(path))
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here (needs root): {done.stderr.strip()}")
    try:
        remount = _run("mount", "-o", "remount,bind,ro", str(path))
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only: {remount.stderr.strip()}")
        yield path
    finally:
        _run("umount", "-l", str(path))


@contextlib.contextmanager
def immutable(*files: Path) -> Iterator[None]:
    """`chattr +i`: the files cannot be written, renamed or deleted, by anyone."""
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    done = _run("chattr", "+i", *map(str, files))
    if done.returncode != 0:
        pytest.skip(f"cannot make files immutable here: {done.stderr.strip()}")
    try:
        yield
    finally:
        _run("chattr", "-i", *map(str, files))


def fill(folder: Path) -> Path:
    """Fill the file system holding `folder` to the last byte; returns the filler file."""
    filler = folder / "filler"
    for name, chunk in (("filler", b"\0" * 65536), ("filler2", b"\0")):  # then the last bytes
        with (folder / name).open("wb", buffering=0) as fh:
            try:
                while True:
                    fh.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


# -- the client's side ---------------------------------------------------------------------------


def is_crisis(call: Call) -> bool:
    return call.ok and call.method == "sendMessage" and "988" in (call.text or "")


async def reply_to(fake: FakeBotAPI, user: int, text: str) -> str:
    """Send `text` as `user`; the text of the bot's first message back."""
    mark = fake.mark()
    fake.push_text(user, text)
    call = await fake.wait_for("sendMessage", lambda c: c.ok and c.chat_id == user, since=mark)
    return call.text or ""


async def crisis_still_answered(fake: FakeBotAPI, user: int) -> None:
    """/crisis, and a risk message in plain words, each get the crisis reply."""
    for text in ("/crisis", RISK):
        mark = fake.mark()
        fake.push_text(user, text)
        await fake.wait_for("sendMessage", lambda c: is_crisis(c) and c.chat_id == user, since=mark)
    await fake.settle(0.3)
    # The risk message got the crisis reply and nothing else (no storage error on top of it).
    last = [c for c in fake.calls if c.method == "sendMessage" and c.chat_id == user][-1]
    assert is_crisis(last)


async def still_running_after(bot: BotProcess, seconds: float) -> None:
    """No crash, no exit-and-restart: the same process is alive `seconds` later."""
    pid = bot.pid
    await asyncio.sleep(seconds)
    assert bot.running, bot.log_tail()
    assert bot.pid == pid


def check_log(log: str) -> list[str]:
    """The ERROR lines (no client text, no token anywhere in the log)."""
    for word in SECRET.split():
        assert word not in log
    assert "kill myself" not in log
    assert DEFAULT_TOKEN.split(":")[1] not in log
    return [line for line in log.splitlines() if " ERROR " in line or " CRITICAL " in line]


async def start(fake: FakeBotAPI, tmp_path: Path, database: Path) -> BotProcess:
    env = bot_env(
        fake,
        tmp_path,
        DATABASE_PATH=str(database),
        DISPATCH_INTERVAL_SECONDS="0.2",
        LOG_LEVEL="INFO",
    )
    bot = BotProcess(env, log_path=tmp_path / "bot.log")
    bot.start()
    await bot.wait_ready(fake)
    return bot


async def stop(bot: BotProcess) -> None:
    if bot.running:
        assert await bot.terminate(15) == 0


# -- the tests -----------------------------------------------------------------------------------


async def test_database_in_a_read_only_folder(fake_api: FakeBotAPI, tmp_path: Path) -> None:
    with read_only(tmp_path / "ro") as folder:
        bot = await start(fake_api, tmp_path, folder / "supportbot.db")
        try:
            await crisis_still_answered(fake_api, USER)
            assert STORAGE_REPLY in await reply_to(fake_api, USER, "/start")
            assert "/crisis" in await reply_to(fake_api, USER, "/settings")
            await still_running_after(bot, 2.0)
        finally:
            await stop(bot)
            if bot.running:
                bot.kill()
    errors = check_log(bot.log_text())
    unavailable = [line for line in errors if "database unavailable" in line]
    assert len(unavailable) == 1, errors  # one line for the operator (retries every 30 s)
    assert str(folder / "supportbot.db") in unavailable[0]
    assert "crisis replies still work" in unavailable[0]
    assert "Traceback" not in bot.log_text()


async def test_disk_full_at_start(fake_api: FakeBotAPI, tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "512k") as folder:
        fill(folder)
        bot = await start(fake_api, tmp_path, folder / "supportbot.db")
        try:
            await crisis_still_answered(fake_api, USER)
            assert STORAGE_REPLY in await reply_to(fake_api, USER, "/start")
            await still_running_after(bot, 2.0)
        finally:
            await stop(bot)
            if bot.running:
                bot.kill()
    errors = check_log(bot.log_text())
    unavailable = [line for line in errors if "database unavailable" in line]
    assert len(unavailable) == 1, errors
    assert "disk is full" in unavailable[0]
    assert "Traceback" not in bot.log_text()


async def test_disk_fills_while_running_then_has_room_again(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "small", "4m") as folder:
        bot = await start(fake_api, tmp_path, folder / "supportbot.db")
        try:
            assert "not therapy" in await reply_to(fake_api, USER, "/start")
            filler = fill(folder)
            assert STORAGE_REPLY in await reply_to(fake_api, USER + 1, "/start")  # a new client
            await crisis_still_answered(fake_api, USER + 1)
            await crisis_still_answered(fake_api, USER)
            await still_running_after(bot, 1.0)
            # Room again: the same process writes again, no restart needed.
            filler.unlink()
            (folder / "filler2").unlink()
            assert "not therapy" in await reply_to(fake_api, USER + 2, "/start")
        finally:
            await stop(bot)
            if bot.running:
                bot.kill()
    errors = check_log(bot.log_text())
    assert errors, "the failed write was not logged"
    assert all("storage error" in line for line in errors), errors
    assert len(errors) == 1, errors  # one failed update, one line
    assert "Traceback" not in bot.log_text()


async def test_disk_full_while_running_names_the_problem(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    with tmpfs(tmp_path / "small", "4m") as folder:
        bot = await start(fake_api, tmp_path, folder / "supportbot.db")
        try:
            fill(folder)
            assert STORAGE_REPLY in await reply_to(fake_api, USER, "/start")
        finally:
            await stop(bot)
            if bot.running:
                bot.kill()
    errors = check_log(bot.log_text())
    assert len(errors) == 1, errors
    assert "full" in errors[0].lower(), errors[0]


async def test_read_only_database_file(fake_api: FakeBotAPI, tmp_path: Path) -> None:
    database = tmp_path / "data" / "supportbot.db"
    bot = await start(fake_api, tmp_path, database)  # creates and migrates it
    await stop(bot)
    leftovers = [p for p in database.parent.iterdir() if p.name != database.name]
    assert not leftovers  # a clean stop leaves no -wal / -shm behind
    with immutable(database):
        bot = BotProcess(bot.env, log_path=tmp_path / "bot.log")
        bot.start()
        try:
            await bot.wait_ready(fake_api)
            await crisis_still_answered(fake_api, USER)
            assert STORAGE_REPLY in await reply_to(fake_api, USER, "/start")
            await still_running_after(bot, 1.0)
        finally:
            await stop(bot)
            if bot.running:
                bot.kill()
                await bot.wait_exit(5)
    errors = check_log(bot.log_text(since_start=True))
    assert any("read" in line and "only" in line for line in errors), errors
