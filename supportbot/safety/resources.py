"""Crisis services per country, from `messages/resources.toml`.

Loaded once into frozen dataclasses so the crisis reply is built from memory. Loading never
raises on bad entries: it skips what cannot be shown safely and reports every problem, so one
typo in one country never takes the crisis reply down for everyone.
"""

from __future__ import annotations

import datetime as _dt
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MAX_SERVICES = 3
INTERNATIONAL = "INTL"
_CODE = re.compile(r"[A-Z]{2}")
_NUMBER = re.compile(r"[0-9*#+][0-9 ()*#+\-/.]*")
_SERVICE_KEYS = frozenset(
    {
        "name",
        "phone",
        "text",
        "text_keyword",
        "chat",
        "hours",
        "source",
        "checked",
        "verified",
        "note",
    }
)
_COUNTRY_KEYS = frozenset({"name", "emergency", "services", "verified", "note"})


@dataclass(frozen=True, slots=True)
class Service:
    """One helpline. At least one of phone, text or chat is set."""

    name: str
    phone: str | None
    text: str | None
    text_keyword: str | None
    chat: str | None
    hours: str
    source: str
    checked: str  # "YYYY-MM-DD", or "unverified"
    verified: bool
    note: str | None = None


@dataclass(frozen=True, slots=True)
class CountryResources:
    """What the crisis reply shows for one country (`fallback`: the international directory)."""

    code: str
    name: str
    emergency: str | None
    services: tuple[Service, ...]
    fallback: bool
    verified: bool


def _problem(problems: list[str], file: str, key: str, msg: str) -> None:
    problems.append(f"{file}:{key}: {msg}")


def _opt_str(
    entry: Mapping[str, object], field: str, problems: list[str], file: str, key: str
) -> str | None:
    v = entry.get(field)
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip():
        _problem(problems, file, f"{key}.{field}", "must be a non-empty text")
        return None
    return v.strip()


def _service(entry: object, file: str, key: str, problems: list[str]) -> Service | None:
    if not isinstance(entry, dict):
        _problem(problems, file, key, "must be a table")
        return None
    for extra in sorted(set(entry) - _SERVICE_KEYS):
        _problem(problems, file, f"{key}.{extra}", "unknown field")
    name = _opt_str(entry, "name", problems, file, key)
    phone = _opt_str(entry, "phone", problems, file, key)
    text = _opt_str(entry, "text", problems, file, key)
    keyword = _opt_str(entry, "text_keyword", problems, file, key)
    chat = _opt_str(entry, "chat", problems, file, key)
    hours = _opt_str(entry, "hours", problems, file, key)
    source = _opt_str(entry, "source", problems, file, key)
    checked = _opt_str(entry, "checked", problems, file, key)
    note = _opt_str(entry, "note", problems, file, key)
    verified = entry.get("verified")
    ok = True
    if name is None:
        _problem(problems, file, f"{key}.name", "missing")
        ok = False
    if phone is None and text is None and chat is None:
        _problem(problems, file, key, "needs at least one of phone, text or chat")
        ok = False
    for field, value in (("phone", phone), ("text", text)):
        if value is not None and not _NUMBER.fullmatch(value):
            _problem(problems, file, f"{key}.{field}", f"{value!r} does not look like a number")
            ok = False
    if keyword is not None and text is None:
        _problem(problems, file, f"{key}.text_keyword", "needs `text` (the number to send it to)")
    if chat is not None and not chat.startswith("https://"):
        _problem(problems, file, f"{key}.chat", "must be an https:// address")
        ok = False
    if hours is None:
        _problem(problems, file, f"{key}.hours", 'missing (write "24/7" or the opening hours)')
        hours = ""
    if source is None:
        _problem(problems, file, f"{key}.source", "missing: where were these details taken from?")
    elif not source.startswith("https://"):
        _problem(problems, file, f"{key}.source", "must be an https:// address")
    if not isinstance(verified, bool):
        _problem(problems, file, f"{key}.verified", "missing: true or false")
        verified = False
    if checked is None:
        _problem(problems, file, f"{key}.checked", "missing: the date it was checked, YYYY-MM-DD")
    elif checked == "unverified":
        if verified:
            _problem(
                problems, file, f"{key}.verified", "cannot be true while checked is unverified"
            )
            verified = False
    else:
        try:
            _dt.date.fromisoformat(checked)
        except ValueError:
            _problem(problems, file, f"{key}.checked", f"{checked!r} is not YYYY-MM-DD")
    if not ok or name is None:
        return None
    return Service(
        name=name,
        phone=phone,
        text=text,
        text_keyword=keyword if text is not None else None,
        chat=chat,
        hours=hours,
        source=source or "",
        checked=checked or "",
        verified=verified,
        note=note,
    )


def _services(value: object, file: str, key: str, problems: list[str]) -> tuple[Service, ...]:
    if not isinstance(value, list) or not value:
        _problem(problems, file, key, "needs at least one [[...services]] entry")
        return ()
    if len(value) > MAX_SERVICES:
        _problem(problems, file, key, f"has {len(value)} services; show at most {MAX_SERVICES}")
    out = [_service(e, file, f"{key}[{i}]", problems) for i, e in enumerate(value)]
    return tuple(s for s in out if s is not None)[:MAX_SERVICES]


class Resources:
    """All countries' services plus the international fallback."""

    def __init__(
        self,
        countries: Mapping[str, CountryResources],
        international: tuple[Service, ...],
        emergency_numbers: Mapping[str, str],
        problems: tuple[str, ...] = (),
    ) -> None:
        self._countries = dict(countries)
        self._international = international
        self._emergency = dict(emergency_numbers)
        self.problems = problems

    @classmethod
    def load(cls, path: Path) -> Resources:
        """Read resources.toml (or `<path>/resources.toml` for the messages folder).

        Invalid entries are skipped and listed in `problems`; an unreadable file raises.
        """
        path = Path(path)
        if path.is_dir():
            path = path / "resources.toml"
        file = f"{path.parent.name}/{path.name}"
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        return cls.from_data(data, file)

    @classmethod
    def from_data(cls, data: Mapping[str, object], file: str = "resources.toml") -> Resources:
        problems: list[str] = []
        intl = data.get("international")
        international: tuple[Service, ...] = ()
        if isinstance(intl, dict):
            international = _services(
                intl.get("services"), file, "international.services", problems
            )
        else:
            _problem(problems, file, "international", "missing: the fallback for other countries")

        emergency: dict[str, str] = {}
        em = data.get("emergency_numbers", {})
        numbers = em.get("numbers", {}) if isinstance(em, dict) else {}
        if isinstance(numbers, dict):
            for code, num in numbers.items():
                if not _CODE.fullmatch(code):
                    _problem(problems, file, f"emergency_numbers.{code}", "not an ISO code")
                elif not isinstance(num, str) or not _NUMBER.fullmatch(num):
                    _problem(problems, file, f"emergency_numbers.{code}", "not a number")
                else:
                    emergency[code] = num

        countries: dict[str, CountryResources] = {}
        raw = data.get("countries", {})
        if not isinstance(raw, dict):
            _problem(problems, file, "countries", "must be a table")
            raw = {}
        for code, entry in raw.items():
            key = f"countries.{code}"
            if not _CODE.fullmatch(code):
                _problem(problems, file, key, "use the two-letter ISO code in capitals")
                continue
            if not isinstance(entry, dict):
                _problem(problems, file, key, "must be a table")
                continue
            for extra in sorted(set(entry) - _COUNTRY_KEYS):
                _problem(problems, file, f"{key}.{extra}", "unknown field")
            name = entry.get("name")
            if not isinstance(name, str) or not name.strip():
                _problem(problems, file, f"{key}.name", "missing")
                name = code
            num = entry.get("emergency")
            if not isinstance(num, str) or not _NUMBER.fullmatch(num):
                _problem(problems, file, f"{key}.emergency", "missing or not a number")
                num = emergency.get(code)
            services = _services(entry.get("services"), file, f"{key}.services", problems)
            if not services:
                continue
            country_verified = entry.get("verified", True)
            if not isinstance(country_verified, bool):
                _problem(problems, file, f"{key}.verified", "must be true or false")
                country_verified = False
            countries[code] = CountryResources(
                code=code,
                name=name,
                emergency=num,
                services=services,
                fallback=False,
                verified=country_verified and all(s.verified for s in services),
            )
        return cls(countries, international, emergency, tuple(problems))

    @property
    def countries(self) -> tuple[str, ...]:
        return tuple(sorted(self._countries))

    def for_country(self, code: str | None) -> CountryResources:
        """The country's services; unknown or missing codes get the international directory."""
        norm = (code or "").strip().upper()
        found = self._countries.get(norm)
        if found is not None:
            return found
        return CountryResources(
            code=norm or INTERNATIONAL,
            name="",
            emergency=self._emergency.get(norm),
            services=self._international,
            fallback=True,
            verified=False,
        )

    def unverified(self) -> list[str]:
        """Entries a reviewer still has to check against their source."""
        out = []
        for code in self.countries:
            c = self._countries[code]
            for s in c.services:
                if not s.verified:
                    out.append(f"{code}: {s.name} (checked: {s.checked})")
            if all(s.verified for s in c.services) and not c.verified:
                out.append(f"{code}: emergency number {c.emergency}")
        return out
