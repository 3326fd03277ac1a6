"""Grounding exercises, reflection prompts and self-care ideas, read from ``messages/<lang>/``.

Pure (stdlib only, no telegram, no other supportbot package) so the bot, ``supportbot check`` and
the tests all read and judge content the same way.

Layout (documented for editors in messages/README.md)::

    messages/<lang>/exercises/<id>.toml  id, order, title, summary, kind, cycles, [[steps]]
    messages/<lang>/prompts.toml         [[prompts]] id, moment, text
    messages/<lang>/selfcare.toml        [[ideas]] id, category, text

Two kinds of problem exist. A *file* problem (bad TOML, a missing field, an unknown kind, seconds
out of range...) makes ``Library.load`` refuse to start: a broken file must never reach a client. A
*parity* problem (a translation missing an item, or disagreeing with the default language about its
structure or placeholders) is reported by ``validate_library`` so ``supportbot check`` fails, but at
run time the affected item falls back to the default language's version, so a half-finished
translation degrades to the default language instead of breaking a flow.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CATEGORIES",
    "KINDS",
    "MAX_CYCLES",
    "MAX_SECONDS",
    "MAX_TEXT",
    "MAX_TITLE",
    "MIN_SECONDS",
    "MOMENTS",
    "ContentError",
    "Exercise",
    "Library",
    "Prompt",
    "SelfCareIdea",
    "Step",
    "validate_library",
]

KINDS: tuple[str, ...] = ("steps", "breathing")
MOMENTS: tuple[str, ...] = ("after_session", "after_crying", "during_week", "before_session")
CATEGORIES: tuple[str, ...] = ("rest", "body", "mind", "connect", "enjoy", "therapy")

MIN_SECONDS = 1
MAX_SECONDS = 30
MAX_CYCLES = 20
MAX_TEXT = 1000
# Titles become button labels; Telegram truncates long ones on small screens.
MAX_TITLE = 64
# Ids travel inside callback_data (64 bytes in all), so they stay short and ASCII.
_ID_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")

_EXERCISE_KEYS = frozenset({"id", "order", "title", "summary", "kind", "cycles", "steps"})
_STEP_KEYS = frozenset({"text", "seconds"})
_PROMPT_KEYS = frozenset({"id", "moment", "text"})
_IDEA_KEYS = frozenset({"id", "category", "text"})

_PROMPTS_FILE = "prompts.toml"
_SELFCARE_FILE = "selfcare.toml"
_EXERCISES_DIR = "exercises"


@dataclass(frozen=True, slots=True)
class Step:
    """One line of an exercise; ``seconds``: how long it stays up when the exercise paces itself."""

    text: str
    seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Exercise:
    """A grounding exercise shown step by step in one message edited in place."""

    id: str
    title: str
    summary: str
    kind: str
    cycles: int
    steps: tuple[Step, ...]
    order: int = 0

    @property
    def paced(self) -> bool:
        """True when the exercise can run itself on a timer (breathing, every step timed)."""
        return (
            self.kind == "breathing"
            and bool(self.steps)
            and all(step.seconds is not None for step in self.steps)
        )


@dataclass(frozen=True, slots=True)
class Prompt:
    """A reflection question, tagged with the moment it fits."""

    id: str
    moment: str
    text: str


@dataclass(frozen=True, slots=True)
class SelfCareIdea:
    """A small suggestion for looking after oneself after a hard session."""

    id: str
    category: str
    text: str


class ContentError(ValueError):
    """Content under messages/ cannot be used; ``problems`` lists every reason, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("invalid content:\n" + "\n".join(f"  {p}" for p in self.problems))


# --------------------------------------------------------------------------------------------
# Reading and checking one language


@dataclass(frozen=True, slots=True)
class _Problem:
    where: str
    key: str
    message: str
    # Set for parity problems: (language, section, item id) served from the default instead.
    fallback: tuple[str, str, str] | None = None
    parity: bool = False

    def __str__(self) -> str:
        return f"{self.where}:{self.key}: {self.message}"


@dataclass(slots=True)
class _LangContent:
    exercises: dict[str, Exercise] = field(default_factory=dict)
    exercise_files: dict[str, str] = field(default_factory=dict)  # id -> display path
    prompts: dict[str, Prompt] = field(default_factory=dict)
    prompt_keys: dict[str, str] = field(default_factory=dict)  # id -> "prompts[i]"
    ideas: dict[str, SelfCareIdea] = field(default_factory=dict)
    idea_keys: dict[str, str] = field(default_factory=dict)
    # Ids named in a file even when the item was invalid, so parity does not report them twice.
    seen_exercises: set[str] = field(default_factory=set)
    seen_prompts: set[str] = field(default_factory=set)
    seen_ideas: set[str] = field(default_factory=set)
    has_dir: bool = False
    has_prompts: bool = False
    has_selfcare: bool = False


class _Reader:
    """Collects problems while reading one messages/ tree."""

    def __init__(self, messages_dir: Path) -> None:
        self.root = messages_dir
        self.problems: list[_Problem] = []

    def display(self, path: Path) -> str:
        try:
            rel = path.relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()
        name = self.root.name or self.root.resolve().name
        return f"{name}/{rel}" if rel != "." else name

    def add(self, where: str, key: str, message: str) -> None:
        self.problems.append(_Problem(where, key, message))

    def parity(
        self, where: str, key: str, message: str, fallback: tuple[str, str, str] | None = None
    ) -> None:
        self.problems.append(_Problem(where, key, message, fallback=fallback, parity=True))

    # -- primitives -------------------------------------------------------------------------

    def load_toml(self, path: Path) -> dict[str, Any] | None:
        where = self.display(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.add(where, "file", f"cannot read: {exc.strerror or exc}")
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.add(where, "file", "is not UTF-8 text; save it as UTF-8")
            return None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            self.add(where, "toml", f"not valid TOML: {exc}")
            return None

    def unknown_keys(
        self, where: str, prefix: str, table: Mapping[str, Any], allowed: frozenset[str]
    ) -> None:
        for key in table:
            if key not in allowed:
                expected = ", ".join(sorted(allowed))
                self.add(where, f"{prefix}{key}", f"unknown key (expected one of: {expected})")

    def text(
        self,
        where: str,
        key: str,
        table: Mapping[str, Any],
        name: str,
        *,
        one_line: bool = False,
        limit: int = MAX_TEXT,
    ) -> str | None:
        full = f"{key}{name}"
        if name not in table:
            self.add(where, full, "missing (required)")
            return None
        value = table[name]
        if not isinstance(value, str):
            self.add(where, full, "must be text in quotes")
            return None
        ok = True
        if not value.strip():
            self.add(where, full, "is empty")
            ok = False
        if len(value) > limit:
            self.add(where, full, f"is {len(value)} characters long; the limit is {limit}")
            ok = False
        if one_line and "\n" in value.strip():
            self.add(where, full, "must fit on one line")
            ok = False
        if _placeholders(value) is None:
            self.add(
                where,
                full,
                "has unbalanced { or }; placeholders look like {name}, "
                "and a literal brace is written {{ or }}",
            )
            ok = False
        return value.strip() if ok else None

    def ident(self, where: str, key: str, table: Mapping[str, Any]) -> str | None:
        full = f"{key}id"
        if "id" not in table:
            self.add(where, full, "missing (required)")
            return None
        value = table["id"]
        if not isinstance(value, str) or not _ID_RE.fullmatch(value):
            self.add(
                where,
                full,
                f"{value!r} is not a valid id: use 1-32 lowercase letters, digits or _, "
                "starting with a letter",
            )
            return None
        return value

    def choice(
        self, where: str, key: str, table: Mapping[str, Any], name: str, allowed: Sequence[str]
    ) -> str | None:
        full = f"{key}{name}"
        if name not in table:
            self.add(where, full, f"missing (required; one of: {', '.join(allowed)})")
            return None
        value = table[name]
        if not isinstance(value, str) or value not in allowed:
            self.add(where, full, f"unknown {name} {value!r}; use one of: {', '.join(allowed)}")
            return None
        return value

    def integer(
        self, where: str, key: str, value: Any, low: int, high: int, what: str
    ) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(where, key, f"must be a whole number ({what})")
            return None
        if not low <= value <= high:
            self.add(where, key, f"is {value}; must be between {low} and {high} ({what})")
            return None
        return value

    # -- files ------------------------------------------------------------------------------

    def read_language(self, lang: str) -> _LangContent:
        content = _LangContent()
        base = self.root / lang
        if not base.is_dir():
            self.add(self.display(base), "folder", f"language folder for {lang!r} is missing")
            return content
        content.has_dir = True
        ex_dir = base / _EXERCISES_DIR
        if ex_dir.is_dir():
            for path in sorted(ex_dir.glob("*.toml")):
                self.read_exercise(path, content)
        prompts = base / _PROMPTS_FILE
        if prompts.is_file():
            content.has_prompts = True
            self.read_prompts(prompts, content)
        selfcare = base / _SELFCARE_FILE
        if selfcare.is_file():
            content.has_selfcare = True
            self.read_selfcare(selfcare, content)
        return content

    def read_exercise(self, path: Path, content: _LangContent) -> None:
        where = self.display(path)
        content.seen_exercises.add(path.stem)
        data = self.load_toml(path)
        if data is None:
            return
        self.unknown_keys(where, "", data, _EXERCISE_KEYS)
        ident = self.ident(where, "", data)
        if ident is not None and ident != path.stem:
            self.add(
                where, "id", f"is {ident!r} but the file is named {path.name}; make them match"
            )
            ident = None
        order: int | None = None
        if "order" not in data:
            self.add(where, "order", "missing (required; a number that sets the menu position)")
        else:
            order = self.integer(where, "order", data["order"], 0, 10_000, "menu position")
        title = self.text(where, "", data, "title", one_line=True, limit=MAX_TITLE)
        summary = self.text(where, "", data, "summary", one_line=True)
        kind = self.choice(where, "", data, "kind", KINDS)
        cycles: int | None = 1
        if "cycles" in data:
            cycles = self.integer(where, "cycles", data["cycles"], 1, MAX_CYCLES, "rounds")
        elif kind == "breathing":
            self.add(where, "cycles", "missing (required for breathing: how many rounds)")
            cycles = None
        steps = self.read_steps(where, data, kind)
        if None in (ident, order, title, summary, kind, cycles, steps):
            return
        assert ident is not None and order is not None and title is not None
        assert summary is not None and kind is not None and cycles is not None
        assert steps is not None
        content.exercises[ident] = Exercise(ident, title, summary, kind, cycles, steps, order)
        content.exercise_files[ident] = where

    def read_steps(
        self, where: str, data: Mapping[str, Any], kind: str | None
    ) -> tuple[Step, ...] | None:
        raw = data.get("steps")
        if raw is None:
            self.add(where, "steps", "missing (required; add [[steps]] blocks)")
            return None
        if not isinstance(raw, list) or not raw:
            self.add(where, "steps", "must be one or more [[steps]] blocks")
            return None
        steps: list[Step] = []
        ok = True
        for index, item in enumerate(raw):
            key = f"steps[{index}]"
            if not isinstance(item, dict):
                self.add(where, key, "must be a [[steps]] block with text = ...")
                ok = False
                continue
            self.unknown_keys(where, f"{key}.", item, _STEP_KEYS)
            text = self.text(where, f"{key}.", item, "text")
            seconds: int | None = None
            if "seconds" in item:
                seconds = self.integer(
                    where,
                    f"{key}.seconds",
                    item["seconds"],
                    MIN_SECONDS,
                    MAX_SECONDS,
                    "seconds on screen",
                )
                if seconds is None:
                    ok = False
            elif kind == "breathing":
                self.add(where, f"{key}.seconds", "missing (every breathing step needs seconds)")
                ok = False
            if text is None:
                ok = False
                continue
            steps.append(Step(text, seconds))
        return tuple(steps) if ok else None

    def read_list(
        self, path: Path, table_name: str
    ) -> list[tuple[str, str, dict[str, Any]]] | None:
        """Returns (display path, key prefix, table) for each [[table_name]] entry."""
        where = self.display(path)
        data = self.load_toml(path)
        if data is None:
            return None
        self.unknown_keys(where, "", data, frozenset({table_name}))
        raw = data.get(table_name)
        if raw is None:
            self.add(where, table_name, f"missing (add [[{table_name}]] blocks)")
            return None
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            self.add(where, table_name, f"must be a list of [[{table_name}]] blocks")
            return None
        return [(where, f"{table_name}[{i}]", item) for i, item in enumerate(raw)]

    def read_prompts(self, path: Path, content: _LangContent) -> None:
        self._read_tagged(
            path,
            "prompts",
            _PROMPT_KEYS,
            ("moment", MOMENTS),
            "an earlier prompt",
            content.seen_prompts,
            content.prompt_keys,
            content.prompts,
            Prompt,
        )

    def read_selfcare(self, path: Path, content: _LangContent) -> None:
        self._read_tagged(
            path,
            "ideas",
            _IDEA_KEYS,
            ("category", CATEGORIES),
            "an earlier idea",
            content.seen_ideas,
            content.idea_keys,
            content.ideas,
            SelfCareIdea,
        )

    def _read_tagged(
        self,
        path: Path,
        table_name: str,
        allowed: frozenset[str],
        tag: tuple[str, Sequence[str]],
        earlier: str,
        seen: set[str],
        keys: dict[str, str],
        out: dict[str, Any],
        make: Callable[[str, str, str], Any],
    ) -> None:
        """Prompts and self-care ideas share one shape: an id, a tag from a fixed set, a text."""
        field, choices = tag
        for where, key, item in self.read_list(path, table_name) or ():
            self.unknown_keys(where, f"{key}.", item, allowed)
            ident = self.ident(where, f"{key}.", item)
            value = self.choice(where, f"{key}.", item, field, choices)
            text = self.text(where, f"{key}.", item, "text")
            if ident is None:
                continue
            if ident in seen:
                first = keys.get(ident, earlier)
                self.add(where, f"{key}.id", f"duplicate id {ident!r} (also used at {first})")
                continue
            seen.add(ident)
            keys[ident] = key
            if value is not None and text is not None:
                out[ident] = make(ident, value, text)

    def require_default(self, lang: str, content: _LangContent) -> None:
        """The default language is the reference: every section must exist and hold something."""
        if not content.has_dir:
            return
        base = self.root / lang
        if not content.seen_exercises:
            self.add(self.display(base / _EXERCISES_DIR), "folder", "no exercises found")
        if not content.has_prompts:
            self.add(self.display(base / _PROMPTS_FILE), "file", "missing")
        elif not content.seen_prompts:
            self.add(self.display(base / _PROMPTS_FILE), "prompts", "no prompts found")
        if not content.has_selfcare:
            self.add(self.display(base / _SELFCARE_FILE), "file", "missing")
        elif not content.seen_ideas:
            self.add(self.display(base / _SELFCARE_FILE), "ideas", "no ideas found")

    # -- parity -----------------------------------------------------------------------------

    def compare(self, default: str, ref: _LangContent, lang: str, other: _LangContent) -> None:
        """Reports where ``lang`` disagrees with the default language ``default``."""
        if not other.has_dir:
            return
        base = self.root / lang
        for ident in sorted(ref.seen_exercises - other.seen_exercises):
            where = self.display(base / _EXERCISES_DIR / f"{ident}.toml")
            self.parity(
                where,
                "file",
                f"missing: {default} has this exercise; copy "
                f"{default}/{_EXERCISES_DIR}/{ident}.toml here and translate it",
            )
        for ident in sorted(other.seen_exercises - ref.seen_exercises):
            where = self.display(base / _EXERCISES_DIR / f"{ident}.toml")
            self.parity(where, "id", f"{ident!r} does not exist in {default}; add it there too")
        for ident in sorted(set(ref.exercises) & set(other.exercises)):
            self.compare_exercise(default, ref.exercises[ident], lang, other, ident)

        self.compare_section(
            default,
            lang,
            section="prompts",
            filename=_PROMPTS_FILE,
            present=other.has_prompts,
            ref_seen=ref.seen_prompts,
            other_seen=other.seen_prompts,
            other_keys=other.prompt_keys,
        )
        for ident in sorted(set(ref.prompts) & set(other.prompts)):
            where = self.display(base / _PROMPTS_FILE)
            key = other.prompt_keys[ident]
            mine, theirs = other.prompts[ident], ref.prompts[ident]
            if mine.moment != theirs.moment:
                self.parity(
                    where,
                    f"{key}.moment",
                    f"is {mine.moment!r} but {default} says {theirs.moment!r} for {ident!r}",
                    (lang, "prompts", ident),
                )
            self.compare_text(
                default, where, f"{key}.text", mine.text, theirs.text, (lang, "prompts", ident)
            )

        self.compare_section(
            default,
            lang,
            section="ideas",
            filename=_SELFCARE_FILE,
            present=other.has_selfcare,
            ref_seen=ref.seen_ideas,
            other_seen=other.seen_ideas,
            other_keys=other.idea_keys,
        )
        for ident in sorted(set(ref.ideas) & set(other.ideas)):
            where = self.display(base / _SELFCARE_FILE)
            key = other.idea_keys[ident]
            mine_idea, their_idea = other.ideas[ident], ref.ideas[ident]
            if mine_idea.category != their_idea.category:
                self.parity(
                    where,
                    f"{key}.category",
                    f"is {mine_idea.category!r} but {default} says {their_idea.category!r} "
                    f"for {ident!r}",
                    (lang, "ideas", ident),
                )
            self.compare_text(
                default,
                where,
                f"{key}.text",
                mine_idea.text,
                their_idea.text,
                (lang, "ideas", ident),
            )

    def compare_section(
        self,
        default: str,
        lang: str,
        *,
        section: str,
        filename: str,
        present: bool,
        ref_seen: set[str],
        other_seen: set[str],
        other_keys: Mapping[str, str],
    ) -> None:
        where = self.display(self.root / lang / filename)
        if not present:
            if ref_seen:
                self.parity(
                    where, "file", f"missing: copy {default}/{filename} here and translate it"
                )
            return
        for ident in sorted(ref_seen - other_seen):
            self.parity(where, section, f"missing id {ident!r} (present in {default})")
        for ident in sorted(other_seen - ref_seen):
            key = other_keys.get(ident, section)
            self.parity(
                where, f"{key}.id", f"{ident!r} does not exist in {default}; add it there too"
            )

    def compare_exercise(
        self, default: str, ref: Exercise, lang: str, other: _LangContent, ident: str
    ) -> None:
        mine = other.exercises[ident]
        where = other.exercise_files[ident]
        tag = (lang, "exercises", ident)
        for name in ("order", "kind", "cycles"):
            a, b = getattr(mine, name), getattr(ref, name)
            if a != b:
                self.parity(where, name, f"is {a!r} but {default} says {b!r}", tag)
        if len(mine.steps) != len(ref.steps):
            self.parity(
                where,
                "steps",
                f"has {len(mine.steps)} steps but {default} has {len(ref.steps)}; "
                "translations keep the same steps",
                tag,
            )
        else:
            for index, (a_step, b_step) in enumerate(zip(mine.steps, ref.steps, strict=True)):
                key = f"steps[{index}]"
                if a_step.seconds != b_step.seconds:
                    self.parity(
                        where,
                        f"{key}.seconds",
                        f"is {a_step.seconds!r} but {default} says {b_step.seconds!r}",
                        tag,
                    )
                self.compare_text(default, where, f"{key}.text", a_step.text, b_step.text, tag)
        self.compare_text(default, where, "title", mine.title, ref.title, tag)
        self.compare_text(default, where, "summary", mine.summary, ref.summary, tag)

    def compare_text(
        self,
        default: str,
        where: str,
        key: str,
        mine: str,
        ref: str,
        tag: tuple[str, str, str],
    ) -> None:
        a, b = _placeholders(mine), _placeholders(ref)
        if a is None or b is None or a == b:
            return
        self.parity(
            where,
            key,
            f"placeholders {_fmt_names(a)} differ from {default}'s {_fmt_names(b)}",
            tag,
        )


def _placeholders(text: str) -> frozenset[str] | None:
    """The {names} a text uses, or None when its braces do not parse as format syntax."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return None
    return frozenset(name for _, name, _, _ in parsed if name is not None)


def _fmt_names(names: frozenset[str]) -> str:
    return "{" + ", ".join(sorted(names)) + "}" if names else "(none)"


def _unique(languages: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(languages))


def _read_all(
    messages_dir: Path, languages: Sequence[str], default: str
) -> tuple[_Reader, dict[str, _LangContent]]:
    reader = _Reader(messages_dir)
    langs = _unique(languages)
    if default not in langs:
        reader.add(
            reader.display(messages_dir / default),
            "language",
            f"default language {default!r} is not among the languages ({', '.join(langs)})",
        )
        return reader, {}
    contents = {lang: reader.read_language(lang) for lang in langs}
    reader.require_default(default, contents[default])
    for lang in langs:
        if lang != default:
            reader.compare(default, contents[default], lang, contents[lang])
    return reader, contents


def validate_library(messages_dir: Path, languages: Sequence[str], default: str) -> list[str]:
    """Every problem with the content as "path/file.toml:key: message"; empty when all is well."""
    reader, _ = _read_all(messages_dir, languages, default)
    return [str(problem) for problem in reader.problems]


# --------------------------------------------------------------------------------------------
# The library the bot uses


class Library:
    """Content per language; an unknown language, or a missing item, falls back to the default."""

    __slots__ = ("_by_id", "_default", "_exercises", "_ideas", "_languages", "_prompts")

    def __init__(
        self,
        default: str,
        exercises: Mapping[str, Sequence[Exercise]],
        prompts: Mapping[str, Sequence[Prompt]],
        selfcare: Mapping[str, Sequence[SelfCareIdea]],
    ) -> None:
        """Builds a library from ready items (per language, already in display order).

        Languages are the keys of ``exercises``; ``default`` must be one of them. Items a language
        lacks are taken from the default language, in the default language's order.
        """
        if default not in exercises:
            raise ValueError(f"default language {default!r} has no content")
        self._default = default
        self._languages = tuple(exercises)
        ref_ex = tuple(sorted(exercises[default], key=lambda e: (e.order, e.id)))
        ref_pr = tuple(prompts.get(default, ()))
        ref_sc = tuple(selfcare.get(default, ()))
        self._exercises: dict[str, tuple[Exercise, ...]] = {}
        self._prompts: dict[str, tuple[Prompt, ...]] = {}
        self._ideas: dict[str, tuple[SelfCareIdea, ...]] = {}
        for lang in self._languages:
            own_ex = {e.id: e for e in exercises.get(lang, ())}
            own_pr = {p.id: p for p in prompts.get(lang, ())}
            own_sc = {s.id: s for s in selfcare.get(lang, ())}
            self._exercises[lang] = tuple(own_ex.get(e.id, e) for e in ref_ex)
            self._prompts[lang] = tuple(own_pr.get(p.id, p) for p in ref_pr)
            self._ideas[lang] = tuple(own_sc.get(s.id, s) for s in ref_sc)
        self._by_id: dict[str, tuple[dict[str, Exercise], dict[str, Prompt]]] = {
            lang: (
                {e.id: e for e in self._exercises[lang]},
                {p.id: p for p in self._prompts[lang]},
            )
            for lang in self._languages
        }

    @classmethod
    def load(cls, messages_dir: Path, languages: Sequence[str], default: str) -> Library:
        """Reads messages/<lang>/ for each language; raises ContentError on any file problem.

        Parity problems (see the module docstring) do not stop loading: the item concerned is
        served from the default language instead.
        """
        reader, contents = _read_all(messages_dir, languages, default)
        fatal = [str(p) for p in reader.problems if not p.parity]
        if fatal:
            raise ContentError(fatal)
        fallback: dict[str, set[tuple[str, str]]] = {}
        for problem in reader.problems:
            if problem.fallback is not None:
                lang, section, ident = problem.fallback
                fallback.setdefault(lang, set()).add((section, ident))
        exercises: dict[str, list[Exercise]] = {}
        prompts: dict[str, list[Prompt]] = {}
        ideas: dict[str, list[SelfCareIdea]] = {}
        for lang, content in contents.items():
            skip = fallback.get(lang, set())
            exercises[lang] = [
                e for e in content.exercises.values() if ("exercises", e.id) not in skip
            ]
            prompts[lang] = [p for p in content.prompts.values() if ("prompts", p.id) not in skip]
            ideas[lang] = [i for i in content.ideas.values() if ("ideas", i.id) not in skip]
        return cls(default, exercises, prompts, ideas)

    @property
    def default(self) -> str:
        return self._default

    @property
    def languages(self) -> tuple[str, ...]:
        return self._languages

    def language(self, lang: str | None) -> str:
        """The supported language to use for ``lang`` ("es-MX" -> "es"; unknown -> default)."""
        if not lang:
            return self._default
        code = lang.strip().lower().replace("_", "-")
        if code in self._exercises:
            return code
        base = code.split("-", 1)[0]
        return base if base in self._exercises else self._default

    def exercises(self, lang: str) -> tuple[Exercise, ...]:
        return self._exercises[self.language(lang)]

    def exercise(self, lang: str, id: str) -> Exercise | None:
        return self._by_id[self.language(lang)][0].get(id)

    def prompts(self, lang: str, moment: str | None = None) -> tuple[Prompt, ...]:
        """All prompts, or those for one moment; an unknown moment is a programming error."""
        items = self._prompts[self.language(lang)]
        if moment is None:
            return items
        if moment not in MOMENTS:
            raise ValueError(f"unknown moment {moment!r}; use one of: {', '.join(MOMENTS)}")
        return tuple(p for p in items if p.moment == moment)

    def prompt(self, lang: str, id: str) -> Prompt | None:
        return self._by_id[self.language(lang)][1].get(id)

    def selfcare(self, lang: str) -> tuple[SelfCareIdea, ...]:
        return self._ideas[self.language(lang)]
