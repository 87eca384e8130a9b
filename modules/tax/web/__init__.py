"""The tax pages: a resident's own tax account in the portal (returns, assessments, objections,
payments and refunds, PDF records); the register, assessments, objections and brackets in the console."""

from pathlib import Path

from ....core.i18n import N_
from ....core.registry import Link, Pages
from ..scopes import DECIDE_SCOPE, READ_SCOPE
from .console import router as console_router
from .resident import router as resident_router

pages = Pages(
    templates=Path(__file__).resolve().parent / "templates",
    resident=resident_router,
    console=console_router,
    resident_links=(Link("/me/tax", N_("My tax account")),),
    console_links=(
        Link("/console/tax/taxpayers", N_("Taxpayers"), READ_SCOPE),
        Link("/console/tax/objections", N_("Tax objections"), DECIDE_SCOPE),
        Link("/console/tax/brackets", N_("Assessments by bracket"), READ_SCOPE),
    ),
)
