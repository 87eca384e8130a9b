"""The staff roles identity declares (core/registry.py `Role`)."""

from ...core.registry import Role
from .router import ADMIN_SCOPE, ENROL_SCOPE, READ_SCOPE

ROLES = (
    Role("identity.registrar", "Registrar: enrols residents and reads the registry", (ENROL_SCOPE, READ_SCOPE), True),
    Role(
        "identity.adjudicator",
        "Adjudicator: resolves held enrolments and ID lifecycle, sets partner policies",
        (READ_SCOPE, ADMIN_SCOPE),
        False,
    ),
)
