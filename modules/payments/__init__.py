"""Payments: ID-linked financial accounts, a double-entry ledger and G2P transfers."""

from pathlib import Path

from ...core.registry import Manifest, Module
from . import models  # noqa: F401 - registers the tables
from .cli import app as cli_app
from .router import LINK_SCOPE, READ_SCOPE, TRANSFER_SCOPE, router
from .seed import seed

_HERE = Path(__file__).resolve().parent

module = Module(
    manifest=Manifest.read(_HERE),
    router=router,
    migrations=_HERE / "migrations",
    scopes=(LINK_SCOPE, READ_SCOPE, TRANSFER_SCOPE),
    cli=cli_app,
    seed=seed,
)
