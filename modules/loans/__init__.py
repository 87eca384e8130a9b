"""Loans: micro-loans to residents over the same ID-linked rails as payments."""

from pathlib import Path

from ...core.registry import Catalogs, Manifest, Module
from . import models  # noqa: F401 - registers the tables
from .cli import app as cli_app
from .config import LoansCountry, LoansSettings
from .jobs import JOBS
from .roles import ROLES
from .router import router
from .schemas import openapi_values
from .scopes import SCOPES
from .seed import seed
from .web import pages

_HERE = Path(__file__).resolve().parent

module = Module(
    manifest=Manifest.read(_HERE),
    router=router,
    migrations=_HERE / "migrations",
    scopes=SCOPES,
    roles=ROLES,
    cli=cli_app,
    settings=LoansSettings,
    catalogs=Catalogs(_HERE / "locales"),
    country_schema=LoansCountry,
    openapi_values=openapi_values,
    seed=seed,
    pages=pages,
    jobs=JOBS,
)
