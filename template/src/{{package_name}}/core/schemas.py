"""Pydantic types shared by every module's API schemas."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import CoreSchema, core_schema

from .i18n import _

# C0 and C1 controls, DEL and lone UTF-16 surrogates: PostgreSQL text cannot hold NUL nor
# encode a lone surrogate, and no name, reference or note needs them. Free text may keep
# tab and line breaks.
_LINE_FORBIDDEN = r"\x00-\x1f\x7f-\x9f\ud800-\udfff"
_TEXT_FORBIDDEN = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
# The same sets, written as what they allow for the OpenAPI `pattern`: a regex naming a lone
# surrogate (\ud800) is no regex at all to JSON Schema validators such as jsonschema-rs (which
# schemathesis uses), so the document says it with ranges around them.
_LINE_ALLOWED = r"\x20-\x7e\xa0-\ud7ff\ue000-\U0010ffff"
_TEXT_ALLOWED = r"\t\n\r" + _LINE_ALLOWED


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; SQLite hands timestamps back naive (they are stored in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
"""A timestamp answered in UTC whatever the database returned."""


class _Printable:
    """Refuses control characters, and says so in the OpenAPI document (a `pattern`)."""

    def __init__(self, forbidden: str, allowed: str) -> None:
        self.forbidden = re.compile(f"[{forbidden}]")
        self.pattern = f"^[{allowed}]*$"

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", self.pattern)  # a field's own pattern is stricter already
        return json_schema

    def _check(self, value: str) -> str:
        if self.forbidden.search(value):
            raise ValueError(_("control characters are not allowed"))
        return value


Line = Annotated[str, _Printable(_LINE_FORBIDDEN, _LINE_ALLOWED)]
"""Every one-line text an API accepts (names, references, codes, path segments)."""

Text = Annotated[str, _Printable(_TEXT_FORBIDDEN, _TEXT_ALLOWED)]
"""Free text an API accepts (grounds, notes): tab and line breaks allowed, other controls refused."""


def has_control_characters(text: str, *, multi_line: bool = False) -> bool:
    """True when `text` holds a character `Line` (or, multi-line, `Text`) refuses: for non-API input."""
    return re.search(f"[{_TEXT_FORBIDDEN if multi_line else _LINE_FORBIDDEN}]", text) is not None
