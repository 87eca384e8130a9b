"""National ID numbers: random, filtered as MOSIP's generator does, ending in a Verhoeff check digit."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable

from stdnum import verhoeff
from stdnum.exceptions import ValidationError as StdnumValidationError

from ...core.errors import Unprocessable

_random = secrets.SystemRandom()
_REPEATED_BLOCK = re.compile(r"(\d{2}).*\1")
# Cyclic numbers read the same when rotated; MOSIP refuses IDs containing them.
_CYCLIC_NUMBERS = ("142857", "0588235294117647", "052631578947368421")


class InvalidNationalId(Unprocessable):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, kind="invalid-national-id")


def generate(
    length: int, *, restricted: Iterable[str] = (), randbelow: Callable[[int], int] = _random.randrange
) -> str:
    """A random ID of `length` digits (check digit included) that passes every filter."""
    restricted_set = set(restricted)
    while True:
        body = str(randbelow(8) + 2) + "".join(str(randbelow(10)) for _ in range(length - 2))
        candidate = body + verhoeff.calc_check_digit(body)
        if candidate not in restricted_set and passes_filters(candidate):
            return candidate


def passes_filters(number: str) -> bool:
    return not any(rule(number) for rule in FILTERS.values())


def failed_filters(number: str) -> list[str]:
    """Names of the filters `number` fails (empty for an acceptable ID)."""
    return [name for name, rule in FILTERS.items() if rule(number)]


def validate(value: str, *, length: int) -> str:
    """Return the ID if well formed; raise InvalidNationalId saying what is wrong."""
    if not value.isdigit():
        raise InvalidNationalId(f"national_id: {value!r} must contain digits only")
    if len(value) != length:
        raise InvalidNationalId(f"national_id: {value!r} has {len(value)} digits; IDs here have {length}")
    try:
        verhoeff.validate(value)
    except StdnumValidationError:
        raise InvalidNationalId(f"national_id: {value!r} has a wrong check digit (Verhoeff)") from None
    return value


def _leading_zero_or_one(number: str) -> bool:
    return number[0] in "01"


def _sequence_of_three(number: str) -> bool:
    digits = [int(d) for d in number]
    return any(abs(b - a) == 1 and c - b == b - a for a, b, c in zip(digits, digits[1:], digits[2:], strict=False))


def _digit_repeated_within_two(number: str) -> bool:
    return any(
        number[i] == number[i + 1] or (i + 2 < len(number) and number[i] == number[i + 2])
        for i in range(len(number) - 1)
    )


def _repeated_block(number: str) -> bool:
    return _REPEATED_BLOCK.search(number) is not None


def _halves_mirror(number: str) -> bool:
    half = len(number) // 2
    first, last = number[:half], number[-half:]
    return first == last or first == last[::-1]


def _three_adjacent_even(number: str) -> bool:
    return re.search(r"[02468]{3}", number) is not None


def _contains_cyclic(number: str) -> bool:
    return any(cyclic in number for cyclic in _CYCLIC_NUMBERS)


FILTERS = {
    "leading_zero_or_one": _leading_zero_or_one,
    "sequence_of_three": _sequence_of_three,
    "digit_repeated_within_two": _digit_repeated_within_two,
    "repeated_block": _repeated_block,
    "halves_mirror": _halves_mirror,
    "three_adjacent_even": _three_adjacent_even,
    "contains_cyclic": _contains_cyclic,
}
