"""Request and response bodies of the identity API."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from ...core.country import LoadedCountry
from ...core.i18n import _
from ...core.schemas import Line, Text, UtcDatetime, deployment_value
from .applications import Application, NameInScript
from .domain import AuthAttempt, Demographics

Factor = Literal["demo", "otp"]
IdType = Literal["nid", "vid"]
EKYC_ATTRIBUTES = ("given_name", "family_name", "other_names", "date_of_birth", "sex", "phone", "address")
EkycAttribute = Literal["given_name", "family_name", "other_names", "date_of_birth", "sex", "phone", "address"]

EARLIEST_BIRTH_YEAR = 1880
ADDRESS_LEVELS = 20
ADDRESS_PART_LENGTH = 200
NAME_LENGTH = 200

# Every text is a Line (one line, no control characters) or a str with a stricter pattern of its own
# (a Line's pattern would hide it in the OpenAPI). Surrounding spaces are stripped
# (str_strip_whitespace), so a required text must hold something besides white space: stated as a
# second, simple rule (`not` blank) rather than one pattern for both, which generators cannot handle.
NOT_BLANK = {"not": {"pattern": r"^\s*$"}}
Name = Annotated[Line, Field(min_length=1, max_length=NAME_LENGTH, json_schema_extra=NOT_BLANK)]
Phone = Annotated[
    Line,
    Field(
        max_length=30,
        description="A valid phone number: E.164 (+254712345678) or the country's national format",
        json_schema_extra={"format": "phone-number"},
    ),
]
TransactionId = Annotated[
    str,
    Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$", description="The relying party's transaction ID"),
]
NationalId = Annotated[
    str,
    Field(
        min_length=8,
        max_length=20,
        pattern=r"^[0-9]+$",
        description="A national ID number: the country's number of digits (identity.id_length), the last a "
        "Verhoeff check digit",
        json_schema_extra={"format": "national-id"},
    ),
]
VidNumber = Annotated[
    str,
    Field(
        min_length=16,
        max_length=16,
        pattern=r"^[0-9]{16}$",
        description="A virtual ID: 16 digits, the last a Verhoeff check digit",
        json_schema_extra={"format": "vid"},
    ),
]
Otp = Annotated[str, Field(pattern=r"^[0-9]{4,10}$", description="The one-time code sent to the resident")]
AddressPart = Annotated[Line, Field(max_length=ADDRESS_PART_LENGTH)]
ScriptCode = Annotated[str, Field(pattern=r"^[A-Z][a-z]{3}$")]
CONSENT = Field(description="The resident agreed to this request: must be true", json_schema_extra={"const": True})


def _birth_date_pattern(today: date) -> str:
    """A regular expression matching exactly the ISO dates from 1 January EARLIEST_BIRTH_YEAR to `today`."""
    common = r"(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31"
    years = range(EARLIEST_BIRTH_YEAR, today.year)
    leap = [year for year in years if _leap(year)]
    this_year = [
        f"{month:02d}-(?:{_days_up_to(_month_days(today.year, month) if month < today.month else today.day)})"
        for month in range(1, today.month + 1)
    ]
    parts = [f"(?:{_years(list(years))})-(?:{common})"] if years else []
    parts += [f"(?:{_years(leap)})-02-29"] if leap else []
    parts.append(f"{today.year}-(?:{'|'.join(this_year)})")
    return f"^(?:{'|'.join(parts)})$"


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _month_days(year: int, month: int) -> int:
    return 29 if month == 2 and _leap(year) else (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]


def _days_up_to(last: int) -> str:
    parts = ["0[1-9]" if last >= 9 else f"0[1-{last}]"]
    for tens in (1, 2, 3):
        if last >= tens * 10 + 9:
            parts.append(f"{tens}[0-9]")
        elif last >= tens * 10:
            parts.append(f"{tens}[0-{last - tens * 10}]")
    return "|".join(parts)


def _years(years: list[int]) -> str:
    decades: dict[int, list[int]] = {}
    for year in years:
        decades.setdefault(year // 10, []).append(year % 10)
    return "|".join(
        f"{decade}[0-9]" if len(digits) == 10 else f"{decade}[{''.join(map(str, digits))}]"
        for decade, digits in decades.items()
    )


def _date_text(value: Any) -> Any:
    """A date is a JSON string YYYY-MM-DD, nothing else (no timestamp, no time of day); Python callers
    (seed, CLI) may pass a date."""
    if type(value) is date:
        return value
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
        raise ValueError(_("a date is written YYYY-MM-DD"))
    return value


DateText = Annotated[date, BeforeValidator(_date_text)]

# The schema states the range the server checks as a pattern schemathesis and clients honour; it
# is fixed when the process starts, so a process running past midnight states one day less than
# it accepts (stricter, never looser).
BirthDate = Annotated[
    DateText,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _birth_date_pattern(date.today()),
            "description": f"YYYY-MM-DD, a real date from {EARLIEST_BIRTH_YEAR}-01-01 to today",
        }
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PersonName(_Strict):
    given_name: Name
    family_name: Name


class EnrolmentRequest(_Strict):
    application_id: str = Field(
        min_length=8,
        max_length=36,
        pattern=r"^[A-Za-z0-9-]+$",
        description="Chosen by the enrolment client; repeating it returns the original outcome",
    )
    given_name: Name
    family_name: Name
    date_of_birth: BirthDate
    sex: Literal["F", "M", "X"]
    phone: Phone | None = None
    address: dict[str, AddressPart] = Field(
        default_factory=dict,
        max_length=ADDRESS_LEVELS,
        description="Address parts keyed by the country's address levels (GET /meta)",
        json_schema_extra=deployment_value("identity-address-levels"),
    )
    other_names: dict[ScriptCode, PersonName] = Field(
        default_factory=dict,
        description="The name in other scripts, keyed by ISO 15924 code (Arab, Jpan, Deva)",
        json_schema_extra={"additionalProperties": False},
    )
    biometric_ref: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9._:/+=-]{8,500}$",
        description="Reference of the captured biometric template",
    )

    @field_validator("date_of_birth")
    @classmethod
    def _not_in_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError(_("the date is in the future"))
        if value.year < EARLIEST_BIRTH_YEAR:
            raise ValueError(_("the date is before {year}").format(year=EARLIEST_BIRTH_YEAR))
        return value

    def as_application(self) -> Application:
        return Application(
            application_id=self.application_id,
            given_name=self.given_name,
            family_name=self.family_name,
            date_of_birth=self.date_of_birth,
            sex=self.sex,
            phone=self.phone,
            address=self.address,
            other_names={
                script: NameInScript(given_name=name.given_name, family_name=name.family_name)
                for script, name in self.other_names.items()
            },
            biometric_ref=self.biometric_ref,
        )


class PendingDecisionOut(BaseModel):
    decision: Literal["issue", "reject_duplicate"]
    duplicate_of: str | None
    approvals: int = Field(description="Live approvals of this decision on the application as it is now")


class EnrolmentOut(BaseModel):
    application_id: str
    status: str
    national_id: str | None
    candidates: list[str]
    pending: list[PendingDecisionOut] = Field(
        default=[], description="Adjudication decisions awaiting more approvals (four-eyes); none once decided"
    )


class AdjudicationOut(EnrolmentOut):
    decision: Literal["issue", "reject_duplicate"]
    duplicate_of: str | None
    approvals: int = Field(description="Live approvals of this decision, this one included")
    approvals_required: int = Field(description="Distinct approvers the decision needs to take effect")


class AdjudicationRequest(_Strict):
    decision: Literal["issue", "reject_duplicate"]
    duplicate_of: NationalId | None = Field(default=None, description="For reject_duplicate: one of the candidates")
    note: Text = Field(default="", max_length=500)


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    national_id: str
    given_name: str
    family_name: str
    other_names: dict[str, Any] | None = None
    date_of_birth: date
    sex: str
    phone: str | None
    address: dict[str, str]
    status: str


class PersonLookup(_Strict):
    national_id: NationalId


class LifecycleRequest(_Strict):
    national_id: NationalId
    status: Literal["active", "deceased", "deactivated"]
    reason: Line = Field(
        min_length=1, max_length=500, json_schema_extra=NOT_BLANK, description="e.g. death certificate number"
    )


class PolicyIn(_Strict):
    auth_types: list[Factor] = Field(default_factory=list, max_length=2)
    ekyc_attributes: list[EkycAttribute] = Field(default_factory=list, max_length=len(EKYC_ATTRIBUTES))


class PolicyOut(BaseModel):
    partner_id: int
    auth_types: list[str]
    ekyc_attributes: list[str]


class DemographicClaim(_Strict):
    given_name: Name | None = None
    family_name: Name | None = None
    date_of_birth: DateText | None = None
    sex: Literal["F", "M", "X"] | None = None
    phone: Phone | None = None

    def as_demographics(self) -> Demographics:
        return Demographics(
            given_name=self.given_name,
            family_name=self.family_name,
            date_of_birth=self.date_of_birth,
            sex=self.sex,
            phone=self.phone,
        )


def _individual_id_schema(schema: dict[str, Any]) -> None:
    """`individual_id` is a national ID when `id_type` is nid (the default), a VID when it is vid."""
    schema["oneOf"] = [
        {"properties": {"id_type": {"const": "nid"}, "individual_id": {"format": "national-id"}}},
        {"properties": {"id_type": {"const": "vid"}, "individual_id": {"format": "vid"}}, "required": ["id_type"]},
    ]


IndividualId = Annotated[
    str,
    Field(
        min_length=8,
        max_length=20,
        pattern=r"^[0-9]+$",
        description="A national ID (format national-id) or, with id_type vid, a VID (format vid)",
    ),
]


class _Identified(_Strict):
    model_config = ConfigDict(json_schema_extra=_individual_id_schema)

    transaction_id: TransactionId
    individual_id: IndividualId
    id_type: IdType = "nid"


class OtpRequest(_Identified):
    consent: bool = CONSENT


class OtpOut(BaseModel):
    transaction_id: str
    sent_to: str


def _auth_schema(schema: dict[str, Any]) -> None:
    _individual_id_schema(schema)
    schema["anyOf"] = [  # at least one factor
        {"required": ["demographics"], "properties": {"demographics": {"type": "object"}}},
        {"required": ["otp"], "properties": {"otp": {"type": "string"}}},
    ]


class AuthRequest(_Identified):
    model_config = ConfigDict(json_schema_extra=_auth_schema)

    consent: bool = CONSENT
    demographics: DemographicClaim | None = None
    otp: Otp | None = None

    def as_attempt(self) -> AuthAttempt:
        return AuthAttempt(
            transaction_id=self.transaction_id,
            individual_id=self.individual_id,
            consent=self.consent,
            id_type=self.id_type,
            demographics=None if self.demographics is None else self.demographics.as_demographics(),
            otp=self.otp,
        )


class AuthOut(BaseModel):
    transaction_id: str
    authenticated: bool
    factors: list[str]
    reason: str | None = None


class EkycOut(AuthOut):
    partner_token: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class VidRequest(_Strict):
    kind: Literal["temporary", "perpetual"] = "temporary"


class VidOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    vid: str
    kind: str
    expires_at: datetime | None
    uses_left: int | None
    revoked: bool


class VidRevocation(_Strict):
    vid: VidNumber


class ResidentOtpRequest(_Identified):
    pass


class ResidentSessionRequest(_Identified):
    otp: Otp


class ResidentSessionOut(BaseModel):
    session_token: str
    expires_at: datetime


def _contact_schema(schema: dict[str, Any]) -> None:
    schema["anyOf"] = [  # at least one of them
        {"required": ["phone"], "properties": {"phone": {"type": "string"}}},
        {"required": ["address"], "properties": {"address": {"type": "object"}}},
    ]


class ContactUpdate(_Strict):
    model_config = ConfigDict(json_schema_extra=_contact_schema)

    phone: Phone | None = None
    address: dict[str, AddressPart] | None = Field(
        default=None,
        max_length=ADDRESS_LEVELS,
        description="Address parts keyed by the country's address levels",
        json_schema_extra=deployment_value("identity-address-levels"),
    )


class ContactChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    field: str
    old_value: Any
    new_value: Any
    actor: str
    changed_at: datetime


class AuthenticationRecord(BaseModel):
    occurred_at: datetime
    partner: str
    action: str
    factors: list[str]
    result: str
    transaction_id: str | None
    reason: str | None


class LockRequest(_Strict):
    locked: bool


class HeldApplicationOut(BaseModel):
    """A held enrolment's demographics as the applicant gave them."""

    given_name: str
    family_name: str
    other_names: dict[str, Any]
    date_of_birth: date
    sex: str
    phone: str | None
    address: dict[str, str]


class CandidateOut(PersonOut):
    name_score: float = Field(description="Name similarity to the application, 0-100, as deduplication compares")


class HeldEnrolmentOut(BaseModel):
    application_id: str
    received_at: UtcDatetime
    application: HeldApplicationOut
    candidates: list[CandidateOut] = Field(description="Registered people it may duplicate, beside the application")


def openapi_values(country: LoadedCountry) -> dict[str, dict[str, Any]]:
    """What this deployment's profile adds to the identity schemas: the address levels it has."""
    return {"identity-address-levels": {"propertyNames": {"enum": list(country.profile.address_levels)}}}
