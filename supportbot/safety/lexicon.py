"""The crisis lexicon: reading `messages/<lang>/crisis.toml` and compiling its patterns.

Patterns are written for clinicians (see the comment block at the top of crisis.toml) and compiled
here to small regular expressions over *normalised* text, plus an index of anchor words. The
screener only runs a pattern's regex when one of its anchor words is in the message, which keeps
screening fast no matter how large the lexicon grows.

Every regex built here is linear by construction: literal words, bounded gaps of whole words
(possessive), and alternations of literals. No nested unbounded repetition exists to backtrack on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from supportbot.safety.normalise import normalise

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
CONFIG_TABLES = frozenset({"macros", "typos", "negation", "exceptions", "reply"})
GAP_WORDS = 3
MAX_EXPANSIONS = 64
MIN_COMPACT = 8

# Very frequent words make poor anchors (the regex would run on most messages). Only speed depends
# on this list, never what is found.
_COMMON = frozenset(
    normalise(w)
    for w in [
        "i",
        "im",
        "me",
        "my",
        "mine",
        "a",
        "an",
        "the",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "and",
        "or",
        "but",
        "so",
        "if",
        "it",
        "is",
        "be",
        "am",
        "are",
        "was",
        "were",
        "been",
        "do",
        "dont",
        "did",
        "not",
        "no",
        "yes",
        "just",
        "really",
        "all",
        "this",
        "that",
        "there",
        "here",
        "what",
        "when",
        "how",
        "why",
        "who",
        "you",
        "your",
        "he",
        "she",
        "they",
        "we",
        "them",
        "us",
        "his",
        "her",
        "their",
        "our",
        "its",
        "have",
        "has",
        "had",
        "get",
        "got",
        "go",
        "going",
        "gona",
        "wana",
        "want",
        "wanted",
        "feel",
        "felt",
        "like",
        "think",
        "know",
        "would",
        "could",
        "should",
        "will",
        "wil",
        "can",
        "cant",
        "wont",
        "one",
        "some",
        "any",
        "more",
        "much",
        "very",
        "too",
        "also",
        "with",
        "from",
        "up",
        "out",
        "about",
        "now",
        "then",
        "than",
        "time",
        "day",
        "life",
        "people",
        "thing",
        "things",
        "way",
        "make",
        "made",
        "take",
        "took",
        "need",
        "ever",
        "never",
        "again",
        "still",
        "even",
        "only",
        "want",
        "to",
        "yo",
        "me",
        "mi",
        "mis",
        "tu",
        "te",
        "se",
        "lo",
        "la",
        "las",
        "los",
        "el",
        "un",
        "una",
        "uno",
        "que",
        "de",
        "en",
        "y",
        "o",
        "pero",
        "si",
        "no",
        "ya",
        "muy",
        "mas",
        "por",
        "para",
        "con",
        "sin",
        "es",
        "soy",
        "estoy",
        "esta",
        "estar",
        "ser",
        "fue",
        "era",
        "hay",
        "como",
        "cuando",
        "porque",
        "todo",
        "toda",
        "todos",
        "nada",
        "algo",
        "quiero",
        "quisiera",
        "voy",
        "vas",
        "va",
        "ir",
        "hacer",
        "tengo",
        "tiene",
        "tener",
        "vida",
        "dia",
        "vez",
    ]
)


class LexiconError(ValueError):
    """A pattern or lexicon table that cannot be compiled; `key` locates it in the file."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


# --- pattern syntax -> tree ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class Word:
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class Prefix:
    text: str


@dataclass(frozen=True, slots=True, eq=False)
class Gap:
    """0 to GAP_WORDS words."""


@dataclass(frozen=True, slots=True, eq=False)
class Num:
    """A number; `big`: 10 or more (two digits or more)."""

    big: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class End:
    """The end of the message."""


@dataclass(frozen=True, slots=True, eq=False)
class Alt:
    options: tuple[tuple[Node, ...], ...]


@dataclass(frozen=True, slots=True, eq=False)
class Opt:
    body: tuple[Node, ...]


Node = Word | Prefix | Gap | Num | End | Alt | Opt
Seq = tuple[Node, ...]

_TOKEN = re.compile(r"[()\[\]|]|<[a-z_][a-z0-9_]*>|[^\s()\[\]|<>]+")
_OPS = frozenset("()[]|")
_GAP = Gap()
_NUM = Num()
_BIGNUM = Num(big=True)
_END = End()


def _tokenise(src: str, key: str) -> list[str]:
    raw: list[str] = _TOKEN.findall(src)
    if sum(map(len, raw)) != len("".join(src.split())):
        bad = _TOKEN.sub("", src).strip()
        raise LexiconError(key, f"cannot read {bad[:12]!r} in pattern {src!r}")
    return raw


_WORD_CACHE: dict[str, Seq] = {}


def _literal(val: str, key: str) -> Seq:
    seq = _WORD_CACHE.get(val)
    if seq is None:
        if val == "*":
            seq = (_GAP,)
        elif val == "#":
            seq = (_NUM,)
        elif val == "##":
            seq = (_BIGNUM,)
        elif val == "$":
            seq = (_END,)
        elif val.endswith("*"):
            stem = normalise(val[:-1])
            if not stem or " " in stem:
                raise LexiconError(key, f"prefix {val!r} must be one word")
            seq = (Prefix(stem),)
        elif "*" in val:
            raise LexiconError(key, f"'*' only at the end of a word ({val!r})")
        else:
            plain = val.isascii() and val.isalpha() and val.islower()
            words = [_SQUEEZE.sub(_squeeze, val)] if plain else normalise(val).split()
            seq = tuple(Word(w) for w in words)
            if not seq:
                raise LexiconError(key, f"{val!r} has no letters or digits")
        _WORD_CACHE[val] = seq
    return seq


class _Parser:
    """Recursive descent over the tokens of one pattern."""

    def __init__(
        self,
        src: str,
        key: str,
        macros: Mapping[str, Sequence[str]],
        cache: dict[str, Alt],
        stack: tuple[str, ...] = (),
    ) -> None:
        self.toks = _tokenise(src, key)
        self.i = 0
        self.key = key
        self.macros = macros
        self.stack = stack
        # Parsed macro bodies, shared while one file is compiled (macros are used many times).
        self.cache = cache

    def parse(self) -> Seq:
        seq = self._seq()
        if self.i != len(self.toks):
            raise LexiconError(self.key, f"unexpected {self.toks[self.i]!r}")
        return seq

    def _seq(self) -> Seq:
        out: list[Node] = []
        toks = self.toks
        while self.i < len(toks) and toks[self.i] not in (")", "]", "|"):
            out.extend(self._item())
        return tuple(out)

    def _alts(self, close: str) -> tuple[Seq, ...]:
        alts = [self._seq()]
        while self.i < len(self.toks) and self.toks[self.i] == "|":
            self.i += 1
            alts.append(self._seq())
        if self.i >= len(self.toks) or self.toks[self.i] != close:
            raise LexiconError(self.key, f"missing {close!r}")
        self.i += 1
        return tuple(alts)

    def _item(self) -> Seq:
        tok = self.toks[self.i]
        self.i += 1
        if tok == "(":
            alts = self._alts(")")
            if self.i < len(self.toks) and self.toks[self.i] == "?":
                self.i += 1  # "(a|b)?" is the same as "[a|b]"
                return (Opt(alts[0] if len(alts) == 1 else (Alt(alts),)),)
            return (Alt(alts),)
        if tok == "[":
            alts = self._alts("]")
            return (Opt(alts[0] if len(alts) == 1 else (Alt(alts),)),)
        if tok in _OPS:
            raise LexiconError(self.key, f"unexpected {tok!r}")
        if tok[0] == "<":
            return (self._macro(tok[1:-1]),)
        return _literal(tok, self.key)

    def _macro(self, name: str) -> Alt:
        if name not in self.macros:
            raise LexiconError(self.key, f"unknown macro <{name}>")
        if name in self.stack:
            raise LexiconError(self.key, f"macro <{name}> refers to itself")
        alt = self.cache.get(name)
        if alt is None:
            alt = Alt(
                tuple(
                    _Parser(entry, self.key, self.macros, self.cache, (*self.stack, name)).parse()
                    for entry in self.macros[name]
                )
            )
            self.cache[name] = alt
        return alt


def parse(
    src: str, key: str, macros: Mapping[str, Sequence[str]], cache: dict[str, Alt] | None = None
) -> Seq:
    """Parse one pattern (macros expanded) into a sequence of nodes."""
    return _Parser(src, key, macros, {} if cache is None else cache).parse()


# --- tree -> regex, anchors, compact forms ------------------------------------------------------
# Macro bodies are shared Alt nodes; the memo dicts make each one cost once per file.

_AnchorT = tuple[float, frozenset[str], frozenset[str]]  # cost, words, prefixes


class _Compiler:
    def __init__(self) -> None:
        self.render_memo: dict[Alt, str] = {}
        self.anchor_memo: dict[Alt, _AnchorT | None] = {}
        self.words_memo: dict[Alt, frozenset[str]] = {}
        self.expand_memo: dict[Alt, list[tuple[str, ...]] | None] = {}

    def render(self, seq: Seq) -> str:
        """Regex source; each word is followed by one space (the text gets one appended)."""
        parts: list[str] = []
        for node in seq:
            if isinstance(node, Word):
                parts.append(re.escape(node.text) + " ")
            elif isinstance(node, Prefix):
                parts.append(re.escape(node.text) + r"\w*+ ")
            elif isinstance(node, Gap):
                parts.append(r"(?:\w++ ){0," + str(GAP_WORDS) + "}")
            elif isinstance(node, Num):
                parts.append(r"\d\d\w*+ " if node.big else r"\d\w*+ ")
            elif isinstance(node, End):
                parts.append(r"\Z")
            elif isinstance(node, Alt):
                r = self.render_memo.get(node)
                if r is None:
                    r = "(?:" + "|".join(self.render(a) for a in node.options) + ")"
                    self.render_memo[node] = r
                parts.append(r)
            else:
                parts.append("(?:" + self.render(node.body) + ")?")
        return "".join(parts)

    def anchor(self, seq: Seq) -> _AnchorT | None:
        """The cheapest set of words one of which every match must contain (None: no such set)."""
        best: _AnchorT | None = None
        for node in seq:
            cand: _AnchorT | None = None
            if isinstance(node, Word):
                cand = (_word_cost(node.text), frozenset((node.text,)), frozenset())
            elif isinstance(node, Prefix):
                cand = (6.0 + _word_cost(node.text), frozenset(), frozenset((node.text,)))
            elif isinstance(node, Alt):
                if node in self.anchor_memo:
                    cand = self.anchor_memo[node]
                else:
                    subs = [self.anchor(a) for a in node.options]
                    if all(x is not None for x in subs):
                        cand = (
                            sum(x[0] for x in subs if x is not None),
                            frozenset().union(*(x[1] for x in subs if x is not None)),
                            frozenset().union(*(x[2] for x in subs if x is not None)),
                        )
                    self.anchor_memo[node] = cand
            if cand is not None and (best is None or cand[0] < best[0]):
                best = cand
        return best

    def words(self, seq: Seq) -> frozenset[str]:
        """Every literal word (typo correction stays away from lexicon words)."""
        out: set[str] = set()
        for node in seq:
            if isinstance(node, Word):
                out.add(node.text)
            elif isinstance(node, Alt):
                w = self.words_memo.get(node)
                if w is None:
                    w = frozenset().union(*(self.words(a) for a in node.options))
                    self.words_memo[node] = w
                out |= w
            elif isinstance(node, Opt):
                out |= self.words(node.body)
        return frozenset(out)

    def expand(self, seq: Seq) -> list[tuple[str, ...]] | None:
        """All plain word sequences matched, or None with gaps/prefixes or too many of them."""
        out: list[tuple[str, ...]] = [()]
        for node in seq:
            if isinstance(node, Word):
                out = [(*o, node.text) for o in out]
                continue
            if isinstance(node, Alt):
                if node in self.expand_memo:
                    options = self.expand_memo[node]
                else:
                    options = []
                    for a in node.options:
                        sub = self.expand(a)
                        if sub is None or len(options) + len(sub) > MAX_EXPANSIONS:
                            options = None
                            break
                        options.extend(sub)
                    self.expand_memo[node] = options
            elif isinstance(node, Opt):
                sub = self.expand(node.body)
                options = None if sub is None else [*sub, ()]
            else:
                return None
            if options is None or len(out) * len(options) > MAX_EXPANSIONS:
                return None
            out = [o + x for o in out for x in options]
        return out

    def compact(self, seq: Seq) -> tuple[str, ...]:
        """Spelled-together forms ("kilmyself") for hashtags and letter-by-letter spelling."""
        expanded = self.expand(seq)
        if expanded is None:
            return ()
        forms = set()
        for words in expanded:
            joined = _SQUEEZE.sub(_squeeze, "".join(words))
            if len(joined) >= (MIN_COMPACT if len(words) > 1 else 7):
                forms.add(joined)
        return tuple(sorted(forms))


def _word_cost(word: str) -> float:
    if word in _COMMON:
        return 40.0
    if len(word) <= 2:
        return 20.0
    return 10.0 - min(len(word), 8)


_SQUEEZE = re.compile(r"([a-z])\1+")


def _squeeze(m: re.Match[str]) -> str:
    return m.group(1)


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


def compile_pattern(
    src: str,
    *,
    lang: str,
    category: str,
    level: Level,
    key: str,
    macros: Mapping[str, Sequence[str]],
    cache: dict[str, Alt] | None = None,
    compiler: _Compiler | None = None,
) -> Pattern:
    """Compile one pattern; raises LexiconError with `key` when it cannot be used.

    The regex itself is compiled later, on first use (see `Screener.compile_all`).
    """
    if not isinstance(src, str) or not src.strip():
        raise LexiconError(key, "empty pattern")
    seq = parse(src, key, macros, cache)
    comp = compiler or _Compiler()
    anchor = comp.anchor(seq)
    if anchor is None:
        raise LexiconError(key, f"pattern {src!r} needs at least one word that is always there")
    return Pattern(
        lang=lang,
        category=category,
        level=level,
        key=key,
        source=src,
        regex=comp.render(seq),
        anchors=anchor[1],
        prefixes=anchor[2],
        compact=comp.compact(seq),
        words=comp.words(seq),
    )


_Trie = dict[str, "_Trie"]


def trie_regex(strings: Iterable[str]) -> str:
    """One regex matching any of `strings`, shaped as a trie so matching stays linear and quick."""
    trie: _Trie = {}
    for s in strings:
        node = trie
        for ch in s:
            node = node.setdefault(ch, {})
        node[""] = {}

    def render(node: _Trie) -> str:
        branches = [re.escape(ch) + render(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return "(?:" + body + ")?" if "" in node else body

    return render(trie)


# --- a language's lexicon -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lexicon:
    """A language's compiled lexicon plus the problems found while reading it."""

    lang: str
    patterns: tuple[Pattern, ...]
    exceptions: tuple[Pattern, ...]
    typo_words: tuple[str, ...]
    not_typos: frozenset[str]
    negation_cues: frozenset[str]
    negation_bridges: frozenset[str]
    categories: frozenset[str]
    problems: tuple[str, ...]


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

    patterns: list[Pattern] = []
    categories: set[str] = set()
    cache: dict[str, Alt] = {}
    compiler = _Compiler()
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

    neg = data.get("negation", {})
    cues: frozenset[str] = frozenset()
    bridges: frozenset[str] = frozenset()
    if isinstance(neg, dict):
        cues = _words(_str_list(neg.get("cues", []), f"{file}:negation.cues", problems))
        bridges = _words(_str_list(neg.get("bridges", []), f"{file}:negation.bridges", problems))

    return Lexicon(
        lang=lang,
        patterns=tuple(patterns),
        exceptions=tuple(exceptions),
        typo_words=tuple(typo_words),
        not_typos=not_typos,
        negation_cues=cues,
        negation_bridges=bridges,
        categories=frozenset(categories),
        problems=tuple(problems),
    )
