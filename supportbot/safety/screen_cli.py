"""`supportbot screen`: one message per line in, one JSON object per line out, same order.

Operators use it to try a lexicon change on their own sample. It imports only the standard library
and supportbot.safety, so the process starts quickly (throughput includes start-up).
Output: {"risk": bool, "level": "urgent"|"concern"|"none", "category": str|null, "span": [a, b]|null};
span indexes the input line.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from supportbot.safety.screening import NO_RISK, Screener

_NONE_LINE = json.dumps(
    {"risk": False, "level": "none", "category": None, "span": None}, ensure_ascii=False
)
_FLUSH_EVERY = 2048


def available_languages(messages_dir: Path) -> list[str]:
    """Languages with a crisis file, sorted (English first when present)."""
    langs = sorted(p.parent.name for p in Path(messages_dir).glob("*/crisis.toml"))
    if "en" in langs:
        langs.remove("en")
        langs.insert(0, "en")
    return langs


def run(lang: str | None, stdin: TextIO, stdout: TextIO, messages_dir: Path) -> int:
    """Screen every line of `stdin` with all languages; `lang` is the clients' language."""
    langs = available_languages(messages_dir)
    if not langs:
        print(f"supportbot screen: no */crisis.toml in {messages_dir}", file=sys.stderr)
        return 2
    if lang is not None and lang not in langs:
        print(
            f"supportbot screen: no crisis lexicon for {lang!r} (have: {', '.join(langs)})",
            file=sys.stderr,
        )
        return 2
    screener = Screener.load(messages_dir, langs)
    for problem in screener.problems:
        print(f"warning: {problem}", file=sys.stderr)
    client_lang = lang or langs[0]
    screen = screener.screen
    out: list[str] = []
    write = stdout.write
    dumps = json.dumps
    for raw in stdin:
        line = raw[:-1] if raw.endswith("\n") else raw
        if line.endswith("\r"):
            line = line[:-1]
        r = screen(line, client_lang)
        if r is NO_RISK:
            out.append(_NONE_LINE)
        else:
            out.append(
                dumps(
                    {
                        "risk": r.risk,
                        "level": r.level,
                        "category": r.category,
                        "span": list(r.span) if r.span else None,
                    },
                    ensure_ascii=False,
                )
            )
        if len(out) >= _FLUSH_EVERY:
            out.append("")
            write("\n".join(out))
            out.clear()
    if out:
        out.append("")
        write("\n".join(out))
    stdout.flush()
    return 0


def _default_messages_dir() -> Path:
    env = os.environ.get("SUPPORTBOT_MESSAGES_DIR") or os.environ.get("MESSAGES_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "messages"


def main(argv: list[str] | None = None) -> int:
    """`python -m supportbot.safety.screen_cli [--lang LANG] [--messages DIR]`."""
    parser = argparse.ArgumentParser(prog="supportbot screen", description=__doc__)
    parser.add_argument("--lang", default=None, help="the clients' language (default: en)")
    parser.add_argument("--messages", default=None, help="the messages folder")
    args = parser.parse_args(argv)
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")
    messages = Path(args.messages) if args.messages else _default_messages_dir()
    return run(args.lang, sys.stdin, sys.stdout, messages)


if __name__ == "__main__":
    raise SystemExit(main())
