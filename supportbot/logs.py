"""Logging that cannot leak tokens or client text.

python-telegram-bot logs every request's parameters and every response at DEBUG (message texts
included), and httpx logs request URLs, which hold the token. So: DEBUG is allowed only for
`supportbot.*` loggers (whose code never logs client text); third-party loggers are capped at INFO
(httpx/httpcore at WARNING); and a filter removes the token from anything that still gets through.
"""

from __future__ import annotations

import logging
import sys

_THIRD_PARTY_FLOOR = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "telegram": logging.INFO,
    "apscheduler": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "asyncio": logging.WARNING,
    "matplotlib": logging.WARNING,
    "PIL": logging.WARNING,
}


class RedactFilter(logging.Filter):
    """Replace secrets in the formatted message; also drops third-party DEBUG records outright."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO and not record.name.startswith("supportbot"):
            return False
        if self.secrets:
            message = record.getMessage()
            changed = False
            for secret in self.secrets:
                if secret in message:
                    message = message.replace(secret, "[redacted]")
                    changed = True
            if changed:
                record.msg, record.args = message, None
        return True


def setup_logging(level: str, secrets: list[str]) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactFilter(secrets))
    root.addHandler(handler)
    root.setLevel(level)
    for name, floor in _THIRD_PARTY_FLOOR.items():
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(level)))
