"""Client-input parsers: examples in English and Spanish, Babel round trips, and never raising."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from babel.dates import format_time, get_day_names
from hypothesis import given, settings
from hypothesis import strategies as st

from supportbot.scheduling.parse import (
    MAX_DURATION_MINUTES,
    load_vocabulary,
    normalize,
    parse_days,
    parse_duration_minutes,
    parse_quiet_hours,
    parse_session_arg,
    parse_time,
    parse_weekday,
    parse_weekday_time,
    validate_vocabulary,
)
from supportbot.scheduling.rules import NEXT_MORNING, QuietHours

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
LOCALES = ["en_US", "en_GB", "en_AU", "es_ES", "es_MX", "es_AR", "es_CO", "es_US", "es_419"]


def t(h: int, m: int = 0) -> time:
    return time(h, m)


# --- weekdays ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("miercoles", "es", WED),
        ("miércoles", "es", WED),
        ("MIÉRCOLES", "es", WED),
        ("mié", "es", WED),
        ("mié.", "es", WED),
        ("mie", "es", WED),
        ("x", "es", WED),
        ("l", "es", MON),
        ("m", "es", TUE),
        ("martes", "es", TUE),
        ("sábado", "es", SAT),
        ("sabados", "es", SAT),
        ("domingo", "es", SUN),
        ("el jueves", "es", THU),
        ("todos los viernes", "es", FRI),
        ("tue", "en", TUE),
        ("tues", "en", TUE),
        ("Tuesday", "en", TUE),
        ("Thursday", "en", THU),
        ("thurs", "en", THU),
        ("thu.", "en", THU),
        ("weds", "en", WED),
        ("mondays", "en", MON),
        ("on friday", "en", FRI),
        ("every Sunday", "en", SUN),
        ("m", "en", MON),
        ("wendesday", "en", WED),  # typo
        ("thrusday", "en", THU),  # typo
        ("  friday  ", "en", FRI),
        # English always works for a Spanish speaker, and the other way round.
        ("Thursday", "es", THU),
        ("wed", "es", WED),
        ("martes", "en", TUE),
        ("mar", "en", TUE),
        # A language with no vocabulary file still gets Babel's names.
        ("Dienstag", "de", TUE),
        ("Mi.", "de", WED),
        # Not a weekday, or ambiguous.
        ("t", "en", None),
        ("s", "en", None),
        ("", "en", None),
        ("banana", "en", None),
        ("martes 17", "es", None),
        ("tuesday and friday", "en", None),
        ("42", "en", None),
    ],
)
def test_parse_weekday(text: str, lang: str, expected: int | None) -> None:
    assert parse_weekday(text, lang) == expected


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("width", ["wide", "abbreviated"])
def test_babel_weekday_names_round_trip(locale: str, width: str) -> None:
    lang = locale.split("_")[0]
    for day, name in get_day_names(width, locale=locale).items():
        assert parse_weekday(str(name), lang) == day
        assert parse_weekday(str(name).upper(), lang) == day
        assert parse_weekday(normalize(str(name)), lang) == day  # accents dropped


# --- times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17:00", t(17)),
        ("5pm", t(17)),
        ("5 pm", t(17)),
        ("5PM", t(17)),
        ("5:30pm", t(17, 30)),
        ("5:30 p.m.", t(17, 30)),
        ("5 p. m.", t(17)),
        ("5 p.m", t(17)),
        ("9 a. m.", t(9)),
        ("17h", t(17)),
        ("17 h", t(17)),
        ("17h30", t(17, 30)),
        ("17:30h", t(17, 30)),
        ("17 hs", t(17)),
        ("17.30", t(17, 30)),
        ("17,30", t(17, 30)),
        ("1730", t(17, 30)),
        ("0930", t(9, 30)),
        ("530pm", t(17, 30)),
        ("9", t(9)),
        ("09:05", t(9, 5)),
        ("0:00", t(0)),
        ("23:59", t(23, 59)),
        ("12am", t(0)),
        ("12:30 am", t(0, 30)),
        ("12pm", t(12)),
        ("12:15 pm", t(12, 15)),
        ("noon", t(12)),
        ("Noon", t(12)),
        ("midday", t(12)),
        ("mediodía", t(12)),
        ("mediodia", t(12)),
        ("midnight", t(0)),
        ("medianoche", t(0)),
        ("at 5pm", t(17)),
        ("a las 17:00", t(17)),
        ("5 o'clock", t(5)),
        ("5 o’clock", t(5)),
        ("5 in the afternoon", t(17)),
        ("8 in the morning", t(8)),
        ("10 at night", t(22)),
        ("5 de la tarde", t(17)),
        ("5:30 de la tarde", t(17, 30)),
        ("8 de la mañana", t(8)),
        ("8 de la manana", t(8)),
        ("10 de la noche", t(22)),
        ("12 de la noche", t(0)),
        ("1 de la madrugada", t(1)),
        ("7 en punto", t(7)),
        ("17pm", t(17)),  # a common slip; 17 already says afternoon
        ("１７：００", t(17)),  # full-width digits
        # invalid
        ("24:00", None),
        ("25:00", None),
        ("17:60", None),
        ("0am", None),
        ("13am", None),
        ("5:5", None),
        ("-1", None),
        ("12:30:45", None),
        ("", None),
        ("   ", None),
        ("tarde", None),
        ("pm", None),
        ("soon", None),
        ("5 5", None),
    ],
)
def test_parse_time(text: str, expected: time | None) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("locale", [*LOCALES, "de_DE", "pt_BR", "en_IN"])
def test_babel_formatted_times_round_trip(locale: str) -> None:
    for hour in range(24):
        for minute in (0, 5, 30, 59):
            shown = format_time(time(hour, minute), format="short", locale=locale)
            assert parse_time(shown) == time(hour, minute), (locale, shown)


@settings(max_examples=300)
@given(st.integers(0, 23), st.integers(0, 59))
def test_clock_formats_round_trip(hour: int, minute: int) -> None:
    expected = time(hour, minute)
    h12 = hour % 12 or 12
    suffix = "am" if hour < 12 else "pm"
    for text in (
        f"{hour:02d}:{minute:02d}",
        f"{hour}:{minute:02d}",
        f"{hour}h{minute:02d}",
        f"{hour}.{minute:02d}",
        f"{h12}:{minute:02d}{suffix}",
        f"{h12}:{minute:02d} {suffix.upper()}",
        f"{h12}:{minute:02d} {suffix[0]}. m.",
    ):
        assert parse_time(text) == expected, text


# --- weekday + time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("tue 5pm", "en", (TUE, t(17))),
        ("Tuesday at 17:30", "en", (TUE, t(17, 30))),
        ("5pm on tue", "en", (TUE, t(17))),
        ("every thursday at 9am", "en", (THU, t(9))),
        ("tue5pm", "en", (TUE, t(17))),
        ("Fri, 10:15", "en", (FRI, t(10, 15))),
        ("sat noon", "en", (SAT, t(12))),
        ("martes 17:00", "es", (TUE, t(17))),
        ("mar 17h", "es", (TUE, t(17))),
        ("17:00 martes", "es", (TUE, t(17))),
        ("el martes a las 5 de la tarde", "es", (TUE, t(17))),
        ("todos los miércoles a las 18:30", "es", (WED, t(18, 30))),
        ("vie, 9:30", "es", (FRI, t(9, 30))),
        ("lunes al mediodía", "es", (MON, t(12))),
        ("jue 7 p. m.", "es", (THU, t(19))),
        ("x 16h", "es", (WED, t(16))),
        ("thursday 17:00", "es", (THU, t(17))),  # English in a Spanish chat
        ("martes 17:00", "en", (TUE, t(17))),  # and the other way round
        ("Tuesday", "en", None),
        ("5pm", "en", None),
        ("tue 25:00", "en", None),
        ("holiday 5pm", "en", None),
        ("", "es", None),
    ],
)
def test_parse_weekday_time(text: str, lang: str, expected: tuple[int, time] | None) -> None:
    assert parse_weekday_time(text, lang) == expected


@settings(max_examples=300)
@given(
    st.sampled_from(LOCALES),
    st.integers(0, 6),
    st.integers(0, 23),
    st.sampled_from([0, 15, 30, 45]),
    st.sampled_from(["wide", "abbreviated"]),
    st.booleans(),
)
def test_babel_weekday_and_time_round_trip(
    locale: str, day: int, hour: int, minute: int, width: str, time_first: bool
) -> None:
    name = str(get_day_names(width, locale=locale)[day])
    shown = format_time(time(hour, minute), format="short", locale=locale)
    text = f"{shown} {name}" if time_first else f"{name} {shown}"
    assert parse_weekday_time(text, locale.split("_")[0]) == (day, time(hour, minute))


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("now", "en", "now"),
        ("just finished", "en", "now"),
        ("ahora", "es", "now"),
        ("Ya", "es", "now"),
        ("off", "en", "off"),
        ("OFF", "es", "off"),
        ("desactivar", "es", "off"),
        ("stop", "en", "off"),
        ("tue 17:00", "en", (TUE, t(17))),
        ("miércoles 18h", "es", (WED, t(18))),
        ("whenever", "en", None),
    ],
)
def test_parse_session_arg(text: str, lang: str, expected: object) -> None:
    assert parse_session_arg(text, lang) == expected


# --- durations, days, quiet hours ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", 30),
        ("30 min", 30),
        ("30 mins", 30),
        ("30 minutes", 30),
        ("30 minutos", 30),
        ("90 min", 90),
        ("90", 90),
        ("2h", 120),
        ("2 h", 120),
        ("2 hours", 120),
        ("2 horas", 120),
        ("2hrs", 120),
        ("1h30", 90),
        ("1h30m", 90),
        ("1h 30m", 90),
        ("1 h 30 min", 90),
        ("1 hour and 30 minutes", 90),
        ("1 hora y 30 minutos", 90),
        ("1:30", 90),
        ("1.5h", 90),
        ("1,5 horas", 90),
        ("an hour", 60),
        ("una hora", 60),
        ("half an hour", 30),
        ("media hora", 30),
        ("an hour and a half", 90),
        ("una hora y media", 90),
        ("2 horas y media", 150),
        ("1 day", 1440),
        ("next morning", NEXT_MORNING),
        ("Next Morning", NEXT_MORNING),
        ("tomorrow morning", NEXT_MORNING),
        ("mañana por la mañana", NEXT_MORNING),
        ("manana por la manana", NEXT_MORNING),
        ("a la mañana siguiente", NEXT_MORNING),
        # invalid
        ("0", None),
        ("0m", None),
        ("-30m", None),
        ("30x", None),
        ("h", None),
        ("m30", None),
        ("two hours", None),
        ("15 days", None),  # longer than any sensible delay
        ("99999999999h", None),
        ("0.1m", None),
        ("", None),
    ],
)
def test_parse_duration_minutes(text: str, expected: int | None) -> None:
    assert parse_duration_minutes(text) == expected


@settings(max_examples=300)
@given(st.integers(1, MAX_DURATION_MINUTES))
def test_duration_formats_round_trip(minutes: int) -> None:
    hours, rest = divmod(minutes, 60)
    assert parse_duration_minutes(f"{minutes}m") == minutes
    assert parse_duration_minutes(f"{minutes} minutos") == minutes
    if hours:
        assert parse_duration_minutes(f"{hours}h{rest:02d}") == minutes
        assert parse_duration_minutes(f"{hours} hours {rest} minutes") == minutes
        if not rest:
            assert parse_duration_minutes(f"{hours} horas") == minutes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3),
        ("3 days", 3),
        ("3 días", 3),
        ("3 dias", 3),
        ("3d", 3),
        ("1 day", 1),
        ("a week", 7),
        ("una semana", 7),
        ("2 weeks", 14),
        ("2 semanas", 14),
        ("1 semana y 2 días", 9),
        ("365", 365),
        ("366", None),
        ("0", None),
        ("-3", None),
        ("36h", None),
        ("1.5 days", None),
        ("three", None),
        ("", None),
    ],
)
def test_parse_days(text: str, expected: int | None) -> None:
    assert parse_days(text) == expected


@given(st.integers(1, 365))
def test_days_round_trip(days: int) -> None:
    assert parse_days(str(days)) == days
    assert parse_days(f"{days} days") == days
    assert parse_days(f"{days} días") == days


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("22:00-08:00", QuietHours(t(22), t(8))),
        ("22:00 - 08:00", QuietHours(t(22), t(8))),
        ("22:00–08:00", QuietHours(t(22), t(8))),
        ("10pm-7am", QuietHours(t(22), t(7))),
        ("10 pm to 7 am", QuietHours(t(22), t(7))),
        ("from 10pm to 7am", QuietHours(t(22), t(7))),
        ("between 11pm and 7:30am", QuietHours(t(23), t(7, 30))),
        ("22-8", QuietHours(t(22), t(8))),
        ("de 22 a 8", QuietHours(t(22), t(8))),
        ("de 22:00 a 08:00", QuietHours(t(22), t(8))),
        ("de 10 p. m. a 7 a. m.", QuietHours(t(22), t(7))),
        ("entre las 23 y las 7", QuietHours(t(23), t(7))),
        ("desde medianoche hasta las 9", QuietHours(t(0), t(9))),
        ("13:00-15:00", QuietHours(t(13), t(15))),
        ("22-22", None),
        ("22", None),
        ("25-8", None),
        ("night", None),
        ("", None),
    ],
)
def test_parse_quiet_hours(text: str, expected: QuietHours | None) -> None:
    assert parse_quiet_hours(text) == expected


@given(st.integers(0, 23), st.integers(0, 59), st.integers(0, 23), st.integers(0, 59))
def test_quiet_hours_round_trip(h1: int, m1: int, h2: int, m2: int) -> None:
    start, end = time(h1, m1), time(h2, m2)
    expected = QuietHours(start, end) if start != end else None
    assert parse_quiet_hours(f"{start:%H:%M}-{end:%H:%M}") == expected
    assert parse_quiet_hours(f"{start:%I:%M%p} to {end:%I:%M%p}") == expected
    assert parse_quiet_hours(f"de {start:%H:%M} a {end:%H:%M}") == expected


# --- never raise, and only well-formed results ---------------------------------------------------

WORDS = [
    "5",
    "17",
    "30",
    "00",
    ":",
    ".",
    ",",
    "-",
    "+",
    "h",
    "m",
    "pm",
    "a.",
    "m.",
    "de",
    "la",
    "tarde",
    "noche",
    "mañana",
    "por",
    "martes",
    "tue",
    "mié",
    "x",
    "at",
    "a",
    "las",
    "y",
    "media",
    "and",
    "half",
    "an",
    "hour",
    "horas",
    "days",
    "semana",
    "next",
    "morning",
    "noon",
    "to",
    "hasta",
    "+half",
    "1.5",
    "1,5",
    "99999999",
    "٥",
    "𝟓",
    "\u200b",
    "\u202f",
    "\x00",
]
texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(WORDS), max_size=10).map(" ".join),
    st.lists(st.sampled_from(WORDS), max_size=10).map("".join),
)
langs = st.sampled_from(["en", "es", "de", "pt_BR", "es-MX", "xx", "", "../../etc", "EN"])


@settings(max_examples=1500)
@given(texts, langs)
def test_parsers_never_raise_and_return_valid_values(text: str, lang: str) -> None:
    day = parse_weekday(text, lang)
    assert day is None or 0 <= day <= 6
    at = parse_time(text, lang)
    assert at is None or isinstance(at, time)
    pair = parse_weekday_time(text, lang)
    assert pair is None or (0 <= pair[0] <= 6 and isinstance(pair[1], time))
    minutes = parse_duration_minutes(text, lang)
    assert minutes is None or minutes == NEXT_MORNING or 0 < minutes <= MAX_DURATION_MINUTES
    quiet = parse_quiet_hours(text, lang)
    assert quiet is None or quiet.start != quiet.end
    days = parse_days(text, lang)
    assert days is None or 1 <= days <= 365
    arg = parse_session_arg(text, lang)
    assert arg is None or arg in ("now", "off") or isinstance(arg, tuple)


def test_very_long_input_is_refused_quickly() -> None:
    text = "5pm " * 10_000
    assert parse_time(text) is None
    assert parse_weekday_time("tue " + text, "en") is None
    assert parse_duration_minutes("1" * 10_000) is None


# --- vocabulary files ----------------------------------------------------------------------------


def test_shipped_vocabulary_files_are_valid() -> None:
    assert validate_vocabulary() == []


def test_validate_vocabulary_reports_problems(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "weekdays.toml").write_text('[weekdays]\nmonday = "mon"\n[bogus]\n')
    (tmp_path / "fr").mkdir()
    problems = validate_vocabulary(tmp_path)
    assert any("weekdays.monday: must be a list of strings" in p for p in problems)
    assert any("missing table [session]" in p for p in problems)
    assert any("unknown table [bogus]" in p for p in problems)
    assert any(p.startswith(str(tmp_path / "fr")) and "missing" in p for p in problems)


def test_a_new_language_needs_only_its_vocabulary_file(tmp_path: Path) -> None:
    (tmp_path / "pt").mkdir()
    (tmp_path / "pt" / "weekdays.toml").write_text(
        '[weekdays]\nmonday = ["seg"]\ntuesday = ["terça", "ter"]\n[time]\nnoon = ["meio-dia"]\n'
    )
    vocab = load_vocabulary("pt", tmp_path)
    assert vocab.weekday_names["terca"] == TUE  # accents folded
    assert vocab.weekday_names["quarta-feira"] == WED  # from Babel
    assert "meio-dia" in vocab.noon
