"""Settings from the environment and an optional `.env` file.

A frozen dataclass rather than a settings framework: the keys are few, and every wrong value must stop
startup with one line that names the key, which is easier to guarantee by hand.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MESSAGES_DIR = REPO_ROOT / "messages"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
_TOKEN_RE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{10,}$")


class ConfigError(ValueError):
    """A wrong or missing setting; `str()` is the one line shown to the operator."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True, slots=True)
class Settings:
    bot_token: str = field(repr=False)
    bot_api_base_url: str = DEFAULT_BASE_URL
    database_path: Path = Path("supportbot.db")
    default_language: str = "en"
    default_country: str | None = None
    default_timezone: str = "UTC"
    log_level: str = "INFO"
    data_key: str | None = field(default=None, repr=False)
    messages_dir: Path = DEFAULT_MESSAGES_DIR
    checkin_grace_hours: float = 6.0
    send_budget_per_second: float = 20.0
    dispatch_interval_seconds: float = 5.0
    retention_days: int | None = None

    @property
    def key_file(self) -> Path:
        """Where a generated data key lives when DATA_KEY is not set: beside the database."""
        return self.database_path.with_name(self.database_path.name + ".key")


def read_env_file(path: Path) -> dict[str, str]:
    """Parse a `.env` file: KEY=value lines, `#` comments, optional quotes. No interpolation."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        quote = value[:1]
        if quote in ("'", '"') and len(value) >= 2 and value.endswith(quote):
            value = value[1:-1]
        elif quote in ("'", '"') and (closed := re.match(rf"{quote}(.*){quote}\s+#", value)):
            value = closed.group(1)  # KEY="value"  # a comment
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def _number(env: Mapping[str, str], key: str, default: float, *, minimum: float) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(key, f"expected a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(key, f"must be at least {minimum:g}")
    return value


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    env_file: Path | None = Path(".env"),
    require_token: bool = True,
) -> Settings:
    """Build Settings from `.env` overlaid by the real environment (the environment wins)."""
    merged: dict[str, str] = {}
    if env_file is not None:
        merged.update(read_env_file(env_file))
    merged.update(os.environ if env is None else env)

    token = merged.get("BOT_TOKEN", "").strip()
    if require_token:
        if not token:
            raise ConfigError(
                "BOT_TOKEN", "is not set; copy .env.example to .env and add your token"
            )
        if not _TOKEN_RE.match(token):
            raise ConfigError(
                "BOT_TOKEN", "does not look like a token from @BotFather (123456:ABC...)"
            )

    base_url = merged.get("BOT_API_BASE_URL", "").strip() or DEFAULT_BASE_URL
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError("BOT_API_BASE_URL", "must start with http:// or https://")

    messages_dir = Path(merged.get("MESSAGES_DIR", "").strip() or DEFAULT_MESSAGES_DIR)
    if not messages_dir.is_dir():
        raise ConfigError("MESSAGES_DIR", f"no such folder: {messages_dir}")
    languages = sorted(p.name for p in messages_dir.iterdir() if p.is_dir())

    language = merged.get("DEFAULT_LANGUAGE", "").strip().lower() or "en"
    if language not in languages:
        raise ConfigError("DEFAULT_LANGUAGE", f"{language!r} is not one of {', '.join(languages)}")

    country = merged.get("DEFAULT_COUNTRY", "").strip().upper() or None
    if country is not None and not re.fullmatch(r"[A-Z]{2}", country):
        raise ConfigError(
            "DEFAULT_COUNTRY", f"expected a two-letter ISO code like US or ES, got {country!r}"
        )

    zone = merged.get("DEFAULT_TIMEZONE", "").strip() or "UTC"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "DEFAULT_TIMEZONE", f"{zone!r} is not an IANA time zone (e.g. Europe/Berlin)"
        ) from None

    level = merged.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"expected one of {', '.join(LOG_LEVELS)}")

    data_key = merged.get("DATA_KEY", "").strip() or None

    retention_raw = merged.get("RETENTION_DAYS", "").strip()
    retention: int | None = None
    if retention_raw and retention_raw.lower() not in ("keep", "0", "off"):
        if not retention_raw.isdigit():
            raise ConfigError("RETENTION_DAYS", "expected a whole number of days, or 'keep'")
        retention = int(retention_raw)

    return Settings(
        bot_token=token,
        bot_api_base_url=base_url,
        database_path=Path(merged.get("DATABASE_PATH", "").strip() or "supportbot.db"),
        default_language=language,
        default_country=country,
        default_timezone=zone,
        log_level=level,
        data_key=data_key,
        messages_dir=messages_dir,
        checkin_grace_hours=_number(merged, "CHECKIN_GRACE_HOURS", 6.0, minimum=0),
        send_budget_per_second=_number(merged, "SEND_BUDGET_PER_SECOND", 20.0, minimum=0.1),
        dispatch_interval_seconds=_number(merged, "DISPATCH_INTERVAL_SECONDS", 5.0, minimum=0.05),
        retention_days=retention,
    )
