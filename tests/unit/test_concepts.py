"""The compositional layer (supportbot/safety/concepts.py): every rule, negation, idioms, limits."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from supportbot.safety import cache
from supportbot.safety.concepts import ConceptMatcher, build_concepts
from supportbot.safety.lexicon import Lexicon, build_lexicon
from supportbot.safety.normalise import normalise
from supportbot.safety.screening import Screener
from supportbot.safety.validate import validate

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = ROOT / "messages"

# One message per rule, in the words of a client (not the wording of the rule).
EXAMPLES: dict[str, dict[str, str]] = {
    "en": {
        "intent_to_die": "honestly i think im finally going to end things this week",
        "jump_from_height": "i keep thinking about the overpass near my school",
        "wish_gone": "every night i pray that i just dont wake up",
        "death_appeals": "not waking up sounds so peaceful lately",
        "tired_of_life": "im so sick of breathing honestly",
        "no_point_living": "whats the point of even waking up",
        "living_no_point": "being alive is pointless",
        "living_too_hard": "existing is just too painful right now",
        "indifferent_to_death": "i genuinely dont care if i live or die",
        "burden_self": "im nothing but a burden",
        "burden_to_all": "i am a burden to my family",
        "better_if_gone": "things would be easier if i was gone",
        "better_without_me": "my parents would be happier without me",
        "nobody_would_notice": "who would even notice if i was dead",
        "bye_sorry": "goodbye, im sorry for everything",
        "sorry_bye": "im sorry for everything. bye",
        "forgive_what_comes": "please forgive me for what im about to do",
        "tell_them_sorry": "please tell my mom i love her",
        "love_not_your_fault": "i love you guys, it is not your fault",
        "bye_not_your_fault": "goodbye. this is nobodys fault",
        "absent_and_bye": "i wont be around anymore. thank you for everything",
        "thanks_before_go": "thank you for trying, before i go",
        "gone_when_read": "when someone finds this il be gone",
        "leaving_forever": "im leaving forever",
        "self_harm_act": "i keep burning myself when nobody is home",
        "self_harm_urge": "the urge to cut is so strong",
        "wounds_severe": "my cuts are really deep this time",
        "hurt_on_purpose": "slammed my fist into the mirror on purpose",
        "wanting_pain": "i just want to feel pain",
        "intent_to_harm": "im going to stab my coworker",
        "intent_to_harm_full": "im going to make them pay",
        "weapon_revenge": "i got a bat to get back at him",
        "hurt_by_someone": "my stepdad slapped me again",
        "afraid_at_home": "im terrified to go home",
        "suffering_abuse": "im being abused by my partner",
        "stockpiling": "ive been stockpiling my meds",
        "means_acquired": "i finally bought the rope",
        "means_at_hand": "the razor blades are next to me",
        "note_written": "i wrote my note already",
        "method_chosen": "i know exactly where il do it",
        "looking_at_height": "walked past the bridge again thinking about jumping",
        "on_the_edge": "i sat on the ledge looking down",
        "care_if_gone": "honestly i wouldnt mind if i got hit by a bus on the way home",
        "if_gone_care": "if i just died in my sleep tonight i wouldnt care at all",
        "not_existing_appeals": "it would be so peaceful to just not be anymore",
        "love_and_sorry": "i love you guys so much. im sorry",
        "sorry_and_love": "please forgive me. love you all",
        "sorry_and_bye": "forgive me. goodbye",
        "thanks_not_fault": "thank you for everything, none of this was your fault",
        "tell_not_fault": "please tell my sister it wasnt her fault",
        "bye_past_kindness": "goodbye. you were always kind to me",
        "burden_then_fine": "im just a weight on them, theyll get over it soon enough",
    },
    "es": {
        "intent_to_die": "la verdad pienso en quitarme la vida",
        "dying_now": "esta noche acabo con todo",
        "jump_from_height": "quiero ir al acantilado",
        "wish_gone": "ojala no despertara nunca",
        "death_appeals": "la muerte suena a paz",
        "tired_of_life": "estoy harta de respirar",
        "what_for_living": "para que seguir viviendo",
        "no_sense_living": "no le veo sentido a vivir",
        "living_hurts": "vivir duele demasiado",
        "indifferent_to_death": "me da igual si me muero",
        "burden_self": "no soy mas que un estorbo",
        "burden_to_all": "soy una carga para mis padres",
        "better_if_gone": "todos estarian mas tranquilos si yo no estuviera",
        "bye_sorry": "adios, perdon por todo",
        "sorry_bye": "perdon por todo. adios",
        "forgive_what_comes": "perdonenme por lo que voy a hacer",
        "tell_them_sorry": "diganle a mi madre que lo siento",
        "love_not_your_fault": "los quiero, no se culpen",
        "bye_not_your_fault": "adios, no es culpa de nadie",
        "absent_and_bye": "ya no voy a estar, cuidense",
        "thanks_before_go": "gracias por todo antes de irme",
        "gone_when_read": "cuando lean esto ya no estare",
        "leaving_forever": "me voy para siempre",
        "self_harm_act": "me sigo haciendo dano",
        "self_harm_urge": "tengo ganas de cortarme",
        "wounds_severe": "los cortes son muy profundos",
        "hurt_on_purpose": "me golpee contra la pared a proposito",
        "intent_to_harm": "quiero apunalar a mi vecino",
        "intent_to_harm_clitic": "voy a atropellarlo",
        "clitic_intent_to_harm": "lo voy a atropellar",
        "clitic_threat": "le disparo a quien entre",
        "weapon_revenge": "tengo un cuchillo para vengarme",
        "hurt_by_someone": "me ahorca cuando peleamos",
        "drink_spiked": "me drogaron la bebida",
        "afraid_at_home": "me da miedo volver a casa",
        "suffering_abuse": "estoy sufriendo maltrato",
        "stockpiling": "estoy juntando pastillas",
        "means_acquired": "ya compre la soga",
        "means_at_hand": "tengo la pistola en mi cuarto",
        "note_written": "ya escribi la carta de despedida",
        "method_chosen": "ya se donde lo voy a hacer",
        "looking_at_height": "paso por el puente pensando en tirarme",
        "on_the_edge": "estuve en el borde del balcon mirando hacia abajo",
    },
}

# Safe look-alikes that share words with a rule.
SAFE = {
    "en": [
        "goodbye everyone, see you tomorrow",
        "sorry for everything i said yesterday, talk later?",
        "i want to cut my hair short",
        "i want to kill this spider",
        "i bought a rope for the camping trip",
        "my friend hit me up yesterday",
        "whats the point of this meeting",
        "im tired of living with roommates",
        "i hope my phone doesnt die",
        "im leaving for good, moving to canada next month",
        "i wrote a note to my teacher",
        "im going to make them pay for the damage",
        "it would be nice to not be here at 8am tomorrow",
        "i told her im sorry and i love you, and we made up",
        "sorry, bye, see you on monday",
        "bye! it was nice talking, see you next week",
        "if i die my hair pink would you still like me",
    ],
    "es": [
        "adios a todos, nos vemos manana",
        "quiero cortarme el pelo",
        "voy a matar a la cucaracha",
        "compre una cuerda para tender la ropa",
        "estoy cansada de vivir en esta ciudad",
        "ahorro para que podamos vivir mejor",
        "hoy termino con todo lo pendiente",
        "me voy para siempre, me mudo a otra ciudad",
        "quiero tirarme en la cama todo el dia",
        "mi gato me arano",
    ],
}


@pytest.fixture(scope="module")
def lexicons() -> dict[str, Lexicon]:
    out = {}
    for lang in ("en", "es"):
        data = tomllib.loads((MESSAGES / lang / "crisis.toml").read_text(encoding="utf-8"))
        out[lang] = build_lexicon(lang, data, lang)
    return out


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.load(MESSAGES, ["en", "es"], use_cache=False)


def _rules_hit(lex: Lexicon, text: str) -> set[str]:
    m = ConceptMatcher([(lex.lang, lex.concepts, lex.concept_rules)])
    toks = normalise(text).split(" ")
    return {h.rule.key.rsplit(".", 1)[1] for h in m.match(toks, set(toks))}


def test_every_rule_has_an_example(lexicons: dict[str, Lexicon]) -> None:
    for lang, lex in lexicons.items():
        names = {r.key.rsplit(".", 1)[1] for r in lex.concept_rules}
        assert names == set(EXAMPLES[lang]), lang


@pytest.mark.parametrize(
    ("lang", "rule", "text"),
    [(lang, rule, text) for lang, ex in EXAMPLES.items() for rule, text in ex.items()],
)
def test_each_rule_matches_its_family(
    lexicons: dict[str, Lexicon], screener: Screener, lang: str, rule: str, text: str
) -> None:
    assert rule in _rules_hit(lexicons[lang], text)
    assert screener.screen(text, lang).risk


@pytest.mark.parametrize(("lang", "text"), [(lang, t) for lang, ts in SAFE.items() for t in ts])
def test_look_alikes_not_flagged(lexicons: dict[str, Lexicon], lang: str, text: str) -> None:
    assert not _rules_hit(lexicons[lang], text)


def test_negation_lowers_never_cancels(screener: Screener) -> None:
    plain = screener.screen("im seriously tempted to crash my car", "en")
    assert plain.risk and plain.level == "urgent"
    negated = screener.screen("i dont think im tempted to crash my car", "en")
    assert negated.risk and negated.level == "concern"
    inside = screener.screen("i am not tempted to crash my car", "en")  # the cue inside the match
    assert inside.risk and inside.level == "concern"
    es = screener.screen("no creo que acabo con todo", "es")
    assert es.risk and es.level == "concern"


def test_idiom_exception_cancels_overlapping_concept_match(screener: Screener) -> None:
    # "wake up early" is an [exceptions] entry; the wish rule's match overlaps it.
    assert not screener.screen("i hope i wake up early tomorrow", "en").risk
    assert not screener.screen("im dying to see the new movie lol", "en").risk


def test_span_points_into_the_original_text(screener: Screener) -> None:
    text = "Goodbye... I'm SORRY for everything"
    r = screener.screen(text, "en")
    assert r.risk and r.category == "farewell" and r.span is not None
    assert text[r.span[0] : r.span[1]].lower().startswith("goodbye")


def test_unless_only_cancels_nearby(lexicons: dict[str, Lexicon]) -> None:
    en = lexicons["en"]
    assert "bye_sorry" not in _rules_hit(en, "bye, sorry for being late, see you monday")
    far = "bye, sorry for everything. " + "really " * 8 + "monday"
    assert "bye_sorry" in _rules_hit(en, far)


def test_adversarial_long_input_is_bounded(
    lexicons: dict[str, Lexicon], screener: Screener
) -> None:
    en = lexicons["en"]
    m = ConceptMatcher([(en.lang, en.concepts, en.concept_rules)])
    text = ("i want to " * 410)[:4096]
    toks = normalise(text).split(" ")
    hits = m.match(toks, set(toks))
    assert len(hits) <= len(en.concept_rules)  # at most one match per rule
    for text in (("goodbye sorry " * 300)[:4096], ("me " * 1400)[:4096], "a" * 4096):
        r = screener.screen(text, "en")
        assert r.level in ("urgent", "concern", "none")


def test_rule_problems_are_reported() -> None:
    problems: list[str] = []
    data = {
        "concepts": {"a": ["x"], "b": ["word"], "c": ["y*"], "bad": []},
        "concept_rules": {
            "ok": {"category": "suicide", "seq": ["a", "b"], "gap": 9},
            "unknown": {"category": "suicide", "seq": ["a", "zzz"]},
            "badcat": {"category": "nope", "seq": ["a"]},
            "badnear": {"category": "burden", "seq": ["a"], "near": [1]},
        },
    }
    _sets, rules = build_concepts(data, "f", problems)
    assert rules == ()
    joined = "\n".join(problems)
    assert "prefix 'y*' must be one word of 4+ letters" in joined
    assert "f:concepts.bad: is empty" in joined
    assert "concept_rules.ok.gap" in joined
    assert "unknown concept(s) zzz" in joined
    assert "concept_rules.badcat.category" in joined
    assert "concept_rules.badnear.near" in joined


def test_cache_round_trip_keeps_concepts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTBOT_CACHE_DIR", str(tmp_path))
    path = MESSAGES / "es" / "crisis.toml"
    first = cache.load_lexicon("es", path, "es", use_cache=True)
    assert list(tmp_path.iterdir())
    second = cache.load_lexicon("es", path, "es", use_cache=True)
    assert second.concepts == first.concepts
    assert second.concept_rules == first.concept_rules
    assert first.concept_rules


def test_validate_wants_concept_rules_in_every_language(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(MESSAGES, tmp_path / "messages")
    es = tmp_path / "messages" / "es" / "crisis.toml"
    text = es.read_text(encoding="utf-8")
    cut = text.index("\n[concepts]")
    es.write_text(text[:cut] + "\n", encoding="utf-8")
    problems = validate(tmp_path / "messages", ["en", "es"])
    assert any("es/crisis.toml:concept_rules: missing" in p for p in problems)
    en = tmp_path / "messages" / "en" / "crisis.toml"
    en_text = en.read_text(encoding="utf-8").replace(
        "\n[concepts]\n", '\n[concepts]\nlonely = ["x"]\n'
    )
    en.write_text(en_text, encoding="utf-8")
    problems = validate(tmp_path / "messages", ["en", "es"])
    assert any("concepts.lonely: not used by any rule" in p for p in problems)
