"""Forgiving parsers for what clients type: weekdays, times, durations, quiet hours, pause days.

Clients write "mié 17h", "Tuesday at 5:30pm", "el martes a las 5 de la tarde" or "1h30"; a parser
that insists on one format makes a stressed person feel stupid. So each parser accepts many shapes,
in the client's language and in English, ignores case and accents, and returns None for anything it
cannot read. None of them raises, whatever the input.

Weekday names come from Babel (CLDR), so any language Babel knows works for names. Extra words
(aliases, "noon", "de la tarde", unit words) come from `messages/<lang>/weekdays.toml`; adding a
language is adding that file. The parsers never log what they are given.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal

from .rules import NEXT_MORNING, QuietHours

#: Where `messages/<lang>/weekdays.toml` live (the repository's messages folder).
MESSAGES_DIR: Final = Path(__file__).resolve().parents[2] / "messages"
VOCABULARY_FILE: Final = "weekdays.toml"
FALLBACK_LANGUAGE: Final = "en"

#: Longest input any parser looks at; longer text is not a weekday or a time.
MAX_INPUT: Final = 200
#: Longest duration accepted (minutes): two weeks. Keeps arithmetic far from datetime's limits.
MAX_DURATION_MINUTES: Final = 14 * 24 * 60
MAX_PAUSE_DAYS: Final = 365

_WEEKDAY_KEYS: Final = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
#: Keys every vocabulary file has (section -> keys); used by validate_vocabulary.
VOCABULARY_SCHEMA: Final[Mapping[str, tuple[str, ...]]] = {
    "weekdays": _WEEKDAY_KEYS,
    "session": ("now", "off"),
    "time": ("noon", "midnight", "am", "pm", "night", "oclock"),
    "words": ("fillers", "until", "and", "one"),
    "duration": (
        "minutes",
        "hours",
        "days",
        "weeks",
        "half_hour",
        "and_a_half",
        "next_morning",
    ),
}

_LANG_RE: Final = re.compile(r"[a-z]{2,3}(?:_[a-z0-9]{2,8})*")
_EDGE_PUNCT: Final = ".,;:!?¡¿\"'()[]{}«»“”‘’"
_SPACE_RE: Final = re.compile(r"\s+")
# "p. m.", "p.m.", "P.M", "pm" -> "pm"; not "a mediodía" (the m must end the word).
_MERIDIEM_RE: Final = re.compile(r"(?<![a-z])([ap])\s*\.?\s*m\b\.?")
_LETTER_DIGIT_RE: Final = re.compile(r"([a-z]{2,})(\d)")
_TIME_RE: Final = re.compile(
    r"(?P<h>\d{1,2})(?:\s*(?:[:.,]|hs?)\s*(?P<m>\d{2}))?\s*(?:h|hs|hrs?)?\.?"
)
_COMPACT_TIME_RE: Final = re.compile(r"(?P<h>\d{1,2})(?P<m>\d{2})\s*(?:h|hs|hrs?)?")
_CLOCK_DURATION_RE: Final = re.compile(r"(?P<h>\d{1,3})\s*:\s*(?P<m>\d{2})")
_AMOUNT_RE: Final = re.compile(
    r"\s*(?:(?P<n>\d{1,6}(?:[.,]\d{1,3})?)\s*(?P<u>[mhdw])?\b|(?P<half>\+half))"
)
_DIGIT_LETTER_RE: Final = re.compile(r"(\d)([a-z+])")
_LETTER_DIGIT_ANY_RE: Final = re.compile(r"([a-z])(\d)")
_LONE_COMMA_RE: Final = re.compile(r",(?!\d)|(?<!\d),")
_UNIT_MINUTES: Final = {"m": 1, "h": 60, "d": 24 * 60, "w": 7 * 24 * 60}
_SMALLER_UNIT: Final = {"w": "d", "d": "h", "h": "m"}
_TYPO_CUTOFF: Final = 0.8
_TYPO_MARGIN: Final = 0.05
_RANGE_SEPARATORS: Final = ("-", "~", "/")


# --- normalisation -------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """Case-folded, accent-free, single-spaced text: "  MIÉRCOLES " -> "miercoles"."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(
        ch
        for ch in unicodedata.normalize("NFD", text)
        if (not unicodedata.combining(ch) and unicodedata.category(ch) not in ("Cf", "Cc", "Co"))
        or ch in "\t\n\r "
    )
    text = text.replace("’", "'").replace("`", "'")
    for dash in ("‐", "‑", "‒", "–", "—", "―", "−"):
        text = text.replace(dash, "-")
    return _SPACE_RE.sub(" ", text).strip()


def _prepare(text: str) -> str | None:
    """normalize(), bounded, with meridiems glued ("5 p. m." -> "5 pm"); None if too long."""
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        return None
    s = normalize(text)
    s = _MERIDIEM_RE.sub(lambda m: f" {m.group(1)}m ", s)
    s = _LETTER_DIGIT_RE.sub(r"\1 \2", s)
    return _SPACE_RE.sub(" ", s).strip()


def _tokens(s: str) -> list[str]:
    out = []
    for raw in s.split(" "):
        tok = raw.strip(_EDGE_PUNCT)
        if tok:
            out.append(tok)
    return out


def _clean_lang(lang: str | None) -> str:
    if not isinstance(lang, str):
        return FALLBACK_LANGUAGE
    cleaned = lang.strip().lower().replace("-", "_")
    return cleaned if _LANG_RE.fullmatch(cleaned) else FALLBACK_LANGUAGE


# --- vocabulary ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The normalised words of one language that the parsers understand."""

    lang: str
    weekday_names: Mapping[str, int]
    weekday_letters: Mapping[str, int]
    weekday_full: tuple[tuple[str, int], ...]
    now: frozenset[str]
    off: frozenset[str]
    noon: frozenset[str]
    midnight: frozenset[str]
    am: tuple[str, ...]
    pm: tuple[str, ...]
    night: tuple[str, ...]
    oclock: tuple[str, ...]
    fillers: frozenset[str]
    until: frozenset[str]
    and_words: frozenset[str]
    one: frozenset[str]
    minutes: frozenset[str]
    hours: frozenset[str]
    days: frozenset[str]
    weeks: frozenset[str]
    half_hour: tuple[str, ...]
    and_a_half: tuple[str, ...]
    next_morning: frozenset[str]


def _babel_day_names(lang: str) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(names, single letters) from CLDR; empty when Babel does not know the language."""
    try:
        from babel import Locale

        locale = Locale.parse(lang)
        names: list[tuple[str, int]] = []
        for width in ("wide", "abbreviated", "short"):
            for context in ("format", "stand-alone"):
                for day, name in locale.days[context][width].items():
                    names.append((normalize(str(name)).strip("."), int(day)))
        letters: list[tuple[str, int]] = []
        narrow = {int(d): normalize(str(n)) for d, n in locale.days["format"]["narrow"].items()}
        for day, letter in narrow.items():
            if list(narrow.values()).count(letter) == 1:
                letters.append((letter, day))
    except Exception:  # Babel raises several types for unknown or odd locales; names are optional.
        return [], []
    return names, letters


def _words(data: Mapping[str, Any], section: str, key: str) -> tuple[str, ...]:
    table = data.get(section)
    values = table.get(key, []) if isinstance(table, dict) else []
    if not isinstance(values, list):
        return ()
    words = (normalize(v) for v in values if isinstance(v, str))
    # Longest first, so "de la tarde" is tried before "tarde".
    return tuple(sorted({w for w in words if w}, key=lambda w: (-len(w), w)))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def load_vocabulary(lang: str, messages_dir: Path = MESSAGES_DIR) -> Vocabulary:
    """Build one language's vocabulary from Babel and `<messages_dir>/<lang>/weekdays.toml`."""
    lang = _clean_lang(lang)
    data = _read_toml(messages_dir / lang / VOCABULARY_FILE)
    if not data and "_" in lang:
        data = _read_toml(messages_dir / lang.split("_")[0] / VOCABULARY_FILE)
    names, letters = _babel_day_names(lang)
    weekday_names: dict[str, int] = {}
    weekday_letters: dict[str, int] = dict(letters)
    full: dict[str, int] = {}
    for name, day in names:
        if len(name) >= 2:
            weekday_names.setdefault(name, day)
            full.setdefault(name, day)
        elif name:
            weekday_letters.setdefault(name, day)
    for day, key in enumerate(_WEEKDAY_KEYS):
        for alias in _words(data, "weekdays", key):
            alias = alias.strip(".")
            target = weekday_names if len(alias) >= 2 else weekday_letters
            target.setdefault(alias, day)

    def words(section: str, key: str) -> tuple[str, ...]:
        return _words(data, section, key)

    return Vocabulary(
        lang=lang,
        weekday_names=weekday_names,
        weekday_letters=weekday_letters,
        weekday_full=tuple(sorted(full.items())),
        now=frozenset(words("session", "now")),
        off=frozenset(words("session", "off")),
        noon=frozenset(words("time", "noon")),
        midnight=frozenset(words("time", "midnight")),
        am=words("time", "am"),
        pm=words("time", "pm"),
        night=words("time", "night"),
        oclock=words("time", "oclock"),
        fillers=frozenset(words("words", "fillers")),
        until=frozenset(words("words", "until")),
        and_words=frozenset(words("words", "and")),
        one=frozenset(words("words", "one")),
        minutes=frozenset(words("duration", "minutes")),
        hours=frozenset(words("duration", "hours")),
        days=frozenset(words("duration", "days")),
        weeks=frozenset(words("duration", "weeks")),
        half_hour=words("duration", "half_hour"),
        and_a_half=words("duration", "and_a_half"),
        next_morning=frozenset(words("duration", "next_morning")),
    )


@lru_cache(maxsize=64)
def vocabulary(lang: str) -> Vocabulary:
    """The cached vocabulary of one language, from the repository's messages folder."""
    return load_vocabulary(lang)


@lru_cache(maxsize=1)
def vocabulary_languages() -> tuple[str, ...]:
    """Languages with a vocabulary file, English first."""
    try:
        found = sorted(
            p.name
            for p in MESSAGES_DIR.iterdir()
            if p.is_dir() and (p / VOCABULARY_FILE).is_file() and _LANG_RE.fullmatch(p.name)
        )
    except OSError:
        found = []
    return tuple(sorted(set(found) | {FALLBACK_LANGUAGE}, key=lambda x: x != FALLBACK_LANGUAGE))


def _vocabs(lang: str | None) -> list[Vocabulary]:
    """The client's language first, then English, then every other language we have words for."""
    order: list[str] = []
    if lang is not None:
        order.append(_clean_lang(lang))
    for other in vocabulary_languages():
        if other not in order:
            order.append(other)
    return [vocabulary(code) for code in order]


def validate_vocabulary(messages_dir: Path = MESSAGES_DIR) -> list[str]:
    """Problems in the vocabulary files (missing/extra keys, non-string words); empty when fine."""
    problems: list[str] = []
    try:
        dirs = sorted(p for p in messages_dir.iterdir() if p.is_dir())
    except OSError as exc:
        return [f"{messages_dir}: cannot list ({exc.strerror})"]
    for lang_dir in dirs:
        path = lang_dir / VOCABULARY_FILE
        if not path.is_file():
            problems.append(f"{path}: missing (weekday and time words for parsing)")
            continue
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{path}: cannot read ({exc})")
            continue
        for section, keys in VOCABULARY_SCHEMA.items():
            table = data.get(section)
            if not isinstance(table, dict):
                problems.append(f"{path}: missing table [{section}]")
                continue
            for key in keys:
                value = table.get(key)
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    problems.append(f"{path}:{section}.{key}: must be a list of strings")
            problems.extend(
                f"{path}:{section}.{extra}: unknown key" for extra in sorted(set(table) - set(keys))
            )
        extra_tables = sorted(set(data) - set(VOCABULARY_SCHEMA))
        problems.extend(f"{path}: unknown table [{extra}]" for extra in extra_tables)
    return problems


def _strip_fillers(tokens: Sequence[str], fillers: Iterable[str]) -> list[str]:
    words = set(fillers)
    out = list(tokens)
    while out and out[0] in words:
        out.pop(0)
    while out and out[-1] in words:
        out.pop()
    return out


def _all_fillers(vocabs: Iterable[Vocabulary]) -> set[str]:
    words: set[str] = set()
    for v in vocabs:
        words |= v.fillers
    return words


# --- weekdays ------------------------------------------------------------------------------------


def _lookup_weekday(token: str, vocabs: Sequence[Vocabulary]) -> int | None:
    token = token.strip(_EDGE_PUNCT)
    if not token:
        return None
    candidates = [token]
    if len(token) > 3 and token.endswith("s"):
        candidates.append(token[:-1])  # "mondays", "sábados"
    for i, v in enumerate(vocabs):
        for cand in candidates:
            if cand in v.weekday_names:
                return v.weekday_names[cand]
            if i == 0 and cand in v.weekday_letters:  # single letters only in the client's language
                return v.weekday_letters[cand]
    if len(token) >= 2:
        for v in vocabs:
            days = {day for name, day in v.weekday_full if name.startswith(token)}
            if len(days) == 1:
                return days.pop()
    if len(token) >= 5:  # typos: "wendesday", "thrusday", "miercoels"
        best: dict[int, float] = {}
        for v in vocabs:
            for name, day in v.weekday_full:
                score = difflib.SequenceMatcher(None, token, name).ratio()
                best[day] = max(best.get(day, 0.0), score)
        ranked = sorted(best.items(), key=lambda item: -item[1])
        if ranked and ranked[0][1] >= _TYPO_CUTOFF:
            runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
            if ranked[0][1] - runner_up >= _TYPO_MARGIN:  # "thrusday" is Thursday, not Tuesday
                return ranked[0][0]
    return None


def parse_weekday(text: str, lang: str = FALLBACK_LANGUAGE) -> int | None:
    """0 (Monday) .. 6 (Sunday) from a weekday name or abbreviation, or None."""
    s = _prepare(text)
    if not s:
        return None
    vocabs = _vocabs(lang)
    tokens = _strip_fillers(_tokens(s), _all_fillers(vocabs))
    if len(tokens) != 1:
        return None
    return _lookup_weekday(tokens[0], vocabs)


# --- times ---------------------------------------------------------------------------------------


def _strip_suffix(s: str, phrases: Iterable[str]) -> str | None:
    for phrase in phrases:
        if s == phrase:
            return ""
        if s.endswith(" " + phrase):
            return s[: -len(phrase) - 1].rstrip()
    return None


def _apply_meridiem(hour: int, meridiem: str | None) -> int | None:
    if meridiem is None:
        return hour if 0 <= hour <= 23 else None
    if hour == 0 or hour > 23:
        return None
    if hour > 12:  # "17pm": a common slip; 24-hour time already says it
        return hour if meridiem in ("pm", "night") else None
    if meridiem == "am":
        return 0 if hour == 12 else hour
    if meridiem == "pm":
        return 12 if hour == 12 else hour + 12
    # night: "10 de la noche" = 22, "12 de la noche" = 0, "2 de la noche" = 2
    if hour == 12:
        return 0
    return hour if hour <= 4 else hour + 12


def _parse_time_in(s: str, vocabs: Sequence[Vocabulary]) -> time | None:
    s = " ".join(_strip_fillers(_tokens(s), _all_fillers(vocabs)))
    if not s:
        return None
    for v in vocabs:
        if s in v.noon:
            return time(12, 0)
        if s in v.midnight:
            return time(0, 0)
    meridiem: str | None = None
    for glued in ("am", "pm"):
        if s.endswith(glued) and s[:-2].rstrip()[-1:].isdigit():
            s, meridiem = s[:-2].rstrip(), glued
            break
    if meridiem is None:
        for kind in ("night", "pm", "am"):
            for v in vocabs:
                rest = _strip_suffix(s, getattr(v, kind))
                if rest:
                    s, meridiem = rest, kind
                    break
            if meridiem is not None:
                break
    for v in vocabs:
        rest = _strip_suffix(s, v.oclock)
        if rest:
            s = rest
            break
    match = _TIME_RE.fullmatch(s) or _COMPACT_TIME_RE.fullmatch(s)
    if match is None:
        return None
    hour = _apply_meridiem(int(match["h"]), meridiem)
    minute = int(match["m"]) if match["m"] is not None else 0
    if hour is None or not 0 <= minute <= 59:
        return None
    return time(hour, minute)


def parse_time(text: str, lang: str | None = None) -> time | None:
    """A local wall-clock time: "17:00", "5pm", "5:30 p. m.", "17h", "17.30", "noon", "mediodía"."""
    s = _prepare(text)
    if not s:
        return None
    return _parse_time_in(s, _vocabs(lang))


def parse_weekday_time(text: str, lang: str = FALLBACK_LANGUAGE) -> tuple[int, time] | None:
    """(weekday, time) from "tue 5pm", "martes 17:00", "Tuesday at 17:30", "5pm on tue"."""
    s = _prepare(text)
    if not s:
        return None
    vocabs = _vocabs(lang)
    fillers = _all_fillers(vocabs)
    tokens = _tokens(s)
    for k in range(1, len(tokens)):
        head, tail = tokens[:k], tokens[k:]
        for day_part, time_part in ((head, tail), (tail, head)):
            day_tokens = _strip_fillers(day_part, fillers)
            if len(day_tokens) != 1:
                continue
            day = _lookup_weekday(day_tokens[0], vocabs)
            if day is None:
                continue
            at = _parse_time_in(" ".join(time_part), vocabs)
            if at is not None:
                return day, at
    return None


def parse_session_arg(
    text: str, lang: str = FALLBACK_LANGUAGE
) -> tuple[int, time] | Literal["now", "off"] | None:
    """The argument of /session: "now" (just finished), "off", or a weekday and time."""
    s = _prepare(text)
    if not s:
        return None
    vocabs = _vocabs(lang)
    bare = " ".join(_tokens(s))
    for v in vocabs:
        if bare in v.now:
            return "now"
        if bare in v.off:
            return "off"
    return parse_weekday_time(text, lang)


# --- durations and days --------------------------------------------------------------------------


def _replace_phrases(s: str, phrases: Iterable[str], repl: str) -> str:
    for phrase in phrases:
        s = re.sub(rf"(?<![\w+]){re.escape(phrase)}(?!\w)", repl, s)
    return s


def _amount_minutes(s: str, vocabs: Sequence[Vocabulary], default_unit: str) -> int | None:
    """Total minutes in "2h", "1h30", "90 min", "1.5 horas", "an hour and a half", "2 weeks"."""
    clock = _CLOCK_DURATION_RE.fullmatch(s)
    if clock is not None:
        minutes = int(clock["m"])
        return int(clock["h"]) * 60 + minutes if minutes < 60 else None
    for v in vocabs:
        s = _replace_phrases(s, v.half_hour, " 30 m ")
        s = _replace_phrases(s, v.and_a_half, " +half ")
    unit_words: list[tuple[str, str]] = []
    for v in vocabs:
        unit_words += [(w, "w") for w in v.weeks] + [(w, "d") for w in v.days]
        unit_words += [(w, "h") for w in v.hours] + [(w, "m") for w in v.minutes]
    unit_words.sort(key=lambda item: -len(item[0]))
    s = _DIGIT_LETTER_RE.sub(r"\1 \2", s)
    s = _LETTER_DIGIT_ANY_RE.sub(r"\1 \2", s)
    s = _LONE_COMMA_RE.sub(" , ", s)
    tokens: list[str] = []
    units = dict(unit_words)
    ones: set[str] = set()
    joins: set[str] = set()
    for v in vocabs:
        ones |= v.one
        joins |= v.and_words
    for tok in _tokens(s):
        if tok in units:
            tokens.append(units[tok])
        elif tok in ones:
            tokens.append("1")
        elif tok in joins or tok == ",":
            continue
        else:
            tokens.append(tok)
    text = " ".join(tokens)
    parts: list[tuple[float, str | None] | str] = []
    pos = 0
    while pos < len(text):
        match = _AMOUNT_RE.match(text, pos)
        if match is None or match.end() == pos:
            return None
        if match["half"]:
            parts.append("half")
        else:
            parts.append((float(match["n"].replace(",", ".")), match["u"]))
        pos = match.end()
        while pos < len(text) and text[pos] == " ":
            pos += 1
    if not parts:
        return None
    total = 0.0
    last_unit: str | None = None
    for i, part in enumerate(parts):
        if part == "half":
            if last_unit is None:
                return None
            total += 0.5 * _UNIT_MINUTES[last_unit]
            continue
        assert not isinstance(part, str)
        number, unit = part
        if unit is None:
            if i == 0 and len(parts) == 1:
                unit = default_unit
            elif last_unit in _SMALLER_UNIT:
                unit = _SMALLER_UNIT[last_unit]  # "1h30" -> 30 minutes
            else:
                return None
        total += number * _UNIT_MINUTES[unit]
        last_unit = unit
    if total > 10 * MAX_PAUSE_DAYS * 24 * 60:
        return None
    rounded = round(total)
    return rounded if abs(total - rounded) < 1e-6 else None


def parse_duration_minutes(text: str, lang: str | None = None) -> int | None:
    """Minutes from "30m", "90 min", "2h", "1h30", "2 horas"; NEXT_MORNING for "next morning"."""
    s = _prepare(text)
    if not s:
        return None
    vocabs = _vocabs(lang)
    bare = " ".join(_tokens(s))
    for v in vocabs:
        if bare in v.next_morning:
            return NEXT_MORNING
    minutes = _amount_minutes(bare, vocabs, default_unit="m")
    if minutes is None or not 0 < minutes <= MAX_DURATION_MINUTES:
        return None
    return minutes


def parse_days(text: str, lang: str | None = None) -> int | None:
    """Whole days (1..365) for /pause: "3", "3 days", "3 días", "a week", "2 semanas"."""
    s = _prepare(text)
    if not s:
        return None
    minutes = _amount_minutes(" ".join(_tokens(s)), _vocabs(lang), default_unit="d")
    if minutes is None or minutes % (24 * 60):
        return None
    days = minutes // (24 * 60)
    return days if 1 <= days <= MAX_PAUSE_DAYS else None


# --- quiet hours ---------------------------------------------------------------------------------


def parse_quiet_hours(text: str, lang: str | None = None) -> QuietHours | None:
    """Quiet hours from "22:00-08:00", "10pm-7am", "22-8", "from 10pm to 7am", "de 22 a 8"."""
    s = _prepare(text)
    if not s:
        return None
    vocabs = _vocabs(lang)
    for sep in _RANGE_SEPARATORS:
        s = s.replace(sep, f" {sep} ")
    tokens = _tokens(s) if s else []
    separators = set(_RANGE_SEPARATORS) | {"and", "y"}
    for v in vocabs:
        separators |= v.until | v.and_words
    for i, tok in enumerate(tokens):
        if tok not in separators or i == 0:
            continue
        start = _parse_time_in(" ".join(tokens[:i]), vocabs)
        end = _parse_time_in(" ".join(tokens[i + 1 :]), vocabs)
        if start is not None and end is not None and start != end:
            return QuietHours(start, end)
    return None
