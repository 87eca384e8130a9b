"""A synthetic population for demos and benchmarks: seeded, reproducible, with known near-duplicates.

Names come from Faker's person provider for the country's locale (falling back
to English where Faker has none); each resident gets two given names, as many
registers record them. A share of rows are near-duplicates of an earlier row (a
typo, a changed case or spacing, given and family names swapped), marked in the
`duplicate_of` column so deduplication quality can be measured.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import phonenumbers
from faker import Faker

REFERENCE_COLUMN = "source_ref"
TRUTH_COLUMN = "duplicate_of"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class NamePools:
    female: tuple[str, ...]
    male: tuple[str, ...]
    family: tuple[str, ...]

    @classmethod
    def for_locale(cls, locale: str) -> NamePools:
        try:
            fake = Faker(locale)
        except AttributeError:
            fake = Faker("en")
        female = _names(fake, "first_names_female") or _names(fake, "first_names")
        male = _names(fake, "first_names_male") or _names(fake, "first_names")
        return cls(female=female, male=male, family=_names(fake, "last_names"))


def columns(address_levels: list[str]) -> list[str]:
    return [
        REFERENCE_COLUMN,
        "given_name",
        "family_name",
        "date_of_birth",
        "sex",
        "phone",
        *address_levels,
        TRUTH_COLUMN,
    ]


def population(
    *,
    count: int,
    seed: int,
    duplicates: float,
    locale: str,
    phone_region: str,
    address_levels: list[str],
    prefix: str = "SYN",
    today: date | None = None,
) -> Iterator[dict[str, str]]:
    """`count` rows; about `duplicates` of them near-duplicates of an earlier row."""
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
    pools = NamePools.for_locale(locale)
    phones = _PhoneMaker(phone_region, rng)
    today = today or date(2026, 1, 1)
    recent: list[dict[str, str]] = []
    for number in range(count):
        reference = f"{prefix}-{number:09d}"
        if recent and rng.random() < duplicates:
            row = _near_duplicate(rng.choice(recent), rng)
            row[REFERENCE_COLUMN] = reference
        else:
            sex = rng.choice("FM")
            given = pools.female if sex == "F" else pools.male
            row = {
                REFERENCE_COLUMN: reference,
                "given_name": f"{rng.choice(given)} {rng.choice(given)}",
                "family_name": rng.choice(pools.family),
                "date_of_birth": (today - timedelta(days=rng.randrange(90 * 365))).isoformat(),
                "sex": sex,
                "phone": phones.make() if rng.random() < 0.8 else "",
                **{level: f"{level.replace('_', ' ').title()} {rng.randrange(1, 48)}" for level in address_levels},
                TRUTH_COLUMN: "",
            }
            # Keep a bounded window of originals to copy from: memory stays flat at any count.
            if len(recent) < 50_000:
                recent.append(row)
            else:
                recent[rng.randrange(len(recent))] = row
        yield row


def write_csv(path: Path, rows: Iterator[dict[str, str]], address_levels: list[str]) -> int:
    written = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns(address_levels))
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            written += 1
    return written


def _near_duplicate(original: dict[str, str], rng: random.Random) -> dict[str, str]:
    row = dict(original)
    row[TRUTH_COLUMN] = original[REFERENCE_COLUMN]
    change = rng.randrange(4)
    if change == 0:  # given and family names swapped
        row["given_name"], row["family_name"] = original["family_name"], original["given_name"]
    elif change == 1:  # case and spacing
        row["given_name"] = "  ".join(original["given_name"].upper().split())
        row["family_name"] = original["family_name"].upper()
    else:  # one typing error in one name
        field = rng.choice(["given_name", "family_name"])
        row[field] = _typo(original[field], rng)
    if rng.random() < 0.5:
        row["phone"] = ""
    return row


def _typo(name: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(name)) if len(name) > 1 else 0
    kind = rng.randrange(3)
    if kind == 0:
        return name[:at] + rng.choice(_LETTERS) + name[at + 1 :]
    if kind == 1 and len(name) > 3:
        return name[:at] + name[at + 1 :]
    if at + 1 < len(name):
        return name[:at] + name[at + 1] + name[at] + name[at + 2 :]
    return name + rng.choice(_LETTERS)


def _names(fake: Faker, attribute: str) -> tuple[str, ...]:
    for provider in fake.providers:
        names = getattr(provider, attribute, None)
        if names:
            return tuple(sorted(names))
    return ()


class _PhoneMaker:
    """Valid mobile numbers of the region: its example number with the last six digits drawn."""

    def __init__(self, region: str, rng: random.Random) -> None:
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        self._code = example.country_code if example else 0
        self._stem = str(example.national_number)[:-6] if example else ""
        self._rng = rng
        probe = random.Random(0)  # noqa: S311 - a fixed sample, not secrets
        # Where every drawn number of a sample is valid, skip the (slow) check per number.
        self._check = not all(self._valid(self._draw(probe)) for _ in range(200))

    def make(self) -> str:
        if not self._code:
            return ""
        for _ in range(20):
            number = self._draw(self._rng)
            if not self._check or self._valid(number):
                return number
        return ""

    def _draw(self, rng: random.Random) -> str:
        return f"+{self._code}{self._stem}{rng.randrange(10**6):06d}"

    @staticmethod
    def _valid(number: str) -> bool:
        return phonenumbers.is_valid_number(phonenumbers.parse(number))
