"""`supportbot run | check | screen | keygen | rotate-key`.

Imports are local to each command: `supportbot screen` must start fast (it is measured with process
start included), so it never loads telegram, aiosqlite or matplotlib.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _settings(require_token: bool = True):  # type: ignore[no-untyped-def]
    from supportbot.config import ConfigError, load_settings

    try:
        return load_settings(require_token=require_token)
    except ConfigError as exc:
        print(f"supportbot: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_run(_: argparse.Namespace) -> int:
    settings = _settings()
    from supportbot.logs import setup_logging

    setup_logging(settings.log_level, [settings.bot_token, settings.data_key or ""])
    import logging

    from supportbot.app import build_application
    from supportbot.storage.crypto import DataKeyError

    log = logging.getLogger("supportbot")
    try:
        app = build_application(settings)
    except (DataKeyError, ValueError, OSError) as exc:
        print(f"supportbot: cannot start: {exc}", file=sys.stderr)
        return 2
    log.info("starting (long polling) with API at %s", _host_only(settings.bot_api_base_url))
    app.run_polling(
        allowed_updates=[
            "message",
            "edited_message",
            "callback_query",
            "my_chat_member",
            "channel_post",
        ]
    )
    return 0


def _host_only(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def problems_in_content(messages_dir: Path, default: str) -> list[str]:
    from supportbot.content.library import validate_library
    from supportbot.content.strings import validate_strings
    from supportbot.safety.validate import validate as validate_safety
    from supportbot.scheduling.parse import validate_vocabulary
    from supportbot.services.exercises import validate_phrases

    languages = sorted(p.name for p in messages_dir.iterdir() if p.is_dir())
    problems = validate_strings(messages_dir, default)
    problems += validate_library(messages_dir, languages, default)
    problems += validate_safety(messages_dir, languages)
    problems += validate_vocabulary(messages_dir)
    problems += validate_phrases(messages_dir, languages)
    return problems


def cmd_check(_: argparse.Namespace) -> int:
    settings = _settings(require_token=False)
    problems = problems_in_content(settings.messages_dir, settings.default_language)
    for problem in problems:
        print(problem)
    if not settings.bot_token:
        print("note: BOT_TOKEN is not set (needed for `supportbot run`)", file=sys.stderr)
    if problems:
        print(f"supportbot check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("supportbot check: configuration and messages are valid")
    return 0


def cmd_screen(args: argparse.Namespace) -> int:
    from supportbot.config import DEFAULT_MESSAGES_DIR
    from supportbot.safety.screen_cli import run

    messages_dir = Path(args.messages) if args.messages else DEFAULT_MESSAGES_DIR
    return run(args.lang, sys.stdin, sys.stdout, messages_dir)


def cmd_keygen(_: argparse.Namespace) -> int:
    from supportbot.storage.crypto import new_key

    print(new_key())
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Re-encrypt every stored text under a new key.

    With a key file, the new key is written beside it (`.key.new`, mode 0600) before the database
    changes and moved into place after, so a crash at any point leaves a key that opens the data;
    a later run picks a leftover `.key.new` up as an extra key to read with. Stop the bot first: a
    running bot would keep writing with the old key.
    """
    import asyncio
    import os
    import sqlite3

    from supportbot.storage.base import StorageError
    from supportbot.storage.crypto import DataKeyError, TextCipher, load_or_create_key, new_key
    from supportbot.storage.sqlite import SqliteStorage

    settings = _settings(require_token=False)
    database, key_file = settings.database_path, settings.key_file
    if not database.exists():
        print(f"supportbot: no database at {database}; nothing to re-encrypt", file=sys.stderr)
        return 1
    if not settings.data_key and not key_file.exists():
        print(
            f"supportbot: DATA_KEY is not set and there is no key file at {key_file}",
            file=sys.stderr,
        )
        return 2
    pending = key_file.with_name(key_file.name + ".new")
    try:
        old, _ = load_or_create_key(settings.data_key, key_file)
        readers = [old]
        leftover = None
        if not settings.data_key and pending.exists():
            leftover = pending.read_text(encoding="ascii").strip()
            readers.append(leftover)
        reading = TextCipher.from_keys(*readers)
        fresh = args.new_key.strip() if args.new_key else new_key()
        writing = TextCipher.from_keys(fresh, *readers)
    except DataKeyError as exc:
        print(f"supportbot: {exc}", file=sys.stderr)
        return 2

    def write_pending(key: str) -> None:
        fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key + "\n")

    if not settings.data_key:
        write_pending(fresh)

    async def rotate() -> int:
        storage = SqliteStorage(database, reading)
        await storage.open()
        try:
            return await storage.rotate_key(writing)
        finally:
            await storage.close()

    try:
        count = asyncio.run(rotate())
    except (DataKeyError, StorageError, sqlite3.Error) as exc:
        # Nothing was written: rotate_key decrypts everything before its one transaction.
        print(f"supportbot: cannot re-encrypt: {exc}", file=sys.stderr)
        if leftover:
            write_pending(leftover)  # it may still be the key some rows are under
        elif not settings.data_key:
            pending.unlink(missing_ok=True)
        return 2
    if settings.data_key:
        print(f"re-encrypted {count} entries. Set DATA_KEY to the new key now:\n{fresh}")
    else:
        os.replace(pending, key_file)
        print(f"re-encrypted {count} entries; new key written to {key_file} (back it up)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="supportbot", description=__doc__.splitlines()[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (long polling)").set_defaults(func=cmd_run)
    sub.add_parser("check", help="validate configuration and messages/").set_defaults(
        func=cmd_check
    )
    screen = sub.add_parser("screen", help="screen lines from stdin; one JSON object per line out")
    screen.add_argument(
        "--lang", default=None, help="language of the lexicon to use first (en, es)"
    )
    screen.add_argument("--messages", default=None, help=argparse.SUPPRESS)
    screen.set_defaults(func=cmd_screen)
    sub.add_parser("keygen", help="print a new DATA_KEY").set_defaults(func=cmd_keygen)
    rotate = sub.add_parser(
        "rotate-key", help="re-encrypt stored text under a new key (stop the bot first)"
    )
    rotate.add_argument(
        "--new-key",
        default=None,
        help="use this key instead of generating one (write --new-key=KEY: a key may start with -)",
    )
    rotate.set_defaults(func=cmd_rotate_key)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
