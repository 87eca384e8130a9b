"""Routes every deployment has: /health and /.well-known/jwks.json (open), /meta (authenticated) and staff
sign-in (/staff/oidc, core/oidc.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from . import signing
from .callers import Caller
from .deps import CountryDep, SessionDep, SettingsDep, require_scope
from .oidc import router as oidc_router
from .registry import installed_modules
from .stack import licence_grant, licence_status, stack_info

META_SCOPE = "meta:read"
# What the core's administrator role holds beyond /meta: partner keys and staff accounts (managed
# with the CLI today). The auditor's scope is core/audit_api.py's.
PARTNERS_SCOPE = "core:partners"
STAFF_SCOPE = "core:staff"

router = APIRouter()
router.include_router(oidc_router)  # staff sign-in through the ministry's OpenID provider (core/oidc.py)


HEALTH_SCHEMA = {
    "type": "object",
    "required": ["status", "database"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "unavailable"]},
        "database": {"type": "string", "description": "ok, or the kind of error reaching it"},
    },
}


@router.get(
    "/health",
    summary="Liveness and database reachability",
    responses={
        200: {"description": "Up, database reachable", "content": {"application/json": {"schema": HEALTH_SCHEMA}}},
        503: {"description": "The database is unreachable", "content": {"application/json": {"schema": HEALTH_SCHEMA}}},
    },
)
def health(session: SessionDep) -> JSONResponse:
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return JSONResponse({"status": "unavailable", "database": str(error.__class__.__name__)}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


class Jwks(BaseModel):
    keys: list[dict[str, Any]]


@router.get(
    "/.well-known/jwks.json",
    summary="The public key the standards' messages we send are signed with (G2P Connect, DCI)",
)
def published_keys(settings: SettingsDep) -> Jwks:
    return Jwks(**signing.jwks(settings.secret_key.get_secret_value()))


@router.get("/meta", summary="What this deployment runs: template version, modules, country, licence")
def meta(
    country: CountryDep, settings: SettingsDep, _caller: Annotated[Caller, Depends(require_scope(META_SCOPE))]
) -> dict:
    info = stack_info()
    profile = country.profile
    modules = [m.name for m in installed_modules()]
    status = licence_status(licence_dir=settings.licence_dir, country=profile.country, modules=modules)
    grant = licence_grant(settings.licence_dir)
    return {
        "deployment": info.deployment_name,
        "template": {"version": info.template_version, "commit": info.template_commit},
        "modules": [
            {
                "name": m.name,
                "version": m.manifest.version,
                "title": m.manifest.title,
                "configuration": [{"message": f.message, "failing": f.failing} for f in m.findings(country)],
            }
            for m in installed_modules()
        ],
        "country": {
            "code": profile.country,
            "name": profile.name,
            "currency": profile.currency,
            "minor_units": profile.minor_units,
            "locale": profile.locale,
        },
        "licence": {
            # Never fatal: a grant that fails verification is said here, in the logs and the metrics.
            "valid": status.valid,
            "expires": status.expires,
            "problem": status.problem,
            "licensee": info.licensee,
            "reference": info.licence_reference,
            "evaluation": grant is None,
            "grant_id": grant.grant_id if grant else None,
            "coverage": status.status,
            "coverage_reason": status.reason,
            "days_to_expiry": status.days_to_expiry,
            "grant": grant.as_mapping() if grant else None,
        },
        "database": info.database,
    }
