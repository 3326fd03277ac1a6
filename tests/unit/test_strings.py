from pathlib import Path

import pytest

from supportbot.config import DEFAULT_MESSAGES_DIR
from supportbot.content.strings import Raw, Strings, placeholders, validate_strings


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_shipped_strings_have_full_parity() -> None:
    assert validate_strings(DEFAULT_MESSAGES_DIR, "en") == []


def test_every_command_has_a_description_in_every_language() -> None:
    from supportbot.handlers.core import COMMAND_ORDER

    strings = Strings.load(DEFAULT_MESSAGES_DIR, "en")
    for lang in strings.languages:
        for command in COMMAND_ORDER:
            assert strings.table[lang].get(f"commands.{command}"), (lang, command)


def test_namespaces_nested_tables_and_fallback(tmp_path: Path) -> None:
    write(tmp_path / "en" / "ui.toml", '[a]\nhello = "Hi {name}"\nonly_en = "x"\n')
    write(tmp_path / "es" / "ui.toml", '[a]\nhello = "Hola {name}"\n')
    strings = Strings.load(tmp_path, "en")
    assert strings.t("es", "ui.a.hello", name="Ana") == "Hola Ana"
    assert strings.t("es", "ui.a.only_en") == "x"  # falls back to the default language
    assert strings.t("fr", "ui.a.hello", name="Ana") == "Hi Ana"
    with pytest.raises(KeyError):
        strings.t("en", "ui.nope")


def test_values_are_escaped_unless_raw(tmp_path: Path) -> None:
    write(tmp_path / "en" / "ui.toml", 'x = "<b>{v}</b>"\n')
    strings = Strings.load(tmp_path, "en")
    assert strings.t("en", "ui.x", v="<script>&") == "<b>&lt;script&gt;&amp;</b>"
    assert strings.t("en", "ui.x", v=Raw("<i>ok</i>")) == "<b><i>ok</i></b>"
    # Braces in client text are data, never a second format pass.
    assert strings.t("en", "ui.x", v="{name}") == "<b>{name}</b>"


def test_language_resolution() -> None:
    strings = Strings.load(DEFAULT_MESSAGES_DIR, "en")
    assert strings.resolve_language("es-MX") == "es"
    assert strings.resolve_language("ES") == "es"
    assert strings.resolve_language("pt-br") == "en"
    assert strings.resolve_language(None) == "en"
    assert strings.supports("es_AR") and not strings.supports("de")


def test_validation_reports_file_and_key(tmp_path: Path) -> None:
    write(tmp_path / "en" / "ui.toml", 'a = "Hi {name}"\nb = "B"\nc = "C"\n')
    write(tmp_path / "es" / "ui.toml", 'a = "Hola {nombre}"\nb = "B"\nextra = "E"\nbroken = "{x"\n')
    problems = validate_strings(tmp_path, "en")
    joined = "\n".join(problems)
    assert f"{tmp_path}/es/ui.toml:ui.a: placeholders" in joined
    assert f"{tmp_path}/es/ui.toml:ui.extra: extra key" in joined
    assert f"{tmp_path}/es/ui.toml:ui.c: missing" in joined
    assert f"{tmp_path}/es/ui.toml:ui.broken: broken placeholder" in joined


def test_placeholders() -> None:
    assert placeholders("a {x} b {y} {x}") == {"x", "y"}
    with pytest.raises(ValueError):
        placeholders("{oops")
