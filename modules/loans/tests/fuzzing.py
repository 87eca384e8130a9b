"""What loans gives the OpenAPI fuzz test: no custom format; camt.054 credits for `POST /loans/bank-credits`.

The body is stated as `text/xml` (schemas.BANK_CREDITS_MEDIA_TYPE): payments states its bank messages as
`application/xml`, and the fuzz holds one strategy per media type. The credits name loans that do not
exist, so they are kept unmatched; `camt054` also writes the files of test_camt054.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple
from xml.sax.saxutils import escape

from hypothesis import strategies as st

from ....core.country import LoadedCountry
from ....core.money import major_text
from ..schemas import BANK_CREDITS_MEDIA_TYPE

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"


class Entry(NamedTuple):
    reference: str  # AcctSvcrRef
    amount: int  # minor units
    currency: str
    remittance: str | None  # Ustrd
    booked_on: date = date(2030, 1, 15)
    indicator: str = "CRDT"
    status: str = "BOOK"


def camt054(entries: Sequence[Entry], *, msg_id: str = "MSG-1") -> bytes:
    """A bank's camt.054.001.08 with one Ntry per entry."""
    parts = []
    for entry in entries:
        remittance = (
            f"<RmtInf><Ustrd>{escape(entry.remittance)}</Ustrd></RmtInf>" if entry.remittance is not None else ""
        )
        parts.append(
            f'<Ntry><Amt Ccy="{entry.currency}">{major_text(entry.amount, entry.currency)}</Amt>'
            f"<CdtDbtInd>{entry.indicator}</CdtDbtInd><Sts><Cd>{entry.status}</Cd></Sts>"
            f"<BookgDt><Dt>{entry.booked_on.isoformat()}</Dt></BookgDt>"
            f"<AcctSvcrRef>{escape(entry.reference)}</AcctSvcrRef>"
            f"<NtryDtls><TxDtls>{remittance}</TxDtls></NtryDtls></Ntry>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{NAMESPACE}"><BkToCstmrDbtCdtNtfctn>'
        f"<GrpHdr><MsgId>{escape(msg_id)}</MsgId><CreDtTm>2030-01-15T10:00:00</CreDtTm></GrpHdr>"
        f"<Ntfctn><Id>N-1</Id><CreDtTm>2030-01-15T10:00:00</CreDtTm>"
        f"<Acct><Id><Othr><Id>LOANS</Id></Othr></Id></Acct>{''.join(parts)}</Ntfctn>"
        "</BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()


def formats(country: LoadedCountry) -> dict[str, st.SearchStrategy[str]]:
    return {}


def media_types(country: LoadedCountry) -> dict[str, st.SearchStrategy[bytes]]:
    currency = country.profile.currency
    entries = st.builds(
        Entry,
        st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9-]{0,34}\Z"),
        st.integers(min_value=1, max_value=10**9),
        st.just(currency),
        st.one_of(
            st.none(),
            st.from_regex(r"\ALN-[0-9A-F]{12}\Z"),
            st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cn")), max_size=40),
        ),
        booked_on=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
        indicator=st.sampled_from(["CRDT", "DBIT"]),  # a debit is skipped, as is an entry not booked
        status=st.sampled_from(["BOOK", "PDNG"]),
    )
    return {BANK_CREDITS_MEDIA_TYPE: st.lists(entries, min_size=1, max_size=3).map(camt054)}
