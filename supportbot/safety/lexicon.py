"""The crisis lexicon: reading `messages/<lang>/crisis.toml` into compiled patterns.

Patterns are written for clinicians (see the comment block at the top of crisis.toml) and compiled
(in `patterns`) to small regular expressions over *normalised* text, plus anchor words. The
screener only runs a pattern's regex when its anchor words are in the message, which keeps
screening fast no matter how large the lexicon grows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from supportbot.safety.normalise import normalise

if TYPE_CHECKING:
    from supportbot.safety.concepts import ConceptRule, Concepts

Level = Literal["urgent", "concern"]
LEVELS: tuple[Level, ...] = ("urgent", "concern")
# Screening reports the first of these when several match at the same level.
CATEGORIES: tuple[str, ...] = (
    "suicide",
    "plan_means",
    "farewell",
    "self_harm",
    "harm_to_others",
    "danger_from_others",
    "passive_ideation",
    "burden",
)
CONFIG_TABLES = frozenset(
    {"macros", "typos", "negation", "exceptions", "reply", "concepts", "concept_rules"}
)
GAP_WORDS = 3
MAX_EXPANSIONS = 64
MIN_COMPACT = 8


class LexiconError(ValueError):
    """A pattern or lexicon table that cannot be compiled; `key` locates it in the file."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class Pattern:
    """One compiled lexicon pattern."""

    lang: str
    category: str
    level: Level
    key: str
    source: str
    regex: str
    anchors: frozenset[str]
    prefixes: frozenset[str]
    compact: tuple[str, ...]
    words: frozenset[str]
    # A second set of words one of which every match also contains (empty: none known). The
    # screener runs the regex only when the message has an anchor AND one of these.
    second: frozenset[str] = frozenset()
    # Written with a leading "!": an explicit phrase that no idiom exception may cancel.
    explicit: bool = False


# --- a language's lexicon -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lexicon:
    """A language's compiled lexicon plus the problems found while reading it."""

    lang: str
    patterns: tuple[Pattern, ...]
    exceptions: tuple[Pattern, ...]
    typo_words: tuple[str, ...]
    not_typos: frozenset[str]
    # Known misspellings of short words, word -> correct word ("wnat" -> "want").
    variants: tuple[tuple[str, str], ...]
    negation_cues: frozenset[str]
    negation_bridges: frozenset[str]
    categories: frozenset[str]
    problems: tuple[str, ...]
    # The compositional layer (see `concepts`): word sets by name, and rules over them.
    concepts: Concepts = ()
    concept_rules: tuple[ConceptRule, ...] = ()


def _str_list(value: object, key: str, problems: list[str]) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{key}: must be a list of texts")
        return []
    return list(value)


def _words(values: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for v in values:
        out.update(normalise(v).split())
    return frozenset(out)


def build_lexicon(lang: str, data: Mapping[str, object], file: str) -> Lexicon:
    """Compile a parsed crisis.toml; never raises on bad content, collects problems instead."""
    problems: list[str] = []
    macros_raw = data.get("macros", {})
    macros: dict[str, list[str]] = {}
    if isinstance(macros_raw, dict):
        for name, entries in macros_raw.items():
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
                problems.append(f"{file}:macros.{name}: macro names use a-z, 0-9 and _")
                continue
            macros[name] = _str_list(entries, f"{file}:macros.{name}", problems)
    else:
        problems.append(f"{file}:macros: must be a table")

    from supportbot.safety.patterns import Alt, Compiler, compile_pattern

    patterns: list[Pattern] = []
    categories: set[str] = set()
    cache: dict[str, Alt] = {}
    compiler = Compiler()
    for cat, table in data.items():
        if cat in CONFIG_TABLES:
            continue
        if not isinstance(table, dict):
            problems.append(f"{file}:{cat}: must be a table with 'urgent' and/or 'concern' lists")
            continue
        categories.add(cat)
        unknown = set(table) - {"urgent", "concern", "note"}
        for u in sorted(unknown):
            problems.append(f"{file}:{cat}.{u}: unknown key; use 'urgent', 'concern' or 'note'")
        for level in LEVELS:
            for i, src in enumerate(
                _str_list(table.get(level, []), f"{file}:{cat}.{level}", problems)
            ):
                key = f"{file}:{cat}.{level}[{i}]"
                try:
                    patterns.append(
                        compile_pattern(
                            src,
                            lang=lang,
                            category=cat,
                            level=level,
                            key=key,
                            macros=macros,
                            cache=cache,
                            compiler=compiler,
                        )
                    )
                except LexiconError as exc:
                    problems.append(f"{exc.key}: {exc.message}")

    exceptions: list[Pattern] = []
    exc_table = data.get("exceptions", {})
    exc_list = exc_table.get("patterns", []) if isinstance(exc_table, dict) else []
    for i, src in enumerate(_str_list(exc_list, f"{file}:exceptions.patterns", problems)):
        key = f"{file}:exceptions.patterns[{i}]"
        try:
            exceptions.append(
                compile_pattern(
                    src,
                    lang=lang,
                    category="exception",
                    level="concern",
                    key=key,
                    macros=macros,
                    cache=cache,
                    compiler=compiler,
                )
            )
        except LexiconError as exc:
            problems.append(f"{exc.key}: {exc.message}")

    typos = data.get("typos", {})
    typo_words: list[str] = []
    not_typos: frozenset[str] = frozenset()
    variants: dict[str, str] = {}
    if isinstance(typos, dict):
        for i, w in enumerate(_str_list(typos.get("words", []), f"{file}:typos.words", problems)):
            n = normalise(w)
            if " " in n or len(n) < 5:
                problems.append(f"{file}:typos.words[{i}]: {w!r} must be one word of 5+ letters")
                continue
            typo_words.append(n)
        not_typos = _words(
            _str_list(typos.get("not_typos", []), f"{file}:typos.not_typos", problems)
        )
        raw_variants = typos.get("variants", {})
        if not isinstance(raw_variants, dict):
            problems.append(f"{file}:typos.variants: must be a table of misspelling = word")
            raw_variants = {}
        for wrong, right in raw_variants.items():
            w, r = normalise(str(wrong)), normalise(str(right)) if isinstance(right, str) else ""
            if not w or " " in w or not r or " " in r:
                problems.append(f"{file}:typos.variants.{wrong}: both sides must be one word")
                continue
            variants[w] = r

    neg = data.get("negation", {})
    cues: frozenset[str] = frozenset()
    bridges: frozenset[str] = frozenset()
    if isinstance(neg, dict):
        cues = _words(_str_list(neg.get("cues", []), f"{file}:negation.cues", problems))
        bridges = _words(_str_list(neg.get("bridges", []), f"{file}:negation.bridges", problems))

    from supportbot.safety.concepts import build_concepts

    concepts, concept_rules = build_concepts(data, file, problems)

    return Lexicon(
        lang=lang,
        patterns=tuple(patterns),
        exceptions=tuple(exceptions),
        typo_words=tuple(typo_words),
        not_typos=not_typos,
        variants=tuple(sorted(variants.items())),
        negation_cues=cues,
        negation_bridges=bridges,
        categories=frozenset(categories),
        problems=tuple(problems),
        concepts=concepts,
        concept_rules=concept_rules,
    )
