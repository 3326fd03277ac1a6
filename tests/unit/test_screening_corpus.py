"""Recall and false-alarm rate of the RULES on the labelled corpora (run with -s to see them).

The corpora live in messages/<lang>/crisis_examples/corpus.tsv, beside the lexicon, because the
screener's learned layer also trains on them; so these figures are for the patterns and concept
rules alone (which never learn from the corpus), and test_learned.py measures the learned layer by
cross-validation and the whole screener on examples it did not train on.

Labels: `explicit` (risk that must never be missed), `risk`, `safe` (look-alikes: idioms, therapy
talk, grief) and `borderline` (reported, not scored). The goals come from issue 3.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from supportbot.safety.screening import Screener

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "messages"
MESSAGES = ROOT / "messages"
GOALS = {"en": (0.97, 0.05), "es": (0.95, 0.08)}  # (minimum recall, maximum false-alarm rate)
LABELS = {"explicit", "risk", "safe", "borderline"}


@dataclass
class Figures:
    lang: str
    risk: int
    missed: list[str]
    missed_explicit: list[str]
    safe: int
    false_alarms: list[str]
    borderline: int
    borderline_flagged: int
    category_agree: int

    @property
    def recall(self) -> float:
        return (self.risk - len(self.missed)) / self.risk

    @property
    def far(self) -> float:
        return len(self.false_alarms) / self.safe


def _rows(lang: str) -> list[dict[str, str]]:
    with (CORPUS / lang / "crisis_examples" / "corpus.tsv").open(
        encoding="utf-8", newline=""
    ) as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.fixture(scope="module")
def screener() -> Screener:
    """The rules alone: the lexicons without the learned layer (which trains on this corpus)."""
    return Screener(Screener.load(MESSAGES, ["en", "es"], use_cache=False)._lexicons)


def measure(screener: Screener, lang: str) -> Figures:
    f = Figures(lang, 0, [], [], 0, [], 0, 0, 0)
    for row in _rows(lang):
        result = screener.screen(row["text"], lang)
        label = row["label"]
        if label in ("risk", "explicit"):
            f.risk += 1
            if not result.risk:
                f.missed.append(row["text"])
                if label == "explicit":
                    f.missed_explicit.append(row["text"])
            elif result.category == row["category"]:
                f.category_agree += 1
        elif label == "safe":
            f.safe += 1
            if result.risk:
                f.false_alarms.append(f"{row['text']} ({result.category})")
        else:
            f.borderline += 1
            f.borderline_flagged += result.risk
    hits = f.risk - len(f.missed)
    print(
        f"\n[{lang}] recall {f.recall:.3f} ({hits}/{f.risk}), false alarms {f.far:.3f} "
        f"({len(f.false_alarms)}/{f.safe}), category agreement {f.category_agree}/{hits}, "
        f"borderline flagged {f.borderline_flagged}/{f.borderline}"
    )
    for text in f.missed:
        print(f"  missed: {text}")
    for text in f.false_alarms:
        print(f"  false alarm: {text}")
    return f


@pytest.mark.parametrize("lang", ["en", "es"])
def test_corpus_is_well_formed(lang: str) -> None:
    rows = _rows(lang)
    labels = Counter(r["label"] for r in rows)
    assert set(labels) <= LABELS
    assert all(r["text"].strip() for r in rows)
    # Enough of each kind to mean something.
    assert labels["risk"] + labels["explicit"] >= (150 if lang == "en" else 100)
    assert labels["safe"] >= (100 if lang == "en" else 80)
    assert len(rows) >= (300 if lang == "en" else 200)
    risk_categories = {r["category"] for r in rows if r["label"] in ("risk", "explicit")}
    assert {
        "suicide",
        "passive_ideation",
        "plan_means",
        "farewell",
        "self_harm",
        "harm_to_others",
        "danger_from_others",
        "burden",
    } <= risk_categories
    texts = [r["text"].lower() for r in rows]
    assert len(texts) == len(set(texts)), "duplicate lines inflate the figures"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_recall_and_false_alarm_goals(screener: Screener, lang: str) -> None:
    f = measure(screener, lang)
    min_recall, max_far = GOALS[lang]
    assert not f.missed_explicit, f"explicit phrases missed: {f.missed_explicit}"
    assert f.recall >= min_recall, f"recall {f.recall:.3f} < {min_recall}: {f.missed}"
    assert f.far <= max_far, f"false-alarm rate {f.far:.3f} > {max_far}: {f.false_alarms}"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_client_language_does_not_change_the_decision(screener: Screener, lang: str) -> None:
    """Clients mix languages, so every loaded lexicon screens every message."""
    other = "es" if lang == "en" else "en"
    for row in _rows(lang):
        a = screener.screen(row["text"], lang)
        b = screener.screen(row["text"], other)
        assert a.risk == b.risk, row["text"]
