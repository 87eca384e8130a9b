"""Taxpayer identification numbers: random digits ending in a Luhn check digit."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from stdnum import luhn
from stdnum.exceptions import ValidationError as StdnumValidationError

from ...core.errors import Unprocessable
from ...core.i18n import _, ngettext

_random = secrets.SystemRandom()


class InvalidTin(Unprocessable):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, kind="invalid-tin")


def generate(length: int, *, randbelow: Callable[[int], int] = _random.randrange) -> str:
    """A random TIN of `length` digits, check digit included; never starts with 0."""
    body = str(randbelow(9) + 1) + "".join(str(randbelow(10)) for _ in range(length - 2))
    return body + luhn.calc_check_digit(body)


def validate(value: str, *, length: int) -> str:
    """Return the TIN if well formed; raise InvalidTin saying what is wrong."""
    if not value.isascii() or not value.isdigit():
        raise InvalidTin("tin: " + _("'{tin}' must contain digits only").format(tin=value))
    if len(value) != length:
        raise InvalidTin(
            "tin: "
            + ngettext(
                "'{tin}' has {digits} digit; TINs here have {length}",
                "'{tin}' has {digits} digits; TINs here have {length}",
                len(value),
            ).format(tin=value, digits=len(value), length=length)
        )
    try:
        luhn.validate(value)
    except StdnumValidationError:
        raise InvalidTin(
            "tin: " + _("'{tin}' has a wrong check digit (Luhn); check it was copied correctly").format(tin=value)
        ) from None
    return value
