from pathlib import Path

import pytest

from supportbot.config import ConfigError, load_settings, read_env_file

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def settings(**env: str):
    return load_settings({"BOT_TOKEN": TOKEN, **env}, env_file=None)


def test_defaults_are_sane() -> None:
    s = settings()
    assert s.bot_api_base_url == "https://api.telegram.org/bot"
    assert s.default_language == "en"
    assert s.default_timezone == "UTC"
    assert s.default_country is None
    assert s.retention_days is None
    assert s.key_file.name == "supportbot.db.key"


def test_token_is_not_in_repr() -> None:
    assert TOKEN not in repr(settings())


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"BOT_TOKEN": ""}, "BOT_TOKEN"),
        ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN"),
        ({"DEFAULT_LANGUAGE": "xx"}, "DEFAULT_LANGUAGE"),
        ({"DEFAULT_COUNTRY": "Spain"}, "DEFAULT_COUNTRY"),
        ({"DEFAULT_TIMEZONE": "Mars/Olympus"}, "DEFAULT_TIMEZONE"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"BOT_API_BASE_URL": "ftp://x"}, "BOT_API_BASE_URL"),
        ({"SEND_BUDGET_PER_SECOND": "fast"}, "SEND_BUDGET_PER_SECOND"),
        ({"RETENTION_DAYS": "-3"}, "RETENTION_DAYS"),
    ],
)
def test_wrong_values_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings({"BOT_TOKEN": TOKEN, **env}, env_file=None)
    assert info.value.key == key
    assert str(info.value).startswith(key)
    assert "\n" not in str(info.value)


def test_missing_token_points_at_env_example() -> None:
    with pytest.raises(ConfigError, match=r"\.env\.example"):
        load_settings({}, env_file=None)


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        f'# comment\nBOT_TOKEN="{TOKEN}"\nDEFAULT_COUNTRY=es  # Spain\nexport LOG_LEVEL=debug\n'
        "DEFAULT_TIMEZONE=Europe/Madrid\n",
        encoding="utf-8",
    )
    s = load_settings({"DEFAULT_TIMEZONE": "America/Bogota"}, env_file=env_file)
    assert s.bot_token == TOKEN
    assert s.default_country == "ES"
    assert s.log_level == "DEBUG"
    assert s.default_timezone == "America/Bogota"
    assert read_env_file(tmp_path / "missing") == {}


def test_retention_and_numbers() -> None:
    s = settings(RETENTION_DAYS="90", CHECKIN_GRACE_HOURS="2.5", SEND_BUDGET_PER_SECOND="5")
    assert s.retention_days == 90
    assert s.checkin_grace_hours == 2.5
    assert s.send_budget_per_second == 5
    assert settings(RETENTION_DAYS="keep").retention_days is None
