"""The staff roles tax declares (core/registry.py `Role`)."""

from ...core.registry import Role
from .router import COLLECT_SCOPE, DECIDE_SCOPE, FILE_SCOPE, READ_SCOPE, REGISTER_SCOPE

ROLES = (
    Role(
        "tax.officer",
        "Tax officer: registers taxpayers, files returns, collects",
        (REGISTER_SCOPE, FILE_SCOPE, READ_SCOPE, COLLECT_SCOPE),
        True,
    ),
    Role("tax.objections_officer", "Objections officer: reviews and decides objections", (READ_SCOPE, DECIDE_SCOPE)),
)
