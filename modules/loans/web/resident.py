"""The resident's loan pages: my loans (each with its schedule, what is owed and the next due date), my
applications, and the form to apply for a product.

The person is only ever the signed-in resident (`ResidentDep`): the national ID comes from their
portal session, never from the URL or a form, and their loans are found by the loans sector token
of that ID (the borrower key service.apply writes). Signing in to the portal proved who they are;
the form's consent box is their eKYC consent, and its reference (`resident-portal:<form reference>`)
is what the identity register's audit keeps beside the check.
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from ....core.approvals import Signatory
from ....core.eligibility import MAX_AMOUNT
from ....core.errors import NotFound, Problem, problem_detail
from ....core.i18n import _
from ....core.ports import Disbursements, SectorTokens
from ....core.web.access import ResidentDep, SignedInResident
from ....core.web.forms import amount_error, money_text, typed_amount
from ....core.web.shell import Viewer, redirect, render
from .. import service
from ..config import LoansSettingsDep
from ..models import Application, Loan, Product
from ..rails import ACCOUNT_PATTERN
from .common import loan_view, refused_field
from .labels import LABELS

router = APIRouter()

HOME = "/me/loans"
APPLY = "/me/loans/apply"
# The form carries a reference made when it was drawn: sent twice, it makes one application.
FORM_REFERENCE = r"web-[0-9a-f]{16}"
CONSENT_PREFIX = "resident-portal:"
FIELDS = ("product", "principal", "account", "consent")


def borrower_token(request: Request, session: Session, resident: SignedInResident) -> str:
    """The loans sector token of the signed-in resident (identity installed, as resident sign-in needs)."""
    tokens = request.app.state.ports.get(SectorTokens)
    if tokens is None:
        raise NotFound(_("loans by national ID need the identity module, which this deployment does not have"))
    return tokens.token_for(session=session, national_id=resident.national_id, sector=service.SECTOR)


def applicant(token: str) -> Signatory:
    """The resident acting in person, as four-eyes and the audit log name them (never by national ID)."""
    return Signatory(person=f"resident:{token}", actor=f"resident:{token} (resident portal)")


# ---------------------------------------------------------------- my loans


@router.get("")
def my_loans(request: Request, resident: ResidentDep) -> Response:
    currency = request.app.state.country.profile.currency
    with request.app.state.session_factory() as session:
        borrower = f"token:{borrower_token(request, session, resident)}"
        loans = session.scalars(select(Loan).where(Loan.borrower == borrower).order_by(Loan.id.desc())).all()
        views = [loan_view(session, loan) for loan in loans]
        made = {loan.application_id for loan in loans}
        applications = [
            application
            for application in session.scalars(
                select(Application).where(Application.borrower == borrower).order_by(Application.id.desc())
            )
            if application.id not in made
        ]
        context = {
            "loans": views,
            "applications": applications,
            "today": date.today(),
            "amount": money_text(currency),
        }
        return render(request, "loans/my_loans.html", LABELS | context, viewer=Viewer(resident=resident.national_id))


# ---------------------------------------------------------------- applying


@router.get("/apply")
def apply_form(request: Request, resident: ResidentDep) -> Response:
    return _apply_form(request, resident, values={"product": "", "principal": "", "account": ""})


@router.post("/applications")
def apply(
    request: Request,
    resident: ResidentDep,
    settings: LoansSettingsDep,
    product: Annotated[str, Form(max_length=40)] = "",
    principal: Annotated[str, Form(max_length=40)] = "",
    account: Annotated[str, Form(max_length=60)] = "",
    consent: Annotated[str, Form(max_length=10)] = "",
    reference: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    country = request.app.state.country
    currency = country.profile.currency
    payments = request.app.state.ports.get(Disbursements) is not None
    values = {
        "product": product,
        "principal": principal.strip(),
        "account": account.replace(" ", ""),
        "consent": consent,
    }
    errors = {}
    minor = typed_amount(values["principal"], currency, most=MAX_AMOUNT)
    if minor is None or minor == 0:
        errors["principal"] = amount_error(_("Amount to borrow"), currency)
    if not payments and not re.fullmatch(ACCOUNT_PATTERN, values["account"]):
        errors["account"] = _("Account: 6 to 34 letters and digits (an IBAN, account or wallet number)")
    if consent != "yes":
        errors["consent"] = _("Consent: tick the box to let us check your identity record")
    if not re.fullmatch(FORM_REFERENCE, reference):
        errors["form"] = _("Reload the page and apply again.")
    if errors:
        return _apply_form(request, resident, errors=errors, values=values, status=422)
    assert minor is not None
    consent_reference = f"{CONSENT_PREFIX}{reference}"
    try:
        with request.app.state.session_factory() as session:
            context = service.Context(
                session=session, country=country, ports=request.app.state.ports, settings=settings
            )
            token = borrower_token(request, session, resident)
            sent_before = session.scalar(
                select(Application.id).where(
                    Application.borrower == f"token:{token}", Application.consent == consent_reference
                )
            )
            if sent_before is None:  # the same form sent twice: the first one stands
                service.apply(
                    context=context,
                    request=service.LoanRequest(
                        product=values["product"],
                        principal=minor,
                        national_id=resident.national_id,
                        consent=consent_reference,
                        account=None if payments else values["account"],
                        channel="portal",
                    ),
                    submitter=applicant(token),
                    today=date.today(),
                )
                session.commit()
    except Problem as refused:
        errors = {refused_field(refused, FIELDS): problem_detail(refused)}
        return _apply_form(request, resident, errors=errors, values=values, status=refused.status)
    return redirect(HOME)


def _apply_form(
    request: Request,
    resident: SignedInResident,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    currency = request.app.state.country.profile.currency
    with request.app.state.session_factory() as session:
        products = session.scalars(select(Product).where(Product.active.is_(True)).order_by(Product.code)).all()
        offered: list[dict[str, Any]] = [
            {"product": product, "terms": service.terms_of(product.terms)} for product in products
        ]
    context = {
        "products": offered,
        "payments_installed": request.app.state.ports.get(Disbursements) is not None,
        "reference": f"web-{secrets.token_hex(8)}",
        "errors": errors or {},
        "values": values,
        "currency": currency,
        "amount": money_text(currency),
    }
    return render(
        request, "loans/apply.html", LABELS | context, status=status, viewer=Viewer(resident=resident.national_id)
    )
