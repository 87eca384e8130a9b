"""An authentication as the services take it: a domain value, whoever the caller is (the API, a bench,
a CLI command or a web page), never an HTTP request body."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Demographics:
    """What a relying party claims of the resident; each attribute given is compared with the register."""

    given_name: str | None = None
    family_name: str | None = None
    # The whole name, as MOSIP's relying parties send it: matched against "given family" and the
    # registered name in the country's other scripts.
    full_name: str | None = None
    date_of_birth: date | None = None
    sex: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class AuthAttempt:
    """One relying party's request to authenticate a resident by a national ID (`nid`) or a VID (`vid`),
    with the resident's consent and at least one factor: claimed demographics, an OTP, or both."""

    transaction_id: str
    individual_id: str
    consent: bool
    id_type: str = "nid"
    demographics: Demographics | None = None
    otp: str | None = None
