"""`supportbot screen` (screen_cli.run) and the crisis-file validation used by `supportbot check`."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from supportbot.safety.screen_cli import available_languages, run
from supportbot.safety.validate import validate

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = ROOT / "messages"


def _run(lines: list[str], lang: str | None = "en") -> tuple[int, list[dict[str, object]]]:
    out = io.StringIO()
    code = run(lang, io.StringIO("\n".join(lines) + "\n"), out, MESSAGES)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    return code, rows


def test_one_json_object_per_line_in_order() -> None:
    lines = ["hello", "I want to kill myself", "", "me quiero morir", "dying to see you", "🙂"]
    code, rows = _run(lines)
    assert code == 0
    assert len(rows) == len(lines)
    assert [r["risk"] for r in rows] == [False, True, False, True, False, False]
    assert rows[1]["level"] == "urgent" and rows[1]["category"] == "suicide"
    assert rows[0] == {"risk": False, "level": "none", "category": None, "span": None}
    a, b = rows[1]["span"]  # type: ignore[misc]
    assert "kill myself" in lines[1][a:b]


def test_many_lines_keep_their_order() -> None:
    lines = [f"line {i}" if i % 7 else "i want to die" for i in range(5000)]
    _, rows = _run(lines)
    assert [r["risk"] for r in rows] == [i % 7 == 0 for i in range(5000)]


def test_windows_line_endings_and_no_final_newline() -> None:
    out = io.StringIO()
    run("en", io.StringIO("kms\r\nhello"), out, MESSAGES)
    rows = [json.loads(x) for x in out.getvalue().splitlines()]
    assert [r["risk"] for r in rows] == [True, False]


def test_unknown_language_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = run("xx", io.StringIO("hi\n"), io.StringIO(), MESSAGES)
    assert code == 2
    assert "xx" in capsys.readouterr().err


def test_default_language_and_discovery() -> None:
    assert available_languages(MESSAGES)[0] == "en"
    assert set(available_languages(MESSAGES)) >= {"en", "es"}
    code, rows = _run(["quiero matarme"], lang=None)
    assert code == 0 and rows[0]["risk"] is True


def test_module_runs_as_a_process() -> None:
    env = {**os.environ, "SUPPORTBOT_CACHE_DIR": "off"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "supportbot.safety.screen_cli",
            "--lang",
            "es",
            "--messages",
            str(MESSAGES),
        ],
        input="hola\nme quiero morir\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [r["risk"] for r in rows] == [False, True]


def test_screen_cli_imports_only_stdlib_and_safety() -> None:
    code = (
        "import sys; import supportbot.safety.screen_cli; "
        "bad = sorted(m for m in sys.modules if m.startswith(('supportbot.', 'telegram')) "
        "and not m.startswith('supportbot.safety')); print(','.join(bad))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == ""


# --- validate ----------------------------------------------------------------------------------


def test_shipped_crisis_files_are_valid() -> None:
    assert validate(MESSAGES, ["en", "es"]) == []


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "messages"
    copy.mkdir()
    for lang in ("en", "es"):
        (copy / lang).mkdir()
        shutil.copy(MESSAGES / lang / "crisis.toml", copy / lang / "crisis.toml")
    shutil.copy(MESSAGES / "resources.toml", copy / "resources.toml")
    return copy


def test_validate_reports_file_key_and_message(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    es = copy / "es" / "crisis.toml"
    text = es.read_text(encoding="utf-8")
    # drop a whole category, break a pattern
    start = text.index("[burden]")
    end = text.index("# ----", start)
    text = text[:start] + text[end:]
    text = text.replace(
        '"sobredosis", "sobre dosis", "horca",', '"sobredosis", "(sobre dosis", "horca",'
    )
    es.write_text(text, encoding="utf-8")
    res = copy / "resources.toml"
    raw = res.read_text(encoding="utf-8")
    gb = raw.index("[[countries.GB.services]]")
    src = raw.index("\nsource = ", gb)
    raw = raw[:src] + raw[raw.index("\n", src + 1) :]
    res.write_text(raw, encoding="utf-8")
    problems = validate(copy, ["en", "es", "fr"])
    joined = "\n".join(problems)
    assert "messages/es/crisis.toml:burden: missing category" in joined
    assert "messages/es/crisis.toml:plan_means.concern[1]: missing ')'" in joined
    assert "messages/resources.toml:countries.GB.services[0].source: missing" in joined
    assert "messages/fr/crisis.toml: missing" in joined
    for p in problems:
        file, _, rest = p.partition(":")
        assert file.startswith("messages/") and rest.strip(), p
