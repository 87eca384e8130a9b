"""The staff roles payments declares (core/registry.py `Role`).

Permissions are the router's scope strings, written out: the router is an entry point nothing
but the module's registration imports; tests/test_authorisation.py checks every one is declared.
"""

from ...core.i18n import N_
from ...core.registry import Role

ROLES = (
    Role(
        "payments.programme_officer",
        N_("Programme officer: programmes, enrolment, cycles"),
        ("payments:programme", "payments:read"),
    ),
    Role(
        "payments.approver",
        N_("Approver: approves payment cycles (four eyes)"),
        ("payments:read", "payments:approve"),
    ),
    Role(
        "payments.finance_officer",
        N_("Finance officer: transfers and disbursement"),
        ("payments:transfer", "payments:read"),
    ),
)
