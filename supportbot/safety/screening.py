"""Risk screening: text and language in, a decision out. Pure, in memory, fast.

How a message is screened (the lexicon's own syntax is documented in crisis.toml):
1. `normalise` folds case, accents, leetspeak, spacing tricks and repeated letters.
2. Each distinct word is analysed once per process and remembered: is it a typo of a key word,
   does it start with a lexicon prefix, does it hide a spelled-together phrase ("#killmyself")?
3. Set intersections find the lexicon's anchor words in the message. Most messages have none and
   are cleared here, in a few microseconds.
4. Only the patterns anchored on those words run, as small precompiled regexes, most severe first.
   Idiom exceptions remove only the matches they overlap; a negation just before a match lowers
   urgent to concern and never clears it.
5. When no pattern matched, the compositional layer (`concepts`) tries its rules: concept words
   in order within a few words ("i'm nothing but a burden", "goodbye... sorry for everything").
   The same exceptions and negation apply (a negation inside its match also lowers it).
6. When nothing matched, the learned layer (`learned`) scores the message's words in the client's
   language; above its threshold the reply goes out at the concern level. Words an idiom
   exception covers are left out of that score.

All loaded languages are screened together because clients mix languages; the client's language
only breaks ties.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from supportbot.safety.cache import load_learned, load_lexicon
from supportbot.safety.concepts import ConceptMatcher
from supportbot.safety.fuzzy import TypoIndex
from supportbot.safety.learned import LearnedModel
from supportbot.safety.lexicon import CATEGORIES, LEVELS, Lexicon
from supportbot.safety.normalise import normalise, normalise_mapped

ScreenLevel = Literal["urgent", "concern", "none"]
_MEMO_CAP = 100_000
_MEMO_TOKEN_MAX = 40
_NEGATION_WINDOW = 5
_COMPACT_SCAN = 160  # characters of one word searched for spelled-together phrases
EXAMPLES_DIR = "crisis_examples"  # the learned layer's training examples (*.tsv), per language
# Hashtag and letter-by-letter forms are checked for these categories (the explicit ones).
_COMPACT_CATEGORIES = frozenset(
    {"suicide", "passive_ideation", "plan_means", "self_harm", "farewell"}
)


@dataclass(frozen=True, slots=True)
class Screening:
    """The decision for one message. `span` indexes the original text (see `Screener.screen`)."""

    risk: bool
    level: ScreenLevel
    category: str | None
    span: tuple[int, int] | None


NO_RISK = Screening(risk=False, level="none", category=None, span=None)


@dataclass(frozen=True, slots=True)
class _TokenInfo:
    correction: str | None
    anchors: tuple[str, ...]
    compact: tuple[int, ...]


@dataclass(slots=True)
class _Hit:
    rank: tuple[int, int, int, int]
    level: ScreenLevel
    category: str
    start: int
    end: int


class Screener:
    """Screens messages against the crisis lexicons of the loaded languages."""

    def __init__(self, lexicons: Sequence[Lexicon], models: Sequence[LearnedModel] = ()) -> None:
        self._lexicons = tuple(lexicons)
        self._models = {m.lang: m for m in models}
        self._patterns = tuple(p for lex in self._lexicons for p in lex.patterns)
        cat_order = {c: i for i, c in enumerate(CATEGORIES)}
        extra = sorted({p.category for p in self._patterns} - set(cat_order))
        for c in extra:
            cat_order[c] = len(cat_order)
        self._cat_rank = cat_order
        # anchor word (or "prefix*") -> ids of the patterns it anchors, most severe first
        self._by_anchor: dict[str, list[int]] = {}
        self._rank: list[tuple[int, int]] = []
        self._regex: list[re.Pattern[str] | None] = []
        prefixes: set[str] = set()
        compact: dict[str, list[int]] = {}
        for pid, p in enumerate(self._patterns):
            self._rank.append((LEVELS.index(p.level), cat_order[p.category]))
            self._regex.append(None)
            prefixes.update(p.prefixes)
            for a in [*p.anchors, *(f"{pre}*" for pre in p.prefixes)]:
                self._by_anchor.setdefault(a, []).append(pid)
            if p.category in _COMPACT_CATEGORIES:
                for form in p.compact:
                    compact.setdefault(form, []).append(pid)
        # anchor -> union of its patterns' second words (None: some pattern has none)
        self._gate: dict[str, frozenset[str] | None] = {}
        for a, pids in self._by_anchor.items():
            pids.sort(key=lambda i: self._rank[i])
            seconds = [self._patterns[i].second for i in pids]
            self._gate[a] = None if not all(seconds) else frozenset().union(*seconds)
        self._anchor_words = frozenset(a for a in self._by_anchor if not a.endswith("*"))
        self._prefixes = tuple(sorted(prefixes))
        self._compact = compact
        self._compact_lengths = tuple(sorted({len(f) for f in compact}))
        exc_sources = [e.regex for lex in self._lexicons for e in lex.exceptions]
        self._exc_source = "(?<!\\S)(?:" + "|".join(exc_sources) + ")" if exc_sources else ""
        self._exc_re: re.Pattern[str] | None = None
        keep: set[str] = set()
        for lex in self._lexicons:
            for p in (*lex.patterns, *lex.exceptions):
                keep |= p.words
            keep |= lex.not_typos | lex.negation_cues | lex.negation_bridges
        self._typos = TypoIndex((w for lex in self._lexicons for w in lex.typo_words), keep)
        self._variants = {w: r for lex in self._lexicons for w, r in lex.variants}
        self._cues = frozenset().union(*(lex.negation_cues for lex in self._lexicons))
        self._bridges = frozenset().union(*(lex.negation_bridges for lex in self._lexicons))
        self._concepts = ConceptMatcher(
            [(lex.lang, lex.concepts, lex.concept_rules) for lex in self._lexicons]
        )
        self._seen: set[str] = set()
        self._dyn: dict[str, _TokenInfo] = {}
        self._dyn_set: set[str] = set()

    @classmethod
    def load(
        cls, messages_dir: Path, languages: Sequence[str], *, use_cache: bool = True
    ) -> Screener:
        """Read `<messages_dir>/<lang>/crisis.toml` for each language (a missing file raises).

        Compiled lexicons are kept in a small on-disk cache (see `cache`) unless `use_cache`
        is False; the result is the same either way.
        """
        root = Path(messages_dir)
        models = [
            load_learned(lang, root / lang / EXAMPLES_DIR, use_cache=use_cache)
            for lang in languages
            if any((root / lang / EXAMPLES_DIR).glob("*.tsv"))
        ]
        lexicons = [
            load_lexicon(
                lang,
                root / lang / "crisis.toml",
                f"{root.name}/{lang}/crisis.toml",
                use_cache=use_cache,
            )
            for lang in languages
        ]
        return cls(lexicons, models)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(lex.lang for lex in self._lexicons)

    @property
    def problems(self) -> tuple[str, ...]:
        """Lexicon problems found while loading; the patterns concerned are left out."""
        return tuple(p for lex in self._lexicons for p in lex.problems)

    def compile_all(self) -> None:
        """Compile every lazily compiled regex now (for validation and warm-up)."""
        for pid in range(len(self._patterns)):
            self._pattern_re(pid)
        self._exc_regex()

    # --- the hot path ---------------------------------------------------------------------------

    def screen(self, text: str, lang: str) -> Screening:
        """Screen one message.

        `span` is (start, end) into `text` when the match maps back to it (nearly always); in the
        rare case it cannot, it indexes the normalised text instead.
        """
        if not text:
            return NO_RISK
        norm = normalise(text)
        if not norm:
            return NO_RISK
        toks = norm.split(" ")
        ts = set(toks)
        local: dict[str, _TokenInfo] | None = None
        unseen = ts - self._seen
        if unseen:
            local = self._learn(unseen)
        exact = ts & self._anchor_words
        dyn = ts & self._dyn_set
        if local:
            dyn |= local.keys()
        if not dyn:
            if not exact:
                return self._by_concepts(text, lang, norm, toks, ts, norm, {})
            # Most anchor hits are ordinary words; a pattern also needs one of its second words.
            gate = self._gate
            for a in exact:
                second = gate[a]
                if second is None or not ts.isdisjoint(second):
                    break
            else:
                return self._by_concepts(text, lang, norm, toks, ts, norm, {})
        return self._decide(text, lang, norm, toks, exact, dyn, local or {})

    def _by_concepts(
        self,
        text: str,
        lang: str,
        norm: str,
        toks: list[str],
        ts: set[str],
        canon: str,
        corrections: dict[str, str],
    ) -> Screening:
        """The compositional layer, asked only when no pattern matched."""
        hits = self._concepts.match(toks, ts)
        if not hits:
            return self._by_model(text, lang, norm, toks, canon, corrections)
        offsets: list[int] = []
        o = 0
        for t in toks:
            offsets.append(o)
            o += len(t) + 1
        rx = self._exc_regex()
        exc = [m.span() for m in rx.finditer(canon + " ")] if rx is not None else []
        best: _Hit | None = None
        for h in hits:
            a = offsets[h.start]
            b = offsets[h.end - 1] + len(toks[h.end - 1])
            if any(a < eb and ea < b for ea, eb in exc):
                continue
            level: ScreenLevel = h.rule.level
            if level == "urgent" and (
                self._negated(canon, a) or not self._cues.isdisjoint(toks[h.start : h.end])
            ):
                level = "concern"
            rank = (
                0 if level == "urgent" else 1,
                self._cat_rank.get(h.rule.category, 99),
                0 if h.lang == lang else 1,
                a,
            )
            if best is None or rank < best.rank:
                best = _Hit(rank, level, h.rule.category, a, b)
        if best is None:
            return self._by_model(text, lang, norm, toks, canon, corrections)
        span = self._original_span(text, norm, canon, corrections, best.start, best.end)
        return Screening(risk=True, level=best.level, category=best.category, span=span)

    def _by_model(
        self,
        text: str,
        lang: str,
        norm: str,
        toks: list[str],
        canon: str,
        corrections: dict[str, str],
    ) -> Screening:
        """The learned layer, asked last: concern level at most, idiom exceptions respected.

        Every loaded language's model is asked (clients mix languages), the client's first.
        """
        models = [m for m in self._model_order(lang) if m.fires(toks)]
        if not models:
            return NO_RISK
        rx = self._exc_regex()
        kept = list(range(len(toks)))
        if rx is not None:
            exc = [m.span() for m in rx.finditer(canon + " ")]
            if exc:
                kept = []
                o = 0
                for i, t in enumerate(toks):
                    a, b = o, o + len(t)
                    if not any(a < eb and ea < b for ea, eb in exc):
                        kept.append(i)
                    o = b + 1
                if len(kept) < len(toks):
                    rest = [toks[i] for i in kept]
                    models = [m for m in models if m.fires(rest)]
                    if not models:
                        return NO_RISK
        model = models[0]
        words = [toks[i] for i in kept]
        category, (i, j) = model.explain(words)
        first, last = kept[i], kept[j - 1]
        offsets = [0]
        for t in toks:
            offsets.append(offsets[-1] + len(t) + 1)
        a, b = offsets[first], offsets[last] + len(toks[last])
        span = self._original_span(text, norm, canon, corrections, a, b)
        return Screening(risk=True, level="concern", category=category, span=span)

    def _model_order(self, lang: str) -> list[LearnedModel]:
        first = self._models.get(lang)
        rest = [m for k, m in self._models.items() if k != lang]
        return [first, *rest] if first is not None else rest

    def _learn(self, unseen: set[str]) -> dict[str, _TokenInfo]:
        """Analyse new words; remember them (bounded). Returns infos of words not remembered."""
        if len(self._seen) + len(unseen) > _MEMO_CAP:
            self._seen.clear()
            self._dyn.clear()
            self._dyn_set.clear()
        local: dict[str, _TokenInfo] = {}
        for t in unseen:
            info = self._analyse(t)
            if len(t) > _MEMO_TOKEN_MAX:
                if info is not None:
                    local[t] = info
                continue
            self._seen.add(t)
            if info is not None:
                self._dyn[t] = info
                self._dyn_set.add(t)
        return local

    def _analyse(self, tok: str) -> _TokenInfo | None:
        correction = self._variants.get(tok)
        if correction is None and tok not in self._anchor_words:
            correction = self._typos.correct(tok)
        word = correction or tok
        anchors: list[str] = []
        if correction is not None and correction in self._anchor_words:
            anchors.append(correction)
        if self._prefixes and word.startswith(self._prefixes):
            anchors.extend(f"{p}*" for p in self._prefixes if word.startswith(p))
        compact: tuple[int, ...] = ()
        if len(tok) >= 7 and self._compact:
            found = self._compact_in(tok)
            if found:
                compact = tuple(pid for f in found for pid in self._compact[f])
        if correction is None and not anchors and not compact:
            return None
        return _TokenInfo(correction, tuple(anchors), compact)

    def _compact_in(self, tok: str) -> list[str]:
        """Spelled-together phrases inside one word ("iwanttodie"): set lookups of its slices,
        O(len * distinct lengths), run once per distinct word."""
        forms = self._compact
        tok = tok[:_COMPACT_SCAN]
        n = len(tok)
        return [
            tok[i : i + k]
            for k in self._compact_lengths
            if k <= n
            for i in range(n - k + 1)
            if tok[i : i + k] in forms
        ]

    def _exc_regex(self) -> re.Pattern[str] | None:
        if self._exc_re is None and self._exc_source:
            self._exc_re = re.compile(self._exc_source)
        return self._exc_re

    def _pattern_re(self, pid: int) -> re.Pattern[str]:
        rx = self._regex[pid]
        if rx is None:
            rx = re.compile("(?<!\\S)" + self._patterns[pid].regex)
            self._regex[pid] = rx
        return rx

    def _negated(self, canon: str, start: int) -> bool:
        before = canon[max(0, start - 80) : start].split()
        for w in reversed(before[-_NEGATION_WINDOW:]):
            if w in self._cues:
                return True
            if w not in self._bridges:
                return False
        return False

    def _decide(
        self,
        text: str,
        lang: str,
        norm: str,
        toks: list[str],
        exact: set[str],
        dyn: set[str],
        local: dict[str, _TokenInfo],
    ) -> Screening:
        anchors: set[str] = set(exact)
        corrections: dict[str, str] = {}
        compact_tokens: dict[str, tuple[int, ...]] = {}
        for t in dyn:
            info = local.get(t) or self._dyn[t]
            if info.correction is not None:
                corrections[t] = info.correction
            anchors.update(info.anchors)
            if info.compact:
                compact_tokens[t] = info.compact
        canon_toks = [corrections.get(t, t) for t in toks] if corrections else toks
        canon = " ".join(canon_toks) if corrections else norm
        canon_s = canon + " "

        exc_spans: list[tuple[int, int]] | None = None

        def excepted(a: int, b: int) -> bool:
            nonlocal exc_spans
            if exc_spans is None:
                rx = self._exc_regex()
                exc_spans = [m.span() for m in rx.finditer(canon_s)] if rx is not None else []
            return any(a < eb and ea < b for ea, eb in exc_spans)

        best: _Hit | None = None

        def consider(
            level: ScreenLevel, category: str, plang: str, a: int, b: int, explicit: bool
        ) -> None:
            nonlocal best
            if not explicit and excepted(a, b):
                return
            if level == "urgent" and self._negated(canon, a):
                level = "concern"
            rank = (
                0 if level == "urgent" else 1,
                self._cat_rank.get(category, 99),
                0 if plang == lang else 1,
                a,
            )
            if best is None or rank < best.rank:
                best = _Hit(rank, level, category, a, b)

        if compact_tokens:
            offset = 0
            for t in canon_toks:
                pids = compact_tokens.get(t)
                if pids:
                    for pid in pids:
                        p = self._patterns[pid]
                        consider(p.level, p.category, p.lang, offset, offset + len(t), p.explicit)
                offset += len(t) + 1

        words = set(canon_toks) if corrections else set(toks)
        cands = sorted(
            {
                pid
                for a in anchors
                for pid in self._by_anchor.get(a, ())
                if not self._patterns[pid].second
                or not words.isdisjoint(self._patterns[pid].second)
            },
            key=lambda i: self._rank[i],
        )
        for pid in cands:
            if best is not None and self._rank[pid] > best.rank[:2]:
                break
            p = self._patterns[pid]
            for m in self._pattern_re(pid).finditer(canon_s):
                consider(p.level, p.category, p.lang, m.start(), m.end() - 1, p.explicit)

        if best is None:
            return self._by_concepts(
                text, lang, norm, canon_toks, set(canon_toks), canon, corrections
            )
        span = self._original_span(text, norm, canon, corrections, best.start, best.end)
        return Screening(risk=True, level=best.level, category=best.category, span=span)

    def _original_span(
        self, text: str, norm: str, canon: str, corrected: dict[str, str], a: int, b: int
    ) -> tuple[int, int]:
        if corrected:
            # Move from canonical-word offsets to the same words in the normalised text.
            first = canon.count(" ", 0, a)
            last = canon.count(" ", 0, max(a, b - 1))
            starts = [m.start() for m in re.finditer(r"\S+", norm)]
            a = starts[first]
            end_tok = starts[last]
            nxt = norm.find(" ", end_tok)
            b = len(norm) if nxt < 0 else nxt
        mapped, pos = normalise_mapped(text)
        if mapped != norm or not pos or b <= a:
            return (a, b)
        return (pos[a], pos[b - 1] + 1)
