"""The staff roles tax declares (core/registry.py `Role`).

Permissions are the router's scope strings, written out: the router is an entry point nothing
but the module's registration imports; tests/test_authorisation.py checks every one is declared.
"""

from ...core.i18n import N_
from ...core.registry import Role

ROLES = (
    Role(
        "tax.officer",
        N_("Tax officer: registers taxpayers, files returns, collects"),
        ("tax:register", "tax:file", "tax:read", "tax:collect"),
        regional=True,
    ),
    Role(
        "tax.objections_officer",
        N_("Objections officer: reviews and decides objections"),
        ("tax:read", "tax:decide"),
        regional=True,
    ),
)
