"""Payments: ID-linked accounts, a double-entry ledger, transfers, programmes and national disbursements."""

from pathlib import Path

from ...core.ports import Disbursements, LifeEvents
from ...core.registry import Catalogs, Manifest, Module
from . import models  # noqa: F401 - registers the tables
from .cli import app as cli_app
from .config import PaymentsSettings
from .g2p_router import root_router
from .jobs import JOBS
from .life_events import PaymentsLifeEvents
from .port import LedgerDisbursements
from .roles import ROLES
from .router import router
from .schemas import openapi_values
from .scopes import APPROVE_SCOPE, LINK_SCOPE, PROGRAMME_SCOPE, READ_SCOPE, TRANSFER_SCOPE
from .seed import seed
from .service import restore_problems
from .web import pages

_HERE = Path(__file__).resolve().parent

module = Module(
    manifest=Manifest.read(_HERE),
    router=router,
    migrations=_HERE / "migrations",
    scopes=(LINK_SCOPE, READ_SCOPE, TRANSFER_SCOPE, PROGRAMME_SCOPE, APPROVE_SCOPE),
    roles=ROLES,
    # Paying, changing who a programme pays and how much, approving a cycle: keys with them need four-eyes.
    money_scopes=(TRANSFER_SCOPE, PROGRAMME_SCOPE, APPROVE_SCOPE),
    cli=cli_app,
    settings=PaymentsSettings,
    catalogs=Catalogs(_HERE / "locales"),
    provides={Disbursements: LedgerDisbursements, LifeEvents: PaymentsLifeEvents},
    seed=seed,
    openapi_values=openapi_values,
    pages=pages,
    jobs=JOBS,
    # A restored backup serves only once its ledger balances (core/backup.py).
    restore_check=restore_problems,
    # G2P Connect's mapper at the specification's own paths (/mapper/..., /oauth2/client/token, /.well-known/jwks.json)
    root_router=root_router,
)
