"""Valid accounts and bank messages for the OpenAPI fuzz test.

Formats `iban` (check digits right, any IBAN country) and `mobile-number` (valid in the deployment's
numbering plan); the media type `application/xml` of `POST /payments/bank-messages` (a pain.002
or a camt.054 a bank could send: references it may not know, which are reported as unmatched).
"""

from __future__ import annotations

from random import Random

from hypothesis import strategies as st
from schwifty import IBAN

from ....core.country import LoadedCountry
from ....tests.fuzzing import phone_numbers
from .. import iso20022

_REFERENCE = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9-]{0,34}\Z")
_STATUS = st.sampled_from(["ACCP", "ACSC", "RJCT"])
_AMOUNT = st.integers(min_value=1, max_value=10**9)


def formats(country: LoadedCountry) -> dict[str, st.SearchStrategy[str]]:
    return {"iban": _ibans(), "mobile-number": phone_numbers(country.profile.phone_region)}


def media_types(country: LoadedCountry) -> dict[str, st.SearchStrategy[bytes]]:
    return {"application/xml": st.one_of(_status_reports(), _notifications(country.profile.currency))}


def _ibans() -> st.SearchStrategy[str]:
    countries = st.sampled_from(["DE", "FR", "GB", "NL", "SA", "JO", "AE", "MU"])
    seeds = st.integers(min_value=0, max_value=2**32)
    return st.builds(lambda code, seed: str(IBAN.random(country_code=code, random=Random(seed))), countries, seeds)


def _status_reports() -> st.SearchStrategy[bytes]:
    statuses = st.lists(st.builds(iso20022.TransactionStatus, _REFERENCE, _STATUS, st.none()), min_size=1, max_size=3)
    return st.builds(
        lambda msg_id, original, found: iso20022.pain002(msg_id=msg_id, original_msg_id=original, statuses=found),
        _REFERENCE,
        _REFERENCE,
        statuses,
    )


def _notifications(currency: str) -> st.SearchStrategy[bytes]:
    bookings = st.lists(
        st.builds(iso20022.Booking, _REFERENCE, _AMOUNT, st.just(currency), st.booleans(), st.booleans()),
        min_size=1,
        max_size=3,
    )
    return st.builds(
        lambda msg_id, found: iso20022.camt054(msg_id=msg_id, account="FUZZ", currency=currency, bookings=found),
        _REFERENCE,
        bookings,
    )
