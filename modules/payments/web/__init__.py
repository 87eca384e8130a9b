"""The payments pages: cycles in the operator console, a resident's own payments in the portal."""

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
    resident_links=(Link("/me/payments", N_("My payments")),),
    console_links=(Link("/console/payments/cycles", N_("Payment cycles"), READ_SCOPE),),
)
