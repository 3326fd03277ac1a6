"""The real bot as a child process, for end-to-end tests against the fake Bot API.

Uses a plain `subprocess.Popen` and polls it from asyncio, so the test's event loop (which also runs
the fake Bot API the bot is talking to) is never blocked while the bot starts or shuts down.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

from tests.kit.botapi import DEFAULT_TOKEN
from tests.kit.fake_bot_api import FakeBotAPI

__all__ = ["BOT_ENV_KEYS", "REPO_ROOT", "BotProcess", "base_env", "bot_env", "run_bot"]

REPO_ROOT = Path(__file__).resolve().parents[2]
BOT_ENV_KEYS = (
    "BOT_TOKEN",
    "BOT_API_BASE_URL",
    "DATABASE_PATH",
    "DATA_KEY",
    "LOG_LEVEL",
    "DEFAULT_LANGUAGE",
    "DEFAULT_COUNTRY",
    "DEFAULT_TIMEZONE",
    "MESSAGES_DIR",
    "RETENTION_DAYS",
)
"""Settings the bot reads; never inherited from the developer's shell (nor any SUPPORTBOT_*)."""


def _data_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def bot_env(fake: FakeBotAPI, tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The settings for a bot talking to `fake`, with its database in `tmp_path`.

    Keyword overrides use the variable names: `bot_env(fake, tmp, LOG_LEVEL="INFO")`.
    """
    env = {
        "BOT_TOKEN": DEFAULT_TOKEN,
        "BOT_API_BASE_URL": fake.base_url,
        "DATABASE_PATH": str(tmp_path / "supportbot.db"),
        "DATA_KEY": _data_key(),
        "LOG_LEVEL": "DEBUG",
        "DEFAULT_COUNTRY": "US",
        "DEFAULT_TIMEZONE": "UTC",
    }
    env.update(overrides)
    return env


def base_env() -> dict[str, str]:
    """os.environ without any bot setting, plus unbuffered output and the repo on PYTHONPATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in BOT_ENV_KEYS and not k.startswith("SUPPORTBOT_")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    return env


_base_env = base_env  # the first name, already used by tests


class BotProcess:
    """`python -m supportbot run` (or `argv`) with `env` over a clean copy of os.environ.

    The working directory defaults to the log's folder, so a developer's `.env` in the repository is
    never read. stdout and stderr both go to `log_path`.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        log_path: Path,
        cwd: Path | None = None,
        argv: Sequence[str] | None = None,
    ) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.cwd = cwd or log_path.parent
        self.argv = list(argv) if argv is not None else [sys.executable, "-m", "supportbot", "run"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        """time.monotonic() of the latest start (compare with Call.time)."""
        self._log: IO[bytes] | None = None
        self._log_offset = 0

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("the bot process is already running")
        self._close_log()
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (kept open while the child runs)
        self._log_offset = self._log.tell()
        self.started_at = time.monotonic()
        env = base_env()
        env.update(self.env)
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("the bot process was not started")
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """None while running."""
        return None if self.proc is None else self.proc.poll()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def wait_exit(self, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        """The exit code, once the process has ended (TimeoutError if it has not by then)."""
        if self.proc is None:
            raise RuntimeError("the bot process was not started")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (code := self.proc.poll()) is None:
            if loop.time() >= deadline:
                raise TimeoutError(f"the bot did not exit within {timeout}s\n{self.log_tail()}")
            await asyncio.sleep(0.02)
        self._close_log()
        return code

    async def terminate(self, timeout: float = 10.0) -> int:  # noqa: ASYNC109
        """SIGTERM and wait; the exit code. If it has not ended by `timeout`: SIGKILL, then raise."""
        if self.proc is None:
            raise RuntimeError("the bot process was not started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await self.wait_exit(timeout)
        except TimeoutError:
            self.kill()
            await self.wait_exit(5.0)
            raise

    def kill(self) -> None:
        """SIGKILL now (a crash). `await wait_exit()` to reap it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- the log -----------------------------------------------------------------------------------

    def log_text(self, *, since_start: bool = False) -> str:
        """The whole log (every run so far), or only what the latest start wrote."""
        try:
            data = self.log_path.read_bytes()
        except FileNotFoundError:
            return ""
        if since_start:
            data = data[self._log_offset :]
        return data.decode("utf-8", errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    async def wait_log(self, substring: str, timeout: float = 10.0) -> str:  # noqa: ASYNC109
        """The first line since the latest start containing `substring`, waiting for it.

        Fails fast if the bot exits first.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for line in self.log_text(since_start=True).splitlines():
                if substring in line:
                    return line
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"the bot exited ({self.proc.returncode}) before logging {substring!r}\n"
                    f"{self.log_tail()}"
                )
            if loop.time() >= deadline:
                raise TimeoutError(f"{substring!r} not logged within {timeout}s\n{self.log_tail()}")
            await asyncio.sleep(0.05)

    async def wait_ready(self, fake: FakeBotAPI, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        """Until the bot polls `fake` (a getUpdates since the latest start); fails fast if it exits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not any(
            c.method == "getUpdates" and c.time >= self.started_at for c in reversed(fake.calls)
        ):
            if not self.running:
                code = self.returncode
                raise RuntimeError(f"the bot exited ({code}) before polling\n{self.log_tail()}")
            if loop.time() >= deadline:
                raise TimeoutError(f"the bot did not poll within {timeout}s\n{self.log_tail()}")
            await asyncio.sleep(0.02)

    # -- context -----------------------------------------------------------------------------------

    async def __aenter__(self) -> BotProcess:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.running:
            self.kill()
            await self.wait_exit(5.0)
        self._close_log()


@asynccontextmanager
async def run_bot(
    fake: FakeBotAPI,
    tmp_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
    ready_timeout: float = 15.0,
    stop_timeout: float = 10.0,
) -> AsyncIterator[BotProcess]:
    """Start the bot against `fake`, wait until it polls, yield it; SIGTERM it afterwards.

    `env` is laid over `bot_env(fake, tmp_path)`. The log is `tmp_path / "bot.log"`. If the block
    leaves the process running, a shutdown that takes longer than `stop_timeout` fails the test.
    """
    settings = bot_env(fake, tmp_path)
    settings.update(env or {})
    process = BotProcess(settings, log_path=tmp_path / "bot.log", argv=argv)
    process.start()
    try:
        await process.wait_ready(fake, ready_timeout)
        yield process
        if process.running:
            await process.terminate(stop_timeout)
    finally:
        if process.running:
            process.kill()
            await process.wait_exit(5.0)
        process._close_log()
