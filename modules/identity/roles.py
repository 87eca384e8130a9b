"""The staff roles identity declares (core/registry.py `Role`).

Permissions are the router's scope strings, written out: the router is an entry point nothing
but the module's registration imports; tests/test_authorisation.py checks every one is declared.
"""

from ...core.i18n import N_
from ...core.registry import Role

ROLES = (
    Role(
        "identity.registrar",
        N_("Registrar: enrols residents and reads the registry"),
        ("identity:enrol", "identity:read"),
        regional=True,
    ),
    Role(
        "identity.adjudicator",
        N_("Adjudicator: resolves held enrolments and ID lifecycle, sets partner policies"),
        ("identity:read", "identity:admin"),
        regional=True,
    ),
)
