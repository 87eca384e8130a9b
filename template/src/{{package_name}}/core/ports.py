"""Ports: the small Protocols through which modules use each other.

A module that is present provides its ports (see `Module.provides`); a module
that needs one asks `Ports.get(...)` and falls back to its stand-alone
behaviour, or refuses with a clear error, when nobody provides it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from sqlalchemy.orm import Session

from .money import Money


class SectorTokens(Protocol):
    """Turns a national ID, or a virtual ID standing for it, into a per-sector token, so other modules never
    store the raw ID."""

    def token_for(self, *, session: Session, national_id: str, sector: str) -> str:
        """The sector token of a registered, active person; raises a Problem otherwise."""
        ...

    def token_for_vid(self, *, session: Session, vid: str, sector: str, actor: str) -> str:
        """The sector token of the active person a usable virtual ID (VID) stands for: their national ID's token.

        A use, as an authentication by VID is: it counts against a temporary VID's uses and is recorded in
        the audit log under the person (`identity.vid.used`, by `actor`, naming the sector). Raises a Problem
        when the VID is malformed or unknown, revoked (kind `vid-revoked`), expired (`vid-expired`) or used
        up (`vid-used-up`), or its person is not active. Its message may name the VID and the national ID:
        a caller answering someone outside writes its own.
        """
        ...


@dataclass(frozen=True)
class Resident:
    """What a programme's eligibility rules may read about a person (identity provides it)."""

    national_id: str
    date_of_birth: date
    sex: str
    address: Mapping[str, str]


class ResidentRegistry(Protocol):
    """The population register, read in batches for national programmes."""

    def iter_residents(self, *, session: Session, batch_size: int = 1000) -> Iterator[Resident]:
        """Every active resident, in national-ID order."""
        ...

    def know(self, *, session: Session, national_id: str, purpose: str, consent: str, actor: str) -> Resident:
        """eKYC for another module: an active resident's registered details, read with their consent.

        The read is recorded in the audit log under the person with `purpose` and `consent` (the
        reference of the consent the resident gave), so it shows among the uses of their ID.
        Raises a Problem when nobody holds the ID or the person is not active.
        """
        ...


class AssessedIncome(Protocol):
    """Assessed income per person and year (tax provides it), for means-tested programmes."""

    def incomes_for(self, *, session: Session, national_ids: Sequence[str], year: int) -> Mapping[str, Money]:
        """Assessed income of those of `national_ids` who have an assessment for `year`."""
        ...


@dataclass(frozen=True)
class PaymentOutcome:
    reference: str
    state: str  # committed | rejected | pending
    reason: str | None = None


class Disbursements(Protocol):
    """Money out of and into the national ledger (payments provides it).

    A caller that pays or collects again later without the national ID at hand (a loan's
    instalments) asks once for a `mandate`, keeps it, and passes it instead of the IDs.
    """

    def mandate(self, *, session: Session, national_id: str | None, external_id: str | None) -> str:
        """An opaque reference to the payee's linked account, to pay or collect with later; refused when not linked."""
        ...

    def pay(
        self,
        *,
        session: Session,
        national_id: str | None,
        external_id: str | None,
        amount: Money,
        reference: str,
        purpose: str,
        mandate: str | None = None,
    ) -> PaymentOutcome:
        """Pay `amount` to the beneficiary's linked account, idempotent on `reference`."""
        ...

    def collect(
        self,
        *,
        session: Session,
        national_id: str | None,
        external_id: str | None,
        amount: Money,
        reference: str,
        purpose: str,
        mandate: str | None = None,
    ) -> PaymentOutcome:
        """Record `amount` received from the payer into the revenue account, idempotent on `reference`."""
        ...


@dataclass(frozen=True)
class Death:
    """A death the population register learnt of (identity publishes it to every `LifeEvents` listener)."""

    national_id: str
    date_of_death: date | None
    source: str  # who reported it, e.g. "dci:crvs.example.org" (a civil registry's DCI sender id)
    reference: str  # the report's own reference there (a DCI message and event id)


class LifeEvents(Protocol):
    """A module's listener to life events in the population register (payments and tax provide one each).

    Unlike the other ports it may have a provider in every module: identity asks `Ports.every(LifeEvents)`
    and calls each. A listener runs in the caller's transaction, before the person's status changes, so it
    may still ask `SectorTokens` for the person's token; it records its own audit event naming the source.
    """

    def person_died(self, *, session: Session, death: Death, actor: str) -> None:
        """Stop what must stop for a person who died (future payouts, the taxpayer's status)."""
        ...


class ResidentSessions(Protocol):
    """The resident portal's sessions (identity provides them): whose session a browser's token is."""

    def open(self, *, session: Session, national_id: str) -> str:
        """A new session for a resident who has just proved who they are (an OTP checked); its token."""
        ...

    def holder(self, *, session: Session, token: str) -> str | None:
        """The national ID of the resident holding `token`; None when it is unknown, ended or expired."""
        ...

    def close(self, *, session: Session, token: str) -> None:
        """End the session (signing out); an unknown token is ignored."""
        ...
