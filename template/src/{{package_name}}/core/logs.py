"""Structured logs that cannot carry personal data: one JSON-lines configuration for `serve`, the CLI and workers.

Every line is one JSON object on stderr: `timestamp`, `level`, `logger`, `event` and the event's
fields, plus `request_id` for every line written while a request is served (and in a job that
carried the request's ID, `bind_request_id`). Libraries logging through the standard `logging`
module (uvicorn, SQLAlchemy, Alembic) are rendered the same way.

What keeps personal data out:
- the access line (`http.request`) names the route matched, its path parameters' values replaced
  by their names (`/identity/persons/{national_id}`), never the query string; a request that
  matched no route is logged as `unmatched`, without its path (a mistyped URL may hold an ID);
- an incoming X-Request-ID is kept only when it is a UUID or 32 hex digits: free text there would
  let a caller write a name or an ID into every line of the request;
- modules log opaque internal ids, counts and outcomes, never a national ID, name, phone number,
  e-mail address or code (tests/test_observability.py runs a whole journey and searches the output);
- bound SQL parameters are kept out of exception messages by the engine (`hide_parameters`, core/db.py).
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
UNMATCHED_ROUTE = "unmatched"
# A UUID (any version, any case) or a W3C trace ID's 32 hex digits: nothing a person could be named in.
WELL_FORMED_REQUEST_ID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}|[0-9a-fA-F]{32}")

_request_id: ContextVar[str | None] = ContextVar("nation_stack_request_id", default=None)

access_log = structlog.get_logger("nation_stack.access")
RequestObserver = Callable[[str, str, int, float], None]  # method, route, status, seconds


def _timestamp(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    # Milliseconds, UTC: microseconds would put six-digit numbers in every line for nothing.
    event["timestamp"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return event


def _without_colours(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    event.pop("color_message", None)  # uvicorn's copy of the message with terminal colour codes
    return event


def _shared_processors() -> list[Any]:
    """What every line gets, whether written through structlog or the standard `logging` module."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        _timestamp,
    ]


class JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """The one formatter: a JSON object a line (a `logging.config` factory, so uvicorn's workers build it too)."""

    def __init__(self) -> None:
        super().__init__(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
            foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder(), _without_colours],
        )


class StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a line is written (a test runner swaps it and closes its own)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_structlog() -> None:
    """structlog hands its events to the standard `logging` module, which `JsonFormatter` renders."""
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def log_config(level: str = "INFO") -> dict[str, Any]:
    """The `logging.config` dictionary of every process: JSON lines on stderr (uvicorn's loggers included)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": {"()": StderrHandler, "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's own access line shows the raw URL: ours (`http.request`) replaces it.
            "uvicorn.access": {"level": "WARNING", "propagate": False, "handlers": []},
            "uvicorn": {"level": level, "propagate": False, "handlers": ["stderr"]},
            "uvicorn.error": {"level": level, "propagate": False, "handlers": ["stderr"]},
        },
    }


def configure_logging(level: str = "INFO") -> None:
    """Configure structlog and `logging` once for this process (`serve`, a CLI command, a worker)."""
    configure_structlog()
    logging.config.dictConfig(log_config(level))
    logging.captureWarnings(True)


# ---------------------------------------------------------------- request IDs


def new_request_id() -> str:
    return uuid.uuid4().hex


def well_formed_request_id(value: str | None) -> bool:
    return value is not None and WELL_FORMED_REQUEST_ID.fullmatch(value) is not None


def current_request_id() -> str | None:
    """The ID of the request (or of the job started by a request) being handled, if any.

    A job enqueued during a request stores it, and the worker calls `bind_request_id` with it
    before running the job, so the job's lines carry the ID of the request that asked for it.
    """
    return _request_id.get()


def bind_request_id(request_id: str | None) -> None:
    """Every log line of this context from now on carries `request_id` (None unbinds it).

    A malformed ID is replaced by a new one, as at the HTTP edge.
    """
    if request_id is None:
        _request_id.set(None)
        structlog.contextvars.unbind_contextvars("request_id")
        return
    if not well_formed_request_id(request_id):
        request_id = new_request_id()
    _request_id.set(request_id)
    structlog.contextvars.bind_contextvars(request_id=request_id)


def route_template(scope: Scope) -> str:
    """The route a request matched, each path parameter's value replaced by its name; `unmatched` otherwise."""
    if "endpoint" not in scope:
        return UNMATCHED_ROUTE
    path = scope.get("path", "")  # the whole path, under a mount too
    parameters = scope.get("path_params") or {}
    if not parameters:
        return path
    names = {str(value): name for name, value in parameters.items()}
    segments = [unquote(segment) for segment in path.split("/")]
    return "/".join("{" + names[segment] + "}" if segment in names else segment for segment in segments)


class RequestContextMiddleware:
    """Per HTTP request: an ID (kept from X-Request-ID when well formed, else new) bound to every log line
    and returned in the response header; one access line and one latency observation by route template."""

    def __init__(self, app: ASGIApp, observe: RequestObserver | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or ()).get(REQUEST_ID_HEADER.lower().encode(), b"").decode("latin-1")
        request_id = incoming if well_formed_request_id(incoming) else new_request_id()
        id_token = _request_id.set(request_id)
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)
        status, started, recorded = 500, time.perf_counter(), False

        def record() -> None:
            nonlocal recorded
            recorded = True
            seconds = time.perf_counter() - started
            route = route_template(scope)
            if self.observe is not None:
                self.observe(scope["method"], route, status, seconds)
            access_log.info(
                "http.request", method=scope["method"], route=route, status=status, duration_ms=round(seconds * 1000, 1)
            )

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Before the last bytes leave: a client's next request (a scrape) then sees this one counted.
                record()
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if not recorded:  # no complete response: the app failed, or the client went away
                record()
            structlog.contextvars.reset_contextvars(**bound)
            _request_id.reset(id_token)
