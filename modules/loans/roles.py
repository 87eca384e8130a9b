"""The staff roles loans declares (core/registry.py `Role`); permissions are the router's scope strings."""

from ...core.i18n import N_
from ...core.registry import Role

ROLES = (
    Role(
        "loans.loan_officer",
        N_("Loan officer: applications and their decisions"),
        ("loans:apply", "loans:decide", "loans:read"),
        regional=True,
    ),
    Role(
        "loans.portfolio_manager",
        N_("Portfolio manager: products, servicing, restructuring and write-offs"),
        ("loans:product", "loans:service", "loans:read"),
    ),
)
