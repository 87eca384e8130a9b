"""Which languages the language switch offers: the country's, each only when fully translated.

As the US Web Design System advises, a half-translated language is not offered: a resident who
picks it would meet English mid-journey. A language counts as fully translated when every message
of every installed part's template (`.pot`) has a translation in that language's catalogs.
"""

from __future__ import annotations

from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.messages.pofile import read_po

from ..country import LoadedCountry
from ..i18n import DEFAULT_LOCALE, installed_catalogs, shipped_languages


@lru_cache
def _template_ids() -> frozenset[str]:
    ids: set[str] = set()
    for catalogs in installed_catalogs():
        if catalogs.template.is_file():
            with catalogs.template.open("rb") as handle:
                ids |= {_id(m.id) for m in read_po(handle) if m.id}
    return frozenset(ids)


@lru_cache
def fully_translated(language: str) -> bool:
    if language == DEFAULT_LOCALE:
        return True
    if language not in shipped_languages():
        return False
    done: set[str] = set()
    for catalogs in installed_catalogs():
        path = catalogs.path(language)
        if path.is_file():
            with path.open("rb") as handle:
                done |= {_id(m.id) for m in read_po(handle, locale=language) if m.id and m.string and not m.fuzzy}
    return _template_ids() <= done


def offered_languages(country: LoadedCountry) -> list[tuple[str, str]]:
    """(code, name in that language) for the switch: the profile's languages and English, fully translated."""
    wanted = [*country.profile.languages, DEFAULT_LOCALE]
    seen: list[str] = []
    for code in wanted:
        if code not in seen and fully_translated(code):
            seen.append(code)
    return [(code, _own_name(code)) for code in seen]


def _own_name(code: str) -> str:
    try:
        name = Locale.parse(code).get_display_name(code) or code
        return name[:1].upper() + name[1:]
    except (UnknownLocaleError, ValueError):
        return code


def _id(message_id: str | tuple[str, ...]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]
