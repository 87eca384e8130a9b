"""Localisation: gettext catalogs and the locale of the current request or command.

Catalogs are plain `.po` files (no compiled `.mo` in git), read with Babel the
first time a language is needed: each installed part declares its own (the core's
in `locales/<lang>/LC_MESSAGES/`, a module's in its folder; see `Module.catalogs`),
and they are merged into one `Translations` per language. A context variable holds the locale; the
API sets it per request from `Accept-Language`, the CLI from the environment,
both falling back to the country profile's `locale` and then English.

Messages use named placeholders filled after translation, so translators can
move them: `_("partner '{partner}' lacks ...").format(partner=name)`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import date, datetime, tzinfo
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from babel import Locale, UnknownLocaleError, dates
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .money import Money
    from .registry import Catalogs

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
CORE_LOCALES = PACKAGE_ROOT / "locales"
DEFAULT_LOCALE = "en"
LANGUAGE_COOKIE = "lang"  # set by the pages' language switch (core/web/portal.py)
LOCALE_ENVIRONMENT = ("NATION_STACK_LOCALE", "LC_ALL", "LC_MESSAGES", "LANG")

_current: ContextVar[str] = ContextVar("nation_stack_locale", default=DEFAULT_LOCALE)


# ---------------------------------------------------------------- catalogs


def installed_catalogs() -> list[Catalogs]:
    """The catalogs each installed part declares: the core's first, then each module's."""
    from .registry import installed_parts  # the registry loads modules, which translate: asked when first needed

    return [part.catalogs for part in installed_parts() if part.catalogs is not None]


@lru_cache
def shipped_languages() -> tuple[str, ...]:
    """Languages the core ships a catalog for (English always counts: it is the source language)."""
    core = installed_catalogs()[0]
    found = {p.name for p in core.folder.iterdir() if core.path(p.name).is_file()}
    return tuple(sorted(found | {DEFAULT_LOCALE}))


@lru_cache
def translations(language: str) -> NullTranslations:
    """The merged catalogs for `language` (a bare language code such as "fr"); English passes through.

    Only languages the core ships are looked up: a module cannot add a language alone.
    """
    if language not in shipped_languages():
        return NullTranslations()
    merged: Translations | None = None
    for catalogs in installed_catalogs():
        path = catalogs.path(language)
        if not path.is_file():
            continue
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language, domain=catalogs.domain)
        loaded = _from_catalog(catalog, catalogs.domain)
        if merged is None:
            merged = loaded
        else:
            merged.merge(loaded)
    return NullTranslations() if merged is None else merged


def _from_catalog(catalog: Catalog, domain: str) -> Translations:
    """Compile a parsed catalog in memory (fuzzy and untranslated entries are left out)."""
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=domain)


# ---------------------------------------------------------------- current locale


def current_locale() -> str:
    """The locale messages and formats use now, e.g. "fr", "ja_JP", "en_KE"."""
    return _current.get()


def set_locale(locale: str) -> Token[str]:
    return _current.set(locale)


def reset_locale(token: Token[str]) -> None:
    _current.reset(token)


@contextmanager
def use_locale(locale: str) -> Iterator[str]:
    token = _current.set(locale)
    try:
        yield locale
    finally:
        _current.reset(token)


def language_of(locale: str) -> str:
    return locale.replace("-", "_").split("_", 1)[0].lower()


def content_language(locale: str) -> str:
    """The BCP 47 tag for a Babel identifier: "ja_JP" -> "ja-JP"."""
    return locale.replace("_", "-")


# ---------------------------------------------------------------- messages


def gettext(message: str) -> str:
    return translations(language_of(current_locale())).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(language_of(current_locale())).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Mark `message` for extraction without translating it now."""
    return message


# ---------------------------------------------------------------- negotiation


def negotiate(accept_language: str | None, fallback: str | None = None) -> str:
    """The best locale for an `Accept-Language` value among the shipped catalogs.

    A bare language is narrowed to the deployment's territory when CLDR knows that
    pair ("sw" in Kenya -> "sw_KE"), so numbers and dates follow local usage.
    Nothing acceptable: the profile's locale if its language is shipped, else English.
    """
    territory = _territory(fallback)
    for tag in _preferences(accept_language or ""):
        locale = _shipped_locale(tag, territory)
        if locale is not None:
            return locale
    if fallback and language_of(fallback) in shipped_languages():
        return fallback
    return DEFAULT_LOCALE


def locale_from_environment(environ: dict[str, str] | None = None) -> str | None:
    """The CLI's locale from NATION_STACK_LOCALE, LC_ALL, LC_MESSAGES or LANG (None: not set or "C")."""
    environ = dict(os.environ) if environ is None else environ
    for name in LOCALE_ENVIRONMENT:
        value = environ.get(name, "").split(".", 1)[0].split("@", 1)[0]
        if value and value not in {"C", "POSIX"}:
            return _shipped_locale(value, None)
    return None


def _preferences(header: str) -> list[str]:
    """Language tags of an `Accept-Language` value, best first (q=0 and "*" dropped)."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _sep, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        tag = tag.strip()
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _q, _p, tag in sorted(weighted)]


def _shipped_locale(tag: str, territory: str | None) -> str | None:
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    if locale.language not in shipped_languages():
        return None
    if locale.territory is None and territory is not None:
        try:
            return str(Locale(locale.language, territory))
        except (UnknownLocaleError, ValueError):
            pass
    return str(locale)


def _territory(locale: str | None) -> str | None:
    if not locale:
        return None
    try:
        return Locale.parse(locale).territory
    except (UnknownLocaleError, ValueError, TypeError):
        return None


# ---------------------------------------------------------------- the API


class LocaleMiddleware:
    """Set the request's locale from `Accept-Language` and answer with `Content-Language`.

    `default_locale` is the country profile's; see `negotiate`. Pure ASGI, so the
    context variable is visible to routes, dependencies and exception handlers.
    """

    def __init__(self, app: ASGIApp, default_locale: str) -> None:
        self.app = app
        self.default_locale = default_locale

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        # The language a visitor chose with the pages' language switch comes before the browser's.
        chosen = cookie_parser(headers.get("cookie", "")).get(LANGUAGE_COOKIE)
        asked = headers.get("accept-language")
        locale = negotiate(f"{chosen}, {asked}" if chosen and asked else chosen or asked, self.default_locale)

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Language", content_language(locale))
                headers.add_vary_header("Accept-Language")
            await send(message)

        token = _current.set(locale)
        try:
            await self.app(scope, receive, send_with_language)
        finally:
            _current.reset(token)


# ---------------------------------------------------------------- formats


def format_money(money: Money, locale: str | None = None) -> str:
    """`money` for display in `locale` (default: the current one), with the ISO 4217 decimals."""
    return money.format(locale or current_locale())


def format_date(value: date, format: str = "medium", locale: str | None = None) -> str:
    return dates.format_date(value, format=format, locale=locale or current_locale())


def format_datetime(
    value: datetime, format: str = "medium", tz: tzinfo | str | None = None, locale: str | None = None
) -> str:
    """`value` in the time zone `tz` (e.g. the profile's), formatted for the current locale."""
    zone = dates.get_timezone(tz) if isinstance(tz, str) else tz
    return dates.format_datetime(value, format=format, tzinfo=zone, locale=locale or current_locale())
