"""Pydantic types shared by every module's API schemas."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from .i18n import _

# C0 and C1 controls, DEL and lone UTF-16 surrogates: PostgreSQL text cannot hold NUL nor
# encode a lone surrogate, and no name, reference or note needs them. Free text may keep
# tab and line breaks.
_SURROGATES = r"\ud800-\udfff"
_LINE_FORBIDDEN = r"\x00-\x1f\x7f-\x9f" + _SURROGATES
_TEXT_FORBIDDEN = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + _SURROGATES


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC; SQLite hands timestamps back naive (they are stored in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]
"""A timestamp answered in UTC whatever the database returned."""


class _Printable:
    """Refuses control characters, and says so in the OpenAPI document (a `pattern`)."""

    def __init__(self, forbidden: str) -> None:
        self.forbidden = re.compile(f"[{forbidden}]")
        # A lone surrogate is no Unicode character, so no JSON Schema string holds one (I-JSON, RFC 7493's
        # JSON strings): the pattern states the controls only. Stating the surrogate range too made Schemathesis
        # drop the whole pattern (it cannot compile it) and send control characters as valid data.
        self.pattern = f"^[^{forbidden.removesuffix(_SURROGATES)}]*$"

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


Line = Annotated[str, _Printable(_LINE_FORBIDDEN)]
"""Every one-line text an API accepts (names, references, codes, path segments).

Give a stricter `pattern` on the field (`code: Line = Field(pattern=...)`), not in an `Annotated` around
`Line`: there Pydantic checks it but the OpenAPI shows Line's pattern instead. A type with its own
stricter pattern can be a plain `str` (the pattern already refuses control characters).
"""

Text = Annotated[str, _Printable(_TEXT_FORBIDDEN)]
"""Free text an API accepts (grounds, notes): tab and line breaks allowed, other controls refused."""


def _whole_number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise PydanticCustomError(
                "int_from_float", "Input should be a valid integer, got a number with a fractional part"
            )
        return int(value)
    return value


WHOLE_NUMBER = BeforeValidator(_whole_number)
Integer = Annotated[int, WHOLE_NUMBER]
"""An integer an API accepts (amounts in minor units, years, IDs): a JSON number with no fractional part.

JSON Schema's `integer` is such a number, `1000.0` included, so it is accepted as 1000; a string
("1000"), a boolean or `1000.5` is refused, where Pydantic's lax `int` takes strings and its
`StrictInt` refuses `1000.0`. An optional one puts its bounds before the validator,
`Annotated[int, Field(ge=0), WHOLE_NUMBER] | None`: bounds given outside reach the OpenAPI as
Pydantic's own keys (`ge`), which no client reads.
"""


def has_control_characters(text: str, *, multi_line: bool = False) -> bool:
    """True when `text` holds a character `Line` (or, multi-line, `Text`) refuses: for non-API input."""
    return re.search(f"[{_TEXT_FORBIDDEN if multi_line else _LINE_FORBIDDEN}]", text) is not None


DEPLOYMENT_KEY = "x-deployment"


def deployment_value(name: str) -> dict[str, str]:
    """`json_schema_extra` for a constraint only the deployment knows (its currency, a law's categories).

    The OpenAPI document is built per deployment: `state_the_deployment` replaces the marker with
    the JSON Schema keywords the core or the module that owns `name` gives for this deployment.
    """
    return {DEPLOYMENT_KEY: name}


Currency = Annotated[
    str,
    Field(
        min_length=3,
        max_length=3,
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 code; must be the deployment's currency",
        json_schema_extra=deployment_value("currency"),
    ),
]
"""A currency the API accepts: the deployment's own (the service refuses others; the OpenAPI names it)."""


def state_the_deployment(document: Any, values: dict[str, dict[str, Any]]) -> None:
    """Replace each `deployment_value` marker in an OpenAPI document with this deployment's keywords (in place).

    A marker nobody gives values for is dropped: the schema keeps its static constraints.
    """
    if isinstance(document, dict):
        name = document.pop(DEPLOYMENT_KEY, None)
        if name is not None:
            document.update(values.get(name, {}))
        for value in list(document.values()):
            state_the_deployment(value, values)
    elif isinstance(document, list):
        for value in document:
            state_the_deployment(value, values)


def nullable_formats_as_type_lists(document: Any) -> None:
    """Write an optional formatted string as `type: [string, null]` instead of `anyOf` with null (in place).

    Both state the same values. Generators read the `anyOf` form loosely: schemathesis 4 drew free
    text for an optional `format: phone-number` and reported the API's refusal as a broken contract.
    """
    if isinstance(document, dict):
        branches = document.get("anyOf")
        if isinstance(branches, list) and len(branches) == 2 and {"type": "null"} in branches:
            (other,) = [branch for branch in branches if branch != {"type": "null"}]
            if isinstance(other, dict) and other.get("type") == "string" and "format" in other:
                del document["anyOf"]
                document.update({**other, "type": ["string", "null"], **document})
        for value in list(document.values()):
            nullable_formats_as_type_lists(value)
    elif isinstance(document, list):
        for value in document:
            nullable_formats_as_type_lists(value)
