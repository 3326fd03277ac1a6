"""Interface strings from `messages/<lang>/*.toml`, flattened to dotted keys and rendered safely.

Each file's stem is a namespace (`ui.toml` -> `ui.start.welcome`), so features can keep their own file
and translators see one small file at a time. Structured catalogs (exercises, prompts, self-care, the
crisis lexicon) have their own loaders and are skipped here.
"""

from __future__ import annotations

import html
import string
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Files with their own loader and validator (content.library, safety, scheduling.parse).
STRUCTURED_FILES = frozenset({"crisis.toml", "prompts.toml", "selfcare.toml", "weekdays.toml"})
_FORMATTER = string.Formatter()


class Raw(str):
    """A value already safe for Telegram HTML (markup built by the bot itself); not escaped again."""

    __slots__ = ()


def placeholders(template: str) -> frozenset[str]:
    """The `{names}` a template uses; a template with broken braces yields a ValueError."""
    return frozenset(name for _, name, _, _ in _FORMATTER.parse(template) if name)


def _flatten(prefix: str, table: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in table.items():
        dotted = f"{prefix}.{key}"
        if isinstance(value, dict):
            yield from _flatten(dotted, value)
        else:
            yield dotted, value


def string_files(lang_dir: Path) -> list[Path]:
    return sorted(p for p in lang_dir.glob("*.toml") if p.name not in STRUCTURED_FILES)


def read_language(lang_dir: Path) -> dict[str, tuple[str, Path]]:
    """Every string key of one language, with the file it came from (for file:key problems)."""
    out: dict[str, tuple[str, Path]] = {}
    for path in string_files(lang_dir):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        for key, value in _flatten(path.stem, data):
            if isinstance(value, str):
                out[key] = (value, path)
    return out


@dataclass(frozen=True, slots=True)
class Strings:
    """All languages' strings, in memory; lookups never touch the disk or the database."""

    default: str
    table: Mapping[str, Mapping[str, str]]

    @classmethod
    def load(cls, messages_dir: Path, default: str) -> Strings:
        table: dict[str, dict[str, str]] = {}
        for lang_dir in sorted(p for p in messages_dir.iterdir() if p.is_dir()):
            table[lang_dir.name] = {k: v for k, (v, _) in read_language(lang_dir).items()}
        if default not in table:
            raise ValueError(f"default language {default!r} has no folder in {messages_dir}")
        return cls(default=default, table=table)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted(self.table))

    def resolve_language(self, code: str | None) -> str:
        """Map Telegram's language_code ("es-MX", "pt-br") to a supported language or the default."""
        if code:
            base = code.replace("_", "-").split("-")[0].lower()
            if base in self.table:
                return base
        return self.default

    def supports(self, code: str | None) -> bool:
        return bool(code) and code.replace("_", "-").split("-")[0].lower() in self.table  # type: ignore[union-attr]

    def raw(self, lang: str, key: str) -> str:
        """The template for `key`, falling back to the default language (the check reports gaps)."""
        found = self.table.get(lang, {}).get(key)
        if found is None:
            found = self.table[self.default].get(key)
        if found is None:
            raise KeyError(key)
        return found

    def t(self, lang: str, key: str, /, **values: object) -> str:
        """Render `key` for Telegram HTML: values are escaped unless they are `Raw`."""
        template = self.raw(lang, key)
        safe = {
            k: v if isinstance(v, Raw) else html.escape(str(v), quote=False)
            for k, v in values.items()
        }
        return template.format_map(safe)


def validate_strings(messages_dir: Path, default: str) -> list[str]:
    """Parity between languages: same keys, same placeholders, templates that parse."""
    problems: list[str] = []
    langs: dict[str, dict[str, tuple[str, Path]]] = {}
    for lang_dir in sorted(p for p in messages_dir.iterdir() if p.is_dir()):
        try:
            langs[lang_dir.name] = read_language(lang_dir)
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"{lang_dir}: invalid TOML: {exc}")
    if default not in langs:
        return [*problems, f"{messages_dir}/{default}: the default language folder is missing"]
    base = langs[default]
    for lang, entries in langs.items():
        for key, (template, path) in entries.items():
            try:
                names = placeholders(template)
            except ValueError as exc:
                problems.append(f"{path}:{key}: broken placeholder braces ({exc})")
                continue
            if lang == default:
                continue
            if key not in base:
                problems.append(f"{path}:{key}: extra key, not in {default}")
                continue
            try:
                base_names = placeholders(base[key][0])
            except ValueError:
                continue
            if names != base_names:
                problems.append(
                    f"{path}:{key}: placeholders {sorted(names)} differ from {default} {sorted(base_names)}"
                )
        if lang != default:
            for key, (_, path) in base.items():
                if key not in entries:
                    where = messages_dir / lang / path.name
                    problems.append(f"{where}:{key}: missing (falls back to {default})")
    return problems
