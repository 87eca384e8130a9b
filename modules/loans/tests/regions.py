"""The loans calls on applications and loans with a region, for the core's authorisation matrix (tests/region_calls.py).

A record's region is the applicant's region, read through eKYC where identity is installed; so that
the matrix runs in every combination, each set-up writes the record straight into the tables, in
the set-up's region. What the call answers past the region check (a held application with no
payee cannot be paid: 409) does not matter to the matrix, only that it is not 401 or 403.
"""

from __future__ import annotations

from datetime import date

from ....tests.region_calls import RegionCall, RegionRequest, RegionSetup
from ..models import Application, ApplicationState, Loan
from .helpers import TERMS

OFFICER = "loans.loan_officer"


def _application(setup: RegionSetup) -> Application:
    application = Application(
        reference=f"LA-{setup.serial:012X}",
        product_code="REGION",
        borrower=f"external:REGION-{setup.serial}",
        payee="",
        region=setup.region,
        principal=100_000,
        currency=setup.country.profile.currency,
        channel="api",
        state=ApplicationState.AWAITING_APPROVAL,
        reasons=[],
        made_by="region-matrix",
    )
    setup.session.add(application)
    setup.session.commit()
    return application


def _loan(setup: RegionSetup) -> str:
    application = _application(setup)
    loan = Loan(
        reference=application.reference.replace("LA-", "LN-", 1),
        application_id=application.id,
        product_code="REGION",
        borrower=application.borrower,
        payee="",
        region=setup.region,
        currency=application.currency,
        principal=application.principal,
        terms=TERMS,
        disbursed_on=date.today(),
        schedule_from=date.today(),
    )
    setup.session.add(loan)
    setup.session.commit()
    return loan.reference


def read_application(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("GET", f"/loans/applications/{_application(setup).reference}")


def approve(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("POST", f"/loans/applications/{_application(setup).reference}/approve")


def reject(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("POST", f"/loans/applications/{_application(setup).reference}/reject", {"reason": "no"})


def read_loan(setup: RegionSetup) -> RegionRequest:
    return RegionRequest("GET", f"/loans/accounts/{_loan(setup)}")


CALLS = (
    RegionCall("GET /loans/applications/{reference}", OFFICER, read_application),
    RegionCall("POST /loans/applications/{reference}/approve", OFFICER, approve),
    RegionCall("POST /loans/applications/{reference}/reject", OFFICER, reject),
    RegionCall("GET /loans/accounts/{reference}", OFFICER, read_loan),
)
