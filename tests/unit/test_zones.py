"""Time zone matching from what clients type: IANA names, cities, aliases, countries, offsets."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportbot.scheduling.zones import (
    ALIASES,
    COUNTRY_ALIASES,
    COUNTRY_ORDER,
    MAIN_ZONE,
    MAX_RESULTS,
    _data,
    all_zones,
    canonical,
    country_code,
    country_default_zone,
    country_zones,
    match_timezone,
)


def _read_otherwise(name: str) -> bool:
    """Names that also read as an alias ("EST": the zone with DST rules comes first) or an offset
    ("GMT+0"); those still appear, just not necessarily first."""
    return name.lower() in ALIASES or re.fullmatch(r"gmt[+-]0", name.lower()) is not None


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("EUROPE/BERLIN", "Europe/Berlin"),
        ("america/new york", "America/New_York"),
        ("berlin", "Europe/Berlin"),
        ("Berlin", "Europe/Berlin"),
        ("new york", "America/New_York"),
        ("new_york", "America/New_York"),
        ("New-York", "America/New_York"),
        ("NYC", "America/New_York"),
        ("nueva york", "America/New_York"),
        ("los angeles", "America/Los_Angeles"),
        ("san francisco", "America/Los_Angeles"),
        ("boston", "America/New_York"),
        ("barcelona", "Europe/Madrid"),
        ("munich", "Europe/Berlin"),
        ("münchen", "Europe/Berlin"),
        ("muenchen", "Europe/Berlin"),
        ("Zürich", "Europe/Zurich"),
        ("ciudad de méxico", "America/Mexico_City"),
        ("ciudad de mexico", "America/Mexico_City"),
        ("CDMX", "America/Mexico_City"),
        ("bogotá", "America/Bogota"),
        ("Bogota", "America/Bogota"),
        ("sydney", "Australia/Sydney"),
        ("delhi", "Asia/Kolkata"),
        ("mumbai", "Asia/Kolkata"),
        ("kolkata", "Asia/Kolkata"),
        ("calcutta", "Asia/Kolkata"),
        ("kyiv", "Europe/Kyiv"),
        ("kiev", "Europe/Kyiv"),
        ("Europe/Kiev", "Europe/Kyiv"),  # legacy name: canonical first, the link after
        ("buenos aires", "America/Argentina/Buenos_Aires"),
        ("São Paulo", "America/Sao_Paulo"),
        ("St. John's", "America/St_Johns"),
        ("port-au-prince", "America/Port-au-Prince"),
        ("madrid, spain", "Europe/Madrid"),
        # countries (English, Spanish, ISO codes)
        ("spain", "Europe/Madrid"),
        ("España", "Europe/Madrid"),
        ("ES", "Europe/Madrid"),
        ("germany", "Europe/Berlin"),
        ("alemania", "Europe/Berlin"),
        ("de", "Europe/Berlin"),
        ("france", "Europe/Paris"),
        ("méxico", "America/Mexico_City"),
        ("argentina", "America/Argentina/Buenos_Aires"),
        ("chile", "America/Santiago"),
        ("colombia", "America/Bogota"),
        ("uk", "Europe/London"),
        ("reino unido", "Europe/London"),
        ("united states", "America/New_York"),
        ("estados unidos", "America/New_York"),
        ("USA", "America/New_York"),
        ("australia", "Australia/Sydney"),
        ("brasil", "America/Sao_Paulo"),
        # abbreviations mean the zone with DST, not the fixed legacy one
        ("EST", "America/New_York"),
        ("pst", "America/Los_Angeles"),
        ("UTC", "UTC"),
        ("gmt", "UTC"),
        # typos and partial names
        ("berln", "Europe/Berlin"),
        ("barcleona", "Europe/Madrid"),
        ("los ang", "America/Los_Angeles"),
        ("york", "America/New_York"),
    ],
)
def test_match_timezone_best_first(query: str, first: str) -> None:
    assert match_timezone(query)[0] == first


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("UTC+2", ["Etc/GMT-2"]),  # POSIX sign: Etc/GMT-2 is two hours ahead
        ("gmt-5", ["Etc/GMT+5"]),
        ("utc + 14", ["Etc/GMT-14"]),
        ("+3", ["Etc/GMT-3"]),
        ("UTC+0", ["UTC"]),
        ("utc-13", []),
        ("+05:30", []),
    ],
)
def test_fixed_offsets(query: str, expected: list[str]) -> None:
    assert match_timezone(query) == expected
    for name in expected:
        assert ZoneInfo(name).utcoffset(None) is not None


@pytest.mark.parametrize("query", ["", "   ", "zzzz", "not a place at all", "12345", "x" * 500])
def test_nothing_found(query: str) -> None:
    assert match_timezone(query) == []


def test_every_canonical_zone_is_found_by_its_name_and_its_city() -> None:
    data = _data()
    for name in sorted(all_zones()):
        if name in data.links:
            continue
        assert match_timezone(name)[0] == name
        assert match_timezone(name.lower().replace("_", " "))[0] == name
        if "/" in name and not name.startswith("Etc/"):  # "GMT+1" reads as an offset instead
            city = name.rsplit("/", 1)[1].replace("_", " ")
            assert name in match_timezone(city), city


def test_links_lead_to_their_canonical_zone() -> None:
    assert canonical("Europe/Kiev") == "Europe/Kyiv"
    assert canonical("Asia/Calcutta") == "Asia/Kolkata"
    assert canonical("Europe/Berlin") == "Europe/Berlin"
    for link, target in _data().links.items():
        found = match_timezone(link)
        if _read_otherwise(link):
            assert link in found
        else:
            assert found[:2] == [target, link]


def test_alias_and_country_tables_point_at_real_zones() -> None:
    zones = all_zones()
    for alias, targets in ALIASES.items():
        assert targets, alias
        for target in targets:
            assert target in zones, (alias, target)
            assert target in match_timezone(alias), alias
    data = _data()
    for code, main in MAIN_ZONE.items():
        assert main in data.country_zones[code], code
    for code, order in COUNTRY_ORDER.items():
        assert set(order) <= set(data.country_zones[code]), code
    for code in COUNTRY_ALIASES.values():
        assert code in data.country_zones, code


def test_country_default_zone() -> None:
    assert country_default_zone("ES") == "Europe/Madrid"
    assert country_default_zone("es") == "Europe/Madrid"
    assert country_default_zone("DE") == "Europe/Berlin"
    assert country_default_zone("FR") == "Europe/Paris"  # the only one
    assert country_default_zone("AR") == "America/Argentina/Buenos_Aires"
    assert country_default_zone("MX") == "America/Mexico_City"
    assert country_default_zone("US") is None  # several, and they differ: ask for a city
    assert country_default_zone("CA") is None
    assert country_default_zone("AU") is None
    assert country_default_zone("XX") is None
    assert country_default_zone("") is None
    for code, zones in _data().country_zones.items():
        default = country_default_zone(code)
        assert default is None or default in zones
        if len(zones) == 1:
            assert default == zones[0]
        listed = country_zones(code)
        assert set(listed) == set(zones) and len(listed) == len(zones)
        if default is not None:
            assert listed[0] == default


def test_country_code() -> None:
    assert country_code("Spain") == "ES"
    assert country_code("España") == "ES"
    assert country_code("alemania") == "DE"
    assert country_code("us") == "US"
    assert country_code("Estados Unidos") == "US"
    assert country_code("United Kingdom") == "GB"
    assert country_code("méxico") == "MX"
    assert country_code("Narnia") is None


@settings(max_examples=1000)
@given(st.text(max_size=120))
def test_never_raises_and_returns_loadable_zones(query: str) -> None:
    found = match_timezone(query)
    assert len(found) <= MAX_RESULTS
    assert len(set(found)) == len(found)
    for name in found:
        assert name in all_zones()
        ZoneInfo(name)
    country_code(query)
    country_default_zone(query)


@settings(max_examples=300)
@given(st.sampled_from(sorted(all_zones())), st.sampled_from([str.lower, str.upper, str.title]))
def test_exact_names_in_any_case_come_first(name: str, case: object) -> None:
    query = case(name)  # type: ignore[operator]
    found = match_timezone(query)
    if _read_otherwise(name):
        assert name in found
    else:
        assert name in found[:2]  # a legacy link may put its canonical zone first
