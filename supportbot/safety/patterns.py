"""The lexicon's pattern syntax: parsing, and compiling to regex, anchors and compact forms.

Only needed when a crisis.toml is compiled (not when the compiled form comes from the cache).
Every regex built here is linear by construction: literal words, bounded gaps of whole words
(possessive), and alternations of literals. No nested unbounded repetition exists to backtrack on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from supportbot.safety.lexicon import (
    GAP_WORDS,
    MAX_EXPANSIONS,
    MIN_COMPACT,
    Level,
    LexiconError,
    Pattern,
)
from supportbot.safety.normalise import normalise

# Very frequent words make poor anchors (the regex would run on most messages). Only speed depends
# on these lists, never what is found.
_STOP_WORDS = """
    i im me my a an the to of in on at for and or but so if it is be am are was were been do
    dont did not no yes just this that there here what you your he she they we them us his her
    their our its have has had will wil can with from up out about as by than then all yo me mi
    mis tu te se lo la las los el un una uno que de en y o pero si no ya por para con sin es soy
    estoy esta estar ser fue era hay del al le les su sus nos
"""
_COMMON_WORDS = """
    mine really what when how why who get got go going gona wana want wanted feel felt like
    think know would could should cant wont one some any more much very too also now time day
    life people thing things way make made take took need ever never again still even only after
    before love hate finished finish tried try new sleep better best good bad miss said say tell
    told see look come came give help work home night today tonight tomorrow week year kind
    every everyone everything someone something nothing anyone back off over down first last
    well right left long little big thank thanks please sorry okay ok lol yeah maybe because
    into through while where which other each both same own keep kept let put start end ended
    call called talk talked feeling thinking trying doing being having making getting saying
    coming leaving stay stayed run ran walk walked eat ate sit read write wrote mom mum dad
    family friend friends therapist session therapy happy sad tired fine morning cat dog
    breathing muy mas como cuando porque todo toda todos nada algo quiero quisiera voy vas va ir
    hacer tengo tiene tener vida dia vez mejor peor bien mal siento creo pienso hoy manana noche
    aqui asi otra otro cosas casa mama papa amigo amiga amigos terapia sesion trabajo gracias
    tambien solo donde cansada cansado
"""
_frequent: tuple[frozenset[str], frozenset[str]] | None = None
# Chat fillers and laughter that people add after a sentence ("i want to end it lol", "kms fr",
# "me quiero morir jajaja neta"): `$` allows up to three of them, so an end-of-message pattern
# still reads the message as ending there. Words only, already normalised.
_FILLER_WORDS = """
    lol lmao lmfao rofl tbh tbf fr frfr ngl rn idk idc honestly tho though ok okay srsly
    seriously lowkey highkey bro bruh man dude bye pls plz please now xd xdd jk smh ugh
    neta wey guey tia tio verdad ya porfa plis pues nomas sabes vale
"""
_FILLER = (
    "(?:"
    + "|".join(sorted({w for w in _FILLER_WORDS.split() if w}, key=len, reverse=True))
    + r"|(?:[jh][ae]){2,8}+[jh]?)"
)
_TRAILING_FILLERS = r"(?:" + _FILLER + r" ){0,3}+"


def _frequent_words() -> tuple[frozenset[str], frozenset[str]]:
    global _frequent
    if _frequent is None:
        stop = frozenset(normalise(w) for w in _STOP_WORDS.split())
        common = frozenset(normalise(w) for w in _COMMON_WORDS.split())
        _frequent = (stop, common)
    return _frequent


# --- pattern syntax -> tree ---------------------------------------------------------------------


class Word:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class Prefix:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class Gap:
    """0 to GAP_WORDS words."""

    __slots__ = ()


class Num:
    """A number; `big`: 10 or more (two digits or more)."""

    __slots__ = ("big",)

    def __init__(self, big: bool = False) -> None:
        self.big = big


class End:
    """The end (`start`: the beginning) of the message."""

    __slots__ = ("start",)

    def __init__(self, start: bool = False) -> None:
        self.start = start


class Alt:
    """One of several sequences (macro bodies are shared Alt objects)."""

    __slots__ = ("options",)

    def __init__(self, options: tuple[tuple[Node, ...], ...]) -> None:
        self.options = options


class Opt:
    __slots__ = ("body",)

    def __init__(self, body: tuple[Node, ...]) -> None:
        self.body = body


Node = Word | Prefix | Gap | Num | End | Alt | Opt
Seq = tuple[Node, ...]

_TOKEN = re.compile(r"[()\[\]|]|<[a-z_][a-z0-9_]*>|[^\s()\[\]|<>]+")
_OPS = frozenset("()[]|")
_GAP = Gap()
_NUM = Num()
_BIGNUM = Num(big=True)
_END = End()
_START = End(start=True)


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
        elif val == "^":
            seq = (_START,)
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


class Compiler:
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
                parts.append(r"\A" if node.start else _TRAILING_FILLERS + r"\Z")
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
                cand = (10.0 + _word_cost(node.text), frozenset(), frozenset((node.text,)))
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
    """A rough stand-in for how often a word occurs: frequent words make poor anchors."""
    stop, common = _frequent_words()
    if word in stop:
        return 1000.0
    if word in common:
        return 100.0
    if len(word) <= 2:
        return 40.0
    if len(word) == 3:
        return 30.0
    return max(2.0, 14.0 - len(word))


_SQUEEZE = re.compile(r"([a-z])\1+")


def _squeeze(m: re.Match[str]) -> str:
    return m.group(1)


def compile_pattern(
    src: str,
    *,
    lang: str,
    category: str,
    level: Level,
    key: str,
    macros: Mapping[str, Sequence[str]],
    cache: dict[str, Alt] | None = None,
    compiler: Compiler | None = None,
) -> Pattern:
    """Compile one pattern; raises LexiconError with `key` when it cannot be used.

    The regex itself is compiled later, on first use (see `Screener.compile_all`).
    """
    if not isinstance(src, str) or not src.strip():
        raise LexiconError(key, "empty pattern")
    explicit = src.lstrip().startswith("!")
    body = src.lstrip()[1:] if explicit else src
    if not body.strip():
        raise LexiconError(key, "empty pattern")
    seq = parse(body, key, macros, cache)
    comp = compiler or Compiler()
    anchor = comp.anchor(seq)
    if anchor is None:
        raise LexiconError(key, f"pattern {src!r} needs at least one word that is always there")
    # Every required element is a necessary condition; keep the cheapest other one (words only).
    others = [comp.anchor((node,)) for node in seq]
    seconds = sorted(
        (a for a in others if a is not None and a is not anchor and not a[2] and a[1] != anchor[1]),
        key=lambda a: a[0],
    )
    second = seconds[0][1] if seconds else frozenset()
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
        second=second,
        explicit=explicit,
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
