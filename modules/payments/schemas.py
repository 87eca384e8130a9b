"""Request and response bodies of the payments API."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ...core.country import LoadedCountry
from ...core.eligibility import ATTRIBUTE_PATTERN, Rule
from ...core.i18n import _
from ...core.ports import ResidentRegistry, SectorTokens
from ...core.registry import installed_modules
from ...core.schemas import WHOLE_NUMBER, Currency, Integer, Line, UtcDatetime, deployment_value
from .programmes import Entitlement

# Largest integer a JSON client can carry exactly (2**53 - 1): amounts are minor units. Every amount and every
# total the module accepts or builds (a cycle's sum, a bank message's sum) is at most this, far below what a
# BIGINT column holds (2**63 - 1).
MAX_AMOUNT = 9_007_199_254_740_991
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
REFERENCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"
PROGRAMME_CODE_PATTERN = r"^[A-Z][A-Z0-9_-]{1,39}$"
CYCLE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
NATIONAL_ID_PATTERN = r"^[0-9]{6,20}$"
RESERVED_PREFIX = "G2P-"

# A type with its own pattern is a plain str: that pattern already refuses every control character, and
# `Annotated[Line, Field(pattern=...)]` would state Line's generic pattern in the OpenAPI instead of it.
NationalId = Annotated[
    str,
    Field(
        pattern=NATIONAL_ID_PATTERN,
        json_schema_extra={"format": "national-id"},
        description="A national ID the identity module issued (needs that module): 6 to 20 digits, the last a "
        "Verhoeff check digit",
    ),
]
ExternalId = Annotated[
    str, Field(pattern=EXTERNAL_ID_PATTERN, description="An ID another system gives the beneficiary")
]


class BeneficiaryRef(BaseModel):
    """Who is paid: by national ID (needs the identity module) or by an external ID."""

    # Exactly one of the two, as the OpenAPI says too (oneOf); neither may be null. No whitespace is stripped:
    # what the patterns allow is exactly what is accepted.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["national_id"],
                    "not": {"required": ["external_id"]},
                    **deployment_value("payments-by-national-id"),
                },
                {"required": ["external_id"], "not": {"required": ["national_id"]}},
            ]
        },
    )

    national_id: NationalId = Field(default=None)  # type: ignore[assignment]
    external_id: ExternalId = Field(default=None)  # type: ignore[assignment]

    @classmethod
    def of(cls, *, national_id: str | None, external_id: str | None) -> BeneficiaryRef:
        """From Python callers (ports) that pass the ID they do not have as None."""
        given = {"national_id": national_id, "external_id": external_id}
        return cls.model_validate({name: value for name, value in given.items() if value is not None})

    @model_validator(mode="after")
    def _exactly_one(self) -> BeneficiaryRef:
        if (self.national_id is None) == (self.external_id is None):
            raise ValueError(_("give exactly one of national_id or external_id"))
        return self


BANK_CODE_PATTERN = r"^[A-Za-z0-9]{2,11}$"
# 6 to 20 digits, single spaces or hyphens between them allowed (they are dropped when stored).
BANK_ACCOUNT_PATTERN = r"^[0-9](?:[ -]?[0-9]){5,19}$"
BankCode = Annotated[str, Field(pattern=BANK_CODE_PATTERN, description="Bank or operator code, e.g. a BIC")]


class AccountIn(BaseModel):
    """An account a beneficiary is paid into; one schema per kind, chosen by `kind`."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    number: str
    bank_code: str | None = None


class IbanAccount(AccountIn):
    kind: Literal["iban"]
    number: Line = Field(
        min_length=15,
        max_length=42,
        json_schema_extra={"format": "iban"},
        description="An IBAN (ISO 13616), compact or in groups of four; its check digits must be right",
    )
    bank_code: BankCode | None = None


class BankAccount(AccountIn):
    kind: Literal["bank_account"]
    number: str = Field(pattern=BANK_ACCOUNT_PATTERN, description="6 to 20 digits")
    bank_code: BankCode


class MobileMoneyAccount(AccountIn):
    kind: Literal["mobile_money"]
    number: Line = Field(
        min_length=1,
        max_length=30,
        json_schema_extra={"format": "mobile-number"},
        description="A mobile number of the deployment's country, national or international (+) form; it must "
        "be a valid number of that country's numbering plan",
    )
    bank_code: BankCode | None = None


AnyAccount = Annotated[IbanAccount | BankAccount | MobileMoneyAccount, Field(discriminator="kind")]


class LinkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    beneficiary: BeneficiaryRef
    account: AnyAccount


class AccountOut(BaseModel):
    beneficiary: str = Field(description="token:<sector token> or ext:<external ID>")
    kind: str
    number: str
    bank_code: str | None
    linked_at: UtcDatetime
    updated_at: UtcDatetime


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_reference: Line = Field(
        pattern=REFERENCE_PATTERN,
        description="Chosen by the client; repeating it returns the original outcome (G2P- is reserved)",
    )
    beneficiary: BeneficiaryRef
    amount: Integer = Field(gt=0, le=MAX_AMOUNT, description="Integer minor units (cents), never a float")
    currency: Currency

    @field_validator("client_reference")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.upper().startswith(RESERVED_PREFIX):
            raise ValueError(
                _("references starting with {prefix} are reserved for programme payments").format(
                    prefix=RESERVED_PREFIX
                )
            )
        return value


class TransferOut(BaseModel):
    client_reference: str
    state: str
    beneficiary: str
    amount: int
    currency: str
    reason: str | None
    received_at: UtcDatetime
    completed_at: UtcDatetime | None


class BalanceOut(BaseModel):
    beneficiary: str
    account: str
    currency: str
    balance: int = Field(description="Integer minor units, the sum of the account's entries")


class BeneficiaryRequest(BaseModel):
    """One beneficiary, named in the body: a national ID never travels in a URL (access logs keep URLs)."""

    model_config = ConfigDict(extra="forbid")

    beneficiary: BeneficiaryRef


class UnlinkRequest(BeneficiaryRequest):
    pass


class UnlinkOut(BaseModel):
    beneficiary: str
    kind: str
    number: str
    unlinked_at: UtcDatetime


class ResolveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[BeneficiaryRef] = Field(min_length=1, max_length=1000)


class ResolveItem(BaseModel):
    index: int
    status: Literal["found", "not_found", "error"]
    account: AccountOut | None = None
    reason: str | None = None


class ResolveOut(BaseModel):
    items: list[ResolveItem]


AttributeValue = (
    Annotated[int, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT), WHOLE_NUMBER] | Annotated[Line, Field(max_length=100)]
)


# A programme's rules, the same when it is registered and when a change of them is proposed.
Eligibility = Annotated[list[Rule], Field(default_factory=list, max_length=50)]
IncomeYear = Annotated[int | None, Field(ge=1900, le=2200, description="Fiscal year of assessed_income")]


class ProgrammeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Line = Field(pattern=PROGRAMME_CODE_PATTERN, description="e.g. STIMULUS-2026")
    name: Line = Field(min_length=1, max_length=200)
    currency: Currency
    source: Literal["registry", "enrolled"] = Field(
        description="registry: every resident (needs identity); enrolled: a list of beneficiaries (CSV or API)",
        json_schema_extra=deployment_value("payments-programme-source"),
    )
    eligibility: Eligibility
    entitlement: Entitlement
    income_year: IncomeYear = None


class RulesIn(BaseModel):
    """New rules proposed for a programme; they take effect once enough approvers other than the proposer approved."""

    model_config = ConfigDict(extra="forbid")

    eligibility: Eligibility
    entitlement: Entitlement
    income_year: IncomeYear = None


class ProgrammeOut(BaseModel):
    code: str
    name: str
    currency: str
    source: str
    eligibility: list[dict]
    entitlement: dict
    income_year: int | None
    created_at: UtcDatetime


class RuleChangeOut(BaseModel):
    id: int
    programme: str
    state: str = Field(description="pending (awaiting approvals), approved (in force) or superseded")
    eligibility: list[dict]
    entitlement: dict
    income_year: int | None
    proposed_by: str
    proposed_at: UtcDatetime
    approvals: int = Field(description="Live approvals of the proposed rules as they are now (a change voids them)")
    approvals_required: int = Field(description="Distinct approvers the change needs, its proposer never among them")
    approved_by: str | None = Field(description="The approver whose approval put the rules in force")
    decided_at: UtcDatetime | None = Field(description="When the change was approved or superseded")


class EnrolmentItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    beneficiary: BeneficiaryRef
    # Pydantic states the key pattern as patternProperties only, which lets any other key through.
    attributes: dict[Annotated[str, Field(pattern=ATTRIBUTE_PATTERN)], AttributeValue] = Field(
        default_factory=dict,
        max_length=50,
        json_schema_extra={"propertyNames": {"pattern": ATTRIBUTE_PATTERN}, "additionalProperties": False},
    )


class EnrolmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A beneficiary listed twice is refused; JSON Schema can state it only for identical items.
    items: list[EnrolmentItem] = Field(min_length=1, max_length=1000, json_schema_extra={"uniqueItems": True})


class EnrolmentOut(BaseModel):
    enrolled: int
    updated: int
    unchanged: int


class CycleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Line = Field(pattern=CYCLE_NAME_PATTERN, description="Unique within the programme")
    as_of: date | None = Field(default=None, description="Day ages are counted on (default: today)")


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    control_count: Integer = Field(ge=0, le=2**31 - 1)
    control_sum: Integer = Field(ge=0, le=MAX_AMOUNT, description="Integer minor units")


class CycleOut(BaseModel):
    id: int
    programme: str
    name: str
    state: str
    as_of: UtcDatetime
    # None until the cycle is approved (its approvers re-enter them blind); its maker sees them when building it.
    instruction_count: int | None
    instruction_sum: int | None
    unlinked_count: int
    control_count: int | None
    control_sum: int | None
    approvals: int = Field(description="Live approvals of the instructions as they are now (a change voids them)")
    approvals_required: int = Field(description="Distinct approvers the cycle needs, its maker never among them")
    approved_by: str | None


class QueuedCycleOut(BaseModel):
    """A cycle in a queue: no instruction totals, which its approver re-enters blind."""

    id: int
    programme: str
    name: str
    state: str
    as_of: UtcDatetime
    built_at: UtcDatetime
    approved_by: str | None


class TallyOut(BaseModel):
    count: int
    sum: int


class ReconciliationOut(BaseModel):
    cycle_id: int
    programme: str
    cycle: str
    state: str
    currency: str
    envelope: TallyOut
    instructions: TallyOut
    paid: TallyOut
    failed: TallyOut
    pending: TallyOut
    unlinked: TallyOut
    unmatched: TallyOut
    returned_to_programme: int
    messages: dict[str, int]
    matches_control_totals: bool


class IngestOut(BaseModel):
    kind: str
    msg_id: str
    replayed: bool
    accepted: int
    settled: int
    retried: int
    returned: int
    unmatched: int


class PaymentLineOut(BaseModel):
    programme: str
    programme_name: str
    cycle: str | None
    reference: str
    amount: int
    currency: str
    state: str
    reason: str | None
    updated_at: UtcDatetime | None


def openapi_values(country: LoadedCountry) -> dict[str, dict[str, Any]]:
    """What this deployment adds to the payments schemas: no national IDs where no module keeps them,
    no registry-wide programmes where no module keeps a resident registry.

    The marker's `not` replaces the national-ID branch's own: that branch then accepts nothing.
    """
    provided = {port for module in installed_modules() for port in module.provides}
    values: dict[str, dict[str, Any]] = {}
    if SectorTokens not in provided:
        values["payments-by-national-id"] = {"not": {}}
    if ResidentRegistry not in provided:
        values["payments-programme-source"] = {"enum": ["enrolled"]}
    return values
