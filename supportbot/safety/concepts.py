"""The compositional layer: concept word sets and ordered rules, for phrasings no pattern lists.

Patterns in crisis.toml name whole phrases; people keep finding new ways to put the same idea
("i'm nothing but a burden", "goodbye, i'm sorry for everything"). Here a language names *concepts*
(sets of words or short phrases: wanting, death, burden, goodbye...) and *rules*: concepts that
must appear in order, each within a few words of the previous one. The screener asks this layer
only when no pattern matched, and treats its matches like pattern matches (idiom exceptions
cancel the ones they overlap; a negation lowers urgent to concern, never cancels).

Linear time: each distinct word is looked up once (remembered, bounded); a message is scanned
once per candidate rule, and a rule is a candidate only when its rarest concept is present.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from supportbot.safety.lexicon import CATEGORIES, LEVELS, Level
from supportbot.safety.normalise import normalise

MAX_GAP = 8
MAX_NEAR = 10
_MEMO_CAP = 100_000
_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class ConceptRule:
    """Concepts `seq` in this order; `gaps[i]` words at most between seq[i] and seq[i+1].

    Any concept of `unless` within `before` words ahead of the match or `after` words behind it
    cancels this rule's match (and only it).
    """

    key: str
    category: str
    level: Level
    seq: tuple[str, ...]
    gaps: tuple[int, ...]
    unless: tuple[str, ...]
    before: int
    after: int


Concepts = tuple[tuple[str, tuple[str, ...]], ...]


def build_concepts(
    data: Mapping[str, object], file: str, problems: list[str]
) -> tuple[Concepts, tuple[ConceptRule, ...]]:
    """Read the [concepts] and [concept_rules] tables; problems are collected, never raised."""
    sets: dict[str, tuple[str, ...]] = {}
    raw_sets = data.get("concepts", {})
    if not isinstance(raw_sets, dict):
        problems.append(f"{file}:concepts: must be a table of name = [words]")
        raw_sets = {}
    for name, entries in raw_sets.items():
        key = f"{file}:concepts.{name}"
        if name == "note":
            continue
        if not _NAME.fullmatch(name):
            problems.append(f"{key}: concept names use a-z, 0-9 and _")
            continue
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            problems.append(f"{key}: must be a list of texts")
            continue
        out: list[str] = []
        for e in entries:
            prefix = e.strip().endswith("*")
            n = normalise(e.strip().rstrip("*"))
            if not n:
                problems.append(f"{key}: {e!r} has no letters or digits")
            elif prefix and (" " in n or len(n) < 4):
                problems.append(f"{key}: prefix {e!r} must be one word of 4+ letters")
            else:
                out.append(n + "*" if prefix else n)
        if not out:
            problems.append(f"{key}: is empty")
            continue
        sets[name] = tuple(dict.fromkeys(out))

    rules: list[ConceptRule] = []
    raw_rules = data.get("concept_rules", {})
    if not isinstance(raw_rules, dict):
        problems.append(f"{file}:concept_rules: must be a table of name = {{...}}")
        raw_rules = {}
    for name, spec in raw_rules.items():
        key = f"{file}:concept_rules.{name}"
        if name == "note":
            continue
        rule = _rule(key, spec, sets, problems)
        if rule is not None:
            rules.append(rule)
    return tuple(sorted(sets.items())), tuple(rules)


def _rule(
    key: str, spec: object, sets: Mapping[str, tuple[str, ...]], problems: list[str]
) -> ConceptRule | None:
    if not isinstance(spec, dict):
        problems.append(f"{key}: must be a table {{ category, level, seq, gap }}")
        return None
    unknown = set(spec) - {"category", "level", "seq", "gap", "unless", "near"}
    for u in sorted(unknown):
        problems.append(f"{key}.{u}: unknown key")
    category, level = spec.get("category"), spec.get("level", "concern")
    if category not in CATEGORIES:
        problems.append(f"{key}.category: one of {', '.join(CATEGORIES)}")
        return None
    if level not in LEVELS:
        problems.append(f"{key}.level: 'urgent' or 'concern'")
        return None
    seq, unless = spec.get("seq"), spec.get("unless", [])
    if not isinstance(seq, list) or not seq or not all(isinstance(s, str) for s in seq):
        problems.append(f"{key}.seq: must be a non-empty list of concept names")
        return None
    if not isinstance(unless, list) or not all(isinstance(s, str) for s in unless):
        problems.append(f"{key}.unless: must be a list of concept names")
        return None
    missing = [s for s in (*seq, *unless) if s not in sets]
    if missing:
        problems.append(f"{key}: unknown concept(s) {', '.join(sorted(set(missing)))}")
        return None
    gap = spec.get("gap", 3)
    gaps = [gap] * (len(seq) - 1) if isinstance(gap, int) else gap
    if (
        not isinstance(gaps, list)
        or len(gaps) != len(seq) - 1
        or not all(isinstance(g, int) and not isinstance(g, bool) for g in gaps)
        or not all(0 <= g <= MAX_GAP for g in gaps)
    ):
        problems.append(f"{key}.gap: a number 0-{MAX_GAP}, or one per link of seq")
        return None
    near = spec.get("near", [3, 3])
    if (
        not isinstance(near, list)
        or len(near) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in near)
        or not all(0 <= n <= MAX_NEAR for n in near)
    ):
        problems.append(f"{key}.near: [words before, words after], each 0-{MAX_NEAR}")
        return None
    return ConceptRule(
        key=key,
        category=str(category),
        level=level,
        seq=tuple(seq),
        gaps=tuple(gaps),
        unless=tuple(unless),
        before=near[0],
        after=near[1],
    )


# --- matching -----------------------------------------------------------------------------------

# (concept id, the words after the first one) for each entry starting with a given word
_Entry = tuple[int, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class _Rule:
    rule: ConceptRule
    lang: str
    seq: tuple[int, ...]
    need: frozenset[int]
    unless: frozenset[int]


@dataclass(frozen=True, slots=True)
class ConceptHit:
    """A rule's match: tokens [start, end) of the message."""

    rule: ConceptRule
    lang: str
    start: int
    end: int


# Everyday words (normalised): poor gates, since most messages contain some. Only speed depends
# on this list, never what is found.
_FREQUENT = frozenset(
    """
    i im ive id il me my mine a an the to of and or but so if it its is be am are was were been do
    dont did not no yes just this that these those there here what you your he she they we them
    us his her him their our have has had will can with from up out about as by than then all
    on in at for get got go going gona wana want need ned fel feel like love think thinking
    know which again beter good bad more much very too also now when how why who would could
    should some any one every back of over down after before still even only new time day
    de la el los las lo le les mi mis te se que en y o un una uno por para con sin es soy estoy
    esta estar ser fue era hay del al su sus nos ya si pero como cuando mas muy todo toda todos
    voy va ir quiero hacer tengo tiene yo tu otra otro bien mal
    """.split()  # noqa: SIM905 (a word list reads better as text)
)


def _key(entry: str) -> str:
    """The word of an entry most likely to be rare: its longest word that is not an everyday
    word (a prefix entry: the prefix with its `*`)."""
    words = entry.split(" ")
    rare = [w for w in words if w not in _FREQUENT]
    return max(rare or words, key=len)


def _cost(entries: Sequence[str]) -> int:
    """How often a concept's entries occur, roughly: short words are frequent."""
    total = 0
    for e in entries:
        key = _key(e)
        k = len(key.rstrip("*"))
        total += 60 if key in _FREQUENT or k <= 2 else 12 if k <= 3 else 3 if k <= 4 else 1
    return total


class ConceptMatcher:
    """Matches every language's concept rules against a message's words."""

    def __init__(self, per_lang: Sequence[tuple[str, Concepts, Sequence[ConceptRule]]]) -> None:
        self._exact: dict[str, list[_Entry]] = {}
        prefixes: list[tuple[str, int]] = []
        ids: dict[tuple[str, str], int] = {}
        costs: list[int] = []
        keys: list[set[str]] = []
        for lang, sets, _ in per_lang:
            for name, entries in sets:
                cid = ids.setdefault((lang, name), len(ids))
                costs.append(_cost(entries))
                keys.append({_key(e) for e in entries})
                for e in entries:
                    if e.endswith("*"):
                        prefixes.append((e[:-1], cid))
                    else:
                        first, *rest = e.split(" ")
                        self._exact.setdefault(first, []).append((cid, tuple(rest)))
        self._prefixes = tuple(prefixes)
        self._prefix_starts = tuple({p for p, _ in prefixes})
        self._by_gate: dict[int, list[_Rule]] = {}
        self.rule_count = 0
        for lang, _, rules in per_lang:
            for r in rules:
                seq = tuple(ids[(lang, s)] for s in r.seq)
                compiled = _Rule(
                    r, lang, seq, frozenset(seq), frozenset(ids[(lang, s)] for s in r.unless)
                )
                gate = min(seq, key=lambda c: costs[c])
                self._by_gate.setdefault(gate, []).append(compiled)
                self.rule_count += 1
        self._memo: dict[str, tuple[_Entry, ...]] = {}
        self._seen: set[str] = set()
        self._keys: set[str] = set()
        # Every entry of a concept contains its key word (its rarest word; for a prefix entry,
        # any word with the prefix, added as such words are seen). A rule can only match when
        # the message has a key word of each of its concepts; checking its gate concept first
        # (the rarest) clears most messages in one set operation.
        self._static_keys = [frozenset(k for k in ks if not k.endswith("*")) for ks in keys]
        self._ckeys: list[set[str]] = [set(k) for k in self._static_keys]
        self._key_prefixes = tuple(
            (k[:-1], c) for c, ks in enumerate(keys) for k in ks if k.endswith("*")
        )
        self._gate_words: dict[str, set[int]] = {}
        for c in self._by_gate:
            for k in self._static_keys[c]:
                self._gate_words.setdefault(k, set()).add(c)
        self._gate_static = {k: set(v) for k, v in self._gate_words.items()}

    def _entries(self, tok: str) -> tuple[_Entry, ...]:
        out = list(self._exact.get(tok, ()))
        if self._prefix_starts and tok.startswith(self._prefix_starts):
            out.extend((cid, ()) for p, cid in self._prefixes if tok.startswith(p))
        return tuple(out)

    def _learn(self, unseen: set[str]) -> None:
        if len(self._seen) + len(unseen) > _MEMO_CAP:
            self._seen.clear()
            self._memo.clear()
            self._keys.clear()
            self._ckeys = [set(k) for k in self._static_keys]
            self._gate_words = {k: set(v) for k, v in self._gate_static.items()}
        for t in unseen:
            self._seen.add(t)
            entries = self._entries(t)
            if not entries:
                continue
            self._memo[t] = entries
            self._keys.add(t)
            for p, c in self._key_prefixes:
                if t.startswith(p):
                    self._ckeys[c].add(t)
                    if c in self._by_gate:
                        self._gate_words.setdefault(t, set()).add(c)

    def match(self, toks: Sequence[str], ts: set[str]) -> list[ConceptHit]:
        """Every rule's first match in the message (at most one per rule)."""
        if not self._by_gate:
            return []
        unseen = ts - self._seen
        if unseen:
            self._learn(unseen)
        gate_words = self._gate_words
        hit = ts.intersection(gate_words)
        if not hit:
            return []
        ckeys = self._ckeys
        gates = {c for w in hit for c in gate_words[w]}
        rules = [
            r
            for c in gates
            for r in self._by_gate[c]
            if all(not ts.isdisjoint(ckeys[x]) for x in r.seq)
        ]
        if not rules:
            return []
        present = ts & self._keys
        memo = self._memo
        # occurrences: per position, (concept id, end position exclusive), phrases verified
        n = len(toks)
        occ: list[list[tuple[int, int]]] = [[] for _ in range(n)]
        for i, t in enumerate(toks):
            if t in present:
                for cid, rest in memo[t]:
                    k = len(rest)
                    if not k:
                        occ[i].append((cid, i + 1))
                    elif tuple(toks[i + 1 : i + 1 + k]) == rest:
                        occ[i].append((cid, i + 1 + k))
                if len(occ[i]) > 1:
                    # longest first: the shortest reading of a concept is kept, leaving its
                    # following words free for the next concept ("burden" + "to everyone")
                    occ[i].sort(key=lambda o: -o[1])
        hits: list[ConceptHit] = []
        for r in rules:
            hit_ = self._chain(r, occ, n)
            if hit_ is not None:
                hits.append(hit_)
        return hits

    @staticmethod
    def _chain(r: _Rule, occ: list[list[tuple[int, int]]], n: int) -> ConceptHit | None:
        seq, gaps = r.seq, r.rule.gaps
        k = len(seq)
        end = [-1] * k  # end (exclusive) of the latest chain reaching element j
        parts: list[tuple[tuple[int, int], ...]] = [()] * k  # that chain's concept words
        for i in range(n):
            here = occ[i]
            if not here:
                continue
            for cid, e in here:
                for j in range(k - 1, -1, -1):
                    if seq[j] != cid:
                        continue
                    if j == 0:
                        end[0], parts[0] = e, ((i, e),)
                    elif end[j - 1] >= 0 and end[j - 1] <= i <= end[j - 1] + gaps[j - 1]:
                        end[j], parts[j] = e, (*parts[j - 1], (i, e))
                    else:
                        continue
                    if j == k - 1 and not (r.unless and _near(r, occ, parts[j], n)):
                        return ConceptHit(r.rule, r.lang, parts[j][0][0], e)
        return None


def _near(
    r: _Rule, occ: list[list[tuple[int, int]]], parts: tuple[tuple[int, int], ...], n: int
) -> bool:
    """An `unless` concept near the match or in its gaps, not in the concept words themselves."""
    a, b = parts[0][0], parts[-1][1]
    for i in range(max(0, a - r.rule.before), min(n, b + r.rule.after)):
        if any(s <= i < e for s, e in parts):
            continue
        for cid, _ in occ[i]:
            if cid in r.unless:
                return True
    return False
