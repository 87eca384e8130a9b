"""National ID numbers: random, filtered as MOSIP's generator does, ending in a Verhoeff check digit."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator

from stdnum import verhoeff
from stdnum.exceptions import ValidationError as StdnumValidationError

from ...core.errors import Unprocessable
from ...core.i18n import _, ngettext

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


def stream(length: int, *, restricted: Iterable[str] = ()) -> Iterator[str]:
    """Endless random IDs passing every filter, fast enough for bulk enrolment.

    Digits are drawn from the OS's secure source among those the local filters
    allow after the previous two (no repeat within two, no run of three, no three
    evens), so few candidates are thrown away; the whole-number filters and the
    check digit are still checked on each candidate. The Verhoeff checksum is
    accumulated as the digits are drawn rather than in a second pass.
    """
    restricted_set = set(restricted)
    body = length - 1
    # Verhoeff permutes each digit by its position counted from the body's right end.
    permutations = [_PERMUTATION[(body - index) % 8] for index in range(body)]
    while True:
        buffer = os.urandom(4096)
        for start in range(0, len(buffer) - body + 1, body):
            draws = buffer[start : start + body]
            before, last = -1, _FIRST_DIGITS[draws[0] % len(_FIRST_DIGITS)]
            number, checksum = last, permutations[0][last]
            for byte, permutation in zip(draws[1:], permutations[1:], strict=True):
                digit = _DRAW_AFTER[before][last][byte]
                number = number * 10 + digit
                # Verhoeff folds from the right; drawing from the left, multiply on the left
                # instead (the dihedral group is associative, so the product is the same).
                checksum = _D5[permutation[digit]][checksum]
                before, last = last, digit
            check = _INVERSE[checksum]
            # The body obeys the local filters by construction: check the last digit and the global ones.
            if check in _NEXT_DIGITS[before][last]:
                candidate = str(number * 10 + check)
                if candidate_passes_global(candidate) and candidate not in restricted_set:
                    yield candidate


# Verhoeff's tables (dihedral group D5), as in python-stdnum; the property tests check the two agree.
_D5 = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_PERMUTATION = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_INVERSE = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def _allowed_after(before: int, last: int) -> tuple[int, ...]:
    allowed = []
    for digit in range(10):
        if digit in (last, before):
            continue
        if before >= 0 and abs(last - before) == 1 and digit - last == last - before:
            continue
        if before >= 0 and before % 2 == 0 and last % 2 == 0 and digit % 2 == 0:
            continue
        allowed.append(digit)
    # A byte modulo 5 to 9 choices favours some digits by under 4 %: the IDs stay
    # unpredictable, which is what matters; uniqueness is checked on issue.
    return tuple(allowed)


_FIRST_DIGITS = tuple(range(2, 10))
_NEXT_DIGITS = {before: {last: _allowed_after(before, last) for last in range(10)} for before in range(-1, 10)}
# The digit a random byte draws after (before, last): a table instead of a modulo per digit.
_DRAW_AFTER = {
    before: {last: tuple(allowed[byte % len(allowed)] for byte in range(256)) for last, allowed in row.items()}
    for before, row in _NEXT_DIGITS.items()
}


def candidate_passes_global(number: str) -> bool:
    return not (_repeated_block(number) or _halves_mirror(number) or _contains_cyclic(number))


def passes_filters(number: str) -> bool:
    return not any(rule(number) for rule in FILTERS.values())


def failed_filters(number: str) -> list[str]:
    """Names of the filters `number` fails (empty for an acceptable ID)."""
    return [name for name, rule in FILTERS.items() if rule(number)]


def validate(value: str, *, length: int) -> str:
    """Return the ID if well formed; raise InvalidNationalId saying what is wrong."""
    if not (value.isascii() and value.isdigit()):
        raise InvalidNationalId(
            "national_id: " + _("'{national_id}' must contain digits only").format(national_id=value)
        )
    if len(value) != length:
        message = ngettext(
            "'{national_id}' has {digits} digit; IDs here have {length}",
            "'{national_id}' has {digits} digits; IDs here have {length}",
            len(value),
        )
        raise InvalidNationalId("national_id: " + message.format(national_id=value, digits=len(value), length=length))
    try:
        verhoeff.validate(value)
    except StdnumValidationError:
        raise InvalidNationalId(
            "national_id: " + _("'{national_id}' has a wrong check digit (Verhoeff)").format(national_id=value)
        ) from None
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
