"""The learned layer: deterministic, additive only, exceptions respected, honest when held out."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from supportbot.safety.learned import Example, features, read_examples, train
from supportbot.safety.lexicon import build_lexicon
from supportbot.safety.normalise import normalise
from supportbot.safety.screening import EXAMPLES_DIR, Screener

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = ROOT / "messages"


def _ex(text: str, risk: bool, category: str | None = None) -> Example:
    return Example(tuple(normalise(text).split()), risk, category if risk else None)


TOY = [
    _ex("the cliff is where i will finish everything tonight", True, "plan_means"),
    _ex("finish everything tonight at the cliff", True, "plan_means"),
    _ex("i will finish everything, the cliff is close", True, "plan_means"),
    _ex("tonight i finish everything", True, "plan_means"),
    _ex("he will hurt me when he is home", True, "danger_from_others"),
    _ex("he hurts me when he is home", True, "danger_from_others"),
    _ex("i finished my homework tonight", False),
    _ex("we walked to the cliff for the view", False),
    _ex("finish the report tonight", False),
    _ex("everything is fine tonight", False),
    _ex("he is home tonight, we cook together", False),
    _ex("i love my cat", False),
]

# A lexicon with one pattern and one idiom exception: enough to see the order of the layers.
TINY = {
    "suicide": {"urgent": ["kill myself"], "concern": []},
    "exceptions": {"patterns": ["finish everything on my plate"]},
}


def _screener(model_examples: list[Example]) -> Screener:
    lex = build_lexicon("en", TINY, "messages/en/crisis.toml")
    return Screener([lex], [train("en", model_examples)])


def test_features_are_words_and_adjacent_pairs() -> None:
    assert features(["end", "it", "all"]) == ["end", "it", "all", "end it", "it all"]


def test_training_is_deterministic() -> None:
    a, b = train("en", TOY), train("en", list(TOY))
    assert a.weights == b.weights and a.bias == b.bias and a.cat_logp == b.cat_logp


def test_learned_layer_adds_concern_level_replies_only() -> None:
    s = _screener(TOY)
    hit = s.screen("Tonight I will finish everything at the cliff", "en")
    assert hit.risk and hit.level == "concern" and hit.category == "plan_means"
    assert hit.span is not None
    assert not s.screen("I love my cat", "en").risk
    # A pattern still decides first, with its own level.
    assert s.screen("i want to kill myself", "en").level == "urgent"


def test_the_learned_layer_names_the_likeliest_category() -> None:
    hit = _screener(TOY).screen("he will hurt me when he gets home", "en")
    assert hit.risk and hit.category == "danger_from_others"


def test_idiom_exception_words_are_left_out_of_the_score() -> None:
    s = _screener(TOY)
    assert s.screen("tonight i finish everything", "en").risk
    assert not s.screen("tonight i finish everything on my plate", "en").risk


def test_every_loaded_languages_model_is_asked() -> None:
    """Clients mix languages: a message is screened by every model, as by every lexicon."""
    s = _screener(TOY)
    assert s.screen("tonight i finish everything", "en").risk
    assert s.screen("tonight i finish everything", "es").risk


def test_no_examples_file_means_no_learned_layer(tmp_path: Path) -> None:
    for lang in ("en", "es"):
        (tmp_path / lang).mkdir()
        text = (MESSAGES / lang / "crisis.toml").read_text(encoding="utf-8")
        (tmp_path / lang / "crisis.toml").write_text(text, encoding="utf-8")
    s = Screener.load(tmp_path, ["en", "es"], use_cache=False)
    assert s._models == {}
    assert s.screen("i want to kill myself", "en").risk


def test_examples_files_read_cleanly() -> None:
    for lang in ("en", "es"):
        problems: list[str] = []
        rows = [
            r
            for f in sorted((MESSAGES / lang / EXAMPLES_DIR).glob("*.tsv"))
            for r in read_examples(f, problems)
        ]
        assert not problems, problems
        assert sum(r.risk for r in rows) >= 300 and sum(not r.risk for r in rows) >= 300


@pytest.mark.parametrize(
    "text",
    [
        "i made peace with my decision, it will be sunday",
        "im tired. i'm done. nobody will have to deal with me soon",
        "i looked up the train times for the express that doesn't stop here",
    ],
)
def test_shipped_layer_catches_indirect_phrasings_no_rule_lists(text: str) -> None:
    full = Screener.load(MESSAGES, ["en", "es"])
    rules = Screener(full._lexicons)
    assert not rules.screen(text, "en").risk
    hit = full.screen(text, "en")
    assert hit.risk and hit.level == "concern"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


@pytest.mark.parametrize("lang", ["en", "es"])
def test_whole_screener_on_examples_it_did_not_train_on(lang: str) -> None:
    """Five-fold cross-validation over the shipped examples: train on four fifths, measure the
    whole screener on the fifth. The learned layer must add recall without wrecking precision."""
    rows = [
        r for f in sorted((MESSAGES / lang / EXAMPLES_DIR).glob("*.tsv")) for r in read_examples(f)
    ]
    random.Random(7).shuffle(rows)
    lexicons = Screener.load(MESSAGES, [lang], use_cache=False)._lexicons
    rules_only = Screener(lexicons)
    folds = 5
    hits = hits_rules = risks = alarms = safes = 0
    for k in range(folds):
        held = rows[k::folds]
        rest = [r for i, r in enumerate(rows) if i % folds != k]
        s = Screener(lexicons, [train(lang, rest)])
        for r in held:
            text = " ".join(r.tokens)
            flagged = s.screen(text, lang).risk
            if r.risk:
                risks += 1
                hits += flagged
                hits_rules += rules_only.screen(text, lang).risk
            else:
                safes += 1
                alarms += flagged
    recall, far = hits / risks, alarms / safes
    print(
        f"\n[{lang}] cross-validated: recall {recall:.3f} (rules alone {hits_rules / risks:.3f}),"
        f" false alarms {far:.3f}"
    )
    # Issue 3's false-alarm goals hold; its recall goals (0.97 en, 0.95 es) are not reached yet
    # (see benchmarks/README.md), so the floor here guards what is reached.
    assert recall >= hits_rules / risks + 0.04
    assert recall >= 0.92
    assert far <= {"en": 0.05, "es": 0.08}[lang]
