"""Find IANA time zones from what a client types: "berlin", "New York", "cdmx", "Spain", "PST".

Clients do not know IANA names, and a wrong zone means every check-in arrives at the wrong hour, so
the matcher is forgiving (case, accents, spaces, underscores, typos, common cities that are not IANA
names, countries and their ISO codes) and returns candidates best first for the client to confirm.
Data comes from zoneinfo and the tzdata package (zone.tab, iso3166.tab, links), loaded once.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Final
from zoneinfo import ZoneInfo, available_timezones

from .parse import normalize, vocabulary_languages

MAX_QUERY: Final = 100
MAX_RESULTS: Final = 10

_NY: Final = "America/New_York"
_CHI: Final = "America/Chicago"
_DEN: Final = "America/Denver"
_LA: Final = "America/Los_Angeles"
_MAD: Final = "Europe/Madrid"
_BER: Final = "Europe/Berlin"
_LON: Final = "Europe/London"
_IND: Final = "Asia/Kolkata"
_MEX: Final = "America/Mexico_City"
_SAO: Final = "America/Sao_Paulo"


def _many(zone: str, *names: str) -> dict[str, tuple[str, ...]]:
    return dict.fromkeys(names, (zone,))


#: Common places and abbreviations that are not IANA city names (keys are normalised).
ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    # Abbreviations: the zone with DST rules, not the fixed-offset legacy "EST".
    **_many(_NY, "est", "edt", "eastern", "eastern time", "et"),
    **_many(_CHI, "cst", "cdt", "central", "central time", "ct"),
    **_many(_DEN, "mst", "mdt", "mountain", "mountain time", "mt"),
    **_many(_LA, "pst", "pdt", "pacific", "pacific time", "pt"),
    **_many("UTC", "utc", "gmt", "z", "zulu", "universal"),
    **_many(_LON, "bst", "londres", "manchester", "birmingham", "liverpool", "leeds", "bristol"),
    **_many(_LON, "edinburgh", "edimburgo", "glasgow", "cardiff", "belfast", "newcastle"),
    **_many(_IND, "ist", "india", "delhi", "new delhi", "nueva delhi", "mumbai", "bombay"),
    **_many(_IND, "bangalore", "bengaluru", "chennai", "madras", "hyderabad", "pune", "calcuta"),
    **_many("Asia/Tokyo", "jst", "osaka", "kyoto", "yokohama", "nagoya", "tokio"),
    **_many("Australia/Sydney", "aest", "aedt", "canberra", "newcastle nsw"),
    # North America
    **_many(_NY, "nyc", "ny", "new york city", "nueva york", "manhattan", "brooklyn", "boston"),
    **_many(_NY, "washington", "washington dc", "dc", "miami", "atlanta", "philadelphia"),
    **_many(_NY, "orlando", "charlotte", "pittsburgh", "baltimore", "columbus", "cleveland"),
    **_many(_CHI, "houston", "dallas", "austin", "san antonio", "minneapolis", "new orleans"),
    **_many(_CHI, "nashville", "memphis", "kansas city", "st louis", "saint louis", "milwaukee"),
    **_many(_DEN, "salt lake city", "albuquerque", "el paso"),
    **_many(_LA, "la", "san francisco", "sf", "seattle", "portland", "las vegas", "san diego"),
    **_many(_LA, "sacramento", "oakland", "silicon valley", "bay area", "los angeles ca"),
    "san jose": (_LA, "America/Costa_Rica"),
    **_many("America/Toronto", "montreal", "ottawa", "quebec", "quebec city"),
    **_many("America/Edmonton", "calgary"),
    # Latin America
    **_many(_MEX, "ciudad de mexico", "cdmx", "mexico city", "df", "mexico df", "guadalajara"),
    **_many(_MEX, "puebla", "leon", "queretaro", "toluca"),
    **_many("America/Bogota", "medellin", "cali", "barranquilla", "cartagena"),
    **_many("America/Guayaquil", "quito", "cuenca"),
    **_many("America/Lima", "cusco", "cuzco", "arequipa"),
    **_many("America/Santiago", "valparaiso", "vina del mar", "concepcion"),
    **_many("America/Argentina/Buenos_Aires", "rosario", "la plata", "mar del plata", "caba"),
    **_many(_SAO, "rio", "rio de janeiro", "brasilia", "belo horizonte", "curitiba", "sao paulo"),
    **_many(_SAO, "porto alegre", "salvador de bahia"),
    **_many("America/El_Salvador", "san salvador"),
    **_many("America/Puerto_Rico", "san juan"),
    **_many("America/Havana", "la habana", "habana"),
    # Europe
    **_many(_MAD, "barcelona", "valencia", "sevilla", "seville", "bilbao", "malaga", "zaragoza"),
    **_many(_MAD, "palma", "mallorca", "alicante", "granada", "murcia", "ibiza", "san sebastian"),
    **_many("Atlantic/Canary", "canarias", "canary islands", "islas canarias", "tenerife"),
    **_many("Atlantic/Canary", "las palmas", "gran canaria"),
    **_many(_BER, "munich", "munchen", "muenchen", "hamburg", "hamburgo", "frankfurt"),
    **_many(_BER, "cologne", "koln", "koeln", "colonia", "stuttgart", "dusseldorf", "leipzig"),
    **_many(_BER, "dresden", "bonn", "bremen", "hannover", "nuremberg", "nurnberg"),
    **_many("Europe/Zurich", "geneva", "ginebra", "geneve", "bern", "berna", "basel", "lausanne"),
    **_many("Europe/Rome", "roma", "milan", "milano", "florence", "firenze", "naples", "napoles"),
    **_many("Europe/Rome", "turin", "torino", "venice", "venecia", "bologna", "florencia"),
    **_many("Europe/Paris", "lyon", "marseille", "marsella", "toulouse", "nice", "bordeaux"),
    **_many("Europe/Paris", "paris france", "strasbourg", "lille", "nantes"),
    **_many("Europe/Lisbon", "lisboa", "porto", "oporto", "coimbra", "faro"),
    **_many("Europe/Dublin", "cork", "galway", "limerick"),
    **_many("Europe/Amsterdam", "rotterdam", "the hague", "den haag", "utrecht", "eindhoven"),
    **_many("Europe/Brussels", "bruselas", "antwerp", "amberes", "ghent", "gante", "bruges"),
    **_many("Europe/Warsaw", "varsovia", "krakow", "cracovia", "wroclaw", "gdansk", "poznan"),
    **_many("Europe/Kyiv", "kyiv", "kiev", "kiew", "kijev", "kiiv", "odesa", "odessa"),
    **_many("Europe/Kyiv", "kharkiv", "kharkov", "lviv", "dnipro"),
    **_many("Europe/Moscow", "moscu", "st petersburg", "saint petersburg", "san petersburgo"),
    **_many("Europe/Athens", "atenas", "thessaloniki"),
    **_many("Europe/Istanbul", "estambul", "ankara", "izmir"),
    **_many("Europe/Vienna", "viena", "salzburg", "graz"),
    **_many("Europe/Prague", "praga", "brno"),
    **_many("Europe/Stockholm", "estocolmo", "gothenburg", "goteborg"),
    **_many("Europe/Copenhagen", "copenhague"),
    # Elsewhere
    **_many("Asia/Shanghai", "beijing", "pekin", "peking", "shenzhen", "guangzhou"),
    **_many("Asia/Dubai", "abu dhabi", "dubai uae"),
    **_many("Asia/Jerusalem", "tel aviv", "jerusalen", "haifa"),
    **_many("Africa/Johannesburg", "cape town", "ciudad del cabo", "durban", "pretoria"),
    **_many("Pacific/Auckland", "wellington", "christchurch"),
    **_many("Australia/Brisbane", "gold coast"),
    **_many("Asia/Seoul", "seul", "busan"),
    **_many("Asia/Manila", "cebu", "quezon city"),
    **_many("Asia/Jakarta", "yakarta", "bandung", "surabaya"),
    **_many("Asia/Karachi", "lahore", "islamabad"),
    **_many("Asia/Dhaka", "dacca"),
    **_many("Africa/Lagos", "abuja"),
    **_many("Africa/Casablanca", "rabat", "marrakech", "marrakesh"),
    **_many("Africa/Cairo", "el cairo", "alexandria", "alejandria"),
}

#: Other names for countries (normalised) -> ISO code; Babel supplies the official ones.
COUNTRY_ALIASES: Final[Mapping[str, str]] = {
    "usa": "US",
    "us": "US",
    "america": "US",
    "united states of america": "US",
    "eeuu": "US",
    "ee uu": "US",
    "estados unidos de america": "US",
    "uk": "GB",
    "england": "GB",
    "inglaterra": "GB",
    "scotland": "GB",
    "escocia": "GB",
    "wales": "GB",
    "gales": "GB",
    "northern ireland": "GB",
    "great britain": "GB",
    "britain": "GB",
    "gran bretana": "GB",
    "holland": "NL",
    "holanda": "NL",
    "korea": "KR",
    "south korea": "KR",
    "corea": "KR",
    "corea del sur": "KR",
    "czech republic": "CZ",
    "republica checa": "CZ",
    "turkey": "TR",
    "turquia": "TR",
    "ivory coast": "CI",
    "russia": "RU",
    "rusia": "RU",
    "vietnam": "VN",
}

#: The zone meant by a country's name when it has several (the most populous one).
MAIN_ZONE: Final[Mapping[str, str]] = {
    "ES": _MAD,
    "DE": _BER,
    "PT": "Europe/Lisbon",
    "CL": "America/Santiago",
    "EC": "America/Guayaquil",
    "CN": "Asia/Shanghai",
    "UA": "Europe/Kyiv",
    "NZ": "Pacific/Auckland",
    "ID": "Asia/Jakarta",
    "MX": _MEX,
    "BR": _SAO,
    "RU": "Europe/Moscow",
    "AR": "America/Argentina/Buenos_Aires",
    "GB": _LON,
    "KZ": "Asia/Almaty",
    "MY": "Asia/Kuala_Lumpur",
    "CY": "Asia/Nicosia",
    "PS": "Asia/Gaza",
    "FM": "Pacific/Pohnpei",
    "KI": "Pacific/Tarawa",
    "MN": "Asia/Ulaanbaatar",
    "CD": "Africa/Kinshasa",
    "PF": "Pacific/Tahiti",
    "PG": "Pacific/Port_Moresby",
    "UZ": "Asia/Tashkent",
}

#: Listing order for countries too large for one default: the zones most people live in first.
COUNTRY_ORDER: Final[Mapping[str, tuple[str, ...]]] = {
    "US": (_NY, _CHI, _DEN, "America/Phoenix", _LA, "America/Anchorage", "Pacific/Honolulu"),
    "CA": (
        "America/Toronto",
        "America/Vancouver",
        "America/Edmonton",
        "America/Winnipeg",
        "America/Halifax",
        "America/St_Johns",
        "America/Regina",
    ),
    "AU": (
        "Australia/Sydney",
        "Australia/Melbourne",
        "Australia/Brisbane",
        "Australia/Perth",
        "Australia/Adelaide",
        "Australia/Hobart",
        "Australia/Darwin",
    ),
}

_OFFSET_RE: Final = re.compile(r"(?:utc|gmt)?([+-])(\d{1,2})(?::?(\d{2}))?")
_DROP_RE: Final = re.compile(r"[.'`]")
_SPACES_RE: Final = re.compile(r"[\s_-]+")


def _norm(text: str) -> str:
    """Compare form of a query or zone name: "America/New_York" -> "america/new york"."""
    s = _DROP_RE.sub("", normalize(text))
    s = _SPACES_RE.sub(" ", s)
    s = re.sub(r"\s*/\s*", "/", s)
    return s.strip(' ,;:!?()[]{}"')


@dataclass(frozen=True, slots=True)
class _ZoneData:
    zones: frozenset[str]
    links: Mapping[str, str]
    by_key: Mapping[str, tuple[str, ...]]
    by_city: Mapping[str, tuple[str, ...]]
    country_zones: Mapping[str, tuple[str, ...]]
    countries: Mapping[str, str]


def _read_tzdata_file(name: str) -> str:
    try:
        return (resources.files("tzdata.zoneinfo") / name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError, UnicodeDecodeError):
        return ""


def _table_rows(text: str) -> Iterable[list[str]]:
    for line in text.splitlines():
        if line and not line.startswith("#"):
            yield line.split("\t")


def _group(
    pairs: Iterable[tuple[str, str]], links: Mapping[str, str]
) -> dict[str, tuple[str, ...]]:
    grouped: dict[str, list[str]] = {}
    for norm, key in pairs:
        grouped.setdefault(norm, []).append(key)
    # Canonical zones before their legacy links, then shorter names first.
    return {
        norm: tuple(sorted(keys, key=lambda k: (k in links, k.count("/"), k)))
        for norm, keys in grouped.items()
    }


def _country_names(codes: Iterable[str], iso_names: Mapping[str, str]) -> dict[str, str]:
    wanted = set(codes)
    names: dict[str, str] = {}
    for code, name in iso_names.items():
        names.setdefault(_norm(name), code)
    try:
        from babel import Locale

        for lang in ("en", *vocabulary_languages()):
            for code, name in Locale.parse(lang).territories.items():
                if code in wanted:
                    names.setdefault(_norm(str(name)), code)
    except Exception:  # Babel is optional here: IANA's English names still work without it.
        pass
    for alias, code in COUNTRY_ALIASES.items():
        names.setdefault(alias, code)
    return names


@lru_cache(maxsize=1)
def _data() -> _ZoneData:
    zones = frozenset(
        z
        for z in available_timezones()
        if not z.startswith(("posix/", "right/")) and z not in ("Factory", "localtime")
    )
    links: dict[str, str] = {}
    for line in _read_tzdata_file("tzdata.zi").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "L" and parts[1] in zones and parts[2] in zones:
            links[parts[2]] = parts[1]
    country_zones: dict[str, list[str]] = {}
    for row in _table_rows(_read_tzdata_file("zone.tab")):
        if len(row) >= 3 and row[2] in zones:
            country_zones.setdefault(row[0], []).append(row[2])
    iso_names = {
        row[0]: row[1] for row in _table_rows(_read_tzdata_file("iso3166.tab")) if len(row) >= 2
    }
    by_key = _group(((_norm(z), z) for z in zones), links)
    city_pairs: list[tuple[str, str]] = []
    for z in zones:
        parts = z.split("/")
        if len(parts) >= 2:
            city_pairs.append((_norm(parts[-1]), z))
    return _ZoneData(
        zones=zones,
        links=links,
        by_key=by_key,
        by_city=_group(city_pairs, links),
        country_zones={code: tuple(zs) for code, zs in country_zones.items()},
        countries=_country_names(country_zones, iso_names),
    )


def all_zones() -> frozenset[str]:
    """Every IANA key zoneinfo can load here (without the posix/ and right/ copies)."""
    return _data().zones


def canonical(name: str) -> str:
    """The canonical IANA name for a legacy link ("Europe/Kiev" -> "Europe/Kyiv"), else itself."""
    return _data().links.get(name, name)


def _same_offsets(zones: Iterable[str]) -> bool:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    instants = [start + timedelta(days=15 * i) for i in range(25)]
    seen = {tuple(t.astimezone(ZoneInfo(z)).utcoffset() for t in instants) for z in zones}
    return len(seen) == 1


@lru_cache(maxsize=512)
def country_default_zone(iso: str) -> str | None:
    """The zone a country's name means: its only zone, its main one, or None when it has several
    that differ (the United States, Canada, Australia), so the client picks a city instead."""
    if not isinstance(iso, str):
        return None
    data = _data()
    code = iso.strip().upper()
    zones = data.country_zones.get(code, ())
    if not zones:
        return None
    main = MAIN_ZONE.get(code)
    if main in data.zones:
        return main
    if len(zones) == 1 or _same_offsets(zones):
        return zones[0]
    return None


def country_zones(iso: str) -> tuple[str, ...]:
    """All zones of a country, the default (or most populous) first."""
    if not isinstance(iso, str):
        return ()
    code = iso.strip().upper()
    data = _data()
    zones = data.country_zones.get(code, ())
    first = [z for z in COUNTRY_ORDER.get(code, ()) if z in data.zones]
    default = country_default_zone(code)
    if default is not None:
        first.insert(0, default)
    return tuple(dict.fromkeys([*first, *zones]))


def country_code(query: str) -> str | None:
    """ISO code for a country name in English or a supported language, or an ISO code itself."""
    if not isinstance(query, str) or len(query) > MAX_QUERY:
        return None
    q = _norm(query)
    data = _data()
    if len(q) == 2 and q.upper() in data.country_zones:
        return q.upper()
    return data.countries.get(q)


class _Results:
    def __init__(self, zones: frozenset[str]) -> None:
        self._zones = zones
        self.items: list[str] = []

    def add(self, *names: str) -> None:
        for name in names:
            if name in self._zones and name not in self.items:
                self.items.append(name)


def _offset_zone(q: str) -> str | None:
    match = _OFFSET_RE.fullmatch(q)
    if match is None:
        return None
    sign, hours, minutes = match[1], int(match[2]), int(match[3] or 0)
    if minutes or hours > 14 or (sign == "-" and hours > 12):
        return None
    if hours == 0:
        return "UTC"
    # POSIX style: Etc/GMT-2 is two hours *ahead* of UTC.
    return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"


def _exact(q: str, data: _ZoneData, out: _Results) -> None:
    for name in ALIASES.get(q, ()):
        out.add(name)
    for key in (*data.by_key.get(q, ()), *data.by_city.get(q, ())):
        out.add(canonical(key), key)
    code = data.countries.get(q)
    if code is None and len(q) == 2 and q.upper() in data.country_zones:
        code = q.upper()
    if code is not None:
        out.add(*country_zones(code))


def _loose(q: str, data: _ZoneData, out: _Results) -> None:
    if len(q) >= 3:
        prefixed = [k for city, keys in data.by_city.items() if city.startswith(q) for k in keys]
        prefixed += [k for norm, keys in data.by_key.items() if norm.startswith(q) for k in keys]
        prefixed += [z for alias, zs in ALIASES.items() if alias.startswith(q) for z in zs]
        out.add(*sorted(prefixed, key=lambda k: (k in data.links, len(k), k)))
    if len(q) >= 4 and not out.items:
        inside = [k for city, keys in data.by_city.items() if q in city for k in keys]
        out.add(*sorted(inside, key=lambda k: (k in data.links, len(k), k)))
    if len(q) >= 4 and not out.items:
        names = [*data.by_city, *ALIASES, *data.countries]
        for close in difflib.get_close_matches(q, names, n=3, cutoff=0.8):
            _exact(close, data, out)


def match_timezone(query: str) -> list[str]:
    """IANA zones matching a client's text, best first (at most MAX_RESULTS); [] when none."""
    if not isinstance(query, str) or len(query) > MAX_QUERY:
        return []
    q = _norm(query)
    if not q:
        return []
    data = _data()
    out = _Results(data.zones)
    offset = _offset_zone(normalize(query).replace(" ", ""))
    if offset is not None:  # "utc+2": a fixed offset, never a city that merely looks alike
        out.add(offset)
        for key in data.by_key.get(q, ()):  # "GMT+0" is also a legacy zone name
            out.add(canonical(key), key)
        return out.items
    _exact(q, data, out)
    if not out.items and "," in q:  # "Madrid, Spain" -> "madrid"
        head = q.split(",")[0].strip()
        if head:
            _exact(head, data, out)
    if not out.items:
        _loose(q, data, out)
    return out.items[:MAX_RESULTS]
