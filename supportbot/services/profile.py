"""Onboarding and a client's settings (language, country, time zone, consent).

Keeps an in-memory map user -> (language, country) that the crisis path reads synchronously: the
crisis reply must never wait on the database, yet should name the client's own country's services.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supportbot.clock import Clock
from supportbot.storage.base import Storage, User

_CODE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Locale:
    language: str
    country: str | None


@dataclass(frozen=True, slots=True)
class Defaults:
    language: str
    country: str | None
    timezone: str


def parse_start_code(code: str | None, languages: Sequence[str]) -> Locale | None:
    """Deep-link payloads a practice hands out: `es_MX`, `en-GB`, `MX` (country), `es` (language).

    Lower case names a language, upper case a country, so `es` is Spanish and `ES` is Spain.
    Anything else is kept as an opaque practice code and presets nothing.
    """
    if not code or not _CODE.match(code):
        return None
    language: str | None = None
    country: str | None = None
    for part in re.split(r"[-_]", code):
        if len(part) == 2 and part.islower() and part in languages and language is None:
            language = part
        elif len(part) == 2 and part.isupper() and part.isalpha() and country is None:
            country = part
    if language is None and country is None:
        return None
    return Locale(language=language or "", country=country)


class LocaleCache:
    """Bounded LRU of user -> Locale; reads are plain dict lookups (no await)."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[int, Locale] = OrderedDict()

    def get(self, user_id: int) -> Locale | None:
        found = self._items.get(user_id)
        if found is not None:
            self._items.move_to_end(user_id)
        return found

    def put(self, user_id: int, locale: Locale) -> None:
        self._items[user_id] = locale
        self._items.move_to_end(user_id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def drop(self, user_id: int) -> None:
        self._items.pop(user_id, None)

    def __len__(self) -> int:
        return len(self._items)


class ProfileService:
    def __init__(
        self,
        storage: Storage,
        languages: Sequence[str],
        defaults: Defaults,
        clock: Clock,
        cache: LocaleCache | None = None,
    ) -> None:
        self.storage = storage
        self.languages = tuple(languages)
        self.defaults = defaults
        self.clock = clock
        self.cache = cache or LocaleCache()

    def _remember(self, user: User) -> User:
        self.cache.put(user.user_id, Locale(user.language, user.country))
        return user

    def resolve_language(self, code: str | None) -> str:
        if code:
            base = code.replace("_", "-").split("-")[0].lower()
            if base in self.languages:
                return base
        return self.defaults.language

    def locale_now(self, user_id: int, telegram_language: str | None) -> Locale:
        """From memory only: the cached locale, else Telegram's language and the default country."""
        cached = self.cache.get(user_id)
        if cached is not None:
            return cached
        return Locale(self.resolve_language(telegram_language), self.defaults.country)

    async def warm_cache(self, limit: int = 200_000) -> int:
        rows = await self.storage.user_locales(limit)
        for user_id, language, country in reversed(rows):
            self.cache.put(user_id, Locale(language, country))
        return len(rows)

    async def get(self, user_id: int) -> User | None:
        user = await self.storage.get_user(user_id)
        return None if user is None else self._remember(user)

    async def start(
        self, user_id: int, chat_id: int, telegram_language: str | None, code: str | None
    ) -> tuple[User, bool]:
        """Create the client on first /start; a deep-link code may preset language and country."""
        preset = parse_start_code(code, self.languages)
        language = (
            preset.language if preset and preset.language else None
        ) or self.resolve_language(telegram_language)
        country = (preset.country if preset else None) or self.defaults.country
        user, created = await self.storage.ensure_user(
            user_id, chat_id, language, country, self.defaults.timezone
        )
        changes: dict[str, Any] = {}
        if user.chat_id != chat_id:
            changes["chat_id"] = chat_id
        if code and _CODE.match(code):
            changes["start_code"] = code
        if not created and preset is not None:
            if preset.language:
                changes["language"] = preset.language
            if preset.country:
                changes["country"] = preset.country
        if user.blocked:
            changes["blocked"] = False
        if changes:
            user = await self.storage.update_user(user_id, **changes)
        return self._remember(user), created

    async def update(self, user_id: int, **fields: Any) -> User:
        return self._remember(await self.storage.update_user(user_id, **fields))

    async def set_consent(self, user_id: int, consent: bool) -> User:
        return await self.update(user_id, consent=consent)

    def now(self) -> datetime:
        return self.clock.now()


def _fold(text: str) -> str:
    import unicodedata

    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).strip()


_COUNTRY_NAMES: dict[str, str] | None = None
#: Babel territories that are not countries a client lives in.
_NOT_COUNTRIES = frozenset({"ZZ", "QO", "EU", "EZ", "UN", "XA", "XB"})


def match_country(query: str, languages: Sequence[str]) -> str | None:
    """An ISO 3166 code from a code or a country name in any supported language ("españa" -> ES)."""
    global _COUNTRY_NAMES
    from babel import Locale as BabelLocale

    if _COUNTRY_NAMES is None:
        names: dict[str, str] = {}
        for lang in ("en", *languages):
            try:
                territories = BabelLocale.parse(lang).territories
            except (ValueError, TypeError):
                continue
            for code, name in territories.items():
                if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES:
                    names.setdefault(_fold(name), code)
                    names.setdefault(code.casefold(), code)
        names.update({"uk": "GB", "usa": "US", "eeuu": "US", "ee.uu.": "US", "england": "GB"})
        _COUNTRY_NAMES = names
    return _COUNTRY_NAMES.get(_fold(query))
