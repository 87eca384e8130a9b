"""The staff roles payments declares (core/registry.py `Role`)."""

from ...core.registry import Role
from .router import APPROVE_SCOPE, PROGRAMME_SCOPE, READ_SCOPE, TRANSFER_SCOPE

ROLES = (
    Role(
        "payments.programme_officer", "Programme officer: programmes, enrolment, cycles", (PROGRAMME_SCOPE, READ_SCOPE)
    ),
    Role("payments.approver", "Approver: approves payment cycles (four eyes)", (READ_SCOPE, APPROVE_SCOPE)),
    Role("payments.finance_officer", "Finance officer: transfers and disbursement", (TRANSFER_SCOPE, READ_SCOPE)),
)
