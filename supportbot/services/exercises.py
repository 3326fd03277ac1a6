"""Exercises, reflection prompts and self-care: the choices behind /ground, /reflect and /selfcare.

No telegram here, so the choices are tested as plain functions: which prompt comes next for a
client (a rotation without immediate repeats, in memory), which self-care ideas fit on a page, when
each step of a paced breathing run shows, and whether a message says the client cried.

The crying phrases and the words accepted after ``/reflect`` live in
``messages/<lang>/exercises_ui.toml`` (lists, which the strings loader skips), so a content editor
changes them without touching Python; ``validate_phrases`` lets ``supportbot check`` judge them.
"""

from __future__ import annotations

import random
import re
import tomllib
import unicodedata
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from supportbot.config import DEFAULT_MESSAGES_DIR
from supportbot.content.library import MOMENTS, Exercise, Library, Prompt, SelfCareIdea

__all__ = [
    "PAGE_SIZE",
    "PHRASES_FILE",
    "ExerciseService",
    "PacePlan",
    "PacedStep",
    "Page",
    "Phrases",
    "PromptRotation",
    "mentions_crying",
    "normalise",
    "pace_plan",
    "page_of",
    "validate_phrases",
]

#: Self-care ideas shown at once: enough to choose from, few enough to read on a phone after crying.
PAGE_SIZE = 3
PHRASES_FILE = "exercises_ui.toml"
#: A phrase word "*" stands for up to this many words ("I * cried" matches "I really cried").
GAP_WORDS = 2
_MAX_PHRASE = 100

T = TypeVar("T")


# -- text matching (pure) -------------------------------------------------------------------------

_APOSTROPHES = str.maketrans("", "", "'’‘`´")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_NON_WORD_OR_GAP = re.compile(r"[^a-z0-9*]+")
_NON_LETTER = re.compile(r"[\W_]+")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalise(text: str, *, gaps: bool = False) -> str:
    """Lower case, no accents, no apostrophes, words separated by single spaces.

    "I've CRIED!" -> "ive cried"; "Lloré" -> "llore". Used to compare words an editor listed with
    words a client typed. ``gaps`` keeps "*" (phrases only: in a message it is just punctuation,
    as in "I *cried*").
    """
    bare = _strip_accents(text.casefold()).translate(_APOSTROPHES)
    return (_NON_WORD_OR_GAP if gaps else _NON_WORD).sub(" ", bare).strip()


def _fold(text: str) -> str:
    """Like ``normalise`` but keeping accents: "lloró" (she cried) is not "lloro" (I cry)."""
    composed = unicodedata.normalize("NFKC", text.casefold()).translate(_APOSTROPHES)
    return _NON_LETTER.sub(" ", composed).strip()


def _letter(char: str) -> str:
    """A written letter as a regex: an accented one also matches its bare form, since people
    often type without accents; a bare one never matches an accented one."""
    bare = _strip_accents(char)
    if bare and bare != char:
        return f"[{re.escape(char)}{re.escape(bare)}]"
    return re.escape(char)


def _phrase_pattern(phrase: str) -> str | None:
    """A regex for one phrase over folded text; None when the phrase is unusable."""
    composed = unicodedata.normalize("NFKC", phrase.casefold()).translate(_APOSTROPHES)
    words = re.sub(r"[^\w*]+|_", " ", composed).split()
    if not words or "*" in (words[0], words[-1]) or any("*" in w and w != "*" for w in words):
        return None
    parts: list[str] = []
    for word in words:
        if word == "*":
            parts.append(rf"(?:\S+ ){{0,{GAP_WORDS}}}")
        else:
            parts.append("".join(_letter(c) for c in word) + " ")
    return r"(?<!\S)" + "".join(parts).rstrip(" ") + r"(?!\S)"


@dataclass(frozen=True, slots=True)
class _Phrase:
    pattern: re.Pattern[str]
    words: frozenset[str]  # the phrase's own words (normalised); any other word filled a *


def _compile(phrases: Sequence[str]) -> tuple[_Phrase, ...]:
    out: list[_Phrase] = []
    for phrase in phrases:
        pattern = _phrase_pattern(phrase)
        if pattern is not None:
            words = frozenset(normalise(phrase).split())
            out.append(_Phrase(re.compile(pattern), words))
    return tuple(out)


def _matches(phrases: Sequence[_Phrase], negations: frozenset[str], folded: str) -> bool:
    """True when a phrase occurs without a negation just before it or inside one of its gaps."""
    for phrase in phrases:
        for found in phrase.pattern.finditer(folded):
            before = [normalise(w) for w in folded[: found.start()].split()[-1:]]
            inside = (normalise(w) for w in found.group().split())
            gap = [w for w in inside if w not in phrase.words]
            if not negations.intersection(before) and not negations.intersection(gap):
                return True
    return False


# -- phrases from messages/<lang>/exercises_ui.toml ------------------------------------------------


@dataclass(frozen=True, slots=True)
class _LangPhrases:
    crying: tuple[_Phrase, ...]
    negations: frozenset[str]
    moments: Mapping[str, str]  # normalised word(s) -> moment


class Phrases:
    """Crying phrases and /reflect moment words per language, read once at start."""

    __slots__ = ("_by_lang", "_default")

    def __init__(
        self,
        crying: Mapping[str, Sequence[str]],
        moments: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
        default: str = "en",
        negations: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._default = default
        self._by_lang: dict[str, _LangPhrases] = {}
        for lang in set(crying) | set(moments or {}):
            words: dict[str, str] = {}
            for moment in MOMENTS:
                words[normalise(moment.replace("_", " "))] = moment
            for moment, aliases in (moments or {}).get(lang, {}).items():
                if moment in MOMENTS:
                    for alias in aliases:
                        key = normalise(alias)
                        if key:
                            words.setdefault(key, moment)
            negated = frozenset(normalise(w) for w in (negations or {}).get(lang, ()))
            self._by_lang[lang] = _LangPhrases(
                _compile(crying.get(lang, ())), negated - {""}, words
            )

    @classmethod
    def load(cls, messages_dir: Path, languages: Sequence[str], default: str = "en") -> Phrases:
        """Reads each language's phrases; a missing or broken file gives that language none
        (``validate_phrases`` reports it, so ``supportbot check`` fails)."""
        crying: dict[str, list[str]] = {}
        negations: dict[str, list[str]] = {}
        moments: dict[str, dict[str, list[str]]] = {}
        for lang in languages:
            data = _read(messages_dir / lang / PHRASES_FILE)
            if data is None:
                continue
            table = data.get("crying")
            if isinstance(table, dict):
                crying[lang] = _strings(table.get("phrases"))
                negations[lang] = _strings(table.get("negations"))
            table = data.get("moments")
            if isinstance(table, dict):
                moments[lang] = {k: _strings(v) for k, v in table.items()}
        return cls(crying, moments, default, negations)

    def _lang(self, lang: str) -> _LangPhrases | None:
        return self._by_lang.get(lang) or self._by_lang.get(lang.split("-")[0])

    def mentions_crying(self, text: str, lang: str) -> bool:
        """True when the message says the client cried (in any listed wording of ``lang``).

        The client's language first, then the default: people often mix languages.
        """
        folded = _fold(text)
        if not folded:
            return False
        for code in dict.fromkeys((lang, self._default)):
            found = self._lang(code)
            if found is not None and _matches(found.crying, found.negations, folded):
                return True
        return False

    def moment(self, arg: str, lang: str) -> str | None:
        """The moment meant by the words after /reflect ("after_crying", "crying", "llorar")."""
        key = normalise(arg.replace("_", " "))
        if not key:
            return None
        for code in dict.fromkeys((lang, self._default)):
            found = self._lang(code)
            if found is not None and key in found.moments:
                return found.moments[key]
        return None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError):
        return None


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, str)]


@cache
def _default_phrases() -> Phrases:
    languages = sorted(p.name for p in DEFAULT_MESSAGES_DIR.iterdir() if p.is_dir())
    return Phrases.load(DEFAULT_MESSAGES_DIR, languages)


def mentions_crying(text: str, lang: str, phrases: Phrases | None = None) -> bool:
    """Does ``text`` say the client cried? ("I cried in session", "estuve llorando").

    Uses the shipped phrases unless ``phrases`` is given (the bot passes the ones it loaded from
    its configured messages folder). Never a judgement about the client: it only chooses a reply.
    """
    return (phrases or _default_phrases()).mentions_crying(text, lang)


def validate_phrases(messages_dir: Path, languages: Sequence[str]) -> list[str]:
    """Problems with the phrase lists in exercises_ui.toml, as "file:key: message"."""
    problems: list[str] = []
    for lang in languages:
        path = messages_dir / lang / PHRASES_FILE
        where = f"{messages_dir.name}/{lang}/{PHRASES_FILE}"
        if not path.is_file():
            problems.append(f"{where}:file: missing")
            continue
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            problems.append(f"{where}:file: cannot be read as TOML ({exc.__class__.__name__})")
            continue
        crying = data.get("crying")
        raw = crying.get("phrases") if isinstance(crying, dict) else None
        if not isinstance(raw, list) or not raw:
            problems.append(f'{where}:crying.phrases: missing (a list like ["I cried", ...])')
        else:
            problems += _check_list(where, "crying.phrases", raw)
        negations = crying.get("negations", []) if isinstance(crying, dict) else []
        if not isinstance(negations, list):
            problems.append(f"{where}:crying.negations: must be a list of words in quotes")
        else:
            problems += _check_list(where, "crying.negations", negations, gaps=False)
            for index, word in enumerate(negations):
                if isinstance(word, str) and len(normalise(word).split()) > 1:
                    problems.append(f"{where}:crying.negations[{index}]: must be one word")
        moments = data.get("moments")
        if not isinstance(moments, dict):
            problems.append(f"{where}:moments: missing (a list of words per moment)")
            continue
        owner: dict[str, str] = {}
        for moment, words in moments.items():
            key = f"moments.{moment}"
            if moment not in MOMENTS:
                problems.append(f"{where}:{key}: unknown moment; use one of: {', '.join(MOMENTS)}")
                continue
            if not isinstance(words, list):
                problems.append(f"{where}:{key}: must be a list of words in quotes")
                continue
            problems += _check_list(where, key, words, gaps=False)
            for word in words:
                folded = normalise(word) if isinstance(word, str) else ""
                if folded and owner.setdefault(folded, moment) != moment:
                    problems.append(
                        f"{where}:{key}: {word!r} also names {owner[folded]}; use it for one only"
                    )
        for moment in MOMENTS:
            if moment not in moments:
                problems.append(f"{where}:moments.{moment}: missing (a list of words)")
    return problems


def _check_list(where: str, key: str, raw: list[Any], *, gaps: bool = True) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        at = f"{key}[{index}]"
        if not isinstance(item, str) or not item.strip():
            problems.append(f"{where}:{at}: must be non-empty text in quotes")
            continue
        if len(item) > _MAX_PHRASE:
            problems.append(f"{where}:{at}: is over {_MAX_PHRASE} characters")
        folded = normalise(item, gaps=gaps)
        if "*" in item and not gaps:
            problems.append(f"{where}:{at}: * is not allowed here")
        elif not normalise(item) or (gaps and _phrase_pattern(item) is None):
            problems.append(
                f"{where}:{at}: needs at least one word, and * only between words ({item!r})"
            )
        if folded in seen:
            problems.append(f"{where}:{at}: repeated ({item!r})")
        seen.add(folded)
    return problems


# -- reflection prompts -----------------------------------------------------------------------------


class PromptRotation:
    """Deals each client the prompts of a moment in a shuffled order, reshuffling when all were
    shown, never the same prompt twice in a row. Memory only (a restart just reshuffles), capped to
    the most recently active clients."""

    __slots__ = ("_capacity", "_decks", "_library", "_rng")

    def __init__(
        self, library: Library, *, rng: random.Random | None = None, capacity: int = 50_000
    ) -> None:
        self._library = library
        self._rng = rng or random.Random()
        self._capacity = capacity
        # (user, moment) -> (ids still to deal, id dealt last)
        self._decks: OrderedDict[tuple[int, str], tuple[list[str], str | None]] = OrderedDict()

    def pick(self, user_id: int, lang: str, moment: str) -> Prompt | None:
        """The next prompt for this client and moment; None when the moment has no prompts."""
        prompts = self._library.prompts(lang, moment)
        if not prompts:
            return None
        ids = [p.id for p in prompts]
        key = (user_id, moment)
        deck, last = self._decks.pop(key, ([], None))
        deck = [i for i in deck if i in ids]  # content may have changed since
        if not deck:
            deck = ids[:]
            self._rng.shuffle(deck)
            if len(deck) > 1 and deck[-1] == last:
                deck[0], deck[-1] = deck[-1], deck[0]
        chosen = deck.pop()
        self._decks[key] = (deck, chosen)
        while len(self._decks) > self._capacity:
            self._decks.popitem(last=False)
        by_id = {p.id: p for p in prompts}
        return by_id[chosen]

    def forget(self, user_id: int) -> None:
        for key in [k for k in self._decks if k[0] == user_id]:
            del self._decks[key]

    def __len__(self) -> int:
        return len(self._decks)


# -- self-care paging (pure) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    page: int  # 0-based
    pages: int

    @property
    def has_more(self) -> bool:
        return self.page + 1 < self.pages

    @property
    def is_last(self) -> bool:
        return not self.has_more


def page_of(items: Sequence[T], page: int, size: int = PAGE_SIZE) -> Page[T] | None:
    """Page ``page`` of ``items`` (``size`` each); None when the page does not exist (a stale
    button after the content shrank, or forged data)."""
    if size < 1:
        raise ValueError("size must be at least 1")
    pages = max(1, -(-len(items) // size))
    if not 0 <= page < pages:
        return None
    return Page(tuple(items[page * size : (page + 1) * size]), page, pages)


# -- pacing (pure) ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PacedStep:
    round: int  # 1-based
    rounds: int
    index: int  # the step's position in the exercise, 0-based
    text: str
    seconds: int  # as written in the content (shown to the client)
    at: float  # when it shows, in (scaled) seconds after the start


@dataclass(frozen=True, slots=True)
class PacePlan:
    exercise_id: str
    steps: tuple[PacedStep, ...]
    total: float  # when the run ends, in (scaled) seconds after the start

    def __len__(self) -> int:
        return len(self.steps)


def pace_plan(exercise: Exercise, *, scale: float = 1.0, rounds: int | None = None) -> PacePlan:
    """Every step of ``rounds`` (default: the exercise's ``cycles``) with the moment it shows.

    ``scale`` multiplies every duration (1.0 in use; 0 in tests so a run finishes at once).
    """
    if not exercise.paced:
        raise ValueError(f"exercise {exercise.id!r} cannot pace itself")
    if scale < 0:
        raise ValueError("scale must not be negative")
    count = exercise.cycles if rounds is None else rounds
    if count < 1:
        raise ValueError("rounds must be at least 1")
    steps: list[PacedStep] = []
    at = 0.0
    for round_no in range(1, count + 1):
        for index, step in enumerate(exercise.steps):
            seconds = step.seconds or 0
            steps.append(PacedStep(round_no, count, index, step.text, seconds, at))
            at += seconds * scale
    return PacePlan(exercise.id, tuple(steps), at)


# -- the service handlers use ----------------------------------------------------------------------


class ExerciseService:
    """What the exercises feature needs besides Telegram: the library, prompt rotation, phrases."""

    __slots__ = ("library", "phrases", "rotation")

    def __init__(
        self, library: Library, phrases: Phrases, rotation: PromptRotation | None = None
    ) -> None:
        self.library = library
        self.phrases = phrases
        self.rotation = rotation or PromptRotation(library)

    @classmethod
    def load(cls, messages_dir: Path, library: Library) -> ExerciseService:
        phrases = Phrases.load(messages_dir, library.languages, library.default)
        return cls(library, phrases)

    def mentions_crying(self, text: str, lang: str) -> bool:
        return self.phrases.mentions_crying(text, lang)

    def moment(self, arg: str, lang: str) -> str | None:
        return self.phrases.moment(arg, lang)

    def prompt(self, user_id: int, lang: str, moment: str) -> Prompt | None:
        return self.rotation.pick(user_id, lang, moment)

    def selfcare_page(self, lang: str, page: int) -> Page[SelfCareIdea] | None:
        return page_of(self.library.selfcare(lang), page)

    def plan(self, lang: str, exercise_id: str, scale: float = 1.0) -> PacePlan | None:
        exercise = self.library.exercise(lang, exercise_id)
        if exercise is None or not exercise.paced:
            return None
        return pace_plan(exercise, scale=scale)
