"""Server logs that cannot carry personal data: the one log configuration `serve` runs with.

The access log shows the requested path with each path parameter's value replaced by its name
(`/identity/persons/{national_id}`), and never the query string: a national ID in a URL does not
reach the log whatever the endpoint. A request that matched no route is logged with its path
only (no query string). Bound SQL parameters are kept out of exception messages and log lines by
the engine itself (`hide_parameters`, core/db.py).
"""

from __future__ import annotations

import copy
import logging
from contextvars import ContextVar
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG

# The request being served, for the access log written when its response starts (in the same task).
_request: ContextVar[Scope | None] = ContextVar("nation_stack_request_scope", default=None)


class RequestScopeMiddleware:
    """Keeps the request's ASGI scope where the access log filter finds the route it matched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            _request.set(scope)  # the router adds the matched route to this same dict
        await self.app(scope, receive, send)


def logged_path(path: str) -> str:
    """What the access log shows: the path without its query, path parameter values replaced by names."""
    path = path.split("?", 1)[0]
    scope = _request.get()
    parameters = scope.get("path_params") if scope is not None else None
    if not parameters:
        return path
    names = {str(value): name for name, value in parameters.items()}
    segments = [unquote(segment) for segment in path.split("/")]
    return "/".join("{" + names[segment] + "}" if segment in names else segment for segment in segments)


class AccessLogWithoutValues(logging.Filter):
    """Rewrites uvicorn's access log record: `client - "METHOD path HTTP/x" status`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            record.args = (client, method, logged_path(str(path)), version, status)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging, with the access log's filter."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["access_without_values"] = {"()": AccessLogWithoutValues}
    config["handlers"]["access"]["filters"] = ["access_without_values"]
    return config
