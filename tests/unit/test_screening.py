"""Risk screening: normalisation, categories, slang, typos, negation, idioms, bad input."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportbot.safety import screening as screening_module
from supportbot.safety.lexicon import CATEGORIES, build_lexicon
from supportbot.safety.normalise import normalise, normalise_mapped
from supportbot.safety.patterns import compile_pattern
from supportbot.safety.screening import NO_RISK, Screener, Screening

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = ROOT / "messages"


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.load(MESSAGES, ["en", "es"], use_cache=False)


def check(s: Screener, text: str, lang: str = "en") -> Screening:
    return s.screen(text, lang)


# --- normalisation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("I'm FINE, thanks!", "im fine thanks"),
        ("Don’t", "dont"),  # typographic apostrophe
        ("ＫＩＬＬ", "kil"),  # NFKC full-width, repeated letters once
        ("Mátame ñoño ÜBER", "matame nono uber"),  # accents stripped
        ("k\u200bi\u200dl\u2060l", "kil"),  # zero-width characters removed
        ("ki\x00ll\x07 me", "kil me"),  # control characters removed
        ("dieeeee", "die"),
        ("k1ll mys3lf", "kil myself"),
        ("$ewer$lide", "sewerslide"),
        ("su!c!de", "suicide"),
        ("d i e", "die"),
        ("want.to.die", "want to die"),
        ("k.m.s", "kms"),
        ("s u i c i d e", "suicide"),
        ("ran 5 kms", "ran 5 kms"),  # numbers alone are not leetspeak
        ("💊💊 now", "emojipil emojipil now"),
        ("line\none\ttwo", "line one two"),
        ("", ""),
        ("🙂🙂🙂", ""),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_mapped_normalisation_agrees_and_maps_every_character(text: str) -> None:
    mapped, pos = normalise_mapped(text)
    assert mapped == normalise(text)
    assert len(pos) == len(mapped)
    assert all(0 <= p < len(text) for p in pos)
    assert pos == sorted(pos)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ki lmysef1!.$@3 \u200bdK"), max_size=60))
def test_mapped_normalisation_on_tricky_alphabet(text: str) -> None:
    mapped, pos = normalise_mapped(text)
    assert mapped == normalise(text)
    assert len(pos) == len(mapped)


# --- every category, both languages ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "category"),
    [
        ("I want to kill myself", "en", "suicide"),
        ("quiero suicidarme", "es", "suicide"),
        ("I wish I was dead", "en", "passive_ideation"),
        ("no quiero despertar mañana", "es", "passive_ideation"),
        ("I've been saving up my pills", "en", "plan_means"),
        ("compré una soga para ahorcarme", "es", "plan_means"),
        ("he estado juntando pastillas", "es", "plan_means"),
        ("this is my last message", "en", "farewell"),
        ("este es mi último mensaje", "es", "farewell"),
        ("I cut myself again", "en", "self_harm"),
        ("me volví a cortar", "es", "self_harm"),
        ("I'm going to kill my stepdad", "en", "harm_to_others"),
        ("voy a matar a mi jefe", "es", "harm_to_others"),
        ("I don't feel safe at home", "en", "danger_from_others"),
        ("mi pareja me pega", "es", "danger_from_others"),
        ("they'd be better off without me", "en", "burden"),
        ("soy una carga para todos", "es", "burden"),
    ],
)
def test_each_category(screener: Screener, text: str, lang: str, category: str) -> None:
    r = check(screener, text, lang)
    assert r.risk
    assert r.category == category
    assert r.level in ("urgent", "concern")


def test_every_category_exists_in_every_language(screener: Screener) -> None:
    for lang in ("en", "es"):
        present = {p.category for p in screener._patterns if p.lang == lang}
        assert set(CATEGORIES) <= present, lang


# --- slang, typos, bare terms ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "kms",
        "gonna kms tonight",
        "i want to unalive myself",
        "thinking about sewerslide",
        "sewer slide",
        "i might off myself",
        "i want to end it all",
        "took all my 💊 bye",
        "💊💊💊 tonight",
        "#killmyself",
        "K I L L M Y S E L F",
        "i want to k!ll mys3lf",
        "suicide",
        "self harm",
        "suicidio",
        "me quiero morir alv",
        "m4t4rme",
    ],
)
def test_slang_algospeak_and_bare_terms(screener: Screener, text: str) -> None:
    assert check(screener, text).risk, text


@pytest.mark.parametrize(
    "text",
    [
        "sucidal again",
        "i'm so suicidle",
        "i want to kil myself",
        "kill myslef",
        "quiero suisidarme",
        "i wnat to die",
        "thinkin bout killin myself",
        "ya no kero vivir",
    ],
)
def test_typos_on_key_words(screener: Screener, text: str) -> None:
    assert check(screener, text).risk, text


def test_typo_tolerance_leaves_real_words_alone(screener: Screener) -> None:
    # "cortar" is one edit-pair from "cortarme" but a different word; "kidding" is not "killing".
    for text in ["tengo que cortar la cebolla", "i'm just kidding myself", "overdone pasta"]:
        assert not check(screener, text).risk, text


# --- negation, idioms and exceptions -----------------------------------------------------------


def test_negation_lowers_but_never_cancels(screener: Screener) -> None:
    plain = check(screener, "I'm going to kill myself")
    negated = check(screener, "I'm not going to kill myself but I think about it every day")
    never = check(screener, "I would never kill myself")
    assert plain.level == "urgent"
    assert negated.risk and negated.level == "concern"
    assert never.risk and never.level == "concern"
    es = check(screener, "nunca me voy a matar", "es")
    assert es.risk and es.level == "concern"


def test_negation_is_local(screener: Screener) -> None:
    """A 'no' earlier in the message, not bridging to the phrase, does not lower it."""
    r = check(screener, "I don't know anymore. I want to kill myself")
    assert r.level == "urgent"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("I'm dying to see the new movie", "en"),
        ("this homework is killing me", "en"),
        ("I could kill for a coffee", "en"),
        ("bored to death in this meeting", "en"),
        ("dead tired after work", "en"),
        ("lol i'm dead 😂", "en"),
        ("my phone battery died", "en"),
        ("we talked about my dad who died", "en"),
        ("I cut myself shaving", "en"),
        ("ran 10 kms today", "en"),
        ("I'm proud of myself", "en"),
        ("me muero de risa", "es"),
        ("me muero por verte", "es"),
        ("me mato estudiando para el examen", "es"),
        ("me corté el pelo", "es"),
        ("hoy en terapia hablamos de mi papá que murió", "es"),
    ],
)
def test_idioms_and_ordinary_talk_are_not_risk(screener: Screener, text: str, lang: str) -> None:
    assert check(screener, text, lang) == NO_RISK


def test_an_exception_never_hides_another_phrase(screener: Screener) -> None:
    r = check(screener, "I'm dying to see you but honestly I want to kill myself")
    assert r.risk and r.level == "urgent"
    r = check(screener, "me muero de risa con esto pero en serio me quiero morir", "es")
    assert r.risk


def test_most_severe_match_wins(screener: Screener) -> None:
    r = check(screener, "nobody would miss me, I'm going to kill myself tonight")
    assert r.level == "urgent"
    assert r.category == "suicide"


# --- spans -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Honestly, I WANT to k1ll mys3lf!!", "k1ll mys3lf"),
        ("ok so... i want to d i e", "want to d i e"),
        ("I'm so sucidal", "sucidal"),
        ("me quiero MORIR", "me quiero MORIR"),
        ("🙂 #killmyself", "killmyself"),
    ],
)
def test_span_points_into_the_original_text(screener: Screener, text: str, expected: str) -> None:
    r = check(screener, text)
    assert r.span is not None
    a, b = r.span
    assert expected in text[a:b] or text[a:b] in expected
    assert text[a:b].strip()


# --- bad and adversarial input -----------------------------------------------------------------


def _weird_inputs() -> list[str]:
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz .,!?'1345@$\u200b\u0301é🙂💊Жж中\x00\x1b\n\t"
    out = [
        "",
        " ",
        "\x00\x01\x02\x1b[31m",
        "🙂" * 50,
        "💊" * 4096,
        "Жизнь 中文 ελληνικά עברית العربية मराठी",
        "\ud800 lone surrogate",
        "a" * 4096,
        "".join(rng.choice(alphabet) for _ in range(4096)),
    ]
    return out


def _adversarial_inputs() -> list[str]:
    return [t[-4096:] for t in _adversarial_raw()]


def _adversarial_raw() -> list[str]:
    return [
        "want to " * 512,
        "i want to " * 400 + "die",
        "k i l l " * 512,
        "a " * 2048,
        "no " * 1300 + "kill myself",
        ("wish i " + "really " * 3) * 200 + "dead",
        "not " * 1000,
        "me quiero " * 400,
        "x" * 4095 + "!",
        "k1ll" * 1024,
        ". " * 2048,
        "d.i.e." * 680,
        ("going to kill me " * 240)[:4096],
        "#" + "killmyself" * 409,
    ]


def test_bad_input_never_raises(screener: Screener) -> None:
    for text in _weird_inputs():
        r = screener.screen(text, "en")
        assert isinstance(r, Screening)
        assert r.level in ("urgent", "concern", "none")
        assert r.risk == (r.level != "none")
    assert screener.screen("hello", "xx") == NO_RISK  # an unknown language still screens


def test_adversarial_input_is_decided_in_bounded_time(screener: Screener) -> None:
    inputs = _adversarial_inputs()
    assert all(len(t) <= 4096 for t in inputs)
    start = time.process_time()
    for text in inputs:
        screener.screen(text, "en")
        screener.screen(text, "es")
    # A generous sanity bound: catastrophic backtracking would take minutes, not a second.
    assert time.process_time() - start < 1.0


# Bounded repetitions ({0,3}, possessive {2,8}+) are linear too: trailing fillers and laughter.
_ALLOWED_REPETITION = re.compile(r"\\w\*\+|\\w\+\+|\{\d+,\d+\}\+?|\\d\\d\\w\*\+|\\d\\w\*\+")


def test_every_regex_is_linear_by_construction(screener: Screener) -> None:
    """Only possessive word repetitions and bounded gaps: nothing can backtrack exponentially."""
    sources = [p.regex for p in screener._patterns]
    sources += [e.regex for lex in screener._lexicons for e in lex.exceptions]
    assert sources
    for src in sources:
        rest = _ALLOWED_REPETITION.sub("", src)
        rest = re.sub(r"\\.", "", rest)  # escaped characters are literals
        rest = rest.replace("(?:", "(").replace(")?", ")")
        assert "*" not in rest and "+" not in rest and "{" not in rest, src
    screener.compile_all()


def test_word_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screening_module, "_MEMO_CAP", 50)
    s = Screener.load(MESSAGES, ["en"], use_cache=False)
    for i in range(500):
        s.screen(f"word{i} another{i} thing{i}", "en")
    assert len(s._seen) <= 50
    assert s.screen("I want to kill myself", "en").risk


# --- the lexicon syntax and its error reports --------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "yes", "no"),
    [
        ("want to [just] die", ["want to die", "want to just die"], ["want to eat"]),
        ("(end|take) my life", ["end my life", "take my life"], ["end my shift"]),
        (
            "wish i * dead",
            ["wish i was dead", "wish i were already so dead"],
            ["wish i a b c d dead"],
        ),
        ("suicid*", ["suicidal", "suicidio"], ["suit"]),
        ("took ## pills", ["took 30 pills"], ["took 2 pills"]),
        ("took # pills", ["took 2 pills"], ["took many pills"]),
        ("going to end it $", ["ok i'm going to end it"], ["going to end it with him"]),
        (
            "going to end it $",  # chat fillers and laughter after the end still end it
            ["going to end it lol", "going to end it tbh fr", "going to end it jajaja neta"],
            ["going to end it lol with him", "going to end it lol tbh fr ngl"],
        ),
        ("kill <self>", ["kill myself", "kill my self"], ["kill yourself"]),
        ("(really)? sad day", ["really sad day", "sad day"], ["sad days"]),
    ],
)
def test_pattern_syntax(pattern: str, yes: list[str], no: list[str]) -> None:
    macros = {"self": ["myself", "my self"]}
    p = compile_pattern(pattern, lang="en", category="x", level="concern", key="k", macros=macros)
    rx = re.compile("(?<!\\S)" + p.regex)
    for text in yes:
        assert rx.search(normalise(text) + " "), (pattern, text)
    for text in no:
        assert not rx.search(normalise(text) + " "), (pattern, text)


def test_lexicon_problems_name_file_and_key() -> None:
    data = {
        "macros": {"me": ["myself"]},
        "suicide": {"urgent": ["kill <nope>", "(unclosed", "[only optional]", "ok pattern"]},
        "burden": {"concern": "not a list"},
    }
    lex = build_lexicon("en", data, "messages/en/crisis.toml")
    joined = "\n".join(lex.problems)
    assert "messages/en/crisis.toml:suicide.urgent[0]: unknown macro <nope>" in joined
    assert "messages/en/crisis.toml:suicide.urgent[1]:" in joined
    assert "messages/en/crisis.toml:suicide.urgent[2]:" in joined
    assert "messages/en/crisis.toml:burden.concern: must be a list" in joined
    assert [p.source for p in lex.patterns] == ["ok pattern"]


# --- the start-up cache ------------------------------------------------------------------------


def test_cache_gives_the_same_decisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTBOT_CACHE_DIR", str(tmp_path))
    first = Screener.load(MESSAGES, ["en", "es"])  # compiles and writes
    assert list(tmp_path.glob("lexicon-*.bin")) and list(tmp_path.glob("learned-*.bin"))
    second = Screener.load(MESSAGES, ["en", "es"])  # reads
    for f in tmp_path.glob("*.bin"):
        f.write_bytes(b"damaged")
    third = Screener.load(MESSAGES, ["en", "es"])  # damaged: compiles again
    samples = [
        "I want to kill myself",
        "me quiero morir",
        "hello there",
        "dying to see you",
        "i won't be a problem for much longer",  # decided by the learned layer
    ]
    for text in samples:
        assert first.screen(text, "en") == second.screen(text, "en") == third.screen(text, "en")
    assert [p.regex for p in first._patterns] == [p.regex for p in second._patterns]


def test_explicit_patterns_are_never_cancelled_by_an_exception() -> None:
    data = {
        "macros": {},
        "exceptions": {"patterns": ["burned myself on the stove"]},
        "self_harm": {
            "concern": ["burned myself", "!burned myself * * * on purpose"],
        },
    }
    s = Screener([build_lexicon("en", data, "t")])
    assert s.screen("I burned myself on the stove", "en") == NO_RISK
    r = s.screen("I burned myself on the stove on purpose", "en")
    assert r.risk and r.category == "self_harm"


def test_shipped_lexicon_marks_the_core_phrases_explicit(screener: Screener) -> None:
    explicit = {p.source for p in screener._patterns if p.explicit}
    assert "!<kill> <self>" in explicit
    assert "!suicid*" in explicit
