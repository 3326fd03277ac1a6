"""The crisis reply: language from the client, services from their country, safe messaging."""

from __future__ import annotations

import html
import re
import shutil
import time
from pathlib import Path

import pytest

from supportbot.safety.reply import CrisisReplies
from supportbot.safety.resources import Resources
from supportbot.safety.validate import validate

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = ROOT / "messages"
TAG = re.compile(r"</?b>")


@pytest.fixture(scope="module")
def replies() -> CrisisReplies:
    return CrisisReplies.load(MESSAGES, ["en", "es"], Resources.load(MESSAGES))


def plain(text: str) -> str:
    return html.unescape(TAG.sub("", text))


def test_urgent_puts_the_emergency_number_first(replies: CrisisReplies) -> None:
    r = replies.build("en", "US", "urgent", repeat=False)
    first_line = plain(r.text).splitlines()[0]
    assert "911" in first_line
    assert r.text.index("911") < r.text.index("988")


def test_concern_leads_with_support_and_still_names_the_emergency_number(
    replies: CrisisReplies,
) -> None:
    r = replies.build("en", "GB", "concern", repeat=False)
    text = plain(r.text)
    assert "999" not in text.splitlines()[0]
    assert text.index("116 123") < text.index("999")
    assert "Shout" in text and "85258" in text


def test_first_reply_has_every_required_part(replies: CrisisReplies) -> None:
    for lang in ("en", "es"):
        for level in ("urgent", "concern"):
            text = plain(replies.build(lang, "US", level, repeat=False).text)
            assert replies._t(lang, "automated") in text
            assert replies._t(lang, "person") in text
            assert replies._t(lang, "hope") in text
            assert "988" in text and "911" in text
            assert "741741" in text


def test_repeat_is_shorter_and_never_silent(replies: CrisisReplies) -> None:
    for lang in ("en", "es"):
        for level in ("urgent", "concern"):
            first = replies.build(lang, "AU", level, repeat=False)
            again = replies.build(lang, "AU", level, repeat=True)
            assert len(again.text) < len(first.text)
            text = plain(again.text)
            assert "13 11 14" in text and "000" in text
            assert replies._t(lang, "automated") in text
            assert again.buttons == first.buttons


def test_texts_follow_language_and_services_follow_country(replies: CrisisReplies) -> None:
    es_us = plain(replies.build("es", "US", "concern", repeat=False).text)
    en_mx = plain(replies.build("en", "MX", "concern", repeat=False).text)
    assert "988" in es_us and "automático" in es_us
    assert "800 911 2000" in en_mx and "automated" in en_mx


def test_unknown_country_gets_the_directory_and_local_emergency_if_known(
    replies: CrisisReplies,
) -> None:
    unknown = plain(replies.build("en", None, "urgent", repeat=False).text)
    assert "findahelpline.com" in unknown
    assert "local emergency number" in unknown
    turkey = plain(replies.build("en", "TR", "urgent", repeat=False).text)
    assert "112" in turkey.splitlines()[0]
    assert "findahelpline.com" in turkey


def test_unknown_language_falls_back_to_english(replies: CrisisReplies) -> None:
    assert (
        replies.build("de", "DE", "urgent", False).text
        == replies.build("en", "DE", "urgent", False).text
    )
    assert replies.safe_ack("xx") == replies.safe_ack("en")


def test_buttons(replies: CrisisReplies) -> None:
    for lang in ("en", "es"):
        r = replies.build(lang, "ES", "urgent", repeat=False)
        assert [a for a, _ in r.buttons] == ["ground", "safe"]
        assert all(label.strip() for _, label in r.buttons)
        assert r.parse_mode == "HTML"
    assert (
        dict(replies.build("es", "ES", "concern", False).buttons)["safe"] == "Ahora estoy a salvo"
    )


def test_safe_ack(replies: CrisisReplies) -> None:
    assert "/crisis" in replies.safe_ack("en")
    assert "/crisis" in replies.safe_ack("es")


def test_every_reply_is_short_escaped_html(replies: CrisisReplies) -> None:
    codes = [*replies.resources.countries, None, "ZZ"]
    for lang in ("en", "es"):
        for code in codes:
            for level in ("urgent", "concern", "none"):
                for repeat in (False, True):
                    text = replies.build(lang, code, level, repeat).text
                    assert 0 < len(text) < 1500, (lang, code, level, repeat)
                    # Only <b> tags; every other "<" or "&" is escaped.
                    rest = TAG.sub("", text)
                    assert "<" not in rest and ">" not in rest
                    assert not re.search(r"&(?!amp;|lt;|gt;)", rest)
    assert "&amp;" in replies.build("en", "US", "urgent", False).text  # "988 Suicide & Crisis"


def test_safe_messaging_rules(replies: CrisisReplies) -> None:
    forbidden = [
        r"you('| wi)ll be (fine|ok|okay)",
        r"everything will be (fine|ok|okay)",
        r"confidential",
        r"nobody will know",
        r"between us",
        r"todo (va a salir|saldrá) bien",
        r"confidencial",
        r"pills|overdose|rope|pastillas|soga",
        r"diagnos",
    ]
    for lang in ("en", "es"):
        texts = [
            replies.build(lang, "US", lvl, rep).text
            for lvl in ("urgent", "concern")
            for rep in (False, True)
        ]
        texts.append(replies.safe_ack(lang))
        for text in texts:
            for pattern in forbidden:
                assert not re.search(pattern, plain(text), re.I), (lang, pattern)


def test_spanish_uses_tu(replies: CrisisReplies) -> None:
    text = plain(replies.build("es", "ES", "concern", repeat=False).text)
    assert re.search(r"\b(puedes|tienes|estás|tu terapeuta)\b", text)
    assert not re.search(r"\b(usted|puede usted|su terapeuta)\b", text)


def test_build_is_pure_and_quick(replies: CrisisReplies) -> None:
    a = replies.build("en", "NZ", "urgent", False)
    assert replies.build("en", "NZ", "urgent", False) == a
    start = time.process_time()
    for _ in range(1000):
        replies.build("es", "CL", "concern", True)
    # Sanity only (the real figure is in benchmarks/): far below a millisecond each.
    assert time.process_time() - start < 1.0


def test_broken_template_falls_back_and_placeholder_mismatch_is_reported(tmp_path: Path) -> None:
    copy = tmp_path / "messages"
    copy.mkdir()
    for lang in ("en", "es"):
        (copy / lang).mkdir()
        shutil.copy(MESSAGES / lang / "crisis.toml", copy / lang / "crisis.toml")
    shutil.copy(MESSAGES / "resources.toml", copy / "resources.toml")
    es = copy / "es" / "crisis.toml"
    text = es.read_text(encoding="utf-8")
    text = text.replace('{automated}"""\n\nfirst_concern', '{automatico}"""\n\nfirst_concern', 1)
    es.write_text(text, encoding="utf-8")
    problems = validate(copy, ["en", "es"])
    joined = "\n".join(problems)
    assert "messages/es/crisis.toml:reply.first_urgent: unknown placeholder {automatico}" in joined
    assert "messages/es/crisis.toml:reply.first_urgent: must contain {automated}" in joined
    assert "differ from en's" in joined
    replies = CrisisReplies.load(copy, ["en", "es"], Resources.load(copy))
    out = replies.build("es", "ES", "urgent", repeat=False)  # never raises
    assert "024" in out.text and "112" in out.text
