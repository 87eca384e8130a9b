"""What the payments services take: plain values any caller builds, whether a router from its body, a port, a CLI
command or a web page. Each checks itself and raises a domain problem naming the field at fault."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...core.eligibility import Rule
from ...core.errors import Unprocessable, validation_message
from ...core.i18n import _
from ...core.money import Money
from .programmes import Entitlement
from .schemas import EXTERNAL_ID_PATTERN, MAX_AMOUNT, REFERENCE_PATTERN, RESERVED_PREFIX, ProgrammeIn, RulesIn

# Pydantic's wording, translated by the core as for a request body: a rule reads the same however it is broken.
_RULE_WORDING = {
    "string_pattern_mismatch": "String should match pattern '{pattern}'",
    "greater_than": "Input should be greater than {gt}",
    "less_than_equal": "Input should be less than or equal to {le}",
}


def _rule_problem(field: str, kind: str, **limits: object) -> Unprocessable:
    error = {"type": kind, "msg": _RULE_WORDING[kind].format(**limits), "ctx": limits}
    return Unprocessable(validation_message(error), field=field)


@dataclass(frozen=True, slots=True)
class Beneficiary:
    """Who is paid: by national ID (needs the identity module, which checks it), by an ID another
    system gives, or by a mandate this module issued earlier for one of those (`service.mandate`)."""

    national_id: str | None = None
    external_id: str | None = None
    mandate: str | None = None

    def __post_init__(self) -> None:
        if self.mandate is not None:
            if self.national_id is not None or self.external_id is not None or not _is_mandate(self.mandate):
                raise Unprocessable(_("a mandate is given alone, as this module issued it"), field="mandate")
            return
        if (self.national_id is None) == (self.external_id is None):
            raise Unprocessable(_("give exactly one of national_id or external_id"), field="beneficiary")
        if self.external_id is not None and not re.fullmatch(EXTERNAL_ID_PATTERN, self.external_id):
            raise _rule_problem("external_id", "string_pattern_mismatch", pattern=EXTERNAL_ID_PATTERN)

    @property
    def field(self) -> str:
        """The field that identifies this beneficiary, for messages about them."""
        if self.mandate is not None:
            return "mandate"
        return "national_id" if self.national_id is not None else "external_id"


def _is_mandate(text: str) -> bool:
    scheme, _separator, value = text.partition(":")
    return scheme in {"token", "ext"} and bool(value) and len(text) <= 80


@dataclass(frozen=True, slots=True)
class AccountDetails:
    """A financial account to pay a beneficiary into, as given; `normalise_account` checks it per kind."""

    kind: str
    number: str
    bank_code: str | None = None


@dataclass(frozen=True, slots=True)
class TransferOrder:
    """Pay `amount` to `beneficiary` from the funding account, once per `reference` (the caller's)."""

    reference: str
    beneficiary: Beneficiary
    amount: Money

    def __post_init__(self) -> None:
        if not re.fullmatch(REFERENCE_PATTERN, self.reference):
            raise _rule_problem("client_reference", "string_pattern_mismatch", pattern=REFERENCE_PATTERN)
        if self.reference.upper().startswith(RESERVED_PREFIX):
            raise Unprocessable(
                _("references starting with {prefix} are reserved for programme payments").format(
                    prefix=RESERVED_PREFIX
                ),
                field="client_reference",
            )
        if self.amount.amount <= 0:
            raise _rule_problem("amount", "greater_than", gt=0)
        if self.amount.amount > MAX_AMOUNT:
            raise _rule_problem("amount", "less_than_equal", le=MAX_AMOUNT)


@dataclass(frozen=True, slots=True)
class Enrollee:
    """A beneficiary on an enrolled programme's list, with the attributes its rules read."""

    beneficiary: Beneficiary
    attributes: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ProgrammeRules:
    """Who a programme pays and how much: its eligibility rules, entitlement and the fiscal year they read."""

    eligibility: tuple[Rule, ...]
    entitlement: Entitlement
    income_year: int | None = None

    @classmethod
    def of(cls, body: RulesIn) -> ProgrammeRules:
        """From a checked body of proposed rules."""
        return cls(tuple(body.eligibility), body.entitlement, body.income_year)

    @classmethod
    def stored(
        cls, eligibility: list[dict[str, Any]], entitlement: dict[str, Any], income_year: int | None
    ) -> ProgrammeRules:
        """From the JSON data a programme or a proposed change keeps."""
        return cls(
            tuple(Rule.model_validate(rule) for rule in eligibility),
            Entitlement.model_validate(entitlement),
            income_year,
        )

    def canonical(self) -> dict[str, Any]:
        """The rules as JSON data, as stored and as hashed."""
        return {
            "eligibility": [rule.model_dump(mode="json") for rule in self.eligibility],
            "entitlement": self.entitlement.model_dump(mode="json"),
            "income_year": self.income_year,
        }


@dataclass(frozen=True, slots=True)
class ProgrammeTerms:
    """What a programme pays whom: its rules (data, see programmes.py) and where its beneficiaries come from."""

    code: str
    name: str
    currency: str
    source: str  # registry | enrolled
    eligibility: tuple[Rule, ...]
    entitlement: Entitlement
    income_year: int | None = None

    @classmethod
    def of(cls, body: ProgrammeIn) -> ProgrammeTerms:
        """From a checked programme body (an API request, a CLI file, a service that builds one)."""
        return cls(
            body.code,
            body.name,
            body.currency,
            body.source,
            tuple(body.eligibility),
            body.entitlement,
            body.income_year,
        )

    @property
    def rules(self) -> ProgrammeRules:
        return ProgrammeRules(self.eligibility, self.entitlement, self.income_year)

    def canonical(self) -> dict[str, Any]:
        """The terms as JSON data; their hash tells a replay from a different programme under the same code."""
        return {
            "code": self.code,
            "name": self.name,
            "currency": self.currency,
            "source": self.source,
            **self.rules.canonical(),
        }

    def digest(self) -> str:
        """SHA-256 of the canonical terms: the programme's `request_hash`."""
        return hashlib.sha256(json.dumps(self.canonical(), sort_keys=True, separators=(",", ":")).encode()).hexdigest()
