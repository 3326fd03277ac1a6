"""The real `supportbot run` process against the in-repo fake Bot API on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.kit.botapi import DEFAULT_TOKEN
from tests.kit.fake_bot_api import FakeBotAPI
from tests.kit.process import REPO_ROOT, base_env, run_bot

pytestmark = pytest.mark.e2e
USER = 777001
SECRET = "zebra quartz lantern sentence"


def test_without_token_run_stops_with_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "supportbot", "run"],
        cwd=tmp_path,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert "BOT_TOKEN" in lines[0] and ".env.example" in lines[0]
    assert "Traceback" not in proc.stderr


async def test_start_help_privacy_settings_end_to_end_and_clean_log(
    fake_api: FakeBotAPI, tmp_path: Path
) -> None:
    async with run_bot(fake_api, tmp_path, env={"LOG_LEVEL": "DEBUG"}) as bot:
        commands = [c for c in fake_api.calls if c.method == "setMyCommands"]
        assert {c.params.get("language_code") for c in commands} == {None, "es"}

        mark = fake_api.mark()
        fake_api.push_command(USER, "/start")
        welcome = await fake_api.wait_for("sendMessage", since=mark)
        assert "not therapy" in (welcome.text or "")

        mark = fake_api.mark()
        fake_api.press(USER, "I agree")
        await fake_api.wait_for(("editMessageText", "sendMessage"), since=mark)
        await fake_api.wait_for("answerCallbackQuery", since=mark)

        for command, expected in (
            ("/help", "/privacy"),
            ("/privacy", "/forget"),
            ("/settings", "Time zone: UTC"),
        ):
            mark = fake_api.mark()
            fake_api.push_command(USER, command)
            call = await fake_api.wait_for("sendMessage", since=mark)
            assert expected in (call.text or ""), command

        # Client text, ordinary and risky, must never reach the log.
        mark = fake_api.mark()
        fake_api.push_text(USER, SECRET)
        await fake_api.wait_for("sendMessage", since=mark)
        mark = fake_api.mark()
        fake_api.push_text(USER, f"I want to kill myself {SECRET}")
        crisis = await fake_api.wait_for("sendMessage", since=mark)
        assert "988" in (crisis.text or "")  # DEFAULT_COUNTRY=US in the kit's env

        code = await bot.terminate(15)
        assert code == 0
        log = bot.log_text()

    assert "database closed" in log
    assert DEFAULT_TOKEN not in log
    assert DEFAULT_TOKEN.split(":")[1] not in log
    for word in SECRET.split():
        assert word not in log
    assert "kill myself" not in log
    assert str(REPO_ROOT)  # the kit resolves the repository root for PYTHONPATH
