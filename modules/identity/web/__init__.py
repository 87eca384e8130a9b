"""The identity module's web pages: resident sign-in and the resident's own record in the portal,
the adjudication queue and the enrolments chart in the console."""

from pathlib import Path

from ....core.i18n import N_
from ....core.registry import Link, Pages
from .console import ADMIN_SCOPE, READ_SCOPE
from .console import router as console_router
from .resident import SIGN_IN
from .resident import router as resident_router

pages = Pages(
    templates=Path(__file__).resolve().parent / "templates",
    resident=resident_router,
    console=console_router,
    resident_links=(Link("/me/identity", N_("My identity record")),),
    console_links=(
        Link("/console/identity/held", N_("Held enrolments"), ADMIN_SCOPE),
        Link("/console/identity/enrolments", N_("Enrolments received"), READ_SCOPE),
    ),
    resident_sign_in=SIGN_IN,
)
