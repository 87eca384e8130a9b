"""What the tax pages read from a form: amounts typed in major units, years, free text; and which field a
refusal of the services is about, so the form can show it beside that field."""

from __future__ import annotations

import re

from ....core.errors import Problem
from ....core.i18n import _
from ....core.schemas import has_control_characters
from ....core.web.forms import typed_amount
from ..schemas import MAX_MINOR_UNITS

YEAR_TEXT = r"[0-9]{4}"
FIRST_YEAR, LAST_YEAR = 1900, 2200  # as the API's years


def major_amount(text: str, currency: str) -> int | None:
    """Minor units of an amount typed in major units, up to what the tax tables hold (core/web/forms.py)."""
    return typed_amount(text, currency, most=MAX_MINOR_UNITS)


def year_of(text: str) -> int | None:
    if re.fullmatch(YEAR_TEXT, text) and FIRST_YEAR <= int(text) <= LAST_YEAR:
        return int(text)
    return None


def year_error(label: str) -> str:
    return _("{field}: a year from {first} to {last}, such as 2025").format(
        field=label, first=FIRST_YEAR, last=LAST_YEAR
    )


def text_error(label: str, text: str, *, most: int) -> str | None:
    """Why free text (grounds, a note) is refused, naming the field; None when it is fine."""
    if not text:
        return _("{field}: write at least one character").format(field=label)
    if len(text) > most:
        return _("{field}: at most {most} characters").format(field=label, most=most)
    if has_control_characters(text, multi_line=True):
        return _("{field}: control characters are not allowed").format(field=label)
    return None


def refused_field(problem: Problem, fields: tuple[str, ...], default: str = "form") -> str:
    """The form field a service's refusal is about: its `field`, or the name its detail starts with."""
    if problem.field in fields:
        return problem.field
    lead = problem.detail.split(":", 1)[0]
    return lead if lead in fields else default
