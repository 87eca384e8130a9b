"""The country profile (`country.yml`): data, validated at start-up.

Core keys are checked here; each installed module validates its own section
with the schema it declares, so one error report names every mistake with its
file and key.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
import pycountry
import yaml
from babel import Locale, UnknownLocaleError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from .calendars import format_date
from .money import Money, MoneyError, minor_units

ModelT = TypeVar("ModelT", bound=BaseModel)


class CountryProfileError(ValueError):
    """The country profile is unreadable or invalid; `problems` lists each mistake."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(f"{path}: {problem}" for problem in problems))


class CountryProfile(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    # The json_schema_extra is read at generation (scripts/profile-schemas, jinja/jsonschema.jinja):
    # x-in names an ISO list Jinja has (jinja/iso.jinja), x-hint says in words what is wanted.
    country: str = Field(
        description="ISO 3166-1 alpha-2 code",
        json_schema_extra={"x-in": "country_codes", "x-hint": "an ISO 3166-1 alpha-2 code such as KE, JP or ET"},
    )
    name: str = Field(min_length=1, json_schema_extra={"pattern": r"\S", "x-hint": 'the country\'s name, e.g. "Kenya"'})
    currency: str = Field(
        description="ISO 4217 code",
        json_schema_extra={
            "x-in": "currency_codes",
            "x-hint": "an ISO 4217 currency code with minor units such as KES, JPY or JOD",
        },
    )
    currency_minor_units: int | None = Field(
        default=None,
        description="ISO 4217 exponent of the currency, stated so a reader sees it (checked)",
        # At start-up _consistent compares it with the currency's; Jinja checks the range first.
        json_schema_extra={
            "minimum": 0,
            "maximum": 4,
            "x-hint": "the ISO 4217 exponent of the currency: JPY 0, KES 2, JOD 3",
        },
    )
    languages: list[
        Annotated[
            str,
            Field(
                json_schema_extra={
                    "x-in": "language_codes",
                    "x-hint": "an ISO 639-1 language code such as en, sw, am or ja",
                }
            ),
        ]
    ] = Field(
        min_length=1,
        json_schema_extra={
            "x-hint": "a non-empty list of ISO 639-1 codes such as [en, sw], the first being the default"
        },
    )
    locale: str = Field(
        # Babel decides at start-up; at generation the shape is checked.
        json_schema_extra={
            "pattern": "^[a-z]{2,3}([_-][A-Z][a-z]{3})?([_-][A-Z]{2})?$",
            "x-hint": "a locale language_TERRITORY such as en_KE, am_ET or ja_JP",
        }
    )
    timezone: str = Field(
        json_schema_extra={"x-in": "timezones", "x-hint": "an IANA time zone, an Area/City name such as Africa/Nairobi"}
    )
    phone_region: str = Field(
        json_schema_extra={
            "x-in": "country_codes",
            "x-hint": "a phone numbering region: the ISO 3166-1 code such as KE",
        }
    )
    address_levels: list[
        Annotated[str, Field(json_schema_extra={"pattern": r"\S", "x-hint": "a name such as region or district"})]
    ] = Field(
        min_length=1,
        json_schema_extra={"x-hint": "a non-empty list of names, largest first, such as [county, sub_county, ward]"},
    )
    calendar: Literal["gregorian", "ethiopian"] = Field(
        default="gregorian", description="calendar dates are shown in (stored dates are always Gregorian)"
    )

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str) -> str:
        if pycountry.countries.get(alpha_2=value) is None:
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 code (e.g. KE, JP, JO)")
        return value

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        try:
            minor_units(value)
        except MoneyError as error:
            raise ValueError(f"{error} (e.g. KES, JPY, JOD)") from None
        return value

    @field_validator("languages")
    @classmethod
    def _iso_languages(cls, value: list[str]) -> list[str]:
        for code in value:
            if pycountry.languages.get(alpha_2=code) is None:
                raise ValueError(f"{code!r} is not an ISO 639-1 language code (e.g. en, sw, ja)")
        return value

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        try:
            Locale.parse(value)
        except (UnknownLocaleError, ValueError):
            raise ValueError(f"{value!r} is not a CLDR locale (e.g. en_KE, ja_JP)") from None
        return value

    @field_validator("timezone")
    @classmethod
    def _iana_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Africa/Nairobi)") from None
        return value

    @field_validator("phone_region")
    @classmethod
    def _phone_region(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a phone numbering region known to phonenumbers")
        return value

    @field_validator("calendar", mode="before")
    @classmethod
    def _known_calendar(cls, value: Any) -> Any:
        if value not in ("gregorian", "ethiopian"):
            raise ValueError(f"{value!r} is not a supported calendar; allowed: gregorian, ethiopian")
        return value

    @field_validator("address_levels")
    @classmethod
    def _address_levels(cls, value: list[str]) -> list[str]:
        for level in value:
            if not isinstance(level, str) or not level.strip():
                raise ValueError("each address level is a non-empty name such as county or district")
        if len(set(value)) != len(value):
            raise ValueError(f"{value} names a level twice; each level appears once, largest first")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CountryProfile:
        problems: list[tuple[str, str]] = []
        if self.currency_minor_units is not None:
            try:
                exponent = minor_units(self.currency)
            except MoneyError:
                exponent = None  # already reported under currency
            if exponent is not None and exponent != self.currency_minor_units:
                problems.append(
                    (
                        "currency_minor_units",
                        f"{self.currency_minor_units} is wrong: ISO 4217 gives {self.currency} "
                        f"{exponent} minor digits; write {exponent}",
                    )
                )
        language = self.locale.replace("-", "_").split("_")[0]
        if self.languages and language not in self.languages:
            problems.append(("locale", f"{self.locale!r} is in {language!r}, not one of languages {self.languages}"))
        if problems:
            raise ValidationError.from_exception_data(
                "CountryProfile",
                [
                    InitErrorDetails(
                        type=PydanticCustomError("country_profile", "{message}", {"message": message}),
                        loc=(key,),
                        input=getattr(self, key),
                    )
                    for key, message in problems
                ],
            )
        return self

    @model_validator(mode="after")
    def _sections_are_mappings(self) -> CountryProfile:
        unknown = [(key, value) for key, value in (self.model_extra or {}).items() if not isinstance(value, dict)]
        if unknown:
            # Named at the key, as generation names it (tests/test_profile_rules.py).
            raise ValidationError.from_exception_data(
                "CountryProfile",
                [
                    InitErrorDetails(
                        type=PydanticCustomError(
                            "country_profile",
                            "{message}",
                            {"message": f"unknown key {key!r}; extra keys must be module sections (mappings)"},
                        ),
                        loc=(key,),
                        input=value,
                    )
                    for key, value in unknown
                ],
            )
        return self

    @property
    def minor_units(self) -> int:
        return minor_units(self.currency)

    def format_date(self, day: date) -> str:
        """`day` as people here read it: the profile's calendar and default locale."""
        return format_date(day, self.calendar, self.locale)

    def format_money(self, money: Money) -> str:
        return money.format(self.locale)

    def section(self, name: str) -> dict[str, Any]:
        """The raw mapping a module owns in the profile (empty when the profile has none)."""
        return dict((self.model_extra or {}).get(name) or {})


def load_country(path: Path, section_schemas: dict[str, type[BaseModel]] | None = None) -> LoadedCountry:
    """Read and validate `path`; raise CountryProfileError naming every mistake."""
    raw = _read_yaml(path)
    problems: list[str] = []
    profile = _validate(CountryProfile, raw, problems, prefix="")
    sections: dict[str, BaseModel] = {}
    for name, schema in (section_schemas or {}).items():
        # Sections may check amounts against the currency's minor unit.
        context = {"currency": raw.get("currency")}
        section = _validate(schema, raw.get(name) or {}, problems, prefix=f"{name}.", context=context)
        if section is not None:
            sections[name] = section
    if problems or profile is None:
        raise CountryProfileError(path, problems)
    return LoadedCountry(profile=profile, sections=sections)


class LoadedCountry(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    profile: CountryProfile
    sections: dict[str, Any]

    def section(self, name: str) -> Any:
        return self.sections[name]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CountryProfileError(path, [f"cannot read the country profile: {error.strerror}"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CountryProfileError(path, [f"not valid YAML: {error}"]) from None
    if not isinstance(raw, dict):
        raise CountryProfileError(path, ["the country profile must be a mapping of keys to values"])
    return raw


def _validate(
    schema: type[ModelT], raw: Any, problems: list[str], *, prefix: str, context: dict[str, Any] | None = None
) -> ModelT | None:
    try:
        return schema.model_validate(raw, context=context)
    except ValidationError as error:
        problems.extend(f"{prefix}{_location(e['loc'])}: {_message(e)}" for e in error.errors())
        return None


def _message(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return "is required but missing"
    return message


def _location(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"
