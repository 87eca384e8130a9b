"""The core, declared through the same contract as every module (core/registry.py)."""

from fastapi import APIRouter

from .audit_api import AUDIT_SCOPE
from .audit_api import router as audit_router
from .i18n import CORE_LOCALES, N_
from .metrics import AuditCheckpointAge, LicenceCollector
from .metrics import router as metrics_router
from .migrate import MIGRATIONS
from .registry import CORE, Catalogs, Link, Manifest, Module, Pages, Role
from .settings import Settings
from .stack import stack_info
from .staff_api import router as staff_router
from .system import META_SCOPE, PARTNERS_SCOPE, STAFF_SCOPE
from .system import router as system_router
from .upkeep import JOBS
from .web.shell import TEMPLATES

router = APIRouter()
router.include_router(system_router)
router.include_router(staff_router)
router.include_router(audit_router)
router.include_router(metrics_router)

ROLES = (
    Role(
        "core.administrator",
        N_("Administrator: partner keys, staff accounts, deployment metadata"),
        (META_SCOPE, PARTNERS_SCOPE, STAFF_SCOPE),
    ),
    Role(
        "core.auditor", N_("Auditor: reads the audit log, verifies the chain, reads /meta"), (META_SCOPE, AUDIT_SCOPE)
    ),
)

core = Module(
    manifest=Manifest(
        name=CORE,
        title="system",  # the OpenAPI tag of its routes
        version=stack_info().template_version,
        summary="Health, metadata, partners, staff sign-in, the audit chain and the database schema.",
    ),
    router=router,
    migrations=MIGRATIONS / "versions",
    scopes=(META_SCOPE, PARTNERS_SCOPE, STAFF_SCOPE, AUDIT_SCOPE),
    roles=ROLES,
    settings=Settings,
    catalogs=Catalogs(CORE_LOCALES),
    metrics=(AuditCheckpointAge, LicenceCollector),
    pages=Pages(
        templates=TEMPLATES,
        console_links=(
            Link("/console/audit", N_("Audit log"), AUDIT_SCOPE),
            Link("/console/partners", N_("Partner keys"), PARTNERS_SCOPE),
        ),
    ),
    jobs=JOBS,
)
