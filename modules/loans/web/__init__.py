"""The loans pages: a resident's own loans and the application form in the portal (identity installed);
applications awaiting approval, a loan, and the portfolio charts in the console."""

from pathlib import Path

from ....core.i18n import N_
from ....core.registry import Link, Pages
from ..scopes import READ_SCOPE
from .console import router as console_router
from .resident import router as resident_router

pages = Pages(
    templates=Path(__file__).resolve().parent / "templates",
    resident=resident_router,
    console=console_router,
    resident_links=(Link("/me/loans", N_("My loans")),),
    console_links=(
        Link("/console/loans/applications", N_("Loan applications"), READ_SCOPE),
        Link("/console/loans/portfolio", N_("Loan portfolio"), READ_SCOPE),
    ),
)
