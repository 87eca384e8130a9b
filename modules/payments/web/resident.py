"""The resident's own payments: what was paid to their ID-linked account, and a PDF record of each.

The person is only ever the signed-in resident (`ResidentDep`); a reference in the URL that did not
pay them is answered 404, as an unknown one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from ....core.i18n import _
from ....core.money import Money
from ....core.stack import stack_info
from ....core.web.access import ResidentDep
from ....core.web.documents import MoneyText, Record, pdf_response, record_pdf
from ....core.web.shell import Viewer, render
from .. import programme_service
from ..domain import Beneficiary
from ..programme_service import PaymentLine
from ..schemas import REFERENCE_PATTERN
from .labels import payment_state

router = APIRouter()

# A reference may hold "/" (schemas.REFERENCE_PATTERN): the path convertor keeps it whole.
Reference = Annotated[str, Path(pattern=REFERENCE_PATTERN)]


@router.get("")
def my_payments(request: Request, resident: ResidentDep) -> Response:
    with request.app.state.session_factory.begin() as session:
        lines = programme_service.payments_to(
            session=session, ports=request.app.state.ports, beneficiary=Beneficiary(resident.national_id, None)
        )
    context = {"payments": lines, "state_of": payment_state, "paid": lambda line: Money(line.currency, line.amount)}
    return render(request, "payments/my_payments.html", context, viewer=Viewer(resident=resident.national_id))


@router.get("/{reference:path}.pdf")
def payment_record(request: Request, reference: Reference, resident: ResidentDep) -> Response:
    with request.app.state.session_factory.begin() as session:
        line = programme_service.payment_to(
            session=session,
            ports=request.app.state.ports,
            beneficiary=Beneficiary(resident.national_id, None),
            reference=reference,
        )
    content = record_pdf(
        lambda money_text: payment_record_of(line, money_text),
        issuer=stack_info().deployment_name,
        zone=request.app.state.country.profile.timezone,
    )
    return pdf_response(content, f"payment-{_file_name(line.reference)}.pdf")


def payment_record_of(line: PaymentLine, money_text: MoneyText) -> Record:
    """The record of one payment, in the current language (called again in English when the font needs it)."""
    rows = [
        (_("Programme"), line.programme_name),
        (_("Cycle"), line.cycle or "—"),
        (_("Reference"), line.reference),
        (_("Amount"), money_text(Money(line.currency, line.amount))),
        (_("Status"), _(payment_state(line))),
    ]
    if line.reason:
        rows.append((_("Reason"), line.reason))
    if line.updated_at is not None:
        rows.append((_("Last change (UTC)"), line.updated_at.strftime("%Y-%m-%d %H:%M")))
    return Record(title=_("Record of a payment"), reference=line.reference, rows=rows)


def _file_name(reference: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in reference)
