"""Property tests for every parser of client input (hypothesis).

Clients type anything: weekdays and times, durations, quiet hours, pause days, time zone names,
country names, deep-link start codes; they press buttons whose callback data may be forged; their
words end up as values in rendered texts. For each parser: it never raises, it only returns
well-formed values, and what the bot itself writes (or a person writes in the documented shapes)
comes back unchanged. Operators type `.env` files, parsed by `config.read_env_file`.
"""

from __future__ import annotations

import functools
import html
import string
import unicodedata
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from supportbot.config import DEFAULT_MESSAGES_DIR, read_env_file
from supportbot.content.strings import Strings, placeholders
from supportbot.keyboards import MAX_CALLBACK_BYTES, CallbackData, pack, unpack
from supportbot.scheduling.parse import (
    MAX_DURATION_MINUTES,
    MAX_INPUT,
    MAX_PAUSE_DAYS,
    normalize,
    parse_days,
    parse_duration_minutes,
    parse_quiet_hours,
    parse_session_arg,
    parse_time,
    parse_weekday,
    parse_weekday_time,
)
from supportbot.scheduling.rules import NEXT_MORNING, QuietHours
from supportbot.scheduling.zones import MAX_RESULTS, all_zones, match_timezone
from supportbot.services.profile import Locale, match_country, parse_start_code
from tests.kit.botapi import plain_text

STRINGS = Strings.load(DEFAULT_MESSAGES_DIR, "en")
LANGUAGES = STRINGS.languages
FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MANY = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Anything a client can type: every Unicode character (controls, zero-width, RTL marks, emoji,
# surrogate-free), plus text built from the words the parsers look for, so both the "garbage" and
# the "almost right" spaces get explored.
any_text = st.text(st.characters(codec="utf-8"), max_size=MAX_INPUT + 20)
WORDS = [
    "5", "17", "12", "0", "24", "99", "5pm", "5 pm", "p.m.", "a. m.", ":", "30", "h", "hs", "min",
    "hours", "horas", "y media", "and a half", "mon", "martes", "mié", "x", "s", "noon", "mediodía",
    "de la tarde", "at night", "to", "-", "–", "a", "hasta", "from", "every", "now", "off", "week",
    "semana", "días", "1,5", "1.5", "0.25", "+", "half", "media hora", "tomorrow", "mañana", "🙂",
]  # fmt: skip
wordy_text = st.lists(st.sampled_from(WORDS), max_size=8).map(" ".join)
client_text = st.one_of(any_text, wordy_text)
# Language codes as Telegram or a stale database may carry them, including nonsense.
lang_codes = st.one_of(
    st.sampled_from(["en", "es", "es-MX", "pt-br", "de", "zz", "", "EN", "es_AR"]),
    st.text(max_size=12),
)


# -- scheduling.parse: weekdays, times, durations, quiet hours, days ------------------------------


@MANY
@given(client_text, lang_codes)
@example("\u200b5\u200bpm", "en")
@example("25:00", "es")
@example("9" * 300, "en")
def test_schedule_parsers_never_raise_and_return_well_formed_values(text: str, lang: str) -> None:
    day = parse_weekday(text, lang)
    assert day is None or day in range(7)
    at = parse_time(text, lang)
    assert at is None or (isinstance(at, time) and at.second == 0 and at.tzinfo is None)
    pair = parse_weekday_time(text, lang)
    assert pair is None or (pair[0] in range(7) and isinstance(pair[1], time))
    arg = parse_session_arg(text, lang)
    assert arg is None or arg in ("now", "off") or (arg[0] in range(7) and isinstance(arg[1], time))
    if isinstance(arg, tuple):
        assert arg == pair  # "/session <weekday> <time>" reads exactly as the weekday+time parser
    minutes = parse_duration_minutes(text, lang)
    assert minutes is None or minutes == NEXT_MORNING or 0 < minutes <= MAX_DURATION_MINUTES
    quiet = parse_quiet_hours(text, lang)
    assert quiet is None or (isinstance(quiet, QuietHours) and quiet.start != quiet.end)
    days = parse_days(text, lang)
    assert days is None or 1 <= days <= MAX_PAUSE_DAYS


@FAST
@given(client_text)
def test_normalize_is_idempotent_and_single_spaced(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.strip() and "  " not in once


ascii_input = st.text(string.ascii_letters + string.digits + " :.-,h", max_size=40)


@FAST
@given(ascii_input, st.sampled_from(["en", "es"]), st.sampled_from([str.upper, str.title]))
def test_case_and_surrounding_space_never_change_a_reading(
    text: str, lang: str, case: object
) -> None:
    variant = f"  {case(text)}\t"  # type: ignore[operator]
    assert parse_time(variant, lang) == parse_time(text, lang)
    assert parse_weekday(variant, lang) == parse_weekday(text, lang)
    assert parse_weekday_time(variant, lang) == parse_weekday_time(text, lang)
    assert parse_duration_minutes(variant, lang) == parse_duration_minutes(text, lang)
    assert parse_quiet_hours(variant, lang) == parse_quiet_hours(text, lang)
    assert parse_days(variant, lang) == parse_days(text, lang)


@FAST
@given(client_text)
def test_input_over_the_limit_is_never_read(text: str) -> None:
    long = (text + " ") * (MAX_INPUT // max(1, len(text) + 1) + 1) + "5pm"
    assume(len(long) > MAX_INPUT)
    assert parse_time(long) is None
    assert parse_weekday_time(long) is None
    assert parse_duration_minutes(long) is None


EN_DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ES_DAYS = ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"]


@MANY
@given(
    st.integers(0, 6),
    st.integers(0, 23),
    st.integers(0, 59),
    st.sampled_from(["en", "es"]),
    st.booleans(),
    st.booleans(),
)
def test_weekday_and_time_as_people_write_them_round_trip(
    day: int, hour: int, minute: int, lang: str, time_first: bool, twelve_hour: bool
) -> None:
    if lang == "en":
        name = EN_DAYS[day].capitalize()
        at = (
            f"{hour % 12 or 12}:{minute:02d}{'am' if hour < 12 else 'pm'}"
            if twelve_hour
            else f"{hour:02d}:{minute:02d}"
        )
        text = f"at {at} on {name}" if time_first else f"every {name} at {at}"
    else:
        name = ES_DAYS[day]
        at = f"{hour}:{minute:02d}" if not twelve_hour else f"{hour}.{minute:02d}h"
        text = f"a las {at} el {name}" if time_first else f"los {name} a las {at}"
    expected = (day, time(hour, minute))
    assert parse_weekday_time(text, lang) == expected
    assert parse_session_arg(text, lang) == expected
    assert parse_weekday(name, lang) == day
    assert parse_time(at, lang) == time(hour, minute)


@FAST
@given(st.integers(1, MAX_DURATION_MINUTES), st.sampled_from(["en", "es"]))
def test_durations_in_words_round_trip(minutes: int, lang: str) -> None:
    hours, rest = divmod(minutes, 60)
    if lang == "en":
        forms = [f"{minutes} minutes", f"{minutes} min"]
        if hours and rest:
            forms += [f"{hours} hours and {rest} minutes", f"{hours}h {rest}m"]
        if hours and not rest:
            forms += [f"{hours} hours", f"{hours}h"]
        if rest == 30:
            forms.append(f"{hours} hours and a half")
    else:
        forms = [f"{minutes} minutos"]
        if hours and rest:
            forms += [f"{hours} horas y {rest} minutos", f"{hours}h{rest:02d}"]
        if hours and not rest:
            forms.append(f"{hours} horas")
        if rest == 30:
            forms.append(f"{hours} horas y media")
    for text in forms:
        assert parse_duration_minutes(text, lang) == minutes, text


@FAST
@given(st.integers(1, MAX_PAUSE_DAYS), st.sampled_from(["en", "es"]))
def test_pause_days_round_trip(days: int, lang: str) -> None:
    forms = [str(days), f"{days} days" if lang == "en" else f"{days} días"]
    if days % 7 == 0:
        forms.append(f"{days // 7} weeks" if lang == "en" else f"{days // 7} semanas")
    for text in forms:
        assert parse_days(text, lang) == days, text


@FAST
@given(
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 23),
    st.integers(0, 59),
    st.sampled_from(["-", " - ", "–", " to ", " until ", " a ", " hasta "]),
)
def test_quiet_hours_round_trip_with_any_separator(
    h1: int, m1: int, h2: int, m2: int, separator: str
) -> None:
    start, end = time(h1, m1), time(h2, m2)
    expected = QuietHours(start, end) if start != end else None
    lang = "es" if separator.strip() in ("a", "hasta") else "en"
    assert parse_quiet_hours(f"{h1}:{m1:02d}{separator}{h2}:{m2:02d}", lang) == expected


# -- scheduling.zones.match_timezone -------------------------------------------------------------


@MANY
@given(st.one_of(any_text, st.sampled_from(sorted(all_zones())).map(lambda z: z.replace("_", " "))))
@example("utc+14")
@example("GMT-12:00")
@example("Etc/GMT+5")
def test_time_zone_matches_are_few_distinct_and_loadable(query: str) -> None:
    found = match_timezone(query)
    assert len(found) <= MAX_RESULTS
    assert len(set(found)) == len(found)
    for name in found:
        ZoneInfo(name)
    assert match_timezone(query) == found  # deterministic


@FAST
@given(st.sampled_from(sorted(all_zones())), st.sampled_from([str.lower, str.upper]))
def test_a_zone_name_typed_in_any_case_finds_that_zone_or_its_canonical_name(
    zone: str, case: object
) -> None:
    found = match_timezone(f"  {case(zone)} ")  # type: ignore[operator]
    assert any(_offsets(z) == _offsets(zone) for z in found), (zone, found)  # same clock


def _offsets(zone: str) -> tuple[timedelta | None, ...]:
    """UTC offsets in January and July (a zone's clock, DST included)."""
    return tuple(
        datetime(2024, month, 15, 12, tzinfo=UTC).astimezone(ZoneInfo(zone)).utcoffset()
        for month in (1, 7)
    )


@FAST
@given(st.integers(-12, 14), st.sampled_from(["UTC", "GMT", "utc ", ""]), st.booleans())
def test_fixed_offsets_round_trip(hours: int, prefix: str, padded: bool) -> None:
    sign = "+" if hours >= 0 else "-"
    text = f"{prefix}{sign}{abs(hours):02d}:00" if padded else f"{prefix}{sign}{abs(hours)}"
    found = match_timezone(text)
    assert found, text
    offset = datetime(2024, 3, 1, tzinfo=UTC).astimezone(ZoneInfo(found[0])).utcoffset()
    assert offset == timedelta(hours=hours)


# -- keyboards: callback data --------------------------------------------------------------------

PART_CHARS = string.ascii_letters + string.digits + "_.-"
parts = st.text(PART_CHARS, min_size=1, max_size=12)


@MANY
@given(parts, parts, st.lists(st.one_of(parts, st.integers(-(10**17) + 1, 10**18 - 1)), max_size=4))
def test_pack_unpack_round_trip(ns: str, action: str, args: list[str | int]) -> None:
    try:
        data = pack(ns, action, *args)
    except ValueError:
        assert len(":".join([ns, action, *map(str, args)]).encode()) > MAX_CALLBACK_BYTES
        return
    assert len(data.encode()) <= MAX_CALLBACK_BYTES
    assert unpack(data) == CallbackData(ns, action, tuple(str(a) for a in args))
    parsed = unpack(data)
    assert parsed is not None
    for index, arg in enumerate(args):
        if isinstance(arg, int):
            assert parsed.int_arg(index) == arg
    assert parsed.arg(len(args)) is None and parsed.int_arg(len(args)) is None


@MANY
@given(st.one_of(st.none(), any_text, st.text(PART_CHARS + ":", max_size=80)))
@example(":")
@example("ck:a:" + "9" * 30)
@example("ck:a:-")
@example("é" * 40)
def test_forged_callback_data_never_raises_and_unpacks_only_what_pack_could_make(
    data: str | None,
) -> None:
    parsed = unpack(data)
    if parsed is None:
        return
    assert data is not None
    assert pack(parsed.ns, parsed.action, *parsed.args) == data
    assert parsed.arg(len(parsed.args)) is None


@MANY
@given(st.lists(st.text("0123456789-", min_size=1, max_size=18), min_size=1, max_size=3))
@example(["--5"])
def test_int_args_of_forged_callback_data_never_raise(args: list[str]) -> None:
    parsed = unpack(":".join(["ck", "a", *args]))
    assert parsed is not None
    for index, arg in enumerate(args):
        value = parsed.int_arg(index)
        signed_number = arg.lstrip("-").isdigit() and arg.count("-") <= 1 and len(arg) <= 18
        assert value == (int(arg) if signed_number else None)


@FAST
@given(st.text(max_size=20), st.text(max_size=20))
def test_pack_refuses_what_unpack_would_refuse(ns: str, action: str) -> None:
    try:
        data = pack(ns, action)
    except ValueError:
        return
    assert unpack(data) == CallbackData(ns, action, ())


# -- services.profile: /start codes and country names -------------------------------------------

codes = st.text(string.ascii_letters + string.digits + "_-", max_size=70)
two_upper = st.text(string.ascii_uppercase, min_size=2, max_size=2)


@MANY
@given(st.one_of(st.none(), any_text, codes))
def test_start_codes_never_raise_and_preset_only_known_things(code: str | None) -> None:
    locale = parse_start_code(code, LANGUAGES)
    if locale is None:
        return
    assert locale.language in (*LANGUAGES, "")
    assert locale.country is None or (len(locale.country) == 2 and locale.country.isupper())
    assert locale.language or locale.country
    assert code is not None and len(code) <= 64


@FAST
@given(st.sampled_from(LANGUAGES), two_upper, st.sampled_from(["_", "-"]), st.booleans())
def test_start_codes_round_trip(lang: str, country: str, sep: str, country_first: bool) -> None:
    code = f"{country}{sep}{lang}" if country_first else f"{lang}{sep}{country}"
    assert parse_start_code(code, LANGUAGES) == Locale(lang, country)
    assert parse_start_code(lang, LANGUAGES) == Locale(lang, None)
    assert parse_start_code(country, LANGUAGES) == Locale("", country)
    assert parse_start_code(f"practice{sep}{code}", LANGUAGES) == Locale(lang, country)


@functools.lru_cache(maxsize=4)
def _territories(lang: str) -> dict[str, str]:
    from babel import Locale as BabelLocale

    return {
        code: name
        for code, name in BabelLocale.parse(lang).territories.items()
        if len(code) == 2
        and code.isalpha()
        and code not in {"ZZ", "QO", "EU", "EZ", "UN", "XA", "XB"}
    }


COUNTRY_CODES = sorted(_territories("en"))


@MANY
@given(st.one_of(any_text, st.sampled_from(COUNTRY_CODES)))
def test_country_matching_never_raises_and_returns_a_code(query: str) -> None:
    code = match_country(query, LANGUAGES)
    assert code is None or (len(code) == 2 and code.isupper() and code in COUNTRY_CODES)


@FAST
@given(st.sampled_from(COUNTRY_CODES), st.sampled_from([str.lower, str.upper, str.title]))
def test_country_codes_and_english_names_round_trip(code: str, case: object) -> None:
    assert match_country(case(code), LANGUAGES) == code  # type: ignore[operator]
    name = _territories("en")[code]
    assert match_country(f" {case(name)} ", LANGUAGES) == code  # type: ignore[operator]


@FAST
@given(st.sampled_from(sorted(set(COUNTRY_CODES) & set(_territories("es")))))
def test_spanish_country_names_without_accents_match(code: str) -> None:
    name = _territories("es")[code]
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    found = match_country(plain.upper(), LANGUAGES)
    assert found is not None
    assert found == code or _territories("en").get(found, "").casefold() == plain.casefold()


# -- content.strings: placeholders and rendering -------------------------------------------------

KEYS = sorted({(lang, key) for lang in LANGUAGES for key in STRINGS.table[lang]})
values = st.one_of(
    any_text,
    st.sampled_from(["<b>", "</i>", "&", "&amp;", "<a href='x'>", "{name}", "{0}", "}{", "<", ">"]),
    st.integers(),
    st.floats(allow_nan=True),
    st.none(),
)


@MANY
@given(st.sampled_from(KEYS), st.data())
def test_every_text_renders_any_value_as_valid_telegram_html_showing_it_verbatim(
    lang_key: tuple[str, str], data: st.DataObject
) -> None:
    lang, key = lang_key
    names = placeholders(STRINGS.raw(lang, key))
    given_values = {name: data.draw(values, label=name) for name in sorted(names)}
    rendered = STRINGS.t(lang, key, **given_values)
    shown = plain_text(rendered, "HTML")  # raises where Telegram would refuse the markup
    for value in given_values.values():
        assert str(value) in shown  # the client's words, exactly, never as markup


literal = st.text(st.characters(codec="utf-8", exclude_characters="{}"), max_size=10)
names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)


@FAST
@given(st.lists(st.tuples(literal, st.one_of(names, st.sampled_from(["{{", "}}"]))), max_size=6))
def test_placeholders_are_exactly_the_names_a_template_uses(
    pieces: list[tuple[str, str]],
) -> None:
    template = "".join(
        text + (piece if piece in ("{{", "}}") else "{" + piece + "}") for text, piece in pieces
    )
    used = {piece for _, piece in pieces if piece not in ("{{", "}}")}
    assert placeholders(template) == used
    strings = Strings(default="en", table={"en": {"k": template}})
    rendered = strings.t("en", "k", **{name: "<v>" for name in used}) if used else None
    if rendered is not None:
        assert "<v>" not in rendered and rendered.count("&lt;v&gt;") >= len(used)


@FAST
@given(literal, literal)
def test_escaped_braces_render_single_even_without_values(before: str, after: str) -> None:
    template = f"{before}{{{{ok}}}}{after}"  # {{ok}} in the file: "{ok}" for the client
    strings = Strings(default="en", table={"en": {"k": template}})
    assert strings.t("en", "k") == f"{before}{{ok}}{after}"


@FAST
@given(st.one_of(st.none(), lang_codes))
def test_language_codes_resolve_to_a_language_we_have(code: str | None) -> None:
    resolved = STRINGS.resolve_language(code)
    assert resolved in LANGUAGES
    if STRINGS.supports(code):
        assert code is not None and resolved == code.replace("_", "-").split("-")[0].lower()
    else:
        assert resolved == STRINGS.default


# -- config.read_env_file ------------------------------------------------------------------------

env_keys = st.from_regex(r"[A-Z_][A-Z0-9_]{0,15}", fullmatch=True)
# One line's worth of value: no line breaks of any kind (str.splitlines splits on many).
line_chars = st.characters(
    codec="utf-8", exclude_categories=["Cc", "Zl", "Zp"], exclude_characters="\x85"
)
env_values = st.text(line_chars, max_size=30)


def _write_env(path: Path, lines: list[str]) -> dict[str, str]:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return read_env_file(path)


@MANY
@given(st.text(st.characters(codec="utf-8"), max_size=300))
def test_env_file_never_raises(content: str) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ".env"
        path.write_text(content, encoding="utf-8")
        parsed = read_env_file(path)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items())
    assert all("\n" not in v for v in parsed.values())


@MANY
@given(st.dictionaries(env_keys, env_values, max_size=6), st.booleans())
def test_env_values_written_in_double_quotes_round_trip(
    values: dict[str, str], export: bool
) -> None:
    import tempfile

    lines = ["# supportbot settings", ""]
    lines += [f'{"export " if export else ""}{k} = "{v}"' for k, v in values.items()]
    with tempfile.TemporaryDirectory() as folder:
        assert _write_env(Path(folder) / ".env", lines) == values


plain_values = env_values.filter(
    lambda v: (
        v == v.strip()
        and " #" not in v
        and "\t#" not in v
        and not (len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'")
    )
)


@MANY
@given(st.dictionaries(env_keys, plain_values, max_size=6), st.text(line_chars, max_size=20))
def test_env_plain_values_and_trailing_comments_round_trip(
    values: dict[str, str], comment: str
) -> None:
    import tempfile

    lines = [f"{k}={v} # {comment}" if v else f"{k}={v}" for k, v in values.items()]
    with tempfile.TemporaryDirectory() as folder:
        assert _write_env(Path(folder) / ".env", lines) == values


@FAST
@given(env_keys, env_values.filter(lambda v: '"' not in v), st.text(line_chars, max_size=20))
def test_env_quoted_values_with_a_trailing_comment_round_trip(
    key: str, value: str, comment: str
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        parsed = _write_env(Path(folder) / ".env", [f'{key}="{value}"  # {comment}'])
    assert parsed == {key: value}


def test_html_escape_is_what_telegram_needs() -> None:
    """The renderer's escaping (quote=False) is enough for text outside tags, which is the only
    place placeholders appear in the shipped texts."""
    for lang, key in KEYS:
        template = STRINGS.raw(lang, key)
        for name in placeholders(template):
            head = template.split("{" + name + "}")[0]
            assert head.count("<") == head.count(">"), (lang, key, name)  # not inside a tag
    assert html.escape("<&>", quote=False) == "&lt;&amp;&gt;"
