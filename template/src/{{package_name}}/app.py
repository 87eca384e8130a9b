"""The FastAPI application: the routes of every installed part (the core, then each module)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from .core.deps import authenticated_partner
from .core.errors import document_problems, install_problem_handlers
from .core.i18n import LocaleMiddleware
from .core.logs import RequestContextMiddleware, configure_structlog
from .core.metrics import app_registry, observe_request
from .core.models import Partner
from .core.registry import installed_parts
from .core.runtime import build_runtime
from .core.schemas import nullable_formats_as_type_lists, state_the_deployment
from .core.settings import Settings
from .core.stack import log_licence_status, stack_info
from .core.web.shell import mount_pages


def create_app(settings: Settings | None = None) -> FastAPI:
    configure_structlog()  # each server process builds its app: its log lines are JSON (core/logs.py)
    runtime = build_runtime(settings)
    log_licence_status(runtime)  # a grant that fails is said at start, and the deployment serves on

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        runtime.engine.dispose()

    info = stack_info()
    # The API documents describe every endpoint: open in development and test; in production
    # /docs and /redoc are off (a browser cannot send the key) and /openapi.json answers only
    # a caller with a valid partner API key.
    documents_open = runtime.settings.environment != "production"
    app = FastAPI(
        title=info.deployment_name,
        version=info.template_version,
        summary=f"Nation Stack for {runtime.country.profile.name}: "
        + ", ".join(m.manifest.title for m in runtime.modules),
        lifespan=lifespan,
        openapi_url="/openapi.json" if documents_open else None,
        docs_url="/docs" if documents_open else None,
        redoc_url="/redoc" if documents_open else None,
    )
    app.state.runtime = runtime
    app.state.settings = runtime.settings
    app.state.country = runtime.country
    app.state.engine = runtime.engine
    app.state.session_factory = runtime.session_factory
    app.state.ports = runtime.ports
    app.state.metrics_registry = app_registry(runtime)  # the scrape-time series (core/metrics.py)
    install_problem_handlers(app)
    app.add_middleware(LocaleMiddleware, default_locale=runtime.country.profile.locale)
    for part in installed_parts():
        app.include_router(part.router, prefix=part.route_prefix, tags=[part.manifest.title])
        if part.root_router is not None:
            app.include_router(part.root_router, tags=[part.manifest.title])
    values: dict[str, dict[str, Any]] = {"currency": {"enum": [runtime.country.profile.currency]}}
    for module in runtime.modules:
        if module.openapi_values is not None:
            values.update(module.openapi_values(runtime.country))
    install_openapi(app, values)
    mount_pages(app)  # after the API's problem handlers, which it keeps for every path but the pages
    if not documents_open:

        @app.get("/openapi.json", include_in_schema=False)
        def openapi(_partner: Annotated[Partner, Depends(authenticated_partner)]) -> dict:
            return app.openapi()

    wrap_outermost(app)
    return app


def wrap_outermost(app: FastAPI) -> None:
    """The request context (core/logs.py: its ID on every log line and in the response, the access line,
    latency by route template) around everything, Starlette's error middleware included: a 500 and the
    error's log line carry the request's ID too."""
    build = app.build_middleware_stack

    def build_with_context() -> Any:
        return RequestContextMiddleware(build(), observe=observe_request)

    app.build_middleware_stack = build_with_context  # type: ignore[method-assign]


def install_openapi(app: FastAPI, values: dict[str, dict[str, Any]]) -> None:
    """The OpenAPI document states the whole contract: FastAPI's, plus every operation's problems
    (core/errors.py) and the deployment's own constraints (core/schemas.py), built once."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            document_problems(document)
            state_the_deployment(document, values)
            nullable_formats_as_type_lists(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
