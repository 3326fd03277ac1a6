"""Crisis services per country: the shipped file, validation, and the fallback."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest

from supportbot.safety.resources import INTERNATIONAL, MAX_SERVICES, Resources

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = ROOT / "messages"
NOT_VERIFIED_IN_SPEC = {"BR", "IN", "ZA", "JP"}  # marked * in SAFETY.md


@pytest.fixture(scope="module")
def resources() -> Resources:
    return Resources.load(MESSAGES)


def test_shipped_file_has_no_problems(resources: Resources) -> None:
    assert resources.problems == ()


def test_at_least_twenty_countries_each_with_source_and_date(resources: Resources) -> None:
    assert len(resources.countries) >= 20
    for code in resources.countries:
        c = resources.for_country(code)
        assert not c.fallback
        assert c.emergency and re.fullmatch(r"[0-9*#+][0-9 ()*#+\-/.]*", c.emergency)
        assert 1 <= len(c.services) <= MAX_SERVICES
        for s in c.services:
            assert s.source.startswith("https://"), (code, s.name)
            assert s.phone or s.text or s.chat
            assert s.hours
            if s.checked == "unverified":
                assert not s.verified
            else:
                dt.date.fromisoformat(s.checked)


def test_spec_list_entries_are_there(resources: Resources) -> None:
    expect = {
        "US": "988",
        "CA": "988",
        "GB": "116 123",
        "IE": "116 123",
        "AU": "13 11 14",
        "NZ": "1737",
        "FR": "3114",
        "ES": "024",
        "BR": "188",
        "MX": "800 911 2000",
        "IN": "14416",
        "ZA": "0800 567 567",
        "PL": "800 70 2222",
        "UA": "7333",
        "JP": "0120-279-338",
    }
    for code, phone in expect.items():
        phones = [s.phone or "" for s in resources.for_country(code).services]
        assert any(phone in p for p in phones), (code, phones)
    assert resources.for_country("US").emergency == "911"
    assert resources.for_country("GB").emergency == "999"
    assert resources.for_country("AU").emergency == "000"


def test_unverified_entries_stay_flagged(resources: Resources) -> None:
    for code in NOT_VERIFIED_IN_SPEC:
        assert not resources.for_country(code).verified, code
    listed = "\n".join(resources.unverified())
    for code in NOT_VERIFIED_IN_SPEC | {"AR", "CL"}:
        assert f"{code}:" in listed
    # Every service carries its source and the date it was looked up; verified only if confirmed.
    raw = tomllib.loads((MESSAGES / "resources.toml").read_text(encoding="utf-8"))
    for code, country in raw["countries"].items():
        for s in country.get("services", []):
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", s["checked"]), code
            assert s["source"].startswith("https://"), code
            if not s["verified"]:
                assert s.get("note"), code  # says what could not be confirmed


def test_lookup_is_case_insensitive_and_falls_back(resources: Resources) -> None:
    assert resources.for_country(" us ").code == "US"
    for code in (None, "", "ZZ", "not a code"):
        c = resources.for_country(code)
        assert c.fallback
        assert any(s.chat and "findahelpline.com" in s.chat for s in c.services)
    assert resources.for_country(None).code == INTERNATIONAL
    assert resources.for_country(None).emergency is None
    tr = resources.for_country("TR")  # no services listed, but an emergency number
    assert tr.fallback and tr.emergency == "112"


def test_bad_entries_are_reported_and_skipped() -> None:
    data = {
        "international": {
            "services": [
                {
                    "name": "Directory",
                    "chat": "https://example.org",
                    "hours": "24/7",
                    "source": "https://example.org",
                    "checked": "2026-01-01",
                    "verified": True,
                }
            ]
        },
        "countries": {
            "XA": {
                "name": "No source",
                "emergency": "112",
                "services": [{"name": "Line", "phone": "123", "hours": "24/7", "verified": True}],
            },
            "XB": {
                "name": "Bad number and date",
                "emergency": "call us",
                "services": [
                    {
                        "name": "Line",
                        "phone": "abc",
                        "hours": "24/7",
                        "source": "https://x.org",
                        "checked": "yesterday",
                        "verified": True,
                    }
                ],
            },
            "xc": {"name": "lower-case code", "emergency": "1", "services": []},
            "XD": {
                "name": "Claims verified but unchecked",
                "emergency": "112",
                "services": [
                    {
                        "name": "Line",
                        "phone": "123",
                        "hours": "24/7",
                        "source": "https://x.org",
                        "checked": "unverified",
                        "verified": True,
                    }
                ],
            },
        },
    }
    r = Resources.from_data(data, "messages/resources.toml")
    problems = "\n".join(r.problems)
    assert "messages/resources.toml:countries.XA.services[0].source: missing" in problems
    assert "messages/resources.toml:countries.XA.services[0].checked: missing" in problems
    assert "countries.XB.services[0].phone: 'abc' does not look like a number" in problems
    assert "countries.XB.services[0].checked: 'yesterday' is not YYYY-MM-DD" in problems
    assert "countries.XB.emergency: missing or not a number" in problems
    assert "countries.xc: use the two-letter ISO code in capitals" in problems
    assert (
        "countries.XD.services[0].verified: cannot be true while checked is unverified" in problems
    )
    assert all(p.startswith("messages/resources.toml:") for p in r.problems)
    assert "XB" not in r.countries  # no usable service: the fallback is shown instead
    assert r.for_country("XB").fallback
    assert not r.for_country("XD").verified
