"""The content library: shipped content is complete in both languages, and every rule bites."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from supportbot.content.library import (
    CATEGORIES,
    KINDS,
    MOMENTS,
    ContentError,
    Exercise,
    Library,
    Prompt,
    SelfCareIdea,
    Step,
    validate_library,
)

SHIPPED = Path(__file__).resolve().parents[2] / "messages"
LANGS = ("en", "es")


# ------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture
def messages(tmp_path: Path) -> Path:
    """A private copy of the shipped library content (only the files the library reads)."""
    root = tmp_path / "messages"
    for lang in LANGS:
        shutil.copytree(SHIPPED / lang / "exercises", root / lang / "exercises")
        for name in ("prompts.toml", "selfcare.toml"):
            shutil.copy(SHIPPED / lang / name, root / lang / name)
    return root


def edit(path: Path, change: Callable[[str], str]) -> None:
    before = path.read_text(encoding="utf-8")
    after = change(before)
    assert after != before, f"the edit did not change {path}"
    path.write_text(after, encoding="utf-8")


def replace_once(old: str, new: str) -> Callable[[str], str]:
    def change(text: str) -> str:
        assert old in text, f"{old!r} not found"
        return text.replace(old, new, 1)

    return change


def problems(root: Path, languages: tuple[str, ...] = LANGS, default: str = "en") -> list[str]:
    return validate_library(root, languages, default)


def assert_problem(found: list[str], prefix: str, fragment: str = "") -> None:
    """Some problem starts with ``prefix`` ("path:key:") and mentions ``fragment``."""
    hits = [p for p in found if p.startswith(prefix) and fragment in p]
    assert hits, f"no problem starting {prefix!r} mentioning {fragment!r} in:\n" + "\n".join(found)


def drop_last_step(text: str) -> str:
    return text[: text.rindex("[[steps]]")].rstrip() + "\n"


def remove_block(text: str, table: str, ident: str) -> str:
    """Removes the [[table]] block whose id is ``ident`` from a prompts/selfcare file."""
    marker = f'[[{table}]]\nid = "{ident}"'
    start = text.index(marker)
    end = text.find(f"[[{table}]]", start + len(marker))
    return text[:start] + (text[end:] if end != -1 else "")


# ------------------------------------------------------------------------------------------
# The shipped content


def test_shipped_content_validates_without_problems() -> None:
    assert problems(SHIPPED) == []


def test_shipped_content_loads() -> None:
    library = Library.load(SHIPPED, LANGS, "en")
    assert library.languages == LANGS
    assert library.default == "en"


@pytest.mark.parametrize("lang", LANGS)
def test_shipped_counts(lang: str) -> None:
    library = Library.load(SHIPPED, LANGS, "en")
    assert len(library.exercises(lang)) >= 10
    assert len(library.prompts(lang)) >= 24
    for moment in MOMENTS:
        assert len(library.prompts(lang, moment)) >= 5, moment
    assert len(library.selfcare(lang)) >= 15
    assert {idea.category for idea in library.selfcare(lang)} == set(CATEGORIES)


@pytest.mark.parametrize("lang", LANGS)
def test_shipped_exercises_are_runnable(lang: str) -> None:
    library = Library.load(SHIPPED, LANGS, "en")
    for exercise in library.exercises(lang):
        assert exercise.kind in KINDS
        assert len(exercise.steps) >= 3, exercise.id
        for step in exercise.steps:
            # Shown in a chat message edited in place: a step is a line or two, not a paragraph.
            assert 0 < len(step.text) <= 200, (exercise.id, step.text)
        if exercise.kind == "breathing":
            assert all(step.seconds is not None for step in exercise.steps), exercise.id
            assert exercise.paced
            assert exercise.cycles >= 1
        else:
            assert not exercise.paced


def test_shipped_exercises_cover_the_issue() -> None:
    library = Library.load(SHIPPED, LANGS, "en")
    wanted = {
        "five_senses",
        "box_breathing",
        "breathing_478",
        "paced_breathing",
        "body_scan",
        "feet_on_floor",
        "categories",
        "cold_water",
        "safe_place",
        "self_compassion",
    }
    for lang in LANGS:
        assert wanted <= {e.id for e in library.exercises(lang)}


def test_shipped_after_crying_prompts_cover_the_issue() -> None:
    library = Library.load(SHIPPED, LANGS, "en")
    wanted = {
        "ac_beneath_tears",
        "ac_what_set_off",
        "ac_body_now",
        "ac_new_understanding",
        "ac_support_needed",
    }
    for lang in LANGS:
        assert wanted <= {p.id for p in library.prompts(lang, "after_crying")}


def test_shipped_translations_differ_from_english() -> None:
    """Spanish is really translated, not a copy of the English text."""
    library = Library.load(SHIPPED, LANGS, "en")
    texts: list[tuple[str, str, str]] = []
    for ex_en, ex_es in zip(library.exercises("en"), library.exercises("es"), strict=True):
        texts.append((ex_en.id, ex_en.title, ex_es.title))
        for step_en, step_es in zip(ex_en.steps, ex_es.steps, strict=True):
            texts.append((ex_en.id, step_en.text, step_es.text))
    for pr_en, pr_es in zip(library.prompts("en"), library.prompts("es"), strict=True):
        texts.append((pr_en.id, pr_en.text, pr_es.text))
    for sc_en, sc_es in zip(library.selfcare("en"), library.selfcare("es"), strict=True):
        texts.append((sc_en.id, sc_en.text, sc_es.text))
    same = [ident for ident, en, es in texts if en == es]
    assert same == []


# ------------------------------------------------------------------------------------------
# The Library API


def test_exercises_follow_order_field() -> None:
    library = Library.load(SHIPPED, LANGS, "en")
    for lang in LANGS:
        orders = [e.order for e in library.exercises(lang)]
        assert orders == sorted(orders)
    assert [e.id for e in library.exercises("en")] == [e.id for e in library.exercises("es")]


def test_exercise_lookup() -> None:
    library = Library.load(SHIPPED, LANGS, "en")
    en = library.exercise("en", "box_breathing")
    es = library.exercise("es", "box_breathing")
    assert en is not None and es is not None
    assert en.title != es.title
    assert [s.seconds for s in en.steps] == [s.seconds for s in es.steps]
    assert library.exercise("en", "no_such_exercise") is None


def test_prompts_by_moment_and_id() -> None:
    library = Library.load(SHIPPED, LANGS, "en")
    for moment in MOMENTS:
        chosen = library.prompts("es", moment)
        assert chosen and all(p.moment == moment for p in chosen)
    total = sum(len(library.prompts("en", m)) for m in MOMENTS)
    assert total == len(library.prompts("en"))
    first = library.prompts("es")[0]
    assert library.prompt("es", first.id) == first
    assert library.prompt("es", "nope") is None
    with pytest.raises(ValueError, match="unknown moment"):
        library.prompts("en", "at_midnight")


def test_unknown_or_regional_language_resolves() -> None:
    library = Library.load(SHIPPED, LANGS, "en")
    assert library.language("es-MX") == "es"
    assert library.language("ES_ar") == "es"
    assert library.language("fr") == "en"
    assert library.language(None) == "en"
    assert library.exercises("fr") == library.exercises("en")
    assert library.selfcare("es-419") == library.selfcare("es")


def test_dataclasses_are_frozen() -> None:
    step = Step("Breathe in", 4)
    exercise = Exercise("x", "X", "x", "breathing", 2, (step,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        exercise.title = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        Prompt("p", "after_session", "?").text = "!"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        SelfCareIdea("i", "rest", "Rest.").text = "!"  # type: ignore[misc]


def test_paced_needs_breathing_and_seconds_everywhere() -> None:
    timed = (Step("in", 4), Step("out", 4))
    assert Exercise("a", "A", "a", "breathing", 3, timed).paced
    assert not Exercise("b", "B", "b", "steps", 1, timed).paced
    assert not Exercise("c", "C", "c", "breathing", 3, (Step("in", 4), Step("out"))).paced
    assert not Exercise("d", "D", "d", "breathing", 3, ()).paced


def test_library_built_directly_falls_back_per_item() -> None:
    step = (Step("s"),)
    library = Library(
        "en",
        exercises={
            "en": [
                Exercise("b", "B", "b", "steps", 1, step, order=2),
                Exercise("a", "A", "a", "steps", 1, step, order=1),
            ],
            "es": [Exercise("b", "Be", "b", "steps", 1, step, order=2)],
        },
        prompts={"en": [Prompt("p", "during_week", "P?")]},
        selfcare={"en": [SelfCareIdea("i", "rest", "Rest.")]},
    )
    assert [e.title for e in library.exercises("es")] == ["A", "Be"]
    assert library.prompts("es") == (Prompt("p", "during_week", "P?"),)
    assert library.selfcare("es") == library.selfcare("en")


# ------------------------------------------------------------------------------------------
# Validation rules, each on a broken copy


def test_copy_is_clean(messages: Path) -> None:
    assert problems(messages) == []


def test_invalid_toml(messages: Path) -> None:
    edit(messages / "es" / "prompts.toml", replace_once('moment = "after_session"', "moment = "))
    assert_problem(problems(messages), "messages/es/prompts.toml:toml:", "not valid TOML")
    with pytest.raises(ContentError) as caught:
        Library.load(messages, LANGS, "en")
    assert any(p.startswith("messages/es/prompts.toml:toml:") for p in caught.value.problems)


def test_missing_required_fields(messages: Path) -> None:
    edit(messages / "es" / "exercises" / "body_scan.toml", replace_once("title = ", "# title = "))
    edit(messages / "en" / "prompts.toml", replace_once('id = "bs_hope"', "# no id"))
    edit(
        messages / "en" / "selfcare.toml",
        replace_once('id = "walk"\ncategory = "body"\n', 'id = "walk"\n'),
    )
    edit(messages / "es" / "exercises" / "breathing_478.toml", replace_once("cycles = 4\n", ""))
    found = problems(messages)
    assert_problem(found, "messages/es/exercises/body_scan.toml:title:", "missing")
    assert_problem(found, "messages/en/prompts.toml:prompts[22].id:", "missing")
    assert_problem(found, "messages/en/selfcare.toml:ideas[7].category:", "missing")
    assert_problem(found, "messages/es/exercises/breathing_478.toml:cycles:", "missing")
    with pytest.raises(ContentError):
        Library.load(messages, LANGS, "en")


def test_unknown_kind_moment_category(messages: Path) -> None:
    edit(
        messages / "en" / "exercises" / "categories.toml",
        replace_once('kind = "steps"', 'kind = "walking"'),
    )
    edit(
        messages / "es" / "prompts.toml",
        replace_once('moment = "during_week"', 'moment = "weekend"'),
    )
    edit(
        messages / "es" / "selfcare.toml",
        replace_once('category = "enjoy"', 'category = "fun"'),
    )
    found = problems(messages)
    assert_problem(found, "messages/en/exercises/categories.toml:kind:", "'walking'")
    assert_problem(found, "messages/es/prompts.toml:prompts[14].moment:", "'weekend'")
    assert_problem(found, "messages/es/selfcare.toml:ideas[10].category:", "'fun'")


def test_duplicate_ids(messages: Path) -> None:
    edit(messages / "en" / "prompts.toml", replace_once('id = "bs_hope"', 'id = "bs_bring"'))
    edit(
        messages / "es" / "selfcare.toml",
        replace_once('id = "comfort_music"', 'id = "enjoy_small"'),
    )
    found = problems(messages)
    assert_problem(found, "messages/en/prompts.toml:prompts[22].id:", "duplicate id 'bs_bring'")
    assert_problem(found, "messages/es/selfcare.toml:ideas[11].id:", "duplicate id 'enjoy_small'")


def test_id_must_match_file_name_and_be_valid(messages: Path) -> None:
    edit(
        messages / "es" / "exercises" / "cold_water.toml",
        replace_once('id = "cold_water"', 'id = "agua_fria"'),
    )
    edit(messages / "en" / "prompts.toml", replace_once('id = "bs_hope"', 'id = "Bs Hope!"'))
    found = problems(messages)
    assert_problem(found, "messages/es/exercises/cold_water.toml:id:", "cold_water.toml")
    assert_problem(found, "messages/en/prompts.toml:prompts[22].id:", "not a valid id")


def test_unknown_keys_are_reported(messages: Path) -> None:
    """A misspelt key would otherwise be silently ignored."""
    edit(
        messages / "es" / "exercises" / "box_breathing.toml",
        replace_once("seconds = 4", "secconds = 4"),
    )
    found = problems(messages)
    assert_problem(found, "messages/es/exercises/box_breathing.toml:steps[0].secconds:", "unknown")
    # ...and the breathing step now lacks its seconds.
    assert_problem(found, "messages/es/exercises/box_breathing.toml:steps[0].seconds:", "missing")


def test_exercise_missing_in_a_translation(messages: Path) -> None:
    (messages / "es" / "exercises" / "safe_place.toml").unlink()
    found = problems(messages)
    assert_problem(found, "messages/es/exercises/safe_place.toml:file:", "missing")
    assert len(found) == 1


def test_exercise_only_in_a_translation(messages: Path) -> None:
    shutil.copy(
        messages / "es" / "exercises" / "safe_place.toml",
        messages / "es" / "exercises" / "extra_one.toml",
    )
    edit(
        messages / "es" / "exercises" / "extra_one.toml",
        replace_once('id = "safe_place"', 'id = "extra_one"'),
    )
    assert_problem(
        problems(messages), "messages/es/exercises/extra_one.toml:id:", "does not exist in en"
    )


def test_prompt_and_idea_parity(messages: Path) -> None:
    edit(messages / "es" / "prompts.toml", lambda t: remove_block(t, "prompts", "dw_noticed"))
    edit(messages / "en" / "selfcare.toml", lambda t: remove_block(t, "ideas", "pet"))
    found = problems(messages)
    assert_problem(found, "messages/es/prompts.toml:prompts:", "missing id 'dw_noticed'")
    assert_problem(found, "messages/es/selfcare.toml:ideas[15].id:", "'pet' does not exist in en")


def test_missing_file_in_translation(messages: Path) -> None:
    (messages / "es" / "selfcare.toml").unlink()
    found = problems(messages)
    assert found == [
        "messages/es/selfcare.toml:file: missing: copy en/selfcare.toml here and translate it"
    ]


def test_missing_file_in_default_language(messages: Path) -> None:
    (messages / "en" / "prompts.toml").unlink()
    found = problems(messages)
    assert_problem(found, "messages/en/prompts.toml:file:", "missing")
    with pytest.raises(ContentError):
        Library.load(messages, LANGS, "en")


def test_step_count_differs(messages: Path) -> None:
    edit(messages / "es" / "exercises" / "five_senses.toml", drop_last_step)
    assert_problem(
        problems(messages), "messages/es/exercises/five_senses.toml:steps:", "has 6 steps"
    )


def test_structure_differs_between_languages(messages: Path) -> None:
    edit(
        messages / "es" / "exercises" / "breathing_478.toml",
        replace_once("seconds = 7", "seconds = 6"),
    )
    edit(
        messages / "es" / "exercises" / "box_breathing.toml",
        replace_once("cycles = 4", "cycles = 3"),
    )
    edit(
        messages / "es" / "prompts.toml",
        replace_once(
            'id = "bs_bring"\nmoment = "before_session"', 'id = "bs_bring"\nmoment = "during_week"'
        ),
    )
    found = problems(messages)
    assert_problem(found, "messages/es/exercises/breathing_478.toml:steps[1].seconds:", "7")
    assert_problem(found, "messages/es/exercises/box_breathing.toml:cycles:", "3")
    assert_problem(found, "messages/es/prompts.toml:prompts[21].moment:", "'before_session'")


@pytest.mark.parametrize("bad", ["0", "31", '"4"', "4.5", "true"])
def test_seconds_out_of_range_or_not_a_number(messages: Path, bad: str) -> None:
    edit(
        messages / "en" / "exercises" / "box_breathing.toml",
        replace_once("seconds = 4", f"seconds = {bad}"),
    )
    found = problems(messages)
    assert_problem(found, "messages/en/exercises/box_breathing.toml:steps[0].seconds:")
    with pytest.raises(ContentError):
        Library.load(messages, LANGS, "en")


def test_seconds_at_the_limits_are_fine(messages: Path) -> None:
    for lang in LANGS:
        path = messages / lang / "exercises" / "box_breathing.toml"
        edit(path, replace_once("seconds = 4", "seconds = 1"))
        edit(path, replace_once("seconds = 4", "seconds = 30"))
    assert problems(messages) == []


def test_breathing_step_without_seconds(messages: Path) -> None:
    edit(
        messages / "es" / "exercises" / "paced_breathing.toml",
        replace_once("seconds = 2\n", ""),
    )
    assert_problem(
        problems(messages),
        "messages/es/exercises/paced_breathing.toml:steps[2].seconds:",
        "missing",
    )


def test_text_too_long(messages: Path) -> None:
    long = "a" * 1001
    edit(
        messages / "es" / "selfcare.toml",
        replace_once('"Bebe un vaso de agua."', f'"{long}"'),
    )
    edit(
        messages / "en" / "exercises" / "body_scan.toml",
        replace_once("Just notice.", "Just notice. " + "b" * 1000),
    )
    found = problems(messages)
    assert_problem(found, "messages/es/selfcare.toml:ideas[6].text:", "1001 characters")
    assert_problem(found, "messages/en/exercises/body_scan.toml:steps[1].text:", "limit is 1000")


def test_text_at_the_limit_is_fine(messages: Path) -> None:
    for lang in LANGS:
        path = messages / lang / "selfcare.toml"
        text = path.read_text(encoding="utf-8")
        start = text.index('text = "', text.index('id = "water"')) + len('text = "')
        end = text.index('"', start)
        path.write_text(text[:start] + "w" * 1000 + text[end:], encoding="utf-8")
    assert problems(messages) == []


@pytest.mark.parametrize("blank", ['""', '"   "', '"\\n"'])
def test_empty_text(messages: Path, blank: str) -> None:
    edit(
        messages / "en" / "prompts.toml",
        replace_once('"How does your body feel now, after crying?"', blank),
    )
    assert_problem(problems(messages), "messages/en/prompts.toml:prompts[9].text:", "empty")


def test_title_must_be_short_and_summary_one_line(messages: Path) -> None:
    edit(
        messages / "es" / "exercises" / "categories.toml",
        replace_once('title = "Nombrar categorías"', 'title = "' + "x" * 65 + '"'),
    )
    edit(
        messages / "en" / "exercises" / "categories.toml",
        replace_once('summary = "Give', 'summary = "Two\\nlines. Give'),
    )
    found = problems(messages)
    assert_problem(found, "messages/es/exercises/categories.toml:title:", "limit is 64")
    assert_problem(found, "messages/en/exercises/categories.toml:summary:", "one line")


def test_placeholder_mismatch(messages: Path) -> None:
    edit(
        messages / "en" / "prompts.toml",
        replace_once("your next session?", "your session on {weekday}?"),
    )
    edit(
        messages / "es" / "exercises" / "feet_on_floor.toml",
        replace_once("qué día es hoy.", "qué día es hoy: {day}."),
    )
    found = problems(messages)
    assert_problem(found, "messages/es/prompts.toml:prompts[21].text:", "{weekday}")
    assert_problem(found, "messages/es/exercises/feet_on_floor.toml:steps[4].text:", "{day}")


def test_matching_placeholders_are_fine(messages: Path) -> None:
    edit(
        messages / "en" / "prompts.toml",
        replace_once("your next session?", "your session on {weekday}?"),
    )
    edit(
        messages / "es" / "prompts.toml",
        replace_once("tu próxima sesión?", "tu sesión del {weekday}?"),
    )
    assert problems(messages) == []


def test_unbalanced_braces(messages: Path) -> None:
    edit(messages / "es" / "selfcare.toml", replace_once("Bebe un vaso", "Bebe {un vaso"))
    assert_problem(problems(messages), "messages/es/selfcare.toml:ideas[6].text:", "unbalanced")


def test_missing_language_folder(messages: Path) -> None:
    found = problems(messages, ("en", "es", "fr"))
    assert_problem(found, "messages/fr:folder:", "missing")
    with pytest.raises(ContentError):
        Library.load(messages, ("en", "es", "fr"), "en")


def test_default_language_must_be_listed(messages: Path) -> None:
    found = problems(messages, ("es",), "en")
    assert_problem(found, "messages/en:language:", "not among the languages")
    with pytest.raises(ContentError):
        Library.load(messages, ("es",), "en")


def test_third_language_from_a_copy(messages: Path) -> None:
    """The README's recipe: copy en to a new folder; it validates and loads at once."""
    shutil.copytree(messages / "en", messages / "pt")
    assert problems(messages, ("en", "es", "pt")) == []
    library = Library.load(messages, ("en", "es", "pt"), "en")
    assert library.exercises("pt-BR") == library.exercises("en")


def test_error_lists_every_problem(messages: Path) -> None:
    edit(
        messages / "en" / "exercises" / "box_breathing.toml",
        replace_once("seconds = 4", "seconds = 0"),
    )
    edit(messages / "es" / "selfcare.toml", replace_once('category = "enjoy"', 'category = "fun"'))
    with pytest.raises(ContentError) as caught:
        Library.load(messages, LANGS, "en")
    assert len(caught.value.problems) == 2
    assert "box_breathing.toml:steps[0].seconds" in str(caught.value)
    assert "selfcare.toml:ideas[10].category" in str(caught.value)


# ------------------------------------------------------------------------------------------
# Parity problems fail the check but fall back at run time


def test_missing_translation_falls_back_to_default(messages: Path) -> None:
    (messages / "es" / "exercises" / "safe_place.toml").unlink()
    edit(messages / "es" / "prompts.toml", lambda t: remove_block(t, "prompts", "dw_noticed"))
    (messages / "es" / "selfcare.toml").unlink()
    assert problems(messages) != []
    library = Library.load(messages, LANGS, "en")
    assert library.exercise("es", "safe_place") == library.exercise("en", "safe_place")
    assert [e.id for e in library.exercises("es")] == [e.id for e in library.exercises("en")]
    assert library.prompt("es", "dw_noticed") == library.prompt("en", "dw_noticed")
    assert library.prompt("es", "dw_hard_moment") != library.prompt("en", "dw_hard_moment")
    assert library.selfcare("es") == library.selfcare("en")


def test_structural_mismatch_serves_default_item(messages: Path) -> None:
    """A translation whose steps disagree would break a running flow; the default is used."""
    edit(messages / "es" / "exercises" / "five_senses.toml", drop_last_step)
    edit(
        messages / "es" / "prompts.toml",
        replace_once("tu próxima sesión?", "tu sesión del {weekday}?"),
    )
    library = Library.load(messages, LANGS, "en")
    assert library.exercise("es", "five_senses") == library.exercise("en", "five_senses")
    assert library.prompt("es", "bs_bring") == library.prompt("en", "bs_bring")
    other = library.exercise("es", "box_breathing")
    assert other is not None and other != library.exercise("en", "box_breathing")


def test_extra_translation_item_is_not_served(messages: Path) -> None:
    shutil.copy(
        messages / "es" / "exercises" / "safe_place.toml",
        messages / "es" / "exercises" / "extra_one.toml",
    )
    edit(
        messages / "es" / "exercises" / "extra_one.toml",
        replace_once('id = "safe_place"', 'id = "extra_one"'),
    )
    library = Library.load(messages, LANGS, "en")
    assert library.exercise("es", "extra_one") is None
