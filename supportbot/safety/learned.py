"""The learned layer: a small linear model over words and word pairs, for phrasings no rule names.

Why: patterns and concept rules are reviewable and precise, but people keep finding new ways to
say the same thing. On independent held-out sets the rules alone missed about one risk message in
five (indirect plans, farewells, threats). A logistic regression trained on labelled examples
generalises from word evidence the rules never list.

What it may do: it runs only when no pattern and no concept rule matched, and it can only ADD a
concern-level crisis reply, never remove or lower one. Idiom exceptions still apply: words an
exception covers are left out before the final score.

Where it learns from: the `*.tsv` files in `messages/<lang>/crisis_examples/` (label, category,
text), plain text a clinician can read and correct. Training is deterministic (fixed seed, fixed order) and takes well
under a second; the result is cached with the compiled lexicon (see `cache`).

No third party, no network, no LLM: pure Python arithmetic on the message's own words.
"""

from __future__ import annotations

import csv
import itertools
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from supportbot.safety.lexicon import CATEGORIES
from supportbot.safety.normalise import normalise

# A message is flagged when the model's probability of risk reaches this. Chosen on held-out
# sets (see benchmarks/README.md): lower catches more and alarms more.
THRESHOLD = 0.8
EPOCHS = 30
LEARNING_RATE = 0.2
L2 = 1e-3
SEED = 0
_MIN_WEIGHT = 1e-3  # smaller weights are dropped: they cannot move a decision

RISK_LABELS = frozenset({"risk", "explicit"})
SAFE_LABELS = frozenset({"safe"})
_SKIPPED_LABELS = frozenset({"borderline", "bare"})  # kept for reading, not used for training
# Category names used by some example files, mapped to the lexicon's names.
_CATEGORY_ALIASES = {"passive": "passive_ideation", "harm_others": "harm_to_others"}


@dataclass(frozen=True, slots=True)
class Example:
    tokens: tuple[str, ...]
    risk: bool
    category: str | None


@dataclass(frozen=True, slots=True)
class LearnedModel:
    """Weights for the risk decision and a naive-Bayes table to name the category."""

    lang: str
    bias: float
    weights: dict[str, float]
    threshold_logit: float
    categories: tuple[str, ...]
    cat_prior: tuple[float, ...]
    cat_logp: dict[str, tuple[float, ...]]
    cat_unseen: tuple[float, ...]
    examples: int

    def logit(self, tokens: Sequence[str]) -> float:
        w = self.weights
        z = self.bias
        for f in features(tokens):
            z += w.get(f, 0.0)
        return z

    def fires(self, tokens: Sequence[str]) -> bool:
        return self.logit(tokens) >= self.threshold_logit

    def explain(self, tokens: Sequence[str]) -> tuple[str, tuple[int, int]]:
        """The likeliest category and the token range of the strongest evidence for risk."""
        feats = features(tokens)
        scores = list(self.cat_prior)
        for f in set(feats):
            row = self.cat_logp.get(f)
            if row is None:
                continue
            for i, v in enumerate(row):
                scores[i] += v
        best = max(range(len(scores)), key=lambda i: (scores[i], -i)) if scores else 0
        category = self.categories[best] if self.categories else "suicide"
        w = self.weights
        top, top_w = 0, -math.inf
        for i, f in enumerate(feats):
            v = w.get(f, 0.0)
            if v > top_w:
                top, top_w = i, v
        n = len(tokens)
        # features() lists the unigrams first (index i), then the pairs (i, i + 1).
        span = (top, top + 1) if top < n else (top - n, top - n + 2)
        return category, span


def features(tokens: Sequence[str]) -> list[str]:
    """Words and adjacent word pairs: enough context for "end it" vs "end of the day"."""
    out = list(tokens)
    out.extend(f"{a} {b}" for a, b in itertools.pairwise(tokens))
    return out


def read_examples(path: Path, problems: list[str] | None = None) -> list[Example]:
    """Read a labelled file; `borderline` and unknown labels are skipped (not training data)."""
    out: list[Example] = []
    with Path(path).open(encoding="utf-8", newline="") as fh:
        for n, row in enumerate(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE), 2):
            label = (row.get("label") or "").strip()
            text = row.get("text") or ""
            if label not in RISK_LABELS and label not in SAFE_LABELS:
                if label not in _SKIPPED_LABELS and problems is not None:
                    problems.append(f"{path.name}:{n}: unknown label {label!r}")
                continue
            toks = tuple(normalise(text).split())
            if not toks:  # emoji only, say: nothing for a word model to learn
                continue
            cat = (row.get("category") or "").strip()
            cat = _CATEGORY_ALIASES.get(cat, cat)
            risk = label in RISK_LABELS
            if risk and cat not in CATEGORIES:
                if problems is not None:
                    problems.append(f"{path.name}:{n}: unknown category {cat!r}")
                cat = ""
            out.append(Example(toks, risk, cat if risk and cat else None))
    return out


def train(lang: str, examples: Iterable[Example], threshold: float = THRESHOLD) -> LearnedModel:
    """Logistic regression by plain SGD with L2, then naive-Bayes category counts."""
    examples = list(examples)
    data = [(features(e.tokens), 1.0 if e.risk else 0.0) for e in examples]
    weights: dict[str, float] = {}
    bias = 0.0
    rnd = random.Random(SEED)
    order = list(range(len(data)))
    for _ in range(EPOCHS):
        rnd.shuffle(order)
        for i in order:
            feats, y = data[i]
            z = bias + sum(weights.get(f, 0.0) for f in feats)
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            g = p - y
            bias -= LEARNING_RATE * g
            for f in feats:
                w = weights.get(f, 0.0)
                weights[f] = w - LEARNING_RATE * (g + L2 * w)
    kept = {f: round(w, 6) for f, w in weights.items() if abs(w) >= _MIN_WEIGHT}

    # Category: multinomial naive Bayes over the risk examples (Laplace smoothing).
    cats = tuple(CATEGORIES)
    counts: dict[str, list[int]] = {}
    totals = [0] * len(cats)
    docs = [0] * len(cats)
    for e in examples:
        if not e.risk or e.category is None:
            continue
        ci = cats.index(e.category)
        docs[ci] += 1
        for f in set(features(e.tokens)):
            counts.setdefault(f, [0] * len(cats))[ci] += 1
            totals[ci] += 1
    vocab = max(1, len(counts))
    ndocs = max(1, sum(docs))
    prior = tuple(math.log((d + 1) / (ndocs + len(cats))) for d in docs)
    unseen = tuple(math.log(1 / (t + vocab)) for t in totals)
    logp = {
        f: tuple(math.log((c[i] + 1) / (totals[i] + vocab)) - unseen[i] for i in range(len(cats)))
        for f, c in counts.items()
    }
    return LearnedModel(
        lang=lang,
        bias=round(bias, 6),
        weights=kept,
        threshold_logit=math.log(threshold / (1.0 - threshold)),
        categories=cats,
        cat_prior=prior,
        cat_logp=logp,
        cat_unseen=unseen,
        examples=len(data),
    )


def to_plain(m: LearnedModel) -> tuple[object, ...]:
    return (
        m.lang,
        m.bias,
        m.weights,
        m.threshold_logit,
        m.categories,
        m.cat_prior,
        m.cat_logp,
        m.cat_unseen,
        m.examples,
    )


def from_plain(data: object) -> LearnedModel:
    if not isinstance(data, tuple) or len(data) != 9:
        raise ValueError("unexpected cache content")
    return LearnedModel(*data)
