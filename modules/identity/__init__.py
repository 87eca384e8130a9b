"""Identity: the national ID registry."""

from pathlib import Path

from fastapi import APIRouter

from ...core.ports import ResidentRegistry, ResidentSessions, SectorTokens
from ...core.registry import Catalogs, Manifest, Module
from . import models  # noqa: F401 - registers the tables
from .cli import app as cli_app
from .config import IdentityCountry, IdentitySettings
from .dci_router import router as dci_router
from .jobs import JOBS
from .metrics import OutboxDepth
from .mosip_router import root_router as mosip_router
from .portal import portal_sessions
from .residents import RegistryResidents
from .roles import ROLES
from .router import SCOPES, router
from .schemas import openapi_values
from .seed import seed
from .tokens import RegistrySectorTokens
from .web import pages

_HERE = Path(__file__).resolve().parent

# Routes at the paths published standards give them: MOSIP ID Authentication's and DCI's registry API.
root_router = APIRouter()
root_router.include_router(mosip_router)
root_router.include_router(dci_router)

module = Module(
    manifest=Manifest.read(_HERE),
    router=router,
    migrations=_HERE / "migrations",
    scopes=SCOPES,
    roles=ROLES,
    cli=cli_app,
    settings=IdentitySettings,
    catalogs=Catalogs(_HERE / "locales"),
    country_schema=IdentityCountry,
    provides={
        SectorTokens: RegistrySectorTokens,
        ResidentRegistry: lambda _runtime: RegistryResidents(),
        ResidentSessions: portal_sessions,
    },
    seed=seed,
    openapi_values=openapi_values,
    pages=pages,
    metrics=(OutboxDepth,),
    jobs=JOBS,
    root_router=root_router,
)
