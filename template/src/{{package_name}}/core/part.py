"""The core, declared through the same contract as every module (core/registry.py)."""

from .i18n import CORE_LOCALES
from .migrate import MIGRATIONS
from .registry import CORE, Catalogs, Manifest, Module
from .settings import Settings
from .stack import stack_info
from .system import META_SCOPE, router

core = Module(
    manifest=Manifest(
        name=CORE,
        title="system",  # the OpenAPI tag of its routes
        version=stack_info().template_version,
        summary="Health, metadata, partners, the audit chain and the database schema.",
    ),
    router=router,
    migrations=MIGRATIONS / "versions",
    scopes=(META_SCOPE,),
    settings=Settings,
    catalogs=Catalogs(CORE_LOCALES),
)
