"""The crisis reply: texts follow the client's language, services follow their country.

Everything is read at start and the reply is assembled from memory in microseconds, so it can go
out first, with the database down. Output is Telegram HTML (send with parse_mode="HTML"): every
text from the files and every resource value is escaped; only <b> is added here.
`build` never raises: a broken template falls back to the default language, then to the bare parts.
"""

from __future__ import annotations

import html
import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from supportbot.safety.resources import CountryResources, Resources, Service

PARSE_MODE = "HTML"
MAX_CACHE = 4096

# Every reply text key, with the placeholders it may use.
TEMPLATE_KEYS: dict[str, frozenset[str]] = {
    "first_urgent": frozenset({"emergency", "services", "person", "hope", "automated"}),
    "first_concern": frozenset({"emergency", "services", "person", "hope", "automated"}),
    "repeat_urgent": frozenset({"emergency", "services", "person", "hope", "automated"}),
    "repeat_concern": frozenset({"emergency", "services", "person", "hope", "automated"}),
    "automated": frozenset(),
    "person": frozenset(),
    "hope": frozenset(),
    "directory": frozenset({"url"}),
    "safe_ack": frozenset(),
    "emergency.urgent": frozenset({"number"}),
    "emergency.concern": frozenset({"number"}),
    "emergency.unknown": frozenset(),
    "buttons.ground": frozenset(),
    "buttons.safe": frozenset(),
    "labels.phone": frozenset({"phone"}),
    "labels.text": frozenset({"text"}),
    "labels.text_keyword": frozenset({"keyword", "text"}),
    "labels.chat": frozenset({"chat"}),
    "labels.hours": frozenset({"hours"}),
    "labels.always_open": frozenset(),
}
# Placeholders a reply must contain: the services, the emergency number and the automated note.
REQUIRED: dict[str, frozenset[str]] = {
    k: frozenset({"emergency", "services", "automated"})
    for k in ("first_urgent", "first_concern", "repeat_urgent", "repeat_concern")
}
BUTTON_ACTIONS = ("ground", "safe")
ReplyLevel = Literal["urgent", "concern", "none"]


@dataclass(frozen=True, slots=True)
class CrisisReply:
    """Text (Telegram HTML) and buttons as (action, label) pairs; actions: "ground", "safe"."""

    text: str
    buttons: tuple[tuple[str, str], ...]
    parse_mode: str = PARSE_MODE


def placeholders(template: str) -> set[str]:
    """Names used in a str.format template; raises ValueError when the braces are malformed."""
    names = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field is not None:
            names.add(field.split(".")[0].split("[")[0])
    return names


def flatten_reply(table: Mapping[str, object], prefix: str = "") -> dict[str, object]:
    """{"emergency": {"urgent": ...}} -> {"emergency.urgent": ...}"""
    out: dict[str, object] = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_reply(v, key + "."))
        else:
            out[key] = v
    return out


def _esc(s: str) -> str:
    return html.escape(s, quote=False)


class CrisisReplies:
    """Reply texts per language plus the resources, ready to assemble."""

    def __init__(
        self,
        texts: Mapping[str, Mapping[str, str]],
        resources: Resources,
        default: str,
        problems: Sequence[str] = (),
    ) -> None:
        if default not in texts:
            raise ValueError(f"default language {default!r} has no crisis reply texts")
        self._texts = {lang: dict(t) for lang, t in texts.items()}
        self._resources = resources
        self._default = default
        self.problems = tuple(problems)
        self._cache: dict[tuple[str, str, str | None, bool, str, bool], CrisisReply] = {}

    @classmethod
    def load(
        cls,
        messages_dir: Path,
        languages: Sequence[str],
        resources: Resources,
        *,
        default: str | None = None,
    ) -> CrisisReplies:
        """Read [reply] from each language's crisis.toml (missing languages are skipped)."""
        texts: dict[str, dict[str, str]] = {}
        problems: list[str] = []
        for lang in languages:
            path = Path(messages_dir) / lang / "crisis.toml"
            try:
                with path.open("rb") as fh:
                    data = tomllib.load(fh)
            except (OSError, tomllib.TOMLDecodeError) as exc:
                problems.append(f"{lang}/crisis.toml: cannot be read ({exc})")
                continue
            reply = data.get("reply")
            if not isinstance(reply, dict):
                problems.append(f"{lang}/crisis.toml:reply: missing")
                continue
            flat = flatten_reply(reply)
            texts[lang] = {k: v for k, v in flat.items() if isinstance(v, str)}
        if not texts:
            raise ValueError(f"no crisis reply texts found in {messages_dir} for {list(languages)}")
        if default is None or default not in texts:
            default = "en" if "en" in texts else next(iter(texts))
        return cls(texts, resources, default, problems)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._texts)

    @property
    def resources(self) -> Resources:
        return self._resources

    def _t(self, lang: str, key: str) -> str:
        t = self._texts.get(lang, {}).get(key)
        if t is None:
            t = self._texts[self._default].get(key, "")
        return t

    def _fmt(self, lang: str, key: str, **values: str) -> str:
        """Escaped template, formatted; falls back to the default language if it is broken."""
        for use in (lang, self._default):
            try:
                return _esc(self._t(use, key)).format(**values)
            except (KeyError, ValueError, IndexError, AttributeError):
                continue
        return " ".join(values.values())

    def _service_line(self, lang: str, s: Service, fallback: bool) -> str:
        if fallback and s.chat and not s.phone and not s.text:
            return "• " + self._fmt(lang, "directory", url=_esc(s.chat))
        parts: list[str] = []
        if s.phone:
            parts.append(self._fmt(lang, "labels.phone", phone=_esc(s.phone)))
        if s.text:
            if s.text_keyword:
                parts.append(
                    self._fmt(
                        lang, "labels.text_keyword", keyword=_esc(s.text_keyword), text=_esc(s.text)
                    )
                )
            else:
                parts.append(self._fmt(lang, "labels.text", text=_esc(s.text)))
        if s.chat:
            parts.append(self._fmt(lang, "labels.chat", chat=_esc(s.chat)))
        if s.hours == "24/7":
            parts.append(self._fmt(lang, "labels.always_open"))
        elif s.hours:
            parts.append(self._fmt(lang, "labels.hours", hours=_esc(s.hours)))
        return f"• <b>{_esc(s.name)}</b>: " + " · ".join(parts)

    def _emergency(self, lang: str, country: CountryResources, level: str) -> str:
        if not country.emergency:
            return self._fmt(lang, "emergency.unknown")
        key = "emergency.urgent" if level == "urgent" else "emergency.concern"
        return self._fmt(lang, key, number=f"<b>{_esc(country.emergency)}</b>")

    def build(self, lang: str, country: str | None, level: str, repeat: bool) -> CrisisReply:
        """The reply for a client. `level` "urgent" puts the emergency number first; "concern"
        and "none" (e.g. /crisis on request) lead with the services. `repeat`: shorter."""
        if lang not in self._texts:
            lang = self._default
        lvl = "urgent" if level == "urgent" else "concern"
        res = self._resources.for_country(country)
        key = (lang, res.code if not res.fallback else "", res.emergency, repeat, lvl, res.fallback)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        services = "\n".join(self._service_line(lang, s, res.fallback) for s in res.services)
        values = {
            "emergency": self._emergency(lang, res, lvl),
            "services": services,
            "person": _esc(self._t(lang, "person")),
            "hope": _esc(self._t(lang, "hope")),
            "automated": _esc(self._t(lang, "automated")),
        }
        template = f"{'repeat' if repeat else 'first'}_{lvl}"
        text = self._fmt(lang, template, **values)
        if not text.strip():
            text = "\n\n".join(values[k] for k in ("emergency", "services", "automated"))
        buttons = tuple((a, self._t(lang, f"buttons.{a}")) for a in BUTTON_ACTIONS)
        reply = CrisisReply(text=text.strip(), buttons=buttons)
        if len(self._cache) >= MAX_CACHE:
            self._cache.clear()
        self._cache[key] = reply
        return reply

    def safe_ack(self, lang: str) -> str:
        """The acknowledgement after "I'm safe for now" (Telegram HTML, escaped)."""
        if lang not in self._texts:
            lang = self._default
        return _esc(self._t(lang, "safe_ack"))
