import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supportbot.keyboards import MAX_CALLBACK_BYTES, pack, unpack
from supportbot.logs import RedactFilter
from supportbot.services.profile import Locale, LocaleCache, match_country, parse_start_code

LANGS = ("en", "es")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("es_MX", Locale("es", "MX")),
        ("en-GB", Locale("en", "GB")),
        ("ES", Locale("", "ES")),
        ("es", Locale("es", None)),
        ("clinic42", None),
        ("fr_FR", Locale("", "FR")),
        ("", None),
        ("x" * 65, None),
        ("es MX", None),
    ],
)
def test_start_codes(code: str, expected: Locale | None) -> None:
    assert parse_start_code(code, LANGS) == expected


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("es", "ES"),
        ("ES", "ES"),
        ("España", "ES"),
        ("espana", "ES"),
        ("Mexico", "MX"),
        ("méxico", "MX"),
        ("United States", "US"),
        ("usa", "US"),
        ("UK", "GB"),
        ("Germany", "DE"),
        ("Alemania", "DE"),
    ],
)
def test_match_country(query: str, code: str) -> None:
    assert match_country(query, LANGS) == code


@pytest.mark.parametrize("query", ["Atlantis", "", "zz", "🙂"])
def test_unknown_country(query: str) -> None:
    assert match_country(query, LANGS) is None


def test_locale_cache_is_bounded_lru() -> None:
    cache = LocaleCache(capacity=2)
    cache.put(1, Locale("en", "US"))
    cache.put(2, Locale("es", "ES"))
    assert cache.get(1) == Locale("en", "US")  # 1 is now most recent
    cache.put(3, Locale("es", "MX"))
    assert cache.get(2) is None and cache.get(1) is not None and len(cache) == 2


def test_pack_and_unpack_round_trip() -> None:
    data = pack("ex", "next", "box_breathing", 3)
    parsed = unpack(data)
    assert parsed is not None
    assert (parsed.ns, parsed.action, parsed.args) == ("ex", "next", ("box_breathing", "3"))
    assert parsed.int_arg(1) == 3 and parsed.int_arg(0) is None and parsed.arg(5) is None


def test_pack_refuses_oversized_or_odd_parts() -> None:
    with pytest.raises(ValueError):
        pack("ex", "x" * 70)
    with pytest.raises(ValueError):
        pack("ex", "a:b")


@given(st.text(max_size=200))
def test_unpack_never_raises_and_bounds_size(data: str) -> None:
    parsed = unpack(data)
    if parsed is not None:
        assert len(data.encode()) <= MAX_CALLBACK_BYTES
        assert ":".join((parsed.ns, parsed.action, *parsed.args)) == data


def test_redact_filter_removes_token_and_third_party_debug() -> None:
    token = "123456:SECRETSECRETSECRET"
    f = RedactFilter([token])
    rec = logging.LogRecord(
        "telegram.ext", logging.INFO, __file__, 1, "url %s", (f"/bot{token}/getMe",), None
    )
    assert f.filter(rec) and token not in rec.getMessage()
    debug = logging.LogRecord(
        "telegram.Bot", logging.DEBUG, __file__, 1, "params %s", ("hi",), None
    )
    assert not f.filter(debug)
    ours = logging.LogRecord("supportbot.x", logging.DEBUG, __file__, 1, "ok", None, None)
    assert f.filter(ours)
