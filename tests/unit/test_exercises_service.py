"""The choices behind /ground, /reflect and /selfcare, as plain functions (no Telegram)."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from supportbot.config import DEFAULT_MESSAGES_DIR
from supportbot.content.library import MOMENTS, Exercise, Library, Prompt, Step
from supportbot.services.exercises import (
    PAGE_SIZE,
    ExerciseService,
    Phrases,
    PromptRotation,
    mentions_crying,
    normalise,
    pace_plan,
    page_of,
    validate_phrases,
)

LANGS = ("en", "es")
LIBRARY = Library.load(DEFAULT_MESSAGES_DIR, LANGS, "en")


# -- normalising -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I've CRIED!", "ive cried"),
        ("Lloré   después de la sesión.", "llore despues de la sesion"),
        ("I *cried*", "i cried"),
        ("  ", ""),
        ("don’t", "dont"),
        ("ＩＮ ＴＥＡＲＳ", "in tears"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_normalise_keeps_gaps_only_for_phrases() -> None:
    assert normalise("I * cried", gaps=True) == "i * cried"
    assert normalise("I * cried") == "i cried"


# -- crying ----------------------------------------------------------------------------------------

CRIED = {
    "en": [
        "I cried in session",
        "i cried in session today",
        "I really cried after the session",
        "I've been crying since I got home",
        "I have been crying all evening",
        "honestly I was crying the whole way home",
        "I couldn't stop crying",
        "I can’t stop crying",
        "i'm crying right now",
        "I started crying when she asked about my dad",
        "It made me cry",
        "I burst into tears halfway through",
        "I broke down crying",
        "I teared up a bit",
        "I was in tears",
        "CRIED IN SESSION",
        "cried after therapy again",
        "I sobbed in the car",
        "I've cried so much today",
        "I kind of cried?",
    ],
    "es": [
        "Lloré después de la sesión",
        "lloré en la sesión",
        "llore mucho",
        "estuve llorando",
        "Estuve llorando toda la tarde",
        "he estado llorando",
        "estoy llorando",
        "me puse a llorar en terapia",
        "me hizo llorar",
        "no paro de llorar",
        "no pude parar de llorar",
        "rompí a llorar",
        "acabé llorando",
        "se me saltaron las lágrimas",
        "hoy lloro por todo",
        "LLORÉ",
    ],
}

NOT_CRIED = {
    "en": [
        "I didn't cry",
        "I never cried in session",
        "I haven't cried in years",
        "I did not cry today",
        "my daughter cried at school",
        "she cried",
        "the baby was crying",
        "crying shame",
        "a cry for help",
        "I'm trying to describe it",
        "hello",
        "",
        "I decried the decision",
    ],
    "es": [
        "no lloré",
        "no lloré nada",
        "nunca lloro",
        "ya no lloro",
        "mi hijo estaba llorando",
        "ella lloró",
        "hola",
        "llorar es humano",
        "",
    ],
}


@pytest.mark.parametrize(("lang", "text"), [(lang, t) for lang in LANGS for t in CRIED[lang]])
def test_mentions_crying(lang: str, text: str) -> None:
    assert mentions_crying(text, lang)


@pytest.mark.parametrize(("lang", "text"), [(lang, t) for lang in LANGS for t in NOT_CRIED[lang]])
def test_does_not_mention_crying(lang: str, text: str) -> None:
    assert not mentions_crying(text, lang)


def test_default_language_phrases_count_for_everyone() -> None:
    """People mix languages: an English phrase is heard from a Spanish-speaking client too."""
    assert mentions_crying("I cried", "es")
    assert not mentions_crying("lloré", "en")  # but not the other way round
    assert mentions_crying("I cried", "pt-BR")  # an unsupported language uses the default


def test_gaps_and_negations_are_honoured() -> None:
    phrases = Phrases({"en": ["I * cried", "tears came"]}, negations={"en": ["never", "didn't"]})
    assert phrases.mentions_crying("I really cried", "en")
    assert phrases.mentions_crying("I really truly cried", "en")
    assert not phrases.mentions_crying("I really truly deeply cried", "en")  # gap of three
    assert not phrases.mentions_crying("I never cried", "en")
    assert not phrases.mentions_crying("I didn't really cried", "en")
    assert phrases.mentions_crying("I never said so, but I cried", "en")  # a later match counts
    assert not phrases.mentions_crying("never tears came", "en")
    assert phrases.mentions_crying("and tears came", "en")


def test_unusable_phrases_are_ignored_at_run_time() -> None:
    phrases = Phrases({"en": ["*", "* cried", "cried *", "cr*ed", "", "sobbing"]})
    assert not phrases.mentions_crying("I cried", "en")
    assert phrases.mentions_crying("I was sobbing", "en")


def test_phrases_load_from_a_messages_folder(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "exercises_ui.toml").write_text(
        '[crying]\nphrases = ["wept buckets"]\nnegations = ["not"]\n'
        '[moments]\nafter_crying = ["buckets"]\n',
        encoding="utf-8",
    )
    phrases = Phrases.load(tmp_path, ["en", "fr"])
    assert phrases.mentions_crying("I wept buckets", "en")
    assert not phrases.mentions_crying("not wept buckets", "en")
    assert not phrases.mentions_crying("I cried", "en")
    assert phrases.moment("buckets", "en") == "after_crying"
    assert phrases.moment("buckets", "fr") == "after_crying"  # fr has no file: the default
    assert mentions_crying("I wept buckets", "en", phrases)


# -- moments after /reflect ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "words", "moment"),
    [
        ("en", "after_session", "after_session"),
        ("en", "after session", "after_session"),
        ("en", "Crying", "after_crying"),
        ("en", "before the session", "before_session"),
        ("en", "this week", "during_week"),
        ("es", "llorar", "after_crying"),
        ("es", "Después de la sesión", "after_session"),
        ("es", "despues de la sesion", "after_session"),
        ("es", "antes", "before_session"),
        ("es", "semana", "during_week"),
        ("es", "during_week", "during_week"),
        ("es", "crying", "after_crying"),  # the default language's words work too
        ("en", "whenever", None),
        ("en", "", None),
        ("en", "!!!", None),
    ],
)
def test_moment_words(lang: str, words: str, moment: str | None) -> None:
    service = ExerciseService.load(DEFAULT_MESSAGES_DIR, LIBRARY)
    assert service.moment(words, lang) == moment


# -- validating the phrase lists ------------------------------------------------------------------


def test_shipped_phrases_are_valid() -> None:
    assert validate_phrases(DEFAULT_MESSAGES_DIR, LANGS) == []


def write(tmp_path: Path, lang: str, text: str) -> None:
    (tmp_path / lang).mkdir(exist_ok=True)
    (tmp_path / lang / "exercises_ui.toml").write_text(text, encoding="utf-8")


GOOD_MOMENTS = """
[moments]
after_session = ["session"]
after_crying = ["crying"]
during_week = ["week"]
before_session = ["before"]
"""


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[crying\n", "exercises_ui.toml:file: cannot be read as TOML"),
        (GOOD_MOMENTS, "crying.phrases: missing"),
        ("[crying]\nphrases = []\n" + GOOD_MOMENTS, "crying.phrases: missing"),
        ('[crying]\nphrases = ["ok", 3]\n' + GOOD_MOMENTS, "crying.phrases[1]: must be non-empty"),
        (
            '[crying]\nphrases = ["ok", "  "]\n' + GOOD_MOMENTS,
            "crying.phrases[1]: must be non-empty",
        ),
        (
            '[crying]\nphrases = ["* cried"]\n' + GOOD_MOMENTS,
            "crying.phrases[0]: needs at least one word",
        ),
        (
            '[crying]\nphrases = ["cried *"]\n' + GOOD_MOMENTS,
            "crying.phrases[0]: needs at least one word",
        ),
        (
            '[crying]\nphrases = ["cr*ed"]\n' + GOOD_MOMENTS,
            "crying.phrases[0]: needs at least one word",
        ),
        (
            '[crying]\nphrases = ["!!"]\n' + GOOD_MOMENTS,
            "crying.phrases[0]: needs at least one word",
        ),
        (
            '[crying]\nphrases = ["I cried", "i CRIED"]\n' + GOOD_MOMENTS,
            "crying.phrases[1]: repeated",
        ),
        ('[crying]\nphrases = ["' + "a" * 101 + '"]\n' + GOOD_MOMENTS, "is over 100 characters"),
        (
            '[crying]\nphrases = ["ok"]\nnegations = "no"\n' + GOOD_MOMENTS,
            "crying.negations: must be a list",
        ),
        (
            '[crying]\nphrases = ["ok"]\nnegations = ["did not"]\n' + GOOD_MOMENTS,
            "crying.negations[0]: must be one word",
        ),
        ('[crying]\nphrases = ["ok"]\n', "moments: missing"),
        (
            '[crying]\nphrases = ["ok"]\n' + GOOD_MOMENTS + 'someday = ["x"]\n',
            "moments.someday: unknown moment",
        ),
        (
            '[crying]\nphrases = ["ok"]\n[moments]\nafter_session = ["s"]\n',
            "moments.before_session: missing",
        ),
        (
            '[crying]\nphrases = ["ok"]\n' + GOOD_MOMENTS.replace('["week"]', '"week"'),
            "moments.during_week: must be a list",
        ),
        (
            '[crying]\nphrases = ["ok"]\n' + GOOD_MOMENTS.replace('["week"]', '["Session"]'),
            "also names after_session",
        ),
        (
            '[crying]\nphrases = ["ok"]\n' + GOOD_MOMENTS.replace('["week"]', '["a * b"]'),
            "* is not allowed here",
        ),
    ],
)
def test_validate_phrases_reports_file_and_key(tmp_path: Path, text: str, problem: str) -> None:
    write(tmp_path, "en", text)
    problems = validate_phrases(tmp_path, ["en"])
    assert any(problem in p for p in problems), problems
    assert all(p.startswith(f"{tmp_path.name}/en/exercises_ui.toml:") for p in problems)


def test_validate_phrases_missing_file(tmp_path: Path) -> None:
    write(tmp_path, "en", '[crying]\nphrases = ["ok"]\n' + GOOD_MOMENTS)
    assert validate_phrases(tmp_path, ["en"]) == []
    assert validate_phrases(tmp_path, ["en", "es"]) == [
        f"{tmp_path.name}/es/exercises_ui.toml:file: missing"
    ]


# -- prompt rotation -------------------------------------------------------------------------------


@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize("seed", range(5))
def test_rotation_deals_every_prompt_before_repeating_and_never_twice_in_a_row(
    moment: str, seed: int
) -> None:
    rotation = PromptRotation(LIBRARY, rng=random.Random(seed))
    ids = {p.id for p in LIBRARY.prompts("en", moment)}
    assert len(ids) >= 5
    dealt = [rotation.pick(7, "en", moment) for _ in range(len(ids) * 6)]
    dealt_ids = [p.id for p in dealt if p is not None]
    assert all(p is not None and p.moment == moment for p in dealt)
    for a, b in itertools.pairwise(dealt_ids):
        assert a != b
    for start in range(0, len(dealt_ids), len(ids)):
        assert set(dealt_ids[start : start + len(ids)]) == ids


def test_rotation_is_per_client_and_per_moment() -> None:
    rotation = PromptRotation(LIBRARY, rng=random.Random(1))
    a = [rotation.pick(1, "en", "after_session") for _ in range(3)]
    b = [rotation.pick(2, "en", "after_session") for _ in range(3)]
    assert len({p.id for p in a if p}) == 3 and len({p.id for p in b if p}) == 3
    assert len(rotation) == 2
    rotation.pick(1, "en", "after_crying")
    assert len(rotation) == 3
    rotation.forget(1)
    assert len(rotation) == 1


def test_rotation_speaks_the_clients_language() -> None:
    rotation = PromptRotation(LIBRARY, rng=random.Random(3))
    prompt = rotation.pick(1, "es", "before_session")
    assert prompt is not None
    assert prompt == LIBRARY.prompt("es", prompt.id)
    assert prompt != LIBRARY.prompt("en", prompt.id)


def test_rotation_is_bounded() -> None:
    rotation = PromptRotation(LIBRARY, capacity=10)
    for user in range(100):
        rotation.pick(user, "en", "during_week")
    assert len(rotation) == 10


def small_library(prompts: list[Prompt]) -> Library:
    exercise = Exercise("x", "X", "x", "steps", 1, (Step("a"),))
    return Library("en", {"en": [exercise]}, {"en": prompts}, {"en": []})


def test_rotation_with_one_prompt_or_none() -> None:
    one = small_library([Prompt("only", "during_week", "Only?")])
    rotation = PromptRotation(one)
    assert [rotation.pick(1, "en", "during_week").id for _ in range(3)] == ["only"] * 3  # type: ignore[union-attr]
    assert rotation.pick(1, "en", "after_crying") is None


def test_rotation_survives_content_changing_under_it() -> None:
    first = small_library([Prompt(f"p{i}", "during_week", f"Q{i}?") for i in range(4)])
    rotation = PromptRotation(first, rng=random.Random(0))
    rotation.pick(1, "en", "during_week")
    rotation._library = small_library([Prompt("new", "during_week", "New?")])
    assert rotation.pick(1, "en", "during_week").id == "new"  # type: ignore[union-attr]


# -- self-care pages -------------------------------------------------------------------------------


@pytest.mark.parametrize(("count", "pages"), [(0, 1), (1, 1), (3, 1), (4, 2), (19, 7), (21, 7)])
def test_pages(count: int, pages: int) -> None:
    items = list(range(count))
    collected: list[int] = []
    for n in range(pages):
        page = page_of(items, n)
        assert page is not None and page.pages == pages and page.page == n
        assert page.has_more == (n < pages - 1) and page.is_last == (n == pages - 1)
        assert 0 < len(page.items) <= PAGE_SIZE or count == 0
        collected += page.items
    assert collected == items
    assert page_of(items, pages) is None
    assert page_of(items, -1) is None


def test_page_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        page_of([1], 0, size=0)


@pytest.mark.parametrize("lang", LANGS)
def test_selfcare_pages_cover_every_idea_once(lang: str) -> None:
    service = ExerciseService.load(DEFAULT_MESSAGES_DIR, LIBRARY)
    ideas = []
    page_no = 0
    while (page := service.selfcare_page(lang, page_no)) is not None:
        ideas += page.items
        page_no += 1
    assert ideas == list(LIBRARY.selfcare(lang))


# -- pacing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("exercise", [e for e in LIBRARY.exercises("en") if e.paced], ids=str)
@pytest.mark.parametrize("scale", [1.0, 0.5, 0.0])
def test_pace_plan_times_every_step_of_every_round(exercise: Exercise, scale: float) -> None:
    plan = pace_plan(exercise, scale=scale)
    per_round = sum(s.seconds or 0 for s in exercise.steps)
    assert len(plan) == exercise.cycles * len(exercise.steps)
    assert plan.total == pytest.approx(exercise.cycles * per_round * scale)
    assert [s.at for s in plan.steps] == sorted(s.at for s in plan.steps)
    for n, step in enumerate(plan.steps):
        source = exercise.steps[n % len(exercise.steps)]
        assert (step.index, step.text, step.seconds) == (
            n % len(exercise.steps),
            source.text,
            source.seconds,
        )
        assert (step.round, step.rounds) == (n // len(exercise.steps) + 1, exercise.cycles)
    for a, b in itertools.pairwise(plan.steps):
        assert b.at - a.at == pytest.approx(a.seconds * scale)
    assert plan.total - plan.steps[-1].at == pytest.approx(plan.steps[-1].seconds * scale)


def test_pace_plan_rounds_override_and_refusals() -> None:
    box = LIBRARY.exercise("en", "box_breathing")
    senses = LIBRARY.exercise("en", "five_senses")
    assert box is not None and senses is not None
    assert len(pace_plan(box, rounds=1)) == len(box.steps)
    with pytest.raises(ValueError):
        pace_plan(senses)
    with pytest.raises(ValueError):
        pace_plan(box, scale=-1)
    with pytest.raises(ValueError):
        pace_plan(box, rounds=0)


def test_service_plan_only_for_paced_exercises() -> None:
    service = ExerciseService.load(DEFAULT_MESSAGES_DIR, LIBRARY)
    assert service.plan("es", "box_breathing") is not None
    assert service.plan("es", "five_senses") is None
    assert service.plan("es", "nope") is None
