"""Request and response bodies of the identity API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ...core.i18n import _

Factor = Literal["demo", "otp"]
IdType = Literal["nid", "vid"]
EKYC_ATTRIBUTES = ("given_name", "family_name", "other_names", "date_of_birth", "sex", "phone", "address")
EkycAttribute = Literal["given_name", "family_name", "other_names", "date_of_birth", "sex", "phone", "address"]

_TRANSACTION_ID = Field(
    min_length=8, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$", description="The relying party's transaction ID"
)
_INDIVIDUAL_ID = Field(min_length=8, max_length=20, pattern=r"^[0-9]+$", description="National ID or VID")
EARLIEST_BIRTH_YEAR = 1880
ADDRESS_LEVELS = 20
ADDRESS_PART_LENGTH = 200


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        # PostgreSQL text cannot hold NUL, and no name or address needs control characters.
        if _has_control(value):
            raise ValueError(_("control characters are not allowed"))
        return value


def _has_control(value: Any) -> bool:
    if isinstance(value, str):
        return any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
    if isinstance(value, dict):
        return any(_has_control(k) or _has_control(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_control(item) for item in value)
    return False


class PersonName(_Strict):
    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)


class EnrolmentRequest(_Strict):
    application_id: str = Field(
        min_length=8,
        max_length=36,
        pattern=r"^[A-Za-z0-9-]+$",
        description="Chosen by the enrolment client; repeating it returns the original outcome",
    )
    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    date_of_birth: date
    sex: Literal["F", "M", "X"]
    phone: str | None = Field(default=None, max_length=30)
    address: dict[str, str] = Field(default_factory=dict)
    other_names: dict[str, PersonName] = Field(
        default_factory=dict, description="The name in other scripts, keyed by ISO 15924 code (Arab, Jpan, Deva)"
    )
    biometric_ref: str | None = Field(
        default=None, min_length=8, max_length=500, description="Reference of the captured biometric template"
    )

    @field_validator("date_of_birth")
    @classmethod
    def _not_in_future(cls, value: date) -> date:
        if value > date.today():
            raise ValueError(_("the date is in the future"))
        if value.year < EARLIEST_BIRTH_YEAR:
            raise ValueError(_("the date is before {year}").format(year=EARLIEST_BIRTH_YEAR))
        return value

    @field_validator("address")
    @classmethod
    def _short_address_values(cls, value: dict[str, str]) -> dict[str, str]:
        if any(len(part) > ADDRESS_PART_LENGTH for part in value.values()) or len(value) > ADDRESS_LEVELS:
            raise ValueError(
                _("at most {levels} levels of at most {length} characters each").format(
                    levels=ADDRESS_LEVELS, length=ADDRESS_PART_LENGTH
                )
            )
        return value

    @field_validator("other_names")
    @classmethod
    def _script_codes(cls, value: dict[str, PersonName]) -> dict[str, PersonName]:
        for script in value:
            if len(script) != 4 or not script.isascii() or not script.isalpha() or not script.istitle():
                raise ValueError(
                    _("'{script}' is not an ISO 15924 script code (e.g. Latn, Arab, Jpan)").format(script=script)
                )
        return value


class EnrolmentOut(BaseModel):
    application_id: str
    status: str
    national_id: str | None
    candidates: list[str]


class AdjudicationRequest(_Strict):
    decision: Literal["issue", "reject_duplicate"]
    duplicate_of: str | None = Field(default=None, pattern=r"^[0-9]{8,20}$", description="For reject_duplicate")
    note: str = Field(default="", max_length=500)


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


class LifecycleRequest(_Strict):
    status: Literal["active", "deceased", "deactivated"]
    reason: str = Field(min_length=1, max_length=500, description="e.g. death certificate number")


class PolicyIn(_Strict):
    auth_types: list[Factor] = Field(default_factory=list, max_length=2)
    ekyc_attributes: list[EkycAttribute] = Field(default_factory=list, max_length=len(EKYC_ATTRIBUTES))


class PolicyOut(BaseModel):
    partner_id: int
    auth_types: list[str]
    ekyc_attributes: list[str]


class DemographicClaim(_Strict):
    given_name: str | None = Field(default=None, min_length=1, max_length=200)
    family_name: str | None = Field(default=None, min_length=1, max_length=200)
    date_of_birth: date | None = None
    sex: Literal["F", "M", "X"] | None = None
    phone: str | None = Field(default=None, max_length=30)


class OtpRequest(_Strict):
    transaction_id: str = _TRANSACTION_ID
    individual_id: str = _INDIVIDUAL_ID
    id_type: IdType = "nid"
    consent: bool = Field(description="The resident agreed to this request")


class OtpOut(BaseModel):
    transaction_id: str
    sent_to: str


class AuthRequest(_Strict):
    transaction_id: str = _TRANSACTION_ID
    individual_id: str = _INDIVIDUAL_ID
    id_type: IdType = "nid"
    consent: bool = Field(description="The resident agreed to this request")
    demographics: DemographicClaim | None = None
    otp: str | None = Field(default=None, pattern=r"^[0-9]{4,10}$")


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


class ResidentOtpRequest(_Strict):
    transaction_id: str = _TRANSACTION_ID
    individual_id: str = _INDIVIDUAL_ID
    id_type: IdType = "nid"


class ResidentSessionRequest(ResidentOtpRequest):
    otp: str = Field(pattern=r"^[0-9]{4,10}$")


class ResidentSessionOut(BaseModel):
    session_token: str
    expires_at: datetime


class ContactUpdate(_Strict):
    phone: str | None = Field(default=None, max_length=30)
    address: dict[str, str] | None = None


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
